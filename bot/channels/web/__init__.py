"""The web channel: ``chat`` (the chat API, the updates and the page, served by aiohttp) and ``static``."""
