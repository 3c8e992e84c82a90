"""Sending replies through flaky networks: bounded retries, and never the same message twice.

python-telegram-bot sends each request once (:class:`FloodLimit` only keeps the
whole bot within Telegram's messages per second). Here a reply is retried, with
growing pauses, for up to ``telegram.send_retry_seconds`` when it certainly did
not reach Telegram: the connection was refused or could not be opened, the
request never left the connection pool, or Telegram answered 429 or a server
error (5xx). A failure after which the message may have been delivered (a
read timeout, a connection dropped before the answer, an unreadable answer) is
never retried: a user may miss an answer, but never gets one twice. Either
way, giving up is one log line naming the chat. A chat the bot cannot write to
any more (blocked, removed) is one warning line, without a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import warnings
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
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
from telegram.ext import BaseRateLimiter

from telegram import Bot, Message

from . import turns
from .pacing import GroupPacer, PacerClosed

log = logging.getLogger(__name__)

FIRST_PAUSE = 0.5  # seconds before the first retry; doubled after each, up to MAX_PAUSE
MAX_PAUSE = 8.0
_SLICE = 0.1  # a pause is cut short this often when the bot is stopping
MAX_MOVES = 3  # a message follows a chat that became a supergroup at most this many times


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


def counted_once(count: Callable[[BaseException], None]) -> Callable[[BaseException], None]:
    """``count`` called at most once for each failed Bot API call: the :class:`Sender` counts
    every failed attempt, and a message Telegram rejects then reaches the error handler as
    well. The errors the bot makes itself (:class:`DeliveryFailed`) were counted as their cause."""

    def once(exc: BaseException) -> None:
        if isinstance(exc, DeliveryFailed) or getattr(exc, "_docqa_counted", False):
            return
        with contextlib.suppress(AttributeError):  # every exception has a __dict__, but be safe
            exc._docqa_counted = True  # type: ignore[attr-defined]
        count(exc)

    return once


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, for a log line without a traceback."""
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    if text.startswith(name + ":"):  # "Forbidden: bot was blocked by the user"
        return text
    return f"{name}: {text}" if text else name


class Abandoned(DeliveryFailed):
    """The bot is stopping and the message was not sent (its update is answered after the restart)."""


class ChatUnavailable(DeliveryFailed):
    """The bot cannot write to the chat any more (blocked, removed, chat gone); already logged."""


# Rejections that say the chat is out of reach: one warning line, no traceback, no apology.
_UNAVAILABLE = (
    "chat not found",
    "bot was blocked",
    "bot was kicked",
    "user is deactivated",
    "not a member",
    "have no rights to send",
    "not enough rights to send",
)


def chat_unavailable(exc: TelegramError) -> bool:
    """Whether ``exc`` means the bot cannot write to the chat at all (as opposed to a bad message)."""
    text = str(exc).lower()
    return isinstance(exc, Forbidden) or (isinstance(exc, BadRequest) and any(t in text for t in _UNAVAILABLE))


class FloodLimit(BaseRateLimiter[None]):
    """Telegram's flood limit for the whole bot: ``per_second`` messages (0: none).

    A 429 is not retried here (python-telegram-bot's AIORateLimiter sleeps through it,
    out of reach of a stopping bot): it goes back to the :class:`Sender`, which pauses
    every reply for the time Telegram asks and can give up when the bot stops.
    """

    def __init__(self, per_second: float) -> None:
        self._limiter = AsyncLimiter(per_second, 1) if per_second > 0 else None

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Any:
        if self._limiter is None or data.get("chat_id") is None:
            return await callback(*args, **kwargs)
        async with self._limiter:
            return await callback(*args, **kwargs)


class Sender:
    """Sends messages with bounded retries (see the module docstring).

    Around each attempt it also keeps the bot's promises to groups and restarts:
    a message to a group waits for its turn in the group's budget (``pacer``); the
    update's :class:`~bot.telegram.turns.Turn` is marked handled before the first
    message leaves; a chat that became a supergroup gets the message at its new id
    (and every later one); a 429 pauses every reply for Telegram's ``retry_after``.
    ``is_running`` is asked between pauses: a stopping bot retries nothing, and
    what waits is abandoned (:class:`Abandoned`), to be answered after the restart.
    """

    def __init__(
        self,
        retry_seconds: float = 0.0,
        is_running: Callable[[], bool] = lambda: True,
        first_pause: float = FIRST_PAUSE,
        pacer: GroupPacer | None = None,
        on_error: Callable[[TelegramError], None] = lambda exc: None,
    ) -> None:
        self.retry_seconds = retry_seconds
        self.is_running = is_running
        self.first_pause = first_pause
        self.pacer = pacer
        self.on_error = on_error  # every failed attempt (the metrics count them by kind)
        self._moved: dict[int, int] = {}  # chat id -> the supergroup it became
        self._hold_until = 0.0  # no reply is sent before this (a 429's retry_after)

    def chat_id(self, chat_id: int) -> int:
        """Where messages for ``chat_id`` go now (a group that became a supergroup moved)."""
        while chat_id in self._moved:
            chat_id = self._moved[chat_id]
        return chat_id

    def chat_moved(self, old: int, new: int) -> None:
        """Send what is meant for ``old`` to ``new`` from now on (logged once)."""
        if old != new and self._moved.get(old) != new and self.chat_id(new) != old:
            self._moved[old] = new
            log.info("chat %s became the supergroup %s: replies go there from now on", old, new)

    async def send_message(self, bot: Bot, label: str, **kwargs: Any) -> Message:
        """``bot.send_message(**kwargs)``, retried while it certainly was not delivered.

        Raises the original error when Telegram rejects the message (BadRequest...),
        :class:`ChatUnavailable` (after one warning line) when the chat is out of reach,
        :class:`Abandoned` when the bot stops first, and :class:`DeliveryFailed` (after
        one warning line) when retrying cannot help or may send it twice.
        """
        return await self._send(bot.send_message, label, kwargs)

    async def send_photo(self, bot: Bot, label: str, **kwargs: Any) -> Message:
        """``bot.send_photo(**kwargs)`` (``photo`` as bytes), sent as :meth:`send_message` sends."""
        return await self._send(bot.send_photo, label, kwargs)

    async def _send(
        self, method: Callable[..., Coroutine[Any, Any, Message]], label: str, kwargs: dict[str, Any]
    ) -> Message:
        deadline = time.monotonic() + self.retry_seconds
        turn = turns.current()
        attempt = moves = 0
        while True:
            attempt += 1
            kwargs["chat_id"] = self.chat_id(kwargs["chat_id"])
            await self._wait_turn(kwargs["chat_id"], turn, label)
            if turn is not None:
                await turn.leaving()
            try:
                message = await method(**kwargs)
            except asyncio.CancelledError:
                if turn is not None:
                    turn.may_have_left = True  # cut off on the wire: it may have arrived
                raise
            except ChatMigrated as exc:
                self.on_error(exc)
                moves += 1
                if moves > MAX_MOVES:  # a chat moving in circles: give up as on any rejection
                    raise
                self.chat_moved(kwargs["chat_id"], exc.new_chat_id)
                kwargs.update(reply_parameters=None, message_thread_id=None)  # ids of the old chat
                continue
            except TelegramError as exc:
                self.on_error(exc)
                failure = classify(exc)
                if failure is Failure.REJECTED:
                    if chat_unavailable(exc):
                        log.warning(
                            "cannot send %s (update %s): %s; the chat is out of reach, nothing more is "
                            "sent for this update",
                            label,
                            turn.update_id if turn else None,
                            one_line(exc),
                        )
                        raise ChatUnavailable(f"{label}: {one_line(exc)}") from exc
                    raise
                if failure is Failure.UNKNOWN and turn is not None:
                    turn.may_have_left = True
                pause = pause_after(exc, attempt, self.first_pause)
                if isinstance(exc, RetryAfter):
                    self._hold_until = max(self._hold_until, time.monotonic() + pause)
                if failure is Failure.UNKNOWN:
                    why = "it may have been delivered, so it is not sent again"
                elif not self.is_running():
                    raise self._abandon(turn, f"{label} was refused ({one_line(exc)})") from exc
                elif time.monotonic() + pause > deadline:
                    why = f"telegram.send_retry_seconds ({self.retry_seconds:g}) is used up"
                else:
                    log.info(
                        "sending %s failed (attempt %d: %s); retrying in %.1fs", label, attempt, one_line(exc), pause
                    )
                    await self._pause(pause)
                    continue
                log.warning("gave up sending %s after %d attempt(s): %s; %s", label, attempt, one_line(exc), why)
                raise DeliveryFailed(f"gave up sending {label}: {one_line(exc)}") from exc
            if turn is not None:
                turn.may_have_left = True
            if attempt > 1:
                log.info("sent %s at attempt %d", label, attempt)
            return message

    async def _wait_turn(self, chat_id: int, turn: turns.Turn | None, label: str) -> None:
        """Wait out a 429's pause and, in a group, the group's budget; :class:`Abandoned` if the bot stops."""
        while (left := self._hold_until - time.monotonic()) > 0:  # another 429 may extend it meanwhile
            if not self.is_running():
                raise self._abandon(turn, f"{label} waited for Telegram's retry_after")
            await self._pause(left)
        if self.pacer is not None and chat_id < 0:
            try:
                await self.pacer.turn(chat_id, turn.member if turn is not None else 0)
            except PacerClosed:
                raise self._abandon(turn, f"{label} was waiting for the group's turn") from None

    @staticmethod
    def _abandon(turn: turns.Turn | None, why: str) -> Abandoned:
        reason = f"the bot is stopping and {why}"
        if turn is not None:
            turn.abandoned = reason
        return Abandoned(reason)

    async def _pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while self.is_running() and (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(_SLICE, left))
