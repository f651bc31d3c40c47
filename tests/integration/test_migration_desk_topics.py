"""Migration 0004: the Telegram topic and card of each ticket move off the ticket row into the desk's own
table, with the data copied over; the ticket's events and relayed messages stay (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import inspect, text

from bot.store import Store, upgrade
from bot.store.desk import DeskPlacesStore
from bot.store.migrate import current_revision, head_revision
from bot.store.tickets import TicketStore
from tests.fakes.databases import BACKENDS

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migration_0004_copies_the_topics_into_the_desks_table(backend, tmp_path):
    make, cleanup = backend(tmp_path)
    engine = make()
    await asyncio.to_thread(upgrade, engine, "0003")
    at = NOW if engine.dialect.name == "postgresql" else NOW.replace(tzinfo=None)  # as the model writes it
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, channel, channel_user_key, rasa_sender_id, created_at, last_seen_at)"
                " VALUES (1, 'telegram', '42', 'c-42', :at, :at), (2, 'web', 'w-1', 'c-w1', :at, :at)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO tickets (id, user_id, partner_id, comune, state, created_at, announced_at,"
                " reannounced, last_activity_at, group_chat_id, thread_id, card_message_id, purged)"
                " VALUES (1, 1, 'p', 'Magenta', 'waiting', :at, :at, 0, :at, -100, 55, 56, false),"
                " (2, 2, 'p', NULL, 'closed', :at, :at, 0, :at, NULL, NULL, NULL, false)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO ticket_events (ticket_id, kind, actor, at) VALUES (1, 'created', 'person', :at)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO relayed_messages (ticket_id, direction, person_message_id, group_chat_id,"
                " topic_message_id, created_at) VALUES (1, 'to_operators', 7, -100, 57, :at)"
            ),
            {"at": at},
        )
    await asyncio.to_thread(upgrade, engine, "0004")
    assert current_revision(engine) == "0004"
    await asyncio.to_thread(upgrade, engine)  # the later ones keep what 0004 did (the models are at head)
    store = Store(engine)
    places, tickets = DeskPlacesStore(store), TicketStore(store)

    assert current_revision(engine) == head_revision()
    place = await places.place(1)
    assert (place.chat_id, place.thread_id, place.card_message_id) == (-100, 55, 56)
    assert await places.place(2) is None
    assert await places.ticket_at(-100, 55) == 1
    assert (await tickets.get(1)).town == "Magenta"
    assert [e.kind for e in await tickets.events(1)] == ["created"]  # not cascaded away
    assert [r.topic_message_id for r in await tickets.relays(1)] == [57]
    columns = {c["name"] for c in inspect(engine).get_columns("tickets")}
    assert not columns & {"group_chat_id", "thread_id", "card_message_id", "comune"}
    store.close()

    await asyncio.to_thread(_downgrade, engine)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT comune, group_chat_id, thread_id, card_message_id FROM tickets WHERE id = 1")
        )
        assert row.one() == ("Magenta", -100, 55, 56)
    cleanup()


def _downgrade(engine) -> None:
    from alembic import command

    from bot.store.migrate import alembic_config

    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0003")
