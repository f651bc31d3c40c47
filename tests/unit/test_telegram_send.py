"""The one retry policy of the Telegram send path: network errors retried a few times with a backoff;
refusals and a 429 the rate limiter gave up on go straight back to the caller (never retried twice over)."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram.send import TelegramSend

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class Flaky:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "sent"


async def test_network_errors_are_retried_up_to_the_attempts() -> None:
    send = TelegramSend(lambda: None, attempts=4, backoff=0.001)
    flaky = Flaky(NetworkError("Bad Gateway"), TimedOut(), NetworkError("Bad Gateway"))

    assert await send.call(flaky) == "sent" and flaky.calls == 4

    hopeless = Flaky(*[NetworkError("Bad Gateway")] * 10)
    with pytest.raises(NetworkError):
        await send.call(hopeless)
    assert hopeless.calls == 4


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: BadRequest("Bad Request: chat not found"),
        lambda: Forbidden("Forbidden: bot was blocked by the user"),
        lambda: RetryAfter(3),  # what AIORateLimiter raises once it has given up
    ],
    ids=["bad-request", "forbidden", "retry-after"],
)
async def test_refusals_and_flood_control_are_not_retried_here(make_error) -> None:
    send = TelegramSend(lambda: None, attempts=4, backoff=0.001)
    error = make_error()
    flaky = Flaky(error)

    with pytest.raises(type(error)):
        await send.call(flaky)
    assert flaky.calls == 1
