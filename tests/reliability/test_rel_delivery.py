"""Units: which send failures are retried (never one that may have delivered the message), chats
that moved or are out of reach, Telegram's 429 pauses, and a stopping bot."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings

import httpx
import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.telegram.delivery import (
    Abandoned,
    ChatUnavailable,
    DeliveryFailed,
    Failure,
    Sender,
    classify,
    pause_after,
)


def _caused(exc: TelegramError, cause: BaseException | None) -> TelegramError:
    """``exc`` as python-telegram-bot raises it (``raise exc from cause``)."""
    exc.__cause__ = cause
    return exc


REQUEST = httpx.Request("POST", "http://127.0.0.1/bot/sendMessage")


def _retry_after(seconds: int) -> RetryAfter:
    """RetryAfter as python-telegram-bot raises it (its constructor warns about a future type)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RetryAfter(seconds)


@pytest.mark.parametrize(
    "exc, expected",
    [
        (_retry_after(3), Failure.NOT_SENT),
        (
            _caused(NetworkError("httpx.ConnectError: refused"), httpx.ConnectError("refused", request=REQUEST)),
            Failure.NOT_SENT,
        ),
        (_caused(TimedOut(), httpx.ConnectTimeout("connect", request=REQUEST)), Failure.NOT_SENT),
        (_caused(TimedOut("Pool timeout"), httpx.PoolTimeout("pool", request=REQUEST)), Failure.NOT_SENT),
        (NetworkError("Bad Gateway"), Failure.NOT_SENT),  # a 502 answered by the server
        (
            _caused(
                NetworkError("Bad Gateway (502). Parsing the server response failed"),
                TelegramError("Invalid server response"),
            ),
            Failure.NOT_SENT,
        ),  # 502 with an HTML page
        (_caused(TimedOut(), httpx.ReadTimeout("read", request=REQUEST)), Failure.UNKNOWN),
        (_caused(TimedOut(), httpx.WriteTimeout("write", request=REQUEST)), Failure.UNKNOWN),
        (
            _caused(
                NetworkError("httpx.RemoteProtocolError: Server disconnected"),
                httpx.RemoteProtocolError("Server disconnected", request=REQUEST),
            ),
            Failure.UNKNOWN,
        ),
        (_caused(NetworkError("httpx.ReadError"), httpx.ReadError("reset", request=REQUEST)), Failure.UNKNOWN),
        (TelegramError("Invalid server response"), Failure.UNKNOWN),  # 200 with malformed JSON
        (BadRequest("Bad Request: message is too long"), Failure.REJECTED),
        (Forbidden("Forbidden: bot was blocked by the user"), Failure.REJECTED),
    ],
    ids=lambda v: v.name if isinstance(v, Failure) else type(v).__name__,
)
def test_classify_retries_only_what_certainly_was_not_sent(exc, expected):
    assert classify(exc) is expected


def test_pauses_grow_and_respect_retry_after():
    err = NetworkError("Bad Gateway")
    pauses = [pause_after(err, attempt) for attempt in range(1, 8)]
    assert pauses == sorted(pauses) and pauses[0] == 0.5 and max(pauses) == 8.0
    assert pause_after(_retry_after(3), 1) == pytest.approx(3.1)


class ScriptedBot:
    """A Bot stand-in whose send_message fails as scripted, then succeeds."""

    def __init__(self, failures: list[TelegramError]) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def send_message(self, **kwargs):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"sent": kwargs["text"]}


def _refused() -> TelegramError:
    return _caused(NetworkError("httpx.ConnectError: refused"), httpx.ConnectError("refused", request=REQUEST))


def _send(sender: Sender, bot: ScriptedBot):
    return asyncio.run(sender.send_message(bot, "message 1/1 to chat 5", chat_id=5, text="xin chào"))


def test_sender_retries_until_delivered(caplog):
    bot = ScriptedBot([_refused(), NetworkError("Bad Gateway"), _retry_after(0)])
    with caplog.at_level(logging.INFO, logger="bot.telegram.delivery"):
        assert _send(Sender(10, first_pause=0.01), bot) == {"sent": "xin chào"}
    assert bot.calls == 4
    assert any("sent message 1/1 to chat 5 at attempt 4" in r.getMessage() for r in caplog.records)


def test_sender_never_retries_what_may_have_been_delivered(caplog):
    read_timeout = _caused(TimedOut(), httpx.ReadTimeout("read", request=REQUEST))
    bot = ScriptedBot([read_timeout])
    with caplog.at_level(logging.WARNING, logger="bot.telegram.delivery"), pytest.raises(DeliveryFailed):
        _send(Sender(10, first_pause=0.01), bot)
    assert bot.calls == 1
    (line,) = [r.getMessage() for r in caplog.records]
    assert "gave up sending message 1/1 to chat 5 after 1 attempt(s)" in line and "may have been delivered" in line


def test_sender_gives_up_when_the_budget_is_used_up(caplog):
    bot = ScriptedBot([_refused()] * 50)
    with caplog.at_level(logging.WARNING, logger="bot.telegram.delivery"), pytest.raises(DeliveryFailed):
        _send(Sender(0.3, first_pause=0.05), bot)
    assert 2 <= bot.calls <= 5
    assert any("send_retry_seconds (0.3) is used up" in r.getMessage() for r in caplog.records)


def test_sender_passes_rejections_on_and_stops_retrying_when_the_bot_stops():
    with pytest.raises(BadRequest):
        _send(Sender(10), ScriptedBot([BadRequest("Bad Request: message is too long")]))
    bot = ScriptedBot([_refused()] * 5)
    with pytest.raises(DeliveryFailed, match="refused"):
        _send(Sender(60, is_running=lambda: False), bot)
    assert bot.calls == 1


def test_zero_retry_seconds_means_one_attempt():
    bot = ScriptedBot([_refused()])
    with pytest.raises(DeliveryFailed):
        _send(Sender(0), bot)
    assert bot.calls == 1


# --- Chats that moved or are out of reach, 429 pauses, a stopping bot ---------------------------------


class ChatBot(ScriptedBot):
    """Records where each message went; fails as scripted per chat."""

    def __init__(self, by_chat: dict[int, list[TelegramError]] | None = None) -> None:
        super().__init__([])
        self.by_chat = by_chat or {}
        self.sent: list[dict] = []

    async def send_message(self, **kwargs):
        self.calls += 1
        failures = self.by_chat.get(kwargs["chat_id"])
        if failures:
            raise failures.pop(0)
        self.sent.append(kwargs)
        return {"sent": kwargs["text"]}


def _send_to(sender: Sender, bot, chat_id: int, **extra):
    return asyncio.run(
        sender.send_message(bot, f"message 1/1 to chat {chat_id}", chat_id=chat_id, text="xin chào", **extra)
    )


def test_a_group_that_became_a_supergroup_gets_the_message_at_its_new_id_from_then_on(caplog):
    bot = ChatBot({-5: [ChatMigrated(-1005)]})
    sender = Sender(10)
    with caplog.at_level(logging.INFO, logger="bot.telegram.delivery"):
        _send_to(sender, bot, -5, reply_parameters={"message_id": 7}, message_thread_id=None)
        _send_to(sender, bot, -5)
    assert [m["chat_id"] for m in bot.sent] == [-1005, -1005]
    assert bot.sent[0]["reply_parameters"] is None  # the old chat's message ids mean nothing there
    assert bot.calls == 3 and sender.chat_id(-5) == -1005
    assert sum("became the supergroup -1005" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(
    "error",
    [
        Forbidden("Forbidden: bot was blocked by the user"),
        Forbidden("Forbidden: bot was kicked from the supergroup chat"),
        BadRequest("Bad Request: chat not found"),
    ],
)
def test_a_chat_out_of_reach_is_one_warning_without_retries(caplog, error):
    bot = ChatBot({42: [error]})
    with caplog.at_level(logging.WARNING, logger="bot.telegram.delivery"), pytest.raises(ChatUnavailable):
        _send_to(Sender(10), bot, 42)
    assert bot.calls == 1
    (line,) = [r for r in caplog.records]
    assert "chat 42" in line.getMessage() and "out of reach" in line.getMessage() and not line.exc_info


def test_a_429_pauses_every_reply_and_a_stop_abandons_what_waits():
    async def run() -> tuple[list[float], Sender, ChatBot]:
        stopping = False
        sender = Sender(60, is_running=lambda: not stopping, first_pause=0.01)
        bot = ChatBot({1: [_retry_after(1)]})
        started = time.monotonic()
        first = asyncio.create_task(sender.send_message(bot, "m1", chat_id=1, text="a"))
        await asyncio.sleep(0.05)
        await sender.send_message(bot, "m2", chat_id=2, text="b")  # waits out chat 1's 429 too
        await first
        waited = [time.monotonic() - started]
        bot.by_chat[3] = [_retry_after(40)]
        late = asyncio.create_task(sender.send_message(bot, "m3", chat_id=3, text="c"))
        await asyncio.sleep(0.2)
        stopping = True
        stopped_at = time.monotonic()
        with pytest.raises(Abandoned, match=r"retry_after|refused"):
            await late
        waited.append(time.monotonic() - stopped_at)
        return waited, sender, bot

    waited, _, bot = asyncio.run(run())
    assert waited[0] >= 1.0  # the second reply waited for the first one's retry_after
    assert waited[1] < 0.5  # a 40 s retry_after does not hold a stopping bot
    assert [m["chat_id"] for m in bot.sent] == [2, 1] or [m["chat_id"] for m in bot.sent] == [1, 2]
