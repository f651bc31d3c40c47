"""Who is asking, and how often: the client address behind the web chat's requests and its flood limits.

The client address is the TCP peer, unless the peer is one of the trusted proxies (``WEB_TRUSTED_PROXIES``):
then ``X-Forwarded-For`` is read from the right, skipping trusted proxies, and the first address that is not
one of them is the client. A header from any other peer is ignored, so nobody picks their own address.
IPv6 clients count by their /64, the block one household or phone gets. Nothing here is stored.

Limits are sliding windows in this gateway's memory (:class:`~bot.core.ratelimit.RateLimiter`), per address
and overall, on messages (a minute) and on new sessions (an hour). With several gateways each one counts its
own share; the reverse proxy's ``limit_req`` (``deploy/nginx.conf``) holds in front of all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from bot.core.ratelimit import RateLimiter

Networks = Sequence[IPv4Network | IPv6Network]
_EVERYONE = "*"


def _trusted(address: str, trusted: Networks) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def _key(address: str) -> str:
    try:
        ip = ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_address(peer: str | None, forwarded: Sequence[str], trusted: Networks) -> str:
    """The address the limits count: the peer, or what trusted proxies say in ``X-Forwarded-For``."""
    address = peer or "unknown"
    if not trusted or not _trusted(address, trusted):
        return _key(address)
    hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            address = str(ip_address(hop))
        except ValueError:
            break  # not an address: the proxy that wrote it is the last hop we know
        if not _trusted(address, trusted):
            break
    return _key(address)


def forwarded_https(peer: str | None, forwarded_proto: str | None, trusted: Networks) -> bool:
    """True when a trusted proxy says the browser spoke HTTPS to it (``X-Forwarded-Proto: https``)."""
    if not forwarded_proto or not trusted or not _trusted(peer or "", trusted):
        return False
    return forwarded_proto.split(",")[-1].strip().lower() == "https"


@dataclass(frozen=True)
class Limits:
    messages_per_address_per_minute: int = 60
    messages_per_minute: int = 1200
    sessions_per_address_per_hour: int = 30
    sessions_per_hour: int = 3000


class FloodLimits:
    """Counts messages and new sessions, per address (None: a trusted server-side client) and overall."""

    def __init__(self, limits: Limits | None = None) -> None:
        limits = limits or Limits()
        self.limits = limits
        self._messages = RateLimiter(limits.messages_per_address_per_minute, 60.0)
        self._all_messages = RateLimiter(limits.messages_per_minute, 60.0)
        self._sessions = RateLimiter(limits.sessions_per_address_per_hour, 3600.0)
        self._all_sessions = RateLimiter(limits.sessions_per_hour, 3600.0)

    def message(self, address: str | None) -> str | None:
        """One more message from ``address`` (None: not counted per address). None when it may go, else
        which limit it is over: "address" or "everyone"."""
        if address is not None and not self._messages.allow(address):
            return "address"
        return None if self._all_messages.allow(_EVERYONE) else "everyone"

    def session(self, address: str) -> str | None:
        """One more new session for ``address``: None when it may open, else "address" or "everyone"."""
        if not self._sessions.allow(address):
            return "address"
        return None if self._all_sessions.allow(_EVERYONE) else "everyone"
