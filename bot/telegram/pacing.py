"""Telegram's message budget in a group, shared fairly between the group's members.

Telegram lets a bot send about 20 messages a minute in one group (answering
429 beyond). Sent first come, first served, one member's flood of commands
held everybody else's answers back for a minute or more. Here a message to a
group waits for its turn. The budget is a leaky bucket, the shape
python-telegram-bot's AIORateLimiter gives it: up to ``telegram.group_rate_limit``
messages at once, then one every ``group_rate_window / group_rate_limit``
seconds (3 s by default). Each freed slot goes to the waiting member sent the
fewest messages in the last window, then the one served longest ago, then the
one waiting longest: a member who asks during somebody else's flood gets the
next slot. A member's backlog is bounded before it gets here: the per-user
limit drops what exceeds it, after one notice.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field


class PacerClosed(Exception):
    """The bot is stopping: no message waiting for its turn will get one."""


@dataclass
class _Waiter:
    member: int
    arrived: int
    future: asyncio.Future[None]


@dataclass
class _Group:
    level: float = 0.0  # the bucket: messages not yet leaked away
    updated: float = 0.0
    sent: deque[tuple[float, int]] = field(default_factory=deque)  # (time, member) in the last window
    counts: Counter[int] = field(default_factory=Counter)  # messages per member in the last window
    last: dict[int, float] = field(default_factory=dict)  # when a member (counted or waiting) was served
    waiters: list[_Waiter] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class GroupPacer:
    """``limit`` messages at once per group, then ``limit`` per ``window`` seconds; least served first."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0; set telegram.group_rate_limit and group_rate_window")
        self.limit = limit
        self.window = float(window)
        self.rate = limit / self.window  # messages leaked per second
        self._clock = clock
        self._groups: dict[int, _Group] = {}
        self._arrivals = itertools.count()
        self._calls = itertools.count()
        self._closed = False

    async def turn(self, chat_id: int, member: int) -> None:
        """Wait until a message from ``member``'s reply may be sent to ``chat_id``; it counts as sent.

        Raises :class:`PacerClosed` once :meth:`close` was called.
        """
        if self._closed:
            raise PacerClosed
        now = self._clock()
        if next(self._calls) % 1024 == 1023:
            self._purge(now)
        group = self._groups.setdefault(chat_id, _Group(updated=now))
        self._update(group, now)
        if not group.waiters and self._has_room(group):
            self._take(group, now, member)
            return
        waiter = _Waiter(member, next(self._arrivals), asyncio.get_running_loop().create_future())
        group.waiters.append(waiter)
        self._grant(chat_id, group)
        try:
            await waiter.future
        except BaseException:
            if waiter in group.waiters:
                group.waiters.remove(waiter)
            raise

    def waiting(self) -> int:
        """Messages waiting for their turn, in every group."""
        return sum(len(g.waiters) for g in self._groups.values())

    def __len__(self) -> int:
        return len(self._groups)

    def close(self) -> None:
        """No more turns: every waiting message gets :class:`PacerClosed`."""
        self._closed = True
        for group in self._groups.values():
            if group.timer is not None:
                group.timer.cancel()
            for waiter in group.waiters:
                if not waiter.future.done():
                    waiter.future.set_exception(PacerClosed())
            group.waiters.clear()

    # --- internals ------------------------------------------------------------------------

    def _has_room(self, group: _Group) -> bool:
        return group.level <= self.limit - 1 + 1e-9

    def _update(self, group: _Group, now: float) -> None:
        """Leak the bucket and forget sends older than the window."""
        group.level = max(0.0, group.level - (now - group.updated) * self.rate)
        group.updated = now
        while group.sent and group.sent[0][0] <= now - self.window:
            _, member = group.sent.popleft()
            group.counts[member] -= 1
            if group.counts[member] <= 0:
                del group.counts[member]

    def _take(self, group: _Group, now: float, member: int) -> None:
        group.level += 1
        group.sent.append((now, member))
        group.counts[member] += 1
        group.last[member] = now

    def _grant(self, chat_id: int, group: _Group) -> None:
        """Give the room there is to the least-served waiters; wake up again when a slot frees."""
        if group.timer is not None:
            group.timer.cancel()
            group.timer = None
        now = self._clock()
        self._update(group, now)
        group.waiters = [w for w in group.waiters if not w.future.done()]
        while group.waiters and self._has_room(group):
            waiter = min(
                group.waiters, key=lambda w: (group.counts[w.member], group.last.get(w.member, -1.0), w.arrived)
            )
            group.waiters.remove(waiter)
            self._take(group, now, waiter.member)
            waiter.future.set_result(None)
        waiting = {w.member for w in group.waiters}
        for member in [m for m in group.last if m not in group.counts and m not in waiting]:
            del group.last[member]
        if group.waiters:
            delay = (group.level - (self.limit - 1)) / self.rate
            group.timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._grant, chat_id, group)

    def _purge(self, now: float) -> None:
        """Forget groups with nothing waiting, an empty bucket and no send in the window (bounded memory)."""
        for chat_id, group in list(self._groups.items()):
            self._update(group, now)
            if not group.waiters and not group.sent and group.level == 0:
                del self._groups[chat_id]
