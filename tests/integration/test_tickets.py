"""Tickets in the database, on a SQLite file and on PostgreSQL: the state machine with its events, atomic
claims under real concurrency (two connections, two threads, 50 races), one open ticket per person, one-time
invite codes, erasure and retention."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from bot.handoff.invites import code_hash, new_code, normalise_code
from bot.handoff.model import TooManyOpen, origin_of
from bot.store import NewMessage, Store, new_sender_id
from bot.store.desk import DeskPlacesStore
from bot.store.models import InviteCode, RelayedMessage, Ticket, TicketEvent
from bot.store.operators import OperatorStore
from bot.store.retention import purge_once
from bot.store.tickets import TicketStore

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


async def person(store: Store, key: str, name: str = "Giulia", channel: str = "telegram") -> int:
    ref = await store.save(
        [
            NewMessage(
                channel=channel,
                user_key=key,
                direction="in",
                rasa_sender_id=new_sender_id(),
                text="centri estivi a Magenta?",
                first_name=name,
                created_at=NOW,
            )
        ]
    )
    assert ref is not None
    return ref.id


async def new_ticket(tickets: TicketStore, user_id: int, partner: str = "azienda-consortile-magentino"):
    ticket, created = await tickets.create(
        user_id,
        partner,
        topic="school_closure",
        territory="magentino",
        town="Magenta",
        question="centri estivi a Magenta?",
        now=NOW,
    )
    assert created
    return ticket


def rows(store: Store, model, *where):
    with store._sessions() as session:
        return session.scalars(select(model).where(*where)).all()


async def test_the_life_of_a_ticket_is_recorded_step_by_step(db):
    store, _ = db
    tickets = TicketStore(store)
    uid = await person(store, "1")
    marco = await OperatorStore(store).add_operator("azienda-consortile-magentino", 9001, "Marco", NOW)
    anna = await OperatorStore(store).add_operator("azienda-consortile-magentino", 9002, "Anna", NOW)
    ticket = await new_ticket(tickets, uid)
    assert (ticket.state, ticket.first_name, ticket.channel, ticket.user_key) == (
        "waiting",
        "Giulia",
        "telegram",
        "1",
    )

    t1 = NOW + timedelta(minutes=2)
    claimed = await tickets.claim(ticket.id, marco.id, t1)
    assert claimed.done and claimed.ticket.state == "assigned"
    assert (claimed.ticket.assigned_to, claimed.ticket.assigned_name, claimed.ticket.assigned_at) == (
        marco.id,
        "Marco",
        t1,
    )
    late = await tickets.claim(ticket.id, anna.id, t1)
    assert not late.done and late.ticket.assigned_name == "Marco"  # the loser learns who took it
    assert not (await tickets.release(ticket.id, anna.id, t1)).done  # only the holder releases

    t2 = NOW + timedelta(minutes=5)
    released = await tickets.release(ticket.id, marco.id, t2)
    assert released.done and released.ticket.state == "waiting" and released.ticket.assigned_to is None
    assert released.ticket.announced_at == t2  # the unclaimed timer starts again
    assert (await tickets.claim(ticket.id, anna.id, t2)).done

    t3 = NOW + timedelta(minutes=9)
    closed = await tickets.close(
        ticket.id, t3, actor=f"operator:{anna.id}", reason="closed", operator_id=anna.id
    )
    assert closed.done and closed.ticket.state == "closed" and closed.ticket.closed_at == t3
    assert not (await tickets.close(ticket.id, t3, actor="person", reason="left")).done
    assert not (await tickets.claim(ticket.id, marco.id, t3)).done
    assert await tickets.rate(ticket.id, uid, 5, t3)
    assert not await tickets.rate(ticket.id, uid, 1, t3)  # once

    events = await tickets.events(ticket.id)
    assert [(e.kind, e.from_state, e.to_state, e.actor) for e in events] == [
        ("created", None, "waiting", "person"),
        ("claimed", "waiting", "assigned", f"operator:{marco.id}"),
        ("released", "assigned", "waiting", f"operator:{marco.id}"),
        ("claimed", "waiting", "assigned", f"operator:{anna.id}"),
        ("closed", "assigned", "closed", f"operator:{anna.id}"),
        ("rated", None, None, "person"),
    ]
    assert [e.at for e in events] == [NOW, t1, t2, t2, t3, t3]
    assert (await tickets.get(ticket.id)).rating == 5


async def test_expired_only_from_the_state_asked(db):
    store, _ = db
    tickets = TicketStore(store)
    ticket = await new_ticket(tickets, await person(store, "2"))
    later = NOW + timedelta(days=1)
    assert not (
        await tickets.close(
            ticket.id, later, actor="system", reason="silence", state="expired", from_state="assigned"
        )
    ).done
    op = await OperatorStore(store).add_operator("azienda-consortile-magentino", 1, "Marco", NOW)
    await tickets.claim(ticket.id, op.id, NOW)
    done = await tickets.close(
        ticket.id, later, actor="system", reason="silence", state="expired", from_state="assigned"
    )
    assert done.done and done.ticket.state == "expired" and done.ticket.closed_by == "system"


@pytest.mark.parametrize("rounds", [50])
async def test_two_operators_claiming_at_once_exactly_one_wins_every_time(db, rounds):
    """Two connections, two threads, released together by a barrier, 50 times."""
    store, make = db
    other = Store(make())  # a second engine: its own connections, its own worker thread
    try:
        mine, theirs = TicketStore(store), TicketStore(other)
        marco = await OperatorStore(store).add_operator("azienda-consortile-magentino", 9001, "Marco", NOW)
        anna = await OperatorStore(store).add_operator("azienda-consortile-magentino", 9002, "Anna", NOW)
        ids = []
        for i in range(rounds):
            ticket = await new_ticket(mine, await person(store, f"race-{i}"))
            ids.append(ticket.id)

        barrier = threading.Barrier(2)

        def attempt(tickets: TicketStore, ticket_id: int, operator_id: int):
            barrier.wait()
            return tickets.claim_sync(ticket_id, operator_id, NOW)

        winners = []
        with ThreadPoolExecutor(2) as pool:
            for ticket_id in ids:
                a = pool.submit(attempt, mine, ticket_id, marco.id)
                b = pool.submit(attempt, theirs, ticket_id, anna.id)
                results = [a.result(timeout=30), b.result(timeout=30)]
                assert sum(r.done for r in results) == 1, results
                winner = marco.id if results[0].done else anna.id
                assert all(r.ticket.assigned_to == winner for r in results)
                winners.append(winner)

        claimed = rows(store, TicketEvent, TicketEvent.kind == "claimed")
        assert len(claimed) == rounds and sorted(e.ticket_id for e in claimed) == ids
        assert {t.assigned_to for t in rows(store, Ticket)} <= {marco.id, anna.id}
        assert [t.assigned_to for t in sorted(rows(store, Ticket), key=lambda t: t.id)] == winners
    finally:
        other.close()


async def test_one_open_ticket_per_person_even_when_asked_at_once(db):
    store, make = db
    other = Store(make())
    try:
        uid = await person(store, "3")
        kwargs = dict(topic=None, territory="magentino", town=None, question=None, now=NOW)
        results = await asyncio.gather(
            *(
                TicketStore(s).create(uid, "azienda-consortile-magentino", **kwargs)
                for s in (store, other, store, other, store, other)
            )
        )
        assert sum(created for _, created in results) == 1
        assert len({t.id for t, _ in results}) == 1
        first = results[0][0]
        await TicketStore(store).close(first.id, NOW, actor="person", reason="left")
        again, created = await TicketStore(store).create(uid, "azienda-consortile-magentino", **kwargs)
        assert created and again.id != first.id  # a closed ticket does not block a new one
    finally:
        other.close()


async def test_at_most_the_cap_of_open_tickets_per_origin_even_when_asked_at_once(db):
    """Two stores (two gateways) create tickets for ten people from one address at once: three open."""
    store, make = db
    other = Store(make())
    try:
        people = [await person(store, f"origin-{k}") for k in range(10)]
        kwargs = dict(topic=None, territory="magentino", town=None, question=None, now=NOW)
        origin = origin_of("198.51.100.7")

        async def one(k: int) -> bool:
            s = store if k % 2 else other
            try:
                _, created = await TicketStore(s).create(
                    people[k], "azienda-consortile-magentino", origin=origin, origin_cap=3, **kwargs
                )
            except TooManyOpen:
                return False
            return created

        results = await asyncio.gather(*(one(k) for k in range(10)))
        assert sum(results) == 3
        opened = [t for t in rows(store, Ticket) if t.origin == origin]
        assert len(opened) == 3
        await TicketStore(store).close(opened[0].id, NOW, actor="person", reason="left")
        assert [t.origin for t in rows(store, Ticket) if t.id == opened[0].id] == [None]  # cleared
        assert await one(9) or await one(8)  # a place freed: one more opens
    finally:
        other.close()


async def test_invite_codes_are_hashed_one_time_and_expire(db):
    store, _ = db
    operators = OperatorStore(store)
    code = new_code()
    assert len(normalise_code(code)) == 8 and code[4] == "-"
    await operators.add_invite("operator", "asp-abbiatense", code_hash(code), NOW + timedelta(hours=1), NOW)
    stored = rows(store, InviteCode)
    assert [i.code_hash for i in stored] == [code_hash(code)]
    with store.engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM invite_codes")) for v in row)
    assert normalise_code(code) not in dump.upper() and code not in dump

    assert await operators.redeem_invite("group", code_hash(code), "chat:-1", NOW) is None  # wrong kind
    typed = code.lower().replace("-", " ")  # typed by hand: case and separators do not matter
    assert await operators.redeem_invite("operator", code_hash(typed), "telegram:1", NOW) == "asp-abbiatense"
    assert await operators.redeem_invite("operator", code_hash(code), "telegram:2", NOW) is None  # used

    old = new_code()
    await operators.add_invite("group", "asp-abbiatense", code_hash(old), NOW + timedelta(hours=1), NOW)
    assert await operators.redeem_invite("group", code_hash(old), "chat:-1", NOW + timedelta(hours=2)) is None


async def test_operators_and_groups(db):
    store, _ = db
    operators = OperatorStore(store)
    op = await operators.add_operator("asp-abbiatense", 77, "Anna", NOW)
    assert await operators.operator(77, "asp-abbiatense") == op
    assert await operators.operator(77, "azienda-consortile-magentino") is None  # per partner
    assert await operators.deactivate_operator(op.id)
    assert await operators.operator(77, "asp-abbiatense") is None
    again = await operators.add_operator("asp-abbiatense", 77, "Annina", NOW)
    assert again.id == op.id and again.active and again.first_name == "Annina"

    await operators.link_group("asp-abbiatense", -1001, "Operatori ASP", NOW)
    await operators.link_group("asp-abbiatense", -1002, "Nuovo gruppo", NOW)  # relinking replaces
    await operators.link_group("coop-nidi-ovest", -1001, "Nidi", NOW)
    assert [(g.partner_id, g.chat_id) for g in await operators.groups()] == [
        ("asp-abbiatense", -1002),
        ("coop-nidi-ovest", -1001),
    ]
    assert (await operators.group_by_chat(-1001)).partner_id == "coop-nidi-ovest"


async def test_erasing_a_person_removes_her_tickets_events_and_relays(db):
    store, _ = db
    tickets = TicketStore(store)
    uid = await person(store, "4")
    other = await person(store, "5", "Paolo")
    ticket = await new_ticket(tickets, uid)
    kept = await new_ticket(tickets, other)
    await DeskPlacesStore(store).link(ticket.id, -100, 55, NOW, card_message_id=56)
    for mid in (57, 58):
        await tickets.add_relay(
            ticket.id,
            "to_operators",
            person_message_id=mid - 50,
            group_chat_id=-100,
            topic_message_id=mid,
            now=NOW,
        )
    await tickets.add_relay(
        kept.id, "to_operators", person_message_id=1, group_chat_id=-100, topic_message_id=99, now=NOW
    )

    erased = await tickets.erase_person(uid)

    assert [
        (e.ticket.id, e.place.thread_id, e.place.card_message_id, e.topic_message_ids) for e in erased
    ] == [(ticket.id, 55, 56, (57, 58))]
    assert [t.id for t in rows(store, Ticket)] == [kept.id]
    assert {r.ticket_id for r in rows(store, RelayedMessage)} == {kept.id}
    assert {e.ticket_id for e in rows(store, TicketEvent)} == {kept.id}
    await store.erase_user(other)  # the store's erase takes tickets along too
    assert rows(store, Ticket) == [] and rows(store, TicketEvent) == []


async def test_retention_purges_ended_and_unclaimed_tickets_not_those_in_hand(db):
    store, _ = db
    tickets = TicketStore(store)
    old, now = NOW - timedelta(days=200), NOW
    a, b, c = await person(store, "6"), await person(store, "7"), await person(store, "8")
    ended, _ = await tickets.create(
        a, "asp-abbiatense", topic=None, territory=None, town=None, question="una domanda vecchia", now=old
    )
    await tickets.close(ended.id, old, actor="person", reason="left")
    await tickets.add_relay(
        ended.id, "to_person", person_message_id=1, group_chat_id=-1, topic_message_id=2, now=old
    )
    unclaimed, _ = await tickets.create(
        b, "asp-abbiatense", topic=None, territory=None, town=None, question="mai presa", now=old
    )
    in_hand, _ = await tickets.create(
        c, "asp-abbiatense", topic=None, territory=None, town=None, question="ancora aperta", now=old
    )
    operator = await OperatorStore(store).add_operator("asp-abbiatense", 9001, "Marco", old)
    assert (await tickets.claim(in_hand.id, operator.id, old)).done
    await OperatorStore(store).add_invite("operator", "asp-abbiatense", code_hash(new_code()), old, old)

    result = await purge_once(store, retention_days=180, now=now)

    assert result.tickets == 2
    assert (await tickets.get(ended.id)).question is None
    assert (await tickets.get(unclaimed.id)).question is None  # never claimed: her words go too
    assert (await tickets.get(in_hand.id)).question == "ancora aperta"
    assert rows(store, RelayedMessage) == [] and rows(store, InviteCode) == []


async def test_pushed_messages_come_back_with_a_cursor(db):
    store, _ = db
    await person(store, "web-1", None, channel="web")

    def pushed(text_: str) -> NewMessage:
        return NewMessage(
            channel="web",
            user_key="web-1",
            direction="out",
            rasa_sender_id=new_sender_id(),
            text=text_,
            pushed=True,
            created_at=NOW,
        )

    await store.save([pushed("Marco ha preso la tua richiesta."), pushed("Ciao, sono Marco!")])
    await store.save(
        [
            NewMessage(
                channel="web",
                user_key="web-1",
                direction="out",
                rasa_sender_id="x",
                text="una risposta normale",
                created_at=NOW,
            )
        ]
    )
    found, last = await store.pushed_since("web", "web-1", 0)
    assert [m.text for m in found] == ["Marco ha preso la tua richiesta.", "Ciao, sono Marco!"]
    assert last == found[-1].id
    assert await store.pushed_since("web", "web-1", last) == ([], last)
    assert await store.pushed_since("web", "someone-else", 0) == ([], 0)
