"""Typed configuration of the gateway, read from the environment and an optional ``.env`` file.

Secrets (``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_WEBHOOK_SECRET``, ``RASA_TOKEN``, ``WEB_API_KEY``) are
``SecretStr``: they are redacted when the settings are printed and must be unwrapped on purpose with
``get_secret_value()``.
``RASA_TOKEN`` has no default; placeholder values ("changeme", "your-token-here", ...) are refused with a
message that says which variable to fix. ``DATABASE_URL`` may hold a password, so it is left out of
the repr and dumped with the password hidden; :attr:`Settings.database_url_for_logs` is the form to show.
"""

from __future__ import annotations

import hashlib
import re
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_serializer, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/concilia.db"

_PLACEHOLDERS = {
    "changeme",
    "change-me",
    "change_me",
    "changethis",
    "change-this",
    "your-token-here",
    "your_token_here",
    "yourtokenhere",
    "your-token",
    "your_token",
    "token",
    "secret",
    "placeholder",
    "todo",
    "xxx",
    "none",
    "null",
    "...",
}
# A source of CSP's frame-ancestors: 'self', 'none', or an http(s) origin (a "*." subdomain wildcard allowed).
_FRAME_SOURCE = re.compile(r"^('self'|'none'|https?://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?)$")
# Telegram's secret_token for webhooks: 1-256 characters, only A-Z, a-z, 0-9, _ and -.
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def make_clock(start: datetime | None) -> Callable[[], datetime]:
    """Real UTC time; or, from ``start`` on, time that runs at the real pace (tests)."""
    if start is None:
        return lambda: datetime.now(timezone.utc)
    origin = time.monotonic()
    first = start.astimezone(timezone.utc)
    return lambda: first + timedelta(seconds=time.monotonic() - origin)


def _fake_now(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("CONCILIA_FAKE_NOW: scrivi l'ora con il fuso, per esempio 2027-06-15T10:00:00+02:00")
    return value


def trusted_networks(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """WEB_TRUSTED_PROXIES as networks (a bare address is a /32 or /128); raises ValueError."""
    return tuple(ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


def is_placeholder(value: str) -> bool:
    """True for values that were obviously copied from an example instead of being set."""
    lowered = value.strip().lower()
    if lowered in _PLACEHOLDERS or set(lowered) <= {"x", "*", "-", "."}:
        return True
    return lowered.startswith("<") and lowered.endswith(">") or "your" in lowered and "here" in lowered


def _check_secret(name: str, value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    raw = value.get_secret_value()
    if not raw.strip():
        return None
    if is_placeholder(raw):
        raise ValueError(f"{name} contiene un valore di esempio: metti il valore vero o togli la variabile")
    if raw != raw.strip() or any(ch.isspace() for ch in raw):
        raise ValueError(f"{name} contiene spazi: controlla di averlo copiato bene")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
        hide_input_in_errors=True,
    )

    telegram_bot_token: SecretStr | None = None
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base: str | None = None
    # where the webhook listener binds, behind the reverse proxy that TELEGRAM_WEBHOOK_URL points to
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = Field(default=8443, ge=1, le=65535)
    # "typing…" only for answers slower than this (seconds); 0 shows it before every answer
    telegram_typing_delay: float = Field(default=0.5, ge=0, le=30)
    # messages a second this gateway sends to Telegram (about 30 for a bot in all): 30 / N with N gateways
    telegram_messages_per_second: float = Field(default=30.0, gt=0, le=1000)

    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: SecretStr
    rasa_timeout: float = Field(default=5.0, gt=0, le=120)
    # a person's Rasa conversation starts again (a new Rasa id, the slots carried over) after this many
    # messages, or with none after Rasa's session expiry: nlu/domain.yml's session_expiration_time, in
    # minutes (bot/conversation/conversations.py)
    rasa_conversation_turns: int = Field(default=30, ge=2, le=100_000)
    rasa_session_expiration_minutes: float = Field(default=720.0, gt=0, le=10 * 365 * 24 * 60)

    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    # The web chat's sessions and flood limits (docs/admin.md, "La chat web"). WEB_TRUSTED_PROXIES: the
    # addresses or networks (comma-separated) whose X-Forwarded-For and X-Forwarded-Proto are believed.
    web_session_idle_minutes: float = Field(default=120.0, gt=0, le=7 * 24 * 60)
    web_sessions_per_address_per_hour: int = Field(default=30, ge=1, le=1_000_000)
    web_messages_per_address_per_minute: int = Field(default=60, ge=1, le=1_000_000)
    web_sessions_per_hour: int = Field(default=3000, ge=1, le=10_000_000)
    web_messages_per_minute: int = Field(default=1200, ge=1, le=10_000_000)
    web_trusted_proxies: str = ""
    web_api_key: SecretStr | None = None
    web_frame_ancestors: str = "'self'"
    web_access_log: bool = False
    handoff_tickets_per_address: int = Field(default=3, ge=1, le=1000)
    # The partners' console (docs/console.md): a session ends after this long unused; failed sign-ins
    # allowed per user name and per address in 15 minutes before the next ones are refused.
    console_session_idle_minutes: float = Field(default=480.0, gt=0, le=7 * 24 * 60)
    console_failures_per_login: int = Field(default=5, ge=1, le=1000)
    console_failures_per_address: int = Field(default=20, ge=1, le=100_000)

    retention_days: int = Field(default=180, ge=1, le=3650)

    # Handoff to operators: a waiting ticket nobody claims for this many seconds of office hours is
    # announced again; an assigned ticket silent this long is closed; timers are checked this often.
    handoff_unclaimed_seconds: float = Field(default=600.0, gt=0)
    handoff_silent_seconds: float = Field(default=86_400.0, gt=0)
    # A ticket nobody claimed for this many seconds of office hours (16 hours: about two working days)
    # expires (the person gets the partner's contacts); at most
    # this many tickets wait per partner (past it the person gets the contacts instead of a ticket).
    handoff_waiting_expire_seconds: float = Field(default=57_600.0, gt=0)
    handoff_queue_cap: int = Field(default=30, ge=1, le=10_000)
    handoff_check_every: float = Field(default=30.0, gt=0, le=3600)
    invite_ttl_hours: float = Field(default=72.0, gt=0, le=24 * 365)
    # Tests only: the gateway's clock starts at this instant (ISO 8601 with its UTC offset) and runs on.
    concilia_fake_now: datetime | None = None

    rate_limit_per_minute: int = Field(default=20, ge=1, le=10_000)

    # Several gateways side by side: each one's name (unique per gateway process; it is recorded on the
    # inbound messages it takes in and names its spool file), where the spool file goes (default: a
    # "spool" folder next to the SQLite file, or var/spool), and how unanswered messages are recovered
    # (see bot/recovery.py): up to this old, those of other gateways from this age, checked this often.
    gateway_name: str = Field(default_factory=socket.gethostname, min_length=1, max_length=64)
    spool_dir: str | None = None
    recover_window_seconds: float = Field(default=600.0, ge=0, le=86_400)
    recover_after_seconds: float = Field(default=60.0, gt=0, le=3600)
    recover_every: float = Field(default=30.0, gt=0, le=3600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("telegram_mode", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("concilia_fake_now")
    @classmethod
    def _fake_now(cls, value: datetime | None) -> datetime | None:
        return _fake_now(value)

    @field_validator("web_trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        try:
            trusted_networks(value)
        except ValueError:
            raise ValueError(
                "WEB_TRUSTED_PROXIES: indirizzi o reti separati da virgole, per esempio 127.0.0.1,10.0.0.0/8"
            ) from None
        return value

    @field_validator("web_frame_ancestors")
    @classmethod
    def _frame_ancestors(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value or not all(_FRAME_SOURCE.match(part) for part in value.split(" ")):
            raise ValueError(
                "WEB_FRAME_ANCESTORS: 'self', 'none' o indirizzi https:// separati da spazi, "
                "per esempio 'self' https://www.comune.example.org"
            )
        return value

    @field_validator("web_api_key")
    @classmethod
    def _api_key(cls, value: SecretStr | None) -> SecretStr | None:
        value = _check_secret("WEB_API_KEY", value)
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("WEB_API_KEY è troppo corta: almeno 24 caratteri casuali")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _telegram_token(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_secret("TELEGRAM_BOT_TOKEN", value)

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        value = _check_secret("TELEGRAM_WEBHOOK_SECRET", value)
        if value is not None and not _WEBHOOK_SECRET.match(value.get_secret_value()):
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET: da 1 a 256 caratteri, solo lettere, cifre, _ e - "
                "(regola di Telegram)"
            )
        return value

    @field_validator("rasa_token")
    @classmethod
    def _rasa_token(cls, value: SecretStr) -> SecretStr:
        checked = _check_secret("RASA_TOKEN", value)
        if checked is None:
            raise ValueError("RASA_TOKEN è vuoto: `make run` lo genera in var/rasa_token")
        return checked

    @field_validator("rasa_url")
    @classmethod
    def _rasa_urls(cls, value: str) -> str:
        """One Rasa server, or several separated by commas (each conversation always on the same one)."""
        urls = [cls._http_url(u) for u in value.split(",") if u.strip()]
        if not urls:
            raise ValueError("RASA_URL è vuoto")
        return ",".join(u for u in urls if u)

    @field_validator("telegram_api_base", "telegram_webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} non è un indirizzo http:// o https://")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        value = value.strip()
        # Plain postgres URLs would make SQLAlchemy look for psycopg2; we ship psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        if not (value.startswith("sqlite") or value.startswith("postgresql+")):
            raise ValueError("DATABASE_URL: usa sqlite:///percorso.db oppure postgresql+psycopg://...")
        return value

    @field_serializer("database_url")
    def _hide_password(self, value: str) -> str:
        return self.database_url_for_logs

    @model_validator(mode="after")
    def _webhook_needs(self) -> Settings:
        if self.telegram_mode == "webhook" and self.telegram_bot_token is not None:
            missing = [
                name
                for name, val in (
                    ("TELEGRAM_WEBHOOK_URL", self.telegram_webhook_url),
                    ("TELEGRAM_WEBHOOK_SECRET", self.telegram_webhook_secret),
                )
                if val is None
            ]
            if missing:
                raise ValueError(f"con TELEGRAM_MODE=webhook servono anche {' e '.join(missing)}")
            if self.telegram_webhook_url and not self.telegram_webhook_url.startswith("https://"):
                raise ValueError("TELEGRAM_WEBHOOK_URL deve essere https:// (Telegram non accetta http)")
        return self

    def clock(self) -> Callable[[], datetime]:
        """The gateway's clock: real UTC time, or (tests) time running from CONCILIA_FAKE_NOW."""
        return make_clock(self.concilia_fake_now)

    @property
    def spool_path(self) -> Path:
        """This gateway's spool file: named after the gateway and the database (so two gateways, or one
        pointed at another database, never replay each other's messages), in ``SPOOL_DIR``, else in a
        ``spool`` folder next to the SQLite file, else in ``var/spool``."""
        from sqlalchemy.engine import make_url

        folder = Path("var")
        try:
            url = make_url(self.database_url)
            if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
                folder = Path(url.database).expanduser().parent
        except Exception:
            pass
        folder = Path(self.spool_dir) if self.spool_dir else folder / "spool"
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.gateway_name)
        database = hashlib.sha256(self.database_url.encode()).hexdigest()[:8]
        return folder / f"{name}-{database}.jsonl"

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def database_url_for_logs(self) -> str:
        """DATABASE_URL with the password hidden."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.database_url).render_as_string(hide_password=True)
        except Exception:  # a URL we cannot parse: show only the scheme
            return self.database_url.split(":", 1)[0] + "://***"

    def secret_values(self) -> list[str]:
        """Every secret as plain text, for the log filter that redacts them."""
        out = [
            s.get_secret_value()
            for s in (
                self.telegram_bot_token,
                self.telegram_webhook_secret,
                self.rasa_token,
                self.web_api_key,
            )
            if s is not None
        ]
        from sqlalchemy.engine import make_url

        try:
            password = make_url(self.database_url).password
        except Exception:
            password = None
        if password:
            out.append(str(password))
        return out


class DatabaseSettings(BaseSettings):
    """Only ``DATABASE_URL`` (and the tests' ``CONCILIA_FAKE_NOW``, so codes expire on the gateway's clock),
    for the administrator's commands (``concilia operators ...``), which need neither Rasa nor Telegram."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
    )

    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)
    concilia_fake_now: datetime | None = None
    # the address the partners' staff open the console at (the links `concilia console invite` prints)
    console_url: str = "http://127.0.0.1:8080"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return Settings._database_url(value)  # type: ignore[operator]

    @field_validator("concilia_fake_now")
    @classmethod
    def _fake_now(cls, value: datetime | None) -> datetime | None:
        return _fake_now(value)

    def clock(self) -> Callable[[], datetime]:
        return make_clock(self.concilia_fake_now)
