"""Units: a group's message budget shared fairly between its members (least served first)."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.telegram.pacing import GroupPacer, PacerClosed


def test_the_budget_is_used_at_once_then_one_message_per_freed_slot():
    async def run() -> list[float]:
        pacer = GroupPacer(limit=3, window=0.6)  # 3 at once, then one every 0.2 s
        started = time.monotonic()
        times = []
        for _ in range(5):
            await pacer.turn(-1, member=1)
            times.append(time.monotonic() - started)
        return times

    times = asyncio.run(run())
    assert max(times[:3]) < 0.05  # the first three at once
    assert 0.18 <= times[3] < 0.3 and 0.38 <= times[4] < 0.5  # then as the bucket leaks


def test_a_member_with_a_backlog_does_not_hold_back_another():
    """A flooder's six replies wait for the budget; a member who asks later goes first."""

    async def run() -> list[int]:
        pacer = GroupPacer(limit=2, window=0.4)
        order: list[int] = []

        async def send(member: int) -> None:
            await pacer.turn(-7, member)
            order.append(member)

        flood = [asyncio.create_task(send(1)) for _ in range(6)]
        await asyncio.sleep(0.01)
        other = asyncio.create_task(send(2))
        await asyncio.gather(*flood, other)
        return order

    order = asyncio.run(run())
    assert order[:2] == [1, 1]  # the budget was free
    assert order.index(2) == 2  # the next slot, ahead of the flooder's four others


def test_groups_are_paced_independently_and_forgotten_when_idle():
    async def run() -> tuple[int, int]:
        pacer = GroupPacer(limit=1, window=0.02)
        for chat in range(1, 1001):
            await asyncio.wait_for(pacer.turn(-chat, member=1), 0.01)  # one each: nobody waits
        busy = len(pacer)
        await asyncio.sleep(0.06)  # every window has passed
        for chat in range(1001, 1101):
            await pacer.turn(-chat, member=1)
        return busy, len(pacer)

    busy, later = asyncio.run(run())
    assert busy == 1000 and later <= 100  # idle groups are purged


def test_closing_wakes_every_waiter_and_refuses_new_turns():
    async def run() -> tuple[list[BaseException | None], float]:
        pacer = GroupPacer(limit=1, window=60)
        await pacer.turn(-1, 1)
        waiting = [asyncio.create_task(pacer.turn(-1, m)) for m in (1, 2, 3)]
        cancelled = waiting[1]
        await asyncio.sleep(0.01)
        cancelled.cancel()
        await asyncio.sleep(0.01)
        started = time.monotonic()
        pacer.close()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        with pytest.raises(PacerClosed):
            await pacer.turn(-2, 1)
        return results, time.monotonic() - started

    results, seconds = asyncio.run(run())
    assert isinstance(results[0], PacerClosed) and isinstance(results[2], PacerClosed)
    assert isinstance(results[1], asyncio.CancelledError)
    assert seconds < 0.1


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (20, 0)])
def test_bad_arguments_name_the_settings(limit, window):
    with pytest.raises(ValueError, match=r"telegram.group_rate"):
        GroupPacer(limit, window)
