"""Typed settings: defaults, required secrets, placeholders refused, secrets never printed."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from bot.logs import RedactSecrets
from bot.settings import Settings

ENV_NAMES = [
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_MODE",
    "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET",
    "TELEGRAM_API_BASE",
    "TELEGRAM_WEBHOOK_LISTEN",
    "TELEGRAM_WEBHOOK_PORT",
    "DATABASE_URL",
    "RASA_URL",
    "RASA_TOKEN",
    "RASA_TIMEOUT",
    "WEB_HOST",
    "WEB_PORT",
    "WEB_SESSION_IDLE_MINUTES",
    "WEB_SESSIONS_PER_ADDRESS_PER_HOUR",
    "WEB_MESSAGES_PER_ADDRESS_PER_MINUTE",
    "WEB_SESSIONS_PER_HOUR",
    "WEB_MESSAGES_PER_MINUTE",
    "WEB_TRUSTED_PROXIES",
    "WEB_API_KEY",
    "WEB_FRAME_ANCESTORS",
    "WEB_ACCESS_LOG",
    "HANDOFF_TICKETS_PER_ADDRESS",
    "RETENTION_DAYS",
    "RATE_LIMIT_PER_MINUTE",
    "LOG_LEVEL",
]
RASA_TOKEN = "r4sa-t0ken-for-tests-0123456789"
TG_TOKEN = "123456789:AAF-real-looking-token_abcdefghijklmnop"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("RASA_TOKEN", RASA_TOKEN)


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " | ".join(str(e["msg"]) for e in exc.value.errors())


def test_defaults_are_web_only_on_loopback():
    s = Settings()

    assert s.telegram_bot_token is None and not s.telegram_enabled
    assert s.telegram_mode == "polling"
    assert s.database_url == "sqlite:///var/concilia.db"
    assert s.rasa_url == "http://127.0.0.1:5005"
    assert s.rasa_timeout == 5.0
    assert (s.web_host, s.web_port) == ("127.0.0.1", 8080)
    assert s.retention_days == 180 and s.rate_limit_per_minute == 20
    assert s.log_level == "INFO"


def test_rasa_token_is_required(monkeypatch):
    monkeypatch.delenv("RASA_TOKEN")

    with pytest.raises(ValidationError) as exc:
        Settings()

    assert exc.value.errors()[0]["loc"] == ("rasa_token",)
    assert exc.value.errors()[0]["type"] == "missing"


def test_empty_telegram_token_means_web_only(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")

    assert Settings().telegram_enabled is False


@pytest.mark.parametrize(
    "value", ["changeme", "your-token-here", "YOUR_TOKEN_HERE", "<token>", "xxxxxxxx", "..."]
)
def test_placeholder_tokens_are_refused(monkeypatch, value):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", value)

    with pytest.raises(ValidationError) as exc:
        Settings()

    assert "TELEGRAM_BOT_TOKEN contiene un valore di esempio" in errors_of(exc)
    assert value not in str(exc.value)


def test_placeholder_rasa_token_is_refused(monkeypatch):
    monkeypatch.setenv("RASA_TOKEN", "changeme")

    with pytest.raises(ValidationError) as exc:
        Settings()

    assert "RASA_TOKEN contiene un valore di esempio" in errors_of(exc)


def test_webhook_mode_needs_url_and_secret(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TG_TOKEN)
    monkeypatch.setenv("TELEGRAM_MODE", "webhook")

    with pytest.raises(ValidationError) as exc:
        Settings()
    assert "TELEGRAM_WEBHOOK_URL e TELEGRAM_WEBHOOK_SECRET" in errors_of(exc)

    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "http://bot.example.org/tg")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s3cret_value-123")
    with pytest.raises(ValidationError) as exc:
        Settings()
    assert "https://" in errors_of(exc)

    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.example.org/tg/")
    s = Settings()
    assert s.telegram_mode == "webhook" and s.telegram_webhook_url == "https://bot.example.org/tg"


def test_webhook_secret_follows_telegram_rules(monkeypatch):
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "has/slash")

    with pytest.raises(ValidationError) as exc:
        Settings()

    assert "solo lettere, cifre, _ e -" in errors_of(exc)


def test_values_are_read_typed_and_checked(monkeypatch):
    monkeypatch.setenv("RASA_TIMEOUT", "2.5")
    monkeypatch.setenv("WEB_PORT", "9000")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("TELEGRAM_MODE", "POLLING")
    monkeypatch.setenv("RASA_URL", "http://127.0.0.1:5005/")
    s = Settings()
    assert (s.rasa_timeout, s.web_port, s.log_level, s.telegram_mode) == (2.5, 9000, "DEBUG", "polling")
    assert s.rasa_url == "http://127.0.0.1:5005"
    monkeypatch.setenv("RASA_URL", "http://127.0.0.1:5005/, http://127.0.0.1:5006")
    assert Settings().rasa_url == "http://127.0.0.1:5005,http://127.0.0.1:5006"  # several Rasa servers
    monkeypatch.delenv("RASA_URL")

    for name, bad in [
        ("WEB_PORT", "70000"),
        ("RASA_TIMEOUT", "0"),
        ("RETENTION_DAYS", "0"),
        ("RASA_URL", "ftp://x"),
        ("RASA_URL", "http://127.0.0.1:5005,ftp://x"),
        ("RASA_URL", " , "),
    ]:
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValidationError):
            Settings()
        monkeypatch.delenv(name)


def test_plain_postgres_urls_use_psycopg3(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://concilia:pw@db/concilia")

    assert Settings().database_url == "postgresql+psycopg://concilia:pw@db/concilia"


def test_unknown_database_is_refused(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://x@y/z")

    with pytest.raises(ValidationError) as exc:
        Settings()

    assert "DATABASE_URL" in errors_of(exc)


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("WEB_PORT=8181\nRETENTION_DAYS=30\n", encoding="utf-8")

    s = Settings()

    assert (s.web_port, s.retention_days) == (8181, 30)


def test_secrets_never_appear_when_printed(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TG_TOKEN)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://concilia:db-pass-123@db/concilia")
    s = Settings()

    for shown in (repr(s), str(s), s.database_url_for_logs, repr(s.model_dump())):
        assert TG_TOKEN not in shown and RASA_TOKEN not in shown and "db-pass-123" not in shown
    assert set(s.secret_values()) == {TG_TOKEN, RASA_TOKEN, "db-pass-123"}


def test_log_filter_redacts_secrets_wherever_they_appear(caplog):
    handler_filter = RedactSecrets([TG_TOKEN, RASA_TOKEN])
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: POST %s",
        (f"https://api.telegram.org/bot{TG_TOKEN}/getMe",),
        None,
    )

    handler_filter.filter(record)

    assert TG_TOKEN not in record.getMessage() and "bot***/getMe" in record.getMessage()


def test_web_chat_limits_and_their_names(monkeypatch):
    s = Settings()
    assert (s.web_sessions_per_address_per_hour, s.web_messages_per_address_per_minute) == (30, 60)
    assert s.handoff_tickets_per_address == 3 and s.web_frame_ancestors == "'self'"
    assert s.web_api_key is None and s.web_trusted_proxies == "" and not s.web_access_log

    monkeypatch.setenv("WEB_SESSIONS_PER_ADDRESS_PER_HOUR", "5000")
    monkeypatch.setenv("WEB_MESSAGES_PER_ADDRESS_PER_MINUTE", "9000")
    monkeypatch.setenv("WEB_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    monkeypatch.setenv("WEB_FRAME_ANCESTORS", "'self'  https://www.comune.example.org")
    monkeypatch.setenv("WEB_API_KEY", "a-long-random-key-for-the-town-0123")
    raised = Settings()

    assert (raised.web_sessions_per_address_per_hour, raised.web_messages_per_address_per_minute) == (
        5000,
        9000,
    )
    assert raised.web_frame_ancestors == "'self' https://www.comune.example.org"
    assert "a-long-random-key" not in repr(raised)
    assert "a-long-random-key-for-the-town-0123" in raised.secret_values()


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("WEB_TRUSTED_PROXIES", "127.0.0.1, nginx", "WEB_TRUSTED_PROXIES"),
        ("WEB_FRAME_ANCESTORS", "'self'; script-src *", "WEB_FRAME_ANCESTORS"),
        ("WEB_FRAME_ANCESTORS", "*", "WEB_FRAME_ANCESTORS"),
        ("WEB_API_KEY", "short", "WEB_API_KEY"),
        ("WEB_API_KEY", "changeme", "WEB_API_KEY"),
        ("WEB_MESSAGES_PER_ADDRESS_PER_MINUTE", "0", "greater than or equal to 1"),
    ],
)
def test_bad_web_chat_settings_are_refused_saying_which(monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError) as exc:
        Settings()

    assert says in errors_of(exc)
