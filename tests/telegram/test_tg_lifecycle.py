"""Units: stopping within the grace, and the conditions that end the bot (401, a persisting 409)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from bot.telegram.lifecycle import Lifecycle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


CONFLICT = json.dumps(
    {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: terminated by other getUpdates "
        "request; make sure that only one bot instance is running",
    }
).encode()
URL = "http://127.0.0.1:1/bot<token>/getUpdates"


def _running(clock: Clock, conflict_seconds: float = 30) -> Lifecycle:
    life = Lifecycle(grace=8, conflict_seconds=conflict_seconds, clock=clock)
    life.started = True
    return life


def test_conflicts_end_the_bot_only_when_they_persist():
    async def run() -> tuple[Lifecycle, Lifecycle]:
        clock = Clock()
        stray = _running(clock)
        for step in (0, 5, 40, 45):  # two short overlaps (a rolling deploy), far apart
            clock.now = 100 + step
            stray.answered(URL, 409, CONFLICT)
        clock = Clock()
        fight = _running(clock)
        for step in (0, 1, 2.5, 4.75, 8.1, 13.2, 20.8, 32.2):  # python-telegram-bot's growing pauses
            clock.now = 100 + step
            fight.answered(URL, 409, CONFLICT)
        return stray, fight

    stray, fight = asyncio.run(run())
    assert not stray.stopping and stray.fatal is None
    assert fight.stopping and fight.fatal.exit_code == 1
    assert "409 Conflict for 32 s" in fight.fatal.message and "another process is polling" in fight.fatal.message


def test_a_webhook_conflict_names_the_webhook():
    async def run() -> Lifecycle:
        clock = Clock()
        life = _running(clock, conflict_seconds=1)
        body = json.dumps({"description": "Conflict: can't use getUpdates method while webhook is active"}).encode()
        for step in (0, 0.6, 1.2):
            clock.now = 100 + step
            life.answered(URL, 409, body)
        return life

    assert "a webhook is set" in asyncio.run(run()).fatal.message


def test_401_at_any_time_ends_the_bot_with_exit_code_2():
    async def run() -> Lifecycle:
        life = _running(Clock())
        life.answered("http://127.0.0.1:1/bot<token>/sendMessage", 401, b'{"ok":false,"error_code":401}')
        return life

    life = asyncio.run(run())
    assert life.stopping and life.fatal.exit_code == 2 and "TELEGRAM_BOT_TOKEN" in life.fatal.message


def test_before_the_bot_takes_updates_a_fatal_answer_is_only_recorded():
    life = Lifecycle(grace=8, conflict_seconds=30)
    life.answered(URL, 401, b"{}")
    assert life.fatal is not None and not life.stopping  # the start-up fails with its own error


def test_stopping_wakes_waiters_and_cancels_what_is_left_at_the_end_of_the_grace():
    async def run() -> tuple[list[str], bool, float]:
        life = Lifecycle(grace=1.2, conflict_seconds=30)
        life.listen()
        life.started = True
        woken: list[str] = []
        life.on_stop(lambda: woken.append("pacer closed"))
        slow = asyncio.create_task(asyncio.sleep(30))
        life.track(slow)
        loop = asyncio.get_running_loop()
        started = loop.time()
        life.stop("SIGTERM")
        await life.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await slow
        return woken, slow.cancelled(), loop.time() - started

    woken, cancelled, seconds = asyncio.run(run())
    assert woken == ["pacer closed"] and cancelled
    assert 0.15 <= seconds < 0.5  # the grace less the second kept for closing
