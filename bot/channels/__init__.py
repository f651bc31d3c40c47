"""Channels: the edges of the gateway (Telegram, web chat). Only here may `telegram` be imported."""
