"""The Telegram channel (python-telegram-bot 22): ``build`` (the PTB application), ``updates`` (fair per-chat
processing), ``people`` (the people's chats), ``operators`` and ``desk`` (the operators' forum topics),
``send`` (one send path, one retry policy), ``render`` and ``cards`` (HTML and buttons), ``callbacks`` (long
button payloads), ``typing_indicator``, ``serial_jobs``."""
