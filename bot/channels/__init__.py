"""Channels at the edge: each turns a platform event into an ``Inbound`` for the router and renders the
``Turn`` it gets back. ``web`` is the JSON chat API and its page; ``telegram`` is the Telegram bot (the only
module of the gateway that imports python-telegram-bot)."""
