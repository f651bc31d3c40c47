"""Handoff to partner operators (no ``telegram`` here). Modules: ``model`` (states, views, the pending
request, the card), ``ports``, ``service`` (put together from ``core``, ``cards``, ``person``,
``operator_actions``, ``timeouts``), ``invites``, ``office_hours``, ``texts``.

A person who asks for a human (the assistant's meta says ``handoff`` and not ``fallback``) gets a *ticket*:

* **Routing.** The partner covering the chat's topic and territory (``kb.partner_for``), else the alliance's
  default partner. When the territory is unknown the person is asked for her town first (kept in
  ``users.handoff_pending``), resolved with the knowledge base (``kb.find_place``). A partner whose
  operators have no group yet hands over to the default partner's group; with no group at all the person
  gets the partner's contacts instead of a ticket.
* **State machine.** ``waiting → assigned → closed``, ``assigned → waiting`` (released), ``waiting → closed``,
  and ``expired`` (closed by the system after a long silence). Every transition is a conditional update
  with its event (when, who, from and to) in one transaction (:mod:`bot.store.tickets`): two operators
  pressing "Prendo io" together get exactly one winner.
* **Office hours.** Partner's hours and holidays from the knowledge base, Rome time, on the injected clock:
  the person is told whether operators are around now and, if not, when they will answer.
* **Timeouts.** :meth:`HandoffService.check_timeouts` (a periodic job of the gateway): a ticket nobody
  claims for ``unclaimed_after`` seconds *of office hours* is announced again, and the person is told
  honestly (once); an assigned ticket silent for ``silent_after`` seconds expires, with a message to both.
  Timers are timestamps in the database, so a restart re-arms them by itself.
* **Who may act.** Only a registered, active operator of the ticket's partner, in that partner's group.
  Everyone else is refused, and the attempt is logged (and recorded as a ticket event).

The operators' side is one or more :class:`~bot.handoff.ports.OperatorsDesk` (Telegram forum topics, in
``bot/channels/telegram``), and people are reached through a :class:`~bot.handoff.ports.PersonSender` per
channel; a web person has no sender: what is pushed to her
is stored, and the web chat fetches it (``GET /api/chat/updates``).
"""
