"""The question log's writer: rows go on a bounded queue, one background thread writes them.

Writing never slows or breaks answering: :meth:`QuestionLog.record` and
:meth:`QuestionLog.vote` put the row on a bounded queue and return at once. One
background thread owns the SQLite connection (:class:`~bot.insights.store.LogDatabase`,
WAL mode) and writes in batches. When the database is locked by another process
or the disk is full, the rows wait in memory and are retried with growing
pauses; the failure costs one WARNING line (repeated at most every
``warn_every`` seconds while it lasts) and an INFO line when writing works
again. When the queue is full, new rows are dropped and counted (again one
WARNING line per ``warn_every``).

Off switch: the front end builds a :class:`NullQuestionLog` (same API, stores
nothing; ``record`` returns ``None``, which means "show no feedback buttons").
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self

from .store import SALT_ENV, ChatKind, LogDatabase, LogStats, QuestionLogError, QuestionRow, VoteRow, utc_now

if TYPE_CHECKING:
    from retrieval.answer.compose import Result
    from retrieval.config import Config

log = logging.getLogger(__name__)

_BATCH = 500  # rows per transaction
# After a row arrives, the writer waits this long for more before writing: a transaction of its own
# for each question cost the Telegram bot more than a sixth of its throughput under load.
_LINGER = 0.05  # seconds
_RETRY_FIRST, _RETRY_MAX = 0.25, 5.0  # seconds between write attempts while the database fails
_PURGE_EVERY = 86400.0  # seconds


class QuestionSink(Protocol):
    """What the front ends call: :class:`QuestionLog` or :class:`NullQuestionLog`."""

    def record(
        self,
        question: str,
        result: Result | None,
        *,
        kind: ChatKind | str,
        user: int | str | None = None,
        chat: int | str | None = None,
        latency_ms: float,
        at: datetime | None = None,
    ) -> str | None: ...

    def vote(self, answer_id: str, user: int | str, value: int) -> bool: ...

    def stats(self) -> LogStats: ...

    def flush(self, timeout: float = 5.0) -> bool: ...

    def close(self, timeout: float = 5.0) -> bool: ...


class _Flush:
    """A queue marker: set once every row queued before it is written (or given up)."""

    def __init__(self) -> None:
        self.done = threading.Event()


_WAKE = object()  # a queue marker that only wakes the writer (close)
_Item = QuestionRow | VoteRow | _Flush


class _Warner:
    """One WARNING for a lasting problem, repeated at most every ``every`` seconds with a count."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._suppressed = 0

    def warn(self, message: str, *args: object, exc_info: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.every:
                self._suppressed += 1
                return
            if self._suppressed:
                message += f" (and {self._suppressed} more times since the last warning)"
            self._last, self._suppressed = now, 0
        log.warning(message, *args, exc_info=exc_info)

    def reset(self) -> None:
        with self._lock:
            self._last, self._suppressed = -float("inf"), 0


class QuestionLog:
    """Logs questions and votes to SQLite on a background thread; never raises for I/O trouble.

    Build it once at start-up, call :meth:`record` after each answer and :meth:`vote` for
    each 👍/👎, and :meth:`close` at shutdown (it writes what is queued, within a bound).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        retention_days: int = 90,
        queue_size: int = 1000,
        salt_env: str = SALT_ENV,
        busy_timeout: float = 1.0,
        warn_every: float = 300.0,
        clock: Callable[[], datetime] = utc_now,
        database: type[LogDatabase] = LogDatabase,
    ) -> None:
        if retention_days < 0:
            raise ValueError("retention_days must be >= 0 (0 keeps rows forever)")
        if queue_size < 1:
            raise ValueError("queue_size must be >= 1")
        self.path = Path(path)
        self.retention_days = retention_days
        self._clock = clock
        self._open_db = lambda: database(self.path, salt_env=salt_env, busy_timeout=busy_timeout)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()  # guards the counters below
        self._written = self._dropped = 0
        self._failing = False
        self._closing = threading.Event()
        self._deadline = float("inf")
        self._drop_warner = _Warner(warn_every)
        self._fail_warner = _Warner(warn_every)
        self._thread = threading.Thread(target=self._run, name="question-log", daemon=True)
        self._thread.start()

    # --- the callers' side (any thread; never blocks) ---------------------------------

    def record(
        self,
        question: str,
        result: Result | None,
        *,
        kind: ChatKind | str,
        user: int | str | None = None,
        chat: int | str | None = None,
        latency_ms: float,
        at: datetime | None = None,
    ) -> str:
        """Queue one question and its result (``None``: the service failed); the answer id.

        The id is returned even when the row is dropped, so a front end's code path does
        not depend on the log's health.
        """
        row = QuestionRow.of(
            question, result, kind=kind, user=user, chat=chat, latency_ms=latency_ms, at=at or self._clock()
        )
        self._offer(row)
        return row.answer_id

    def vote(self, answer_id: str, user: int | str, value: int) -> bool:
        """Queue ``user``'s 👍 (+1) or 👎 (-1) on ``answer_id``, replacing their earlier vote on it.
        False when the vote was dropped (queue full or log closed)."""
        if value not in (1, -1):
            raise ValueError(f"a vote is +1 or -1, got {value!r}")
        return self._offer(VoteRow(answer_id, user, value, self._clock()))

    def stats(self) -> LogStats:
        with self._lock:
            return LogStats(self._written, self._dropped, self._queue.qsize(), self._failing)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every row queued so far is written; False when that took longer than ``timeout``."""
        if self._closing.is_set() or not self._thread.is_alive():
            return False
        marker = _Flush()
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is queued (giving up after ``timeout`` seconds) and stop the writer.
        True when every row was written."""
        if not self._closing.is_set():
            self._deadline = time.monotonic() + timeout
            self._closing.set()
            with contextlib.suppress(queue.Full):  # the writer is busy anyway and sees the flag
                self._queue.put_nowait(_WAKE)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning(
                "the question log %s was not written within %.1fs; %d queued rows may be lost",
                self.path,
                timeout,
                self._queue.qsize(),
            )
            return False
        return self.stats().dropped == 0 and self._queue.empty()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _offer(self, item: _Item) -> bool:
        if self._closing.is_set() or not self._thread.is_alive():
            self._count_dropped(1)
            return False
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:
            self._count_dropped(1)
            with self._lock:
                dropped = self._dropped
            self._drop_warner.warn(
                "question log queue is full: dropping rows (%d dropped so far); is %s locked or on a full disk?",
                dropped,
                self.path,
            )
            return False

    def _count_dropped(self, n: int) -> None:
        with self._lock:
            self._dropped += n

    # --- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        db: LogDatabase | None = None
        batch: list[_Item] = []
        next_purge = 0.0  # monotonic time of the next retention purge; 0: right after opening
        delay = _RETRY_FIRST
        while True:
            if not batch:
                closing = self._closing.is_set()
                wait = 0.0 if closing else max(0.05, min(60.0, next_purge - time.monotonic()))
                batch = self._take(timeout=wait, linger=0.0 if closing else _LINGER)
                if not batch and closing and self._queue.empty():
                    break
            try:
                if db is None:
                    db = self._open_db()
                self._write(db, batch)
                batch = []
                if time.monotonic() >= next_purge:
                    self._purge(db)
                    next_purge = time.monotonic() + _PURGE_EVERY
            except QuestionLogError as exc:  # a newer schema: never write into it
                log.error("%s; questions are not logged", exc)
                self._give_up(batch)
                break
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc, batch)
                if self._closing.is_set():
                    left = self._deadline - time.monotonic()
                    if left <= 0:
                        self._give_up(batch)
                        break
                    time.sleep(min(delay, left))
                else:
                    self._closing.wait(delay)
                delay = min(2 * delay, _RETRY_MAX)
                continue
            except Exception:  # noqa: BLE001 - a bug here must not stop the writer; the batch is dropped
                self._fail_warner.warn("question log: unexpected error, %d rows dropped", len(batch), exc_info=True)
                self._give_up(batch, keep_queue=True)
                batch = []
                continue
            delay = _RETRY_FIRST
        if db is not None:
            db.close()

    def _take(self, timeout: float, linger: float = 0.0) -> list[_Item]:
        """The next rows (up to one batch), waiting up to ``timeout`` for the first, then up to
        ``linger`` seconds for more; a flush or close marker ends the wait."""
        items: list[_Item] = []
        try:
            item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            until = time.monotonic() + linger
            while True:
                if item is not _WAKE:
                    items.append(item)  # type: ignore[arg-type]
                if len(items) >= _BATCH or item is _WAKE or isinstance(item, _Flush):
                    break
                left = until - time.monotonic()
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
        except queue.Empty:
            pass
        return items

    def _write(self, db: LogDatabase, batch: list[_Item]) -> None:
        questions = [i for i in batch if isinstance(i, QuestionRow)]
        votes = [i for i in batch if isinstance(i, VoteRow)]
        if questions or votes:
            db.write(questions, votes)
        with self._lock:
            self._written += len(questions) + len(votes)
            recovered, self._failing = self._failing, False
        if recovered:
            self._fail_warner.reset()
            log.info("the question log %s is written again", self.path)
        for item in batch:
            if isinstance(item, _Flush):
                item.done.set()

    def _purge(self, db: LogDatabase) -> None:
        if self.retention_days:
            deleted = db.purge(self._clock() - timedelta(days=self.retention_days))
            if deleted:
                log.info("question log: deleted %d rows older than %d days", deleted, self.retention_days)

    def _failed(self, exc: Exception, batch: list[_Item]) -> None:
        with self._lock:
            self._failing = True
        self._fail_warner.warn(
            "cannot write the question log %s (%s: %s); %d rows wait in memory and are retried",
            self.path,
            type(exc).__name__,
            exc,
            len(batch) + self._queue.qsize(),
        )

    def _give_up(self, batch: list[_Item], keep_queue: bool = False) -> None:
        """Count ``batch`` (and, unless ``keep_queue``, everything queued) as dropped; release flushes."""
        items = list(batch)
        while not keep_queue:
            try:
                items.append(self._queue.get_nowait())  # type: ignore[arg-type]
            except queue.Empty:
                break
        rows = [i for i in items if isinstance(i, (QuestionRow, VoteRow))]
        self._count_dropped(len(rows))
        if rows and not keep_queue:
            log.warning("question log %s: %d rows were not written", self.path, len(rows))
        for item in items:
            if isinstance(item, _Flush):
                item.done.set()


class NullQuestionLog:
    """The off switch (``insights.log_questions: false``): same API, stores nothing.

    ``record`` returns ``None``: a front end shows no 👍/👎 buttons for it.
    """

    def record(
        self,
        question: str,
        result: Result | None,
        *,
        kind: ChatKind | str,
        user: int | str | None = None,
        chat: int | str | None = None,
        latency_ms: float,
        at: datetime | None = None,
    ) -> None:
        return None

    def vote(self, answer_id: str, user: int | str, value: int) -> bool:
        return False

    def stats(self) -> LogStats:
        return LogStats(0, 0, 0, False)

    def flush(self, timeout: float = 5.0) -> bool:
        return True

    def close(self, timeout: float = 5.0) -> bool:
        return True


def open_question_log(cfg: Config) -> QuestionSink:
    """The question log the configuration asks for (the off switch: a :class:`NullQuestionLog`)."""
    if not cfg.insights.log_questions:
        return NullQuestionLog()
    return QuestionLog(
        cfg.question_log_path, retention_days=cfg.insights.retention_days, salt_env=cfg.insights.salt_env
    )
