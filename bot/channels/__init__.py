"""Channels at the edge: each turns a platform event into an ``Inbound`` for the router and renders the
``Turn`` it gets back. ``web`` is the JSON chat API and its page; ``telegram`` is the Telegram bot for people
and ``telegram_operators`` its operators' side (groups and forum topics of the handoff): the only modules of
the gateway that import python-telegram-bot."""
