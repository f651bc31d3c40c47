"""The handoff service on a real (in-memory) database and the real knowledge base, with the time frozen by
an injected clock: routing, office hours, the town question, authorisation, the life of a ticket as the
person and the operators notice it, timeouts, invite codes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from bot.handoff import texts as txt
from bot.handoff.model import Delivery, OperatorContent, Person, Timeouts, partner_contacts
from bot.handoff.office_hours import ROME, open_seconds_between
from bot.handoff.service import HandoffService
from bot.store import NewMessage, new_sender_id
from bot.store.models import Ticket
from knowledge import load
from tests.fakes.handoff import Clock, RecordingDesk, RecordingSender
from tests.fakes.stores import memory_store

KB = load()
MAGENTINO = "azienda-consortile-magentino"
ABBIATENSE = "asp-abbiatense"
DEFAULT = "alleanza-capofila"
GROUP = -1001500
DEFAULT_GROUP = -1001100
ABBIATENSE_GROUP = -1001400
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=ROME)
CAMPS = {"topic": "school_closure", "territory": "magentino", "comune": "Magenta", "handoff": True}


@pytest.fixture
async def h():
    store = memory_store()
    clock = Clock(TUESDAY_10)
    desk, sender = RecordingDesk(), RecordingSender()
    service = HandoffService(store, lambda: KB, clock=clock, timeouts=Timeouts(600, 86_400))
    service.attach_desk(desk)
    service.attach_sender("telegram", sender)
    await service.operators.link_group(MAGENTINO, GROUP, "Operatori Magentino", clock())
    await service.operators.link_group(DEFAULT, DEFAULT_GROUP, "Operatori Alleanza", clock())
    await service.operators.link_group(ABBIATENSE, ABBIATENSE_GROUP, "Operatori Abbiatense", clock())
    marco = await service.operators.add_operator(MAGENTINO, 501, "Marco", clock())
    anna = await service.operators.add_operator(MAGENTINO, 502, "Anna", clock())
    other = await service.operators.add_operator(ABBIATENSE, 401, "Sara", clock())
    yield SimpleNamespace(
        store=store,
        service=service,
        clock=clock,
        desk=desk,
        sender=sender,
        marco=marco,
        anna=anna,
        other=other,
    )
    store.close()


async def write(h, key: str, *texts: str, channel: str = "telegram", name: str | None = "Giulia") -> Person:
    ref = None
    for text in texts:
        ref = await h.store.save(
            [
                NewMessage(
                    channel=channel,
                    user_key=key,
                    direction="in",
                    rasa_sender_id=new_sender_id(),
                    text=text,
                    first_name=name,
                    created_at=h.clock(),
                )
            ]
        )
        h.clock.advance(seconds=1)
    assert ref is not None
    return Person(ref.id, channel, key, name)


async def open_ticket(h, key: str = "42", meta: dict | None = None, **kw):
    person = await write(h, key, "centri estivi a Magenta a luglio?", "posso parlare con una persona?", **kw)
    replies = await h.service.request(person, meta or CAMPS)
    return person, replies, await h.service.open_ticket(person.user_id)


# --- routing and the first message --------------------------------------------------------------------


async def test_a_request_in_office_hours_goes_to_the_partner_of_topic_and_territory(h):
    person, [reply], ticket = await open_ticket(h)

    partner = KB.partners[MAGENTINO]
    assert reply.text.startswith(f"Ti metto in contatto con un operatore di {partner.name}.")
    assert "al lavoro adesso" in reply.text and "Sei la prima persona in coda." in reply.text
    assert "puoi continuare a scrivere" in reply.text
    assert reply.buttons == (txt.LEAVE_BUTTON,)
    assert (ticket.partner_id, ticket.state, ticket.town, ticket.territory) == (
        MAGENTINO,
        "waiting",
        "Magenta",
        "magentino",
    )
    assert ticket.question == "centri estivi a Magenta a luglio?"
    [card] = h.desk.of("announce")
    assert (card.ticket_id, card.name, card.topic, card.place, card.state) == (
        ticket.id,
        "Giulia",
        "Scuole chiuse e centri estivi",
        "Magenta (Magentino)",
        "waiting",
    )
    assert card.last_messages[-1] == ("Giulia", "posso parlare con una persona?")
    assert "42" not in repr(card)  # operators never see the Telegram id
    assert card.office is None


async def test_out_of_hours_the_person_is_told_when_they_will_answer(h):
    h.clock.now = datetime(2026, 11, 28, 11, 0, tzinfo=ROME)  # Saturday
    _, [reply], _ = await open_ticket(h)

    assert KB.partners[MAGENTINO].away_message in reply.text
    assert "Ti rispondono da lunedì 30 novembre alle 9:00." in reply.text
    assert "al lavoro adesso" not in reply.text and "puoi continuare a scrivere" in reply.text
    [card] = h.desk.of("announce")
    assert card.office == "Ufficio chiuso: la persona sa che rispondete da lunedì 30 novembre alle 9:00."


async def test_the_place_in_the_queue(h):
    await open_ticket(h, "1")
    await open_ticket(h, "2")
    _, [reply], _ = await open_ticket(h, "3")
    assert "Ci sono 2 persone prima di te." in reply.text


async def test_asking_again_while_waiting_opens_nothing_new(h):
    person, _, ticket = await open_ticket(h)
    [again] = await h.service.request(person, CAMPS)
    assert again.text == txt.ALREADY_WAITING
    assert len(h.desk.of("announce")) == 1


async def test_unknown_territory_asks_for_the_town_first(h):
    person = await write(h, "7", "vorrei parlare con un operatore")
    [ask] = await h.service.request(person, {"topic": None, "territory": None, "handoff": True})
    assert ask.text == txt.ASK_TOWN
    assert await h.service.open_ticket(person.user_id) is None

    pending = await h.service.pending_request(person.user_id)
    [reply] = await h.service.answer_town(person, pending, "abito a Corbetta")

    ticket = await h.service.open_ticket(person.user_id)
    assert (ticket.partner_id, ticket.town, ticket.territory) == (MAGENTINO, "Corbetta", "magentino")
    assert "Azienda consortile del Magentino" in reply.text
    assert await h.service.pending_request(person.user_id) is None


async def test_the_town_from_a_shared_location_or_an_ambito(h):
    person = await write(h, "8", "un operatore per favore")
    await h.service.request(person, {"topic": "caregiver_support", "territory": None})
    await h.service.answer_town(person, await h.service.pending_request(person.user_id), town="Abbiategrasso")
    ticket = await h.service.open_ticket(person.user_id)
    assert (ticket.partner_id, ticket.town) == (ABBIATENSE, "Abbiategrasso")

    other = await write(h, "9", "voglio una persona")
    await h.service.request(other, {"topic": "school_closure", "territory": None})
    [precise] = await h.service.answer_town(
        other, await h.service.pending_request(other.user_id), "Alto Milanese"
    )
    assert precise.text == txt.ASK_TOWN_PRECISE  # two ambiti: which town?


async def test_two_unknown_towns_go_to_the_default_partner_and_annulla_cancels(h):
    person = await write(h, "10", "persona")
    await h.service.request(person, {"topic": "school_closure", "territory": None})
    [again] = await h.service.answer_town(person, await h.service.pending_request(person.user_id), "Roma")
    assert again.text == txt.ASK_TOWN_AGAIN
    await h.service.answer_town(person, await h.service.pending_request(person.user_id), "Napoli")
    assert (await h.service.open_ticket(person.user_id)).partner_id == DEFAULT

    other = await write(h, "11", "persona")
    await h.service.request(other, {"topic": None, "territory": None})
    [cancelled] = await h.service.answer_town(
        other, await h.service.pending_request(other.user_id), "Annulla"
    )
    assert cancelled.text == txt.HANDOFF_CANCELLED
    assert await h.service.open_ticket(other.user_id) is None
    assert await h.service.pending_request(other.user_id) is None


async def test_the_town_question_is_forgotten_after_half_an_hour(h):
    person = await write(h, "12", "persona")
    await h.service.request(person, {"topic": None, "territory": None})
    h.clock.advance(minutes=31)
    assert await h.service.pending_request(person.user_id) is None


async def test_a_partner_without_a_group_hands_over_to_the_default_partners_group(h):
    _, [reply], ticket = await open_ticket(h, "13", {"topic": "caregiver_support", "territory": "legnanese"})
    assert ticket.partner_id == DEFAULT
    assert KB.partners[DEFAULT].name in reply.text


async def test_with_no_group_at_all_the_person_gets_the_contacts(h):
    h.service.desks.clear()  # Telegram is off: nobody could read the ticket
    person = await write(h, "14", "centri estivi", "operatore")
    [reply] = await h.service.request(person, CAMPS)
    assert reply.text.startswith("Mi dispiace: in questo momento non riesco a passarti a un operatore.")
    assert "magentino@example.org" in reply.text
    assert await h.service.open_ticket(person.user_id) is None


# --- the operators --------------------------------------------------------------------------------------


async def test_claim_tells_the_person_and_the_topic_and_a_second_claim_is_told_who_took_it(h):
    _, _, ticket = await open_ticket(h)
    won = await h.service.act("claim", ticket.id, GROUP, 501, "Marco")
    lost = await h.service.act("claim", ticket.id, GROUP, 502, "Anna")

    assert won.ok and won.text == "Marco ha preso la richiesta."
    assert not lost.ok and lost.alert and lost.text == "L'ha già presa Marco."
    assert h.sender.texts() == [
        f"Marco di {KB.partners[MAGENTINO].name} ha preso la tua richiesta e ti risponde qui. Scrivi pure."
    ]
    assert "Marco ha preso la richiesta." in h.desk.of("notice")
    assert (await h.service.act("claim", ticket.id, GROUP, 501, "Marco")).text == txt.ALREADY_YOURS


async def test_only_operators_of_the_tickets_partner_may_act_and_refusals_are_logged(h, caplog):
    _, _, ticket = await open_ticket(h)
    caplog.set_level(logging.WARNING, "bot.handoff")

    other_partner = await h.service.act("claim", ticket.id, GROUP, 401, "Sara")  # Abbiatense's operator
    stranger = await h.service.act("close", ticket.id, GROUP, 999, "Chiunque")
    wrong_group = await h.service.act("claim", ticket.id, ABBIATENSE_GROUP, 401, "Sara")
    assert await h.service.desk_places.ticket_at(GROUP, 1) is None  # not a ticket's topic...
    written = await h.service.operator_message(
        0, GROUP, 999, "Chiunque", OperatorContent(5, "ciao")
    )  # ...nor a ticket: ignored

    name = KB.partners[MAGENTINO].name
    assert not other_partner.ok and other_partner.text == txt.not_operator(name)
    assert not stranger.ok and stranger.alert
    assert not wrong_group.ok
    assert written is None
    assert (await h.service.open_ticket(ticket.user_id)).state == "waiting"
    events = await h.service.tickets.events(ticket.id)
    assert [(e.kind, e.actor) for e in events if e.kind == "refused"] == [
        ("refused", "telegram:401"),
        ("refused", "telegram:999"),
        ("refused", "telegram:401"),
    ]
    assert sum("refused" in r.message for r in caplog.records) == 3
    assert h.sender.texts() == []


async def test_an_operator_message_reaches_the_person_and_claims_a_waiting_ticket(h):
    _, _, ticket = await open_ticket(h)
    await h.service.desk_places.link(ticket.id, GROUP, 77, h.clock(), card_message_id=78)

    notice = await h.service.operator_message(
        ticket.id, GROUP, 501, "Marco", OperatorContent(80, "Ciao Giulia!")
    )

    assert notice is None
    assert h.sender.copies == [("42", GROUP, 80)]
    now = await h.service.open_ticket(ticket.user_id)
    assert now.state == "assigned" and now.assigned_name == "Marco"
    assert [r.direction for r in await h.service.tickets.relays(ticket.id)] == ["to_person"]
    taken = await h.service.operator_message(
        ticket.id, GROUP, 502, "Anna", OperatorContent(81, "Ci sono anch'io")
    )
    assert taken == txt.taken_by_other("Marco") and len(h.sender.copies) == 1


async def test_a_person_who_blocked_the_bot_is_reported_in_the_topic(h):
    _, _, ticket = await open_ticket(h)
    await h.service.desk_places.link(ticket.id, GROUP, 77, h.clock(), card_message_id=78)
    await h.service.act("claim", ticket.id, GROUP, 501, "Marco")
    h.sender.delivery = Delivery.BLOCKED

    notice = await h.service.operator_message(ticket.id, GROUP, 501, "Marco", OperatorContent(90, "ci sei?"))

    assert notice == txt.blocked_notice("Giulia")


async def test_closing_brings_the_person_back_with_a_rating(h):
    person, _, ticket = await open_ticket(h)
    await h.service.act("claim", ticket.id, GROUP, 501, "Marco")
    closed = await h.service.act("close", ticket.id, GROUP, 501, "Marco")

    assert closed.ok and await h.service.open_ticket(person.user_id) is None
    _, replies = h.sender.sent[-1]
    assert replies[0].text == txt.closed_by_operator("Marco", False)
    assert replies[1].text == txt.RATE_QUESTION
    assert [b.payload for b in replies[1].buttons] == [f"concilia:rate:{ticket.id}:{n}" for n in range(1, 6)]
    assert h.desk.of("ended") == ["Richiesta chiusa da Marco."]

    assert [r.text for r in await h.service.rate(person.user_id, f"concilia:rate:{ticket.id}:4")] == [
        txt.RATED
    ]
    assert [r.text for r in await h.service.rate(person.user_id, f"concilia:rate:{ticket.id}:5")] == [
        txt.ALREADY_RATED
    ]
    assert (await h.service.tickets.get(ticket.id)).rating == 4
    stranger = await write(h, "99", "ciao")
    assert [r.text for r in await h.service.rate(stranger.user_id, f"concilia:rate:{ticket.id}:1")] == [
        txt.RATE_UNKNOWN
    ]


async def test_release_puts_the_ticket_back_in_the_queue_and_hand_back_closes_it(h):
    _, _, ticket = await open_ticket(h)
    await h.service.act("claim", ticket.id, GROUP, 501, "Marco")
    assert not (await h.service.act("release", ticket.id, GROUP, 502, "Anna")).ok
    released = await h.service.act("release", ticket.id, GROUP, 501, "Marco")
    assert released.ok and released.ticket.state == "waiting"
    assert h.sender.texts()[-1] == txt.released(KB.partners[MAGENTINO].name)

    await h.service.act("claim", ticket.id, GROUP, 502, "Anna")
    back = await h.service.act("back", ticket.id, GROUP, 502, "Anna")
    assert back.ok and back.ticket.close_reason == "handed_back"
    assert txt.closed_by_operator("Anna", True) in h.sender.texts()


async def test_the_person_can_leave_and_her_messages_go_to_the_desk_meanwhile(h):
    from bot.core.messages import Inbound

    person, _, ticket = await open_ticket(h)
    assert (
        await h.service.person_message(ticket, Inbound("telegram", "42", text="ci sono?", message_id=5)) == []
    )
    [reminder] = await h.service.person_message(ticket, Inbound("telegram", "42", command="menu"))
    assert "/assistente" in reminder.text
    [left] = await h.service.person_message(ticket, Inbound("telegram", "42", text="/assistente"))

    assert left.text == txt.LEFT
    assert [m.text for m in h.desk.of("person_wrote")] == ["ci sono?"]
    assert h.desk.of("ended") == [txt.left_notice("Giulia")]
    assert await h.service.open_ticket(person.user_id) is None


async def test_queue_lists_the_partners_open_tickets_to_its_operators_only(h):
    await open_ticket(h, "1")
    _, _, second = await open_ticket(h, "2", name="Paolo")
    await h.service.act("claim", second.id, GROUP, 502, "Anna")

    mine = await h.service.queue(501, GROUP)
    private = await h.service.queue(501, None)
    refused = await h.service.queue(401, GROUP)
    nobody = await h.service.queue(12345, None)

    mine_text, private_text = txt.queue_text(mine.queues), txt.queue_text(private.queues)
    assert mine.ok and "Richieste aperte per Azienda consortile del Magentino" in mine_text
    assert "Giulia, Scuole chiuse e centri estivi, Magenta (Magentino): in attesa da" in mine_text
    assert "Paolo" in mine_text and "presa da Anna" in mine_text
    assert private_text == mine_text
    assert not refused.ok and not nobody.ok


# --- timeouts --------------------------------------------------------------------------------------------


async def test_unclaimed_in_office_hours_is_announced_again_and_the_person_told_once(h):
    _, _, ticket = await open_ticket(h)
    h.clock.advance(minutes=9)
    await h.service.check_timeouts()
    assert h.sender.texts() == []

    h.clock.advance(minutes=2)
    await h.service.check_timeouts()
    assert h.desk.of("reannounced") == [txt.reannounce([ticket.id], "10 minuti")]
    [told] = h.sender.texts()
    assert told.startswith(
        "Gli operatori di Azienda consortile del Magentino (esempio) sono ancora tutti occupati"
    )
    assert "Sei la prima persona in coda." in told

    h.clock.advance(minutes=11)
    await h.service.check_timeouts()
    assert len(h.desk.of("reannounced")) == 2 and len(h.sender.texts()) == 1  # again; told only once


async def test_out_of_hours_the_unclaimed_timer_waits_for_the_opening(h):
    h.clock.now = datetime(2026, 11, 27, 12, 55, tzinfo=ROME)  # Friday, 5 minutes before closing
    await open_ticket(h)
    h.clock.now = datetime(2026, 11, 30, 9, 3, tzinfo=ROME)  # Monday, 3 minutes after opening
    await h.service.check_timeouts()
    assert h.desk.of("reannounced") == []
    h.clock.now = datetime(2026, 11, 30, 9, 6, tzinfo=ROME)  # 5 + 6 minutes of office hours
    await h.service.check_timeouts()
    assert len(h.desk.of("reannounced")) == 1


async def test_a_claimed_ticket_silent_for_a_day_expires_with_a_message_to_both(h):
    person, _, ticket = await open_ticket(h)
    await h.service.act("claim", ticket.id, GROUP, 501, "Marco")
    h.clock.advance(hours=23)
    await h.service.check_timeouts()
    assert (await h.service.open_ticket(person.user_id)).state == "assigned"

    h.clock.advance(hours=1, seconds=1)
    await h.service.check_timeouts()

    ended = await h.service.tickets.get(ticket.id)
    assert (ended.state, ended.closed_by, ended.close_reason) == ("expired", "system", "silence")
    assert h.sender.texts()[-2:] == [txt.closed_for_silence("24 ore"), txt.RATE_QUESTION]
    assert h.desk.of("ended") == [txt.expired_notice("24 ore")]


async def test_tickets_announced_again_in_one_check_are_one_message_per_partner(h):
    tickets = [(await open_ticket(h, str(40 + i), name=f"P{i}"))[2] for i in range(3)]
    h.clock.advance(minutes=11)

    await h.service.check_timeouts()

    assert h.desk.of("reannounced") == [txt.reannounce([t.id for t in tickets], "10 minuti")]
    assert txt.reannounce([1, 2, 3], "10 minuti").startswith("3 richieste aspettano da 10 minuti")


async def test_a_ticket_nobody_claims_expires_and_the_person_gets_the_contacts(h):
    partner = KB.partners[MAGENTINO]
    person, _, ticket = await open_ticket(h)
    later = datetime(2026, 12, 3, 13, 0, tzinfo=ROME)  # Thursday
    office = open_seconds_between(partner, ticket.created_at, later)  # of office hours only
    assert 3600 < office < (later - ticket.created_at).total_seconds()
    h.service.timeouts = Timeouts(600, 86_400, waiting_expires_after=office)
    h.clock.now = later - timedelta(minutes=1)
    await h.service.check_timeouts()
    assert (await h.service.open_ticket(person.user_id)) is not None

    h.clock.now = later
    await h.service.check_timeouts()

    ended = await h.service.tickets.get(ticket.id)
    assert (ended.state, ended.close_reason) == ("expired", txt.UNCLAIMED_REASON)
    after = txt.duration(office)
    assert h.sender.texts()[-1] == txt.unclaimed_expired(partner.name, partner_contacts(partner), after)
    assert partner.contacts.phone in h.sender.texts()[-1]
    assert h.desk.of("ended") == [txt.unclaimed_expired_notice(after)]
    assert await h.service.open_ticket(person.user_id) is None


async def test_past_the_partners_queue_cap_the_person_gets_the_contacts_not_a_ticket(h):
    h.service.timeouts = Timeouts(600, 86_400, queue_cap=2)
    await open_ticket(h, "41")
    await open_ticket(h, "42")

    person, [reply], ticket = await open_ticket(h, "43", name="Terza")

    partner = KB.partners[MAGENTINO]
    assert reply.text == txt.queue_full(partner.name, partner_contacts(partner))
    assert partner.contacts.phone in reply.text
    assert ticket is None and len(await h.service.tickets.open_tickets()) == 2


# --- codes ------------------------------------------------------------------------------------------------


async def test_an_invite_code_registers_an_operator_once(h):
    code, expires = await h.service.create_invite("operator", ABBIATENSE)
    assert (expires - h.clock()).total_seconds() == 72 * 3600

    ok = await h.service.register_operator(code, 777, "Luca")
    again = await h.service.register_operator(code, 778, "Pia")

    assert ok.ok and ok.text == txt.operator_registered(KB.partners[ABBIATENSE].name)
    assert not again.ok and again.text == txt.INVALID_CODE
    assert (await h.service.operators.operator(777, ABBIATENSE)).first_name == "Luca"
    with pytest.raises(LookupError):
        await h.service.create_invite("operator", "nessuno")


async def test_guessing_codes_is_stopped_after_five_tries(h):
    for _ in range(5):
        assert (await h.service.register_operator("AAAA-AAAA", 888, "X")).text == txt.INVALID_CODE
    code, _ = await h.service.create_invite("operator", ABBIATENSE)
    assert (await h.service.register_operator(code, 888, "X")).text == txt.TOO_MANY_TRIES
    assert (await h.service.register_operator("", 889, "Y")).text == txt.CODE_MISSING


async def test_a_group_is_linked_with_a_code_only_when_it_has_topics(h):
    code, _ = await h.service.create_invite("group", "coop-nidi-ovest")
    assert (await h.service.link_group(code, -1009, "Nidi", False, 1)).text == txt.GROUP_NOT_FORUM
    linked = await h.service.link_group(code, -1009, "Nidi", True, 1)
    assert linked.ok and (await h.service.operators.group_by_chat(-1009)).partner_id == "coop-nidi-ovest"
    operator_code, _ = await h.service.create_invite("operator", "coop-nidi-ovest")
    assert not (await h.service.link_group(operator_code, -1010, "X", True, 1)).ok  # not a group code


async def test_forget_erases_tickets_and_tells_the_desk(h):
    person, _, ticket = await open_ticket(h)
    await h.service.forget(person.user_id)
    assert h.desk.of("erased") == [[ticket.id]]
    with h.store._sessions() as session:
        assert session.scalars(select(Ticket)).all() == []


async def test_a_second_operators_desk_is_told_everything_the_first_is(h):
    """A web inbox, say: attached next to the Telegram desk, with no change to the handoff logic."""
    from bot.core.messages import Inbound

    inbox = RecordingDesk()
    h.service.attach_desk(inbox)

    _, _, ticket = await open_ticket(h)
    await h.service.act("claim", ticket.id, GROUP, 501, "Marco")
    await h.service.person_message(ticket, Inbound("telegram", "42", text="grazie"))
    await h.service.act("close", ticket.id, GROUP, 501, "Marco")

    assert inbox.kinds() == h.desk.kinds() == ["announce", "notice", "person_wrote", "ended"]
