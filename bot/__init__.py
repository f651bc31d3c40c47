"""Concilia gateway: channels (Telegram, web), conversation router, Rasa client, store."""
