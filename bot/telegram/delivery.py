"""Sending replies through flaky networks: bounded retries, and never the same message twice.

python-telegram-bot sends each request once (its ``AIORateLimiter`` only
retries Telegram's 429 "retry after"). Here a reply is retried, with growing
pauses, for up to ``telegram.send_retry_seconds`` when it certainly did not
reach Telegram: the connection was refused or could not be opened, the
request never left the connection pool, or Telegram answered 429 or a server
error (5xx). A failure after which the message may have been delivered (a
read timeout, a connection dropped before the answer, an unreadable answer) is
never retried: a user may miss an answer, but never gets one twice. Either
way, giving up is one log line naming the chat and the update.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import warnings
from collections.abc import Callable
from enum import Enum
from typing import Any

import httpx
from telegram import Bot, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

log = logging.getLogger(__name__)

FIRST_PAUSE = 0.5  # seconds before the first retry; doubled after each, up to MAX_PAUSE
MAX_PAUSE = 8.0
_SLICE = 0.1  # a pause is cut short this often when the bot is stopping


class Failure(Enum):
    """What a failed send means for the message."""

    NOT_SENT = "not sent"  # worth another try
    REJECTED = "rejected"  # Telegram refused it for good (bad request, bot blocked...)
    UNKNOWN = "maybe sent"  # it may have been delivered: never retried


class DeliveryFailed(TelegramError):
    """A reply was given up (already logged); there is nobody to apologise to."""


def classify(exc: TelegramError) -> Failure:
    """Whether the request behind ``exc`` certainly did not reach Telegram."""
    if isinstance(exc, RetryAfter):
        return Failure.NOT_SENT
    if isinstance(exc, (BadRequest, Forbidden, InvalidToken, ChatMigrated, Conflict, EndPointNotFound)):
        return Failure.REJECTED
    cause = exc.__cause__
    if isinstance(exc, TimedOut):
        # Connect and pool timeouts happen before the request is written; a read
        # (or write) timeout may come after Telegram got it.
        return Failure.NOT_SENT if isinstance(cause, (httpx.ConnectTimeout, httpx.PoolTimeout)) else Failure.UNKNOWN
    if isinstance(exc, NetworkError):
        if isinstance(cause, httpx.ConnectError):
            return Failure.NOT_SENT
        if cause is None or isinstance(cause, TelegramError):
            return Failure.NOT_SENT  # an HTTP error status (5xx) answered by the server
        return Failure.UNKNOWN  # the connection broke (maybe after the request was processed)
    return Failure.UNKNOWN  # e.g. "Invalid server response" to a request that succeeded


def retry_after_seconds(exc: RetryAfter) -> float:
    """Telegram's "retry after" in seconds (the public attribute warns about its future type)."""
    value = getattr(exc, "_retry_after", None)
    if not isinstance(value, dt.timedelta):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def pause_after(exc: TelegramError, attempt: int, first: float = FIRST_PAUSE) -> float:
    """Seconds to wait before attempt ``attempt + 1``: Telegram's "retry after", else
    ``first`` doubled after each attempt, at most MAX_PAUSE."""
    if isinstance(exc, RetryAfter):
        return retry_after_seconds(exc) + 0.1
    return min(MAX_PAUSE, first * 2 ** (attempt - 1))


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, for a log line without a traceback."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Sender:
    """Sends messages with bounded retries (see the module docstring).

    ``is_running`` is asked between pauses: a stopping bot makes one attempt
    per message and no retries, so shutdown stays quick.
    """

    def __init__(self, retry_seconds: float = 0.0, is_running: Callable[[], bool] = lambda: True,
                 first_pause: float = FIRST_PAUSE) -> None:
        self.retry_seconds = retry_seconds
        self.is_running = is_running
        self.first_pause = first_pause

    async def send_message(self, bot: Bot, label: str, **kwargs: Any) -> Message:
        """``bot.send_message(**kwargs)``, retried while it certainly was not delivered.

        Raises the original error when Telegram rejects the message (BadRequest...),
        and :class:`DeliveryFailed` (after one warning line) when retrying cannot
        help or may send it twice.
        """
        deadline = time.monotonic() + self.retry_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                message = await bot.send_message(**kwargs)
            except TelegramError as exc:
                failure = classify(exc)
                if failure is Failure.REJECTED:
                    raise
                pause = pause_after(exc, attempt, self.first_pause)
                if failure is Failure.UNKNOWN:
                    why = "it may have been delivered, so it is not sent again"
                elif not self.is_running():
                    why = "the bot is stopping"
                elif time.monotonic() + pause > deadline:
                    why = f"telegram.send_retry_seconds ({self.retry_seconds:g}) is used up"
                else:
                    log.info("sending %s failed (attempt %d: %s); retrying in %.1fs",
                             label, attempt, one_line(exc), pause)
                    await self._pause(pause)
                    continue
                log.warning("gave up sending %s after %d attempt(s): %s; %s", label, attempt, one_line(exc), why)
                raise DeliveryFailed(f"gave up sending {label}: {one_line(exc)}") from exc
            if attempt > 1:
                log.info("sent %s at attempt %d", label, attempt)
            return message

    async def _pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while self.is_running() and (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(_SLICE, left))
