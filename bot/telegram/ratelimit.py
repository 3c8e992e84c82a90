"""Per-user limit: a sliding window log, with one notice per window.

Every update that gets a reply counts (questions, commands, button presses,
stickers in private): what exceeds the limit is dropped after one notice.
Telegram's own flood limits are kept by :class:`bot.telegram.delivery.FloodLimit`
(the whole bot) and :mod:`bot.telegram.pacing` (each group); this limit is
about fairness between users of the bot.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go on; when not, whether to tell the user, and when to retry."""

    allowed: bool
    notify: bool = False
    retry_after: float = 0.0


class SlidingWindowLimiter:
    """At most ``limit`` allowed hits per key in any ``window`` seconds.

    Refused hits do not count. The first refusal of a key gets ``notify=True``;
    later ones get it again only once ``window`` seconds have passed since the
    last notice, so a user who keeps sending is told once, not spammed.
    Not thread-safe: meant for one asyncio event loop.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1 (got {limit}); set telegram.user_rate_limit")
        if window <= 0:
            raise ValueError(f"window must be > 0 seconds (got {window}); set telegram.user_rate_window")
        self.limit = limit
        self.window = float(window)
        self._clock = clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._notified: dict[Hashable, float] = {}
        self._calls = 0

    def hit(self, key: Hashable) -> Verdict:
        """Record one request of ``key`` if it is allowed."""
        now = self._clock()
        self._calls += 1
        if self._calls % 1024 == 0:
            self._purge(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) < self.limit:
            hits.append(now)
            return Verdict(True)
        retry_after = max(0.0, hits[0] + self.window - now)
        last = self._notified.get(key)
        notify = last is None or now - last >= self.window
        if notify:
            self._notified[key] = now
        return Verdict(False, notify, retry_after)

    def __len__(self) -> int:
        return len(self._hits)

    def _purge(self, now: float) -> None:
        """Forget keys with no hit and no notice inside the window (bounded memory)."""
        horizon = now - self.window
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= horizon]:
            del self._hits[key]
        for key in [k for k, t in self._notified.items() if t <= horizon]:
            del self._notified[key]
