"""Two gateways and one ticket: the forum topic is linked once (a conditional update); a gateway that
created a topic of its own meanwhile deletes it and uses the linked one."""

from __future__ import annotations

from tests.integration.test_telegram_handoff import GROUP, open_ticket, sent_to, tg  # noqa: F401


async def test_a_second_gateway_creating_the_same_topic_deletes_its_own(tg):  # noqa: F811
    env = tg
    number, thread = await open_ticket(env)
    ticket = await env.service.tickets.get(number)
    # what another gateway held: no topic yet, as it read the desk's table before the first was linked

    used = await env.channel.operators.desk._make_topic(ticket, GROUP, old_thread=None)

    [_, extra] = await sent_to(env, GROUP, "createForumTopic", count=2)
    extra_thread = extra["result"]["message_thread_id"]
    [deleted] = await sent_to(env, GROUP, "deleteForumTopic")
    assert used == thread != extra_thread
    assert deleted["params"]["message_thread_id"] == extra_thread
    assert (await env.service.desk_places.place(number)).thread_id == thread
