"""The Telegram updates fetched and handled, kept across restarts: no update is lost or answered twice.

Telegram counts an update as delivered once the bot confirms it (the
``offset`` of the next ``getUpdates``, or a webhook's 200), which happens long
before a reply that waits for a group's message budget is sent. So each update
is recorded here when it is fetched, before that confirmation, and its row
goes through two states:

- **fetched**: the update's JSON is kept; after a restart (a stop within the
  shutdown grace, a crash, SIGKILL) it is handled again;
- **handled**: set just before the first message of its reply leaves (or when
  it needs no reply), durably, so a restart never answers it again.

A reply abandoned before any of its messages may have left (the bot stopping
while it waited for its turn, or after a refused attempt) goes back to
*fetched*: answered after the restart. One whose message was on the wire when
the process died stays *handled*: it may have arrived, and never twice wins.

The rows live in a small SQLite table (write-ahead log, ``synchronous=FULL``):
each change appends one page to the log (about 4 KB; an update fetched then
answered, two), instead of rewriting the whole record (41 KB at 4,096 ids).
It holds exact ids, not a high-water mark (updates are handled concurrently,
and Telegram picks ids at random again after a week without updates); the
newest ``capacity`` handled ids are kept, older rows are deleted.

When the file cannot be written (disk full, read-only cache) the bot keeps
answering and warns once; within the process nothing is answered twice.
:class:`InstanceLock` keeps a second process with the same token from sharing
the record.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import sqlite3
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from retrieval.errors import BotError

log = logging.getLogger(__name__)

FORMAT = 2  # SQLite's user_version; 1 was a JSON file rewritten per update
_SCHEMA = """
CREATE TABLE IF NOT EXISTS updates (
    update_id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    handled INTEGER NOT NULL DEFAULT 0,
    body TEXT
)"""


class UpdateJournal:
    """Fetched and handled update ids, in memory and (when ``path`` is set) in SQLite."""

    def __init__(self, path: Path | None, capacity: int = 4096, legacy: Path | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.path = path
        self.capacity = capacity
        self._order: deque[int] = deque()
        self._handled: set[int] = set()
        self._active: set[int] = set()  # being handled by this process now
        self._pending: list[tuple[int, str]] = []  # fetched but not handled by the previous process
        self._db: sqlite3.Connection | None = None
        self._marks = 0
        self._seq = 0  # rows in the order they were written (ids say nothing about order)
        self._failing = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="journal") if path is not None else None
        if self._executor is not None:
            self._executor.submit(self._open, legacy).result()

    def __contains__(self, update_id: object) -> bool:
        return update_id in self._handled

    def __len__(self) -> int:
        return len(self._handled)

    def pending(self) -> list[tuple[int, str]]:
        """``(update_id, JSON)`` of the updates the previous process fetched but never handled, oldest first."""
        return [(u, body) for u, body in self._pending if u not in self._handled]

    # --- the life of an update ---------------------------------------------------------

    async def record(self, update_id: int, body: str) -> None:
        """A fetched update: kept (durably, before Telegram is told it arrived) until handled."""
        if update_id not in self._handled:
            await self._write(_record, update_id, self._next_seq(), body)

    def begin(self, update_id: int) -> bool:
        """Whether this process may act on ``update_id`` now: not handled before, not in hand."""
        if update_id in self._handled or update_id in self._active:
            return False
        self._active.add(update_id)
        return True

    async def mark_handled(self, update_id: int) -> None:
        """Its reply is about to leave: never handle it again, even after a restart."""
        if update_id in self._handled:
            return
        self._add(update_id)
        await self._write(_mark, update_id, self._next_seq())

    async def end(self, update_id: int, *, handled: bool = True) -> None:
        """Done with ``update_id``: handled, or (``handled=False``: nothing of its reply may have
        left) fetched again, to be handled after the restart."""
        self._active.discard(update_id)
        if handled:
            if update_id not in self._handled:  # marked already when its reply left
                self._add(update_id)
                await self._write(_mark, update_id, self._next_seq())
            return
        if update_id in self._handled:
            self._handled.discard(update_id)
            self._order.remove(update_id)
        await self._write(_release, update_id)

    async def claim(self, update_id: int) -> bool:
        """Mark ``update_id`` handled now; False when it already was (at most once, no replay)."""
        if not self.begin(update_id):
            return False
        await self.mark_handled(update_id)
        self._active.discard(update_id)
        return True

    def unanswered(self) -> int:
        """Updates recorded as fetched and not handled: what the next start answers first."""
        db = self._db
        if self._executor is None or db is None:
            return 0
        try:
            return self._executor.submit(
                lambda: db.execute("SELECT count(*) FROM updates WHERE handled = 0").fetchone()[0]
            ).result()
        except sqlite3.Error:
            return 0

    def close(self) -> None:
        if self._executor is not None:
            self._executor.submit(self._close).result()
            self._executor.shutdown()
            self._executor = None

    # --- internals (the _db_* functions run in the journal's own thread) ------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _add(self, update_id: int) -> None:
        self._handled.add(update_id)
        self._order.append(update_id)
        while len(self._order) > self.capacity:
            self._handled.discard(self._order.popleft())

    async def _write(self, change: Callable[..., None], *args: Any) -> None:
        if self._executor is None or self._db is None:
            return
        self._marks += 1
        prune = self._marks % max(1, self.capacity // 4) == 0
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._apply, change, args, prune)
        except (OSError, sqlite3.Error) as exc:
            if not self._failing:
                log.warning(
                    "cannot write the handled-updates journal %s (%s): answering on, but after a restart "
                    "the last updates might be answered again, or not at all",
                    self.path,
                    exc,
                )
            self._failing = True
            return
        if self._failing:
            log.info("the handled-updates journal %s is written again", self.path)
            self._failing = False

    def _apply(self, change: Callable[..., None], args: tuple[Any, ...], prune: bool) -> None:
        db = self._db
        if db is None:  # closed since the write was queued
            raise sqlite3.ProgrammingError("the handled-updates journal is closed")
        with db:
            change(db, *args)
            if prune:
                db.execute(
                    "DELETE FROM updates WHERE handled = 1 AND seq < (SELECT seq FROM updates WHERE handled = 1 "
                    "ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    (self.capacity - 1,),
                )

    def _open(self, legacy: Path | None) -> None:
        assert self.path is not None
        try:
            self._db = _connect(self.path)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
                log.warning("cannot open the handled-updates journal %s (%s); starting without it", self.path, exc)
                return
            log.warning("ignoring the damaged handled-updates journal %s (%s)", self.path, exc)
            try:
                self.path.replace(self.path.with_name(self.path.name + ".damaged"))
                self._db = _connect(self.path)
            except (OSError, sqlite3.Error) as again:
                log.warning("cannot start a new handled-updates journal %s (%s)", self.path, again)
                return
        except OSError as exc:
            log.warning("cannot open the handled-updates journal %s (%s); starting without it", self.path, exc)
            return
        db = self._db
        if legacy is not None and legacy.exists():
            self._import_legacy(db, legacy)
        with db:
            db.execute("UPDATE updates SET body = NULL WHERE handled = 1 AND body IS NOT NULL")
        self._seq = db.execute("SELECT coalesce(max(seq), 0) FROM updates").fetchone()[0]
        handled = [
            u
            for (u,) in db.execute(
                "SELECT update_id FROM updates WHERE handled = 1 ORDER BY seq DESC LIMIT ?", (self.capacity,)
            )
        ]
        for update_id in reversed(handled):
            self._add(update_id)
        self._pending = list(
            db.execute("SELECT update_id, body FROM updates WHERE handled = 0 AND body IS NOT NULL ORDER BY seq")
        )
        log.info(
            "handled-updates journal %s: %d recent update ids, %d fetched but not answered",
            self.path,
            len(self._handled),
            len(self._pending),
        )

    def _import_legacy(self, db: sqlite3.Connection, legacy: Path) -> None:
        """Take over the ids of format 1 (a JSON file), so an upgrade answers nothing twice."""
        try:
            ids = json.loads(legacy.read_bytes())["handled"]
            base = db.execute("SELECT coalesce(max(seq), 0) FROM updates").fetchone()[0]
            with db:
                db.executemany(
                    "INSERT OR IGNORE INTO updates (update_id, seq, handled) VALUES (?, ?, 1)",
                    [(int(i), base + n) for n, i in enumerate(ids[-self.capacity :], start=1)],
                )
            legacy.unlink()
        except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as exc:
            log.warning("ignoring the old handled-updates journal %s (%s)", legacy, exc)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, FORMAT):
        db.close()
        raise sqlite3.DatabaseError(f"format {version}, expected {FORMAT}")
    with db:
        db.execute(_SCHEMA)
        db.execute(f"PRAGMA user_version = {FORMAT}")
    db.execute("SELECT count(*) FROM updates").fetchone()
    return db


def _record(db: sqlite3.Connection, update_id: int, seq: int, body: str) -> None:
    db.execute(
        "INSERT OR IGNORE INTO updates (update_id, seq, handled, body) VALUES (?, ?, 0, ?)", (update_id, seq, body)
    )


def _mark(db: sqlite3.Connection, update_id: int, seq: int) -> None:
    """Handled (its row keeps its place in the order; its JSON is dropped at the next start)."""
    db.execute(
        "INSERT INTO updates (update_id, seq, handled) VALUES (?, ?, 1) "
        "ON CONFLICT (update_id) DO UPDATE SET handled = 1",
        (update_id, seq),
    )


def _release(db: sqlite3.Connection, update_id: int) -> None:
    db.execute("UPDATE updates SET handled = 0 WHERE update_id = ?", (update_id,))


# --- One process per bot and cache folder ---------------------------------------------------


class AlreadyRunning(BotError):
    """Another process of the same bot holds the lock on the cache folder."""


class InstanceLock:
    """An exclusive lock (``flock``) beside the journal, held while the bot runs.

    The kernel releases it when the process ends, however it ends. A lock file
    that cannot be created (read-only cache) is warned about, not fatal.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            log.warning(
                "cannot create the instance lock %s (%s): a second instance would not be stopped", self.path, exc
            )
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(
                f"another instance of this bot (pid {holder}) is running with the cache folder "
                f"{self.path.parent}: stop it first (two processes with one token answer some updates "
                "twice and fight over Telegram's updates)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
