"""The Telegram updates already handled, kept across restarts, so no update is answered twice.

python-telegram-bot confirms updates to Telegram with the ``offset`` of its
next ``getUpdates`` call. A bot that stops after acting on an update but
before that call reaches Telegram (killed, crashed, or the call failed because
the Bot API was unreachable) is sent the same update again after a restart.
So the gate records each update id here before any handler acts on it, and
skips an update whose id is already recorded.

The record is a small JSON file in ``cache_dir``, rewritten atomically
(temporary file, fsync, rename) after each new id; concurrent claims share one
write. It holds exact ids, not a high-water mark, because updates are handled
concurrently (a later update can finish first) and Telegram picks ids at
random again after a week without updates. Only recent ids matter: what
Telegram sends again is at most the last unconfirmed ``getUpdates`` batch (100
updates), so the newest ``capacity`` ids are kept.

When the file cannot be written (disk full, read-only cache) the bot keeps
answering and warns once: within the running process nothing is answered
twice, but after a restart the last updates might be.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from pathlib import Path

from retrieval.index.atomic import write_atomically

log = logging.getLogger(__name__)

FORMAT = 1


class UpdateJournal:
    """The newest ``capacity`` handled update ids, in memory and (when ``path`` is set) on disk."""

    def __init__(self, path: Path | None, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.path = path
        self.capacity = capacity
        self._order: deque[int] = deque()
        self._ids: set[int] = set()
        self._changes = 0  # ids added so far
        self._written = 0  # ids added when the file was last written
        self._lock: asyncio.Lock | None = None
        self._failing = False
        if path is not None:
            self._read(path)

    def __contains__(self, update_id: object) -> bool:
        return update_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    async def claim(self, update_id: int) -> bool:
        """Record ``update_id`` as handled; False when it already was (do not handle it again).

        Returns once the id is on disk (or writing failed and was logged).
        """
        if update_id in self._ids:
            return False
        self._add(update_id)
        if self.path is not None:
            await self._flush(self._changes)
        return True

    # --- internals -------------------------------------------------------------------

    def _add(self, update_id: int) -> None:
        self._ids.add(update_id)
        self._order.append(update_id)
        while len(self._order) > self.capacity:
            self._ids.discard(self._order.popleft())
        self._changes += 1

    def _read(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read the handled-updates journal %s (%s); starting without it", path, exc)
            return
        try:
            data = json.loads(raw)
            ids = data["handled"] if isinstance(data, dict) and data.get("format") == FORMAT else None
            if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise ValueError("unexpected content")
        except (ValueError, KeyError) as exc:
            log.warning("ignoring the damaged handled-updates journal %s (%s)", path, exc)
            return
        for update_id in ids[-self.capacity:]:
            if update_id not in self._ids:
                self._add(update_id)
        self._written = self._changes
        log.info("handled-updates journal %s: %d recent update ids", path, len(self._ids))

    async def _flush(self, wanted: int) -> None:
        """Write the file unless a write that started after change ``wanted`` already did."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._written >= wanted:
                return  # another claim's write included this id
            changes, ids = self._changes, list(self._order)
            try:
                await asyncio.to_thread(_write_atomically, self.path, ids)
            except OSError as exc:
                if not self._failing:
                    log.warning(
                        "cannot write the handled-updates journal %s (%s): answering on, but after a restart "
                        "the last updates might be answered again", self.path, exc,
                    )
                self._failing = True
                return
            if self._failing:
                log.info("the handled-updates journal %s is written again", self.path)
                self._failing = False
            self._written = changes


def _write_atomically(path: Path, ids: list[int]) -> None:
    write_atomically(path, json.dumps({"format": FORMAT, "handled": ids}, separators=(",", ":")).encode())
