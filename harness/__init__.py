"""What tests and benchmarks share: the fake Telegram Bot API server (``harness.fake_telegram``), the
real processes started on loopback (``harness.stack``), simulated people (``harness.telegram_user``,
``harness.traffic``). Not part of the running service."""
