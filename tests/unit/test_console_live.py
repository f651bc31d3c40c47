"""The console's live queue: the version its script polls (``/console/coda/versione``) changes when the
partner's queue changes (a new ticket, a claim on the web or in the Telegram topic, a close) and not
otherwise, ignores other partners' tickets, and is refused to another partner's staff (403, logged) and
to a browser signed out (401, not a redirect to the login page)."""

from __future__ import annotations

import re

from tests.unit.test_console import audit, csrf, h, staff  # noqa: F401
from tests.unit.test_handoff import ABBIATENSE, GROUP, MAGENTINO, open_ticket

ABBIATE = {"topic": "school_closure", "territory": "abbiatense", "comune": "Abbiategrasso", "handoff": True}
POLL = f"/console/coda/versione?ente={MAGENTINO}"


async def version(client, url: str = POLL) -> str:
    answer = await client.get(url)
    assert answer.status == 200, await answer.text()
    assert answer.headers["Cache-Control"] == "no-store"
    return (await answer.json())["version"]


async def test_the_version_changes_with_the_queue_and_only_then(h):  # noqa: F811
    client = await staff(h, "lucia", name="Lucia")
    await staff(h, "sara", partner=ABBIATENSE, name="Sara")  # so Abbiategrasso's tickets are opened
    empty = await version(client)
    assert await version(client) == empty
    page = await (await client.get("/console/")).text()
    found = re.search(r'<div id="queue" data-poll="([^"]+)" data-version="([^"]+)">', page)
    assert found and found.groups() == (POLL, empty)

    _, _, ticket = await open_ticket(h)
    opened = await version(client)
    assert opened != empty
    _, _, elsewhere = await open_ticket(h, key="60", meta=ABBIATE)
    assert elsewhere.partner_id == ABBIATENSE
    assert await version(client) == opened  # another partner's ticket: her queue did not change

    html = await (await client.get(f"/console/ticket/{ticket.id}")).text()
    await client.post(f"/console/ticket/{ticket.id}/nota", data={"text": "richiamare", "csrf": csrf(html)})
    assert await version(client) == opened  # a note is not in the queue
    await client.post(f"/console/ticket/{ticket.id}/azione", data={"action": "claim", "csrf": csrf(html)})
    claimed = await version(client)
    assert claimed not in (opened, empty)
    await client.post(f"/console/ticket/{ticket.id}/azione", data={"action": "close", "csrf": csrf(html)})
    assert await version(client) == empty  # the same open tickets as at the start: none
    assert not [a for a in await audit(h) if a[0] == "queue_version"]  # granted polls are not logged


async def test_a_claim_in_the_telegram_topic_changes_the_version(h):  # noqa: F811
    _, _, ticket = await open_ticket(h)
    client = await staff(h, "lucia")
    before = await version(client)
    marco = await h.service.operators.add_operator(MAGENTINO, 501, "Marco", h.clock())
    assert (await h.service.act("claim", ticket.id, GROUP, marco.telegram_user_id, "Marco")).ok
    assert await version(client) != before


async def test_another_partners_staff_get_403_and_a_signed_out_browser_401(h):  # noqa: F811
    _, _, ticket = await open_ticket(h)
    sara = await staff(h, "sara", partner=ABBIATENSE, name="Sara")
    refused = await sara.get(POLL)
    assert refused.status == 403 and "version" not in await refused.text()
    assert [a for a in await audit(h) if a[1] == "refused"] == [("queue_version", "refused")]
    own = await version(sara, f"/console/coda/versione?ente={ABBIATENSE}")
    assert own == await version(sara, "/console/coda/versione")  # without ente: her own partner's

    nobody = await h.client()
    signed_out = await nobody.get(POLL, allow_redirects=False)
    assert signed_out.status == 401 and "version" not in await signed_out.text()


async def test_the_alliance_polls_the_whole_alliance(h):  # noqa: F811
    client = await staff(h, "capofila", partner="alleanza-capofila", role="alliance", name="Elena")
    url = "/console/coda/versione?ente=alleanza-capofila"
    before = await version(client, url)
    await open_ticket(h)  # a Magentino ticket
    assert await version(client, url) != before
    assert (await client.get(POLL)).status == 403  # the Magentino's own version is not hers to ask
