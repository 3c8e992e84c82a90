"""The question log: every question, how it was answered, and the users' 👍/👎, in SQLite.

Why: the refused questions are the operator's to-do list of missing documents,
👎 votes point at quotes that did not answer, and latency shows when the bot
slows down (:mod:`bot.report` reads this database).

Privacy: user and chat ids are stored only as HMAC-SHA256 hashes (truncated
to 128 bits), never raw, and no names are stored. The HMAC salt comes from
the environment variable ``salt_env`` (``QUESTION_LOG_SALT``) when it is set;
otherwise it is generated once and kept in the database's ``meta`` table. A
salt kept outside the file is the stronger choice: whoever holds a copy of the
file can then not test candidate ids (Telegram ids are small numbers) against
the hashes.

Writing never slows or breaks answering: :meth:`QuestionLog.record` and
:meth:`QuestionLog.vote` put the row on a bounded queue and return at once. One
background thread owns the SQLite connection (WAL mode) and writes in
batches. When the database is locked by another process or the disk is full,
the rows wait in memory and are retried with growing pauses; the failure
costs one WARNING line (repeated at most every ``warn_every`` seconds while it
lasts) and an INFO line when writing works again. When the queue is full, new
rows are dropped and counted (again one WARNING line per ``warn_every``).

Off switch: the front end builds a :class:`NullQuestionLog` (same API, stores
nothing; ``record`` returns ``None``, which means "show no feedback buttons").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self

from retrieval.answer.compose import Outcome
from retrieval.errors import BotError

if TYPE_CHECKING:  # the front ends have the service loaded; this module does not need it
    from retrieval.config import Config
    from retrieval.answer.compose import Result

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SALT_ENV = "QUESTION_LOG_SALT"
# Longest question text and quote kept per row (the service cuts questions at 1000 characters).
MAX_QUESTION_CHARS = 2000
MAX_QUOTE_CHARS = 500
_BATCH = 500  # rows per transaction
_RETRY_FIRST, _RETRY_MAX = 0.25, 5.0  # seconds between write attempts while the database fails
_PURGE_EVERY = 86400.0  # seconds

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS questions (
        answer_id  TEXT PRIMARY KEY,
        ts         TEXT NOT NULL,      -- UTC, ISO 8601 with milliseconds and Z: text order is time order
        chat_kind  TEXT NOT NULL,      -- private, group, console, cli
        user_hash  TEXT,               -- HMAC of the user id, NULL when there is no user
        chat_hash  TEXT,
        question   TEXT NOT NULL,
        answered   INTEGER NOT NULL,   -- 1 answered, 0 refused or failed
        reason     TEXT NOT NULL,      -- the Outcome value (answered, not_found, empty, no_content, error)
        answers    TEXT NOT NULL,      -- JSON [{"doc_id", "score", "quote"}], best first
        latency_ms REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS questions_ts ON questions (ts)",
    """CREATE TABLE IF NOT EXISTS votes (
        answer_id TEXT NOT NULL,
        user_hash TEXT NOT NULL,
        value     INTEGER NOT NULL CHECK (value IN (-1, 1)),
        ts        TEXT NOT NULL,
        PRIMARY KEY (answer_id, user_hash)
    )""",
    "CREATE INDEX IF NOT EXISTS votes_ts ON votes (ts)",
)


class QuestionLogError(BotError):
    """The question log cannot be used: missing, or written by a newer version of the bot."""


class ChatKind(StrEnum):
    """Where a question was asked."""

    PRIVATE = "private"
    GROUP = "group"
    CONSOLE = "console"
    CLI = "cli"


def reason_of(result: Result | None) -> Outcome:
    """The outcome of a result; ``None`` (the service raised) is ``error``."""
    return Outcome.ERROR if result is None else result.outcome


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_iso(at: datetime) -> str:
    """``at`` in UTC as fixed-width ISO 8601 (``2026-01-05T10:00:00.123Z``), so text order is time order."""
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (use datetime.now(UTC))")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _text(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, lone surrogates replaced (SQLite stores UTF-8)."""
    return value[:limit].encode("utf-8", "replace").decode("utf-8")


# --- Rows -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cited:
    """One quote of an answer, as logged."""

    doc_id: str
    score: float
    quote: str


@dataclass(frozen=True)
class QuestionRow:
    """One question as the front end saw it. Ids are raw here; the database stores their hashes."""

    answer_id: str
    at: datetime
    kind: ChatKind
    user: int | str | None
    chat: int | str | None
    question: str
    answered: bool
    reason: Outcome
    cited: tuple[Cited, ...]
    latency_ms: float

    @classmethod
    def of(
        cls, question: str, result: Result | None, *, kind: ChatKind | str, user: int | str | None,
        chat: int | str | None, latency_ms: float, at: datetime, answer_id: str | None = None,
    ) -> QuestionRow:
        if at.tzinfo is None:
            raise ValueError("the time of a question must be timezone-aware (datetime.now(UTC))")
        cited = tuple(
            Cited(a.doc_id, float(a.score), _text(a.quote, MAX_QUOTE_CHARS)) for a in (result.answers if result else ())
        )
        return cls(
            answer_id=answer_id or new_answer_id(), at=at, kind=ChatKind(kind), user=user, chat=chat,
            question=_text(question, MAX_QUESTION_CHARS), answered=bool(result and result.answered),
            reason=reason_of(result), cited=cited, latency_ms=float(latency_ms),
        )


@dataclass(frozen=True)
class VoteRow:
    """A 👍 (+1) or 👎 (-1) on an answer; a user's later vote on the same answer replaces it."""

    answer_id: str
    user: int | str
    value: int
    at: datetime


@dataclass(frozen=True)
class LogStats:
    """How the log is doing (for the metrics endpoint and tests)."""

    written: int  # rows (questions and votes) committed since start
    dropped: int  # rows lost: queue full, closed, or the log disabled
    pending: int  # rows waiting in the queue
    failing: bool  # the last write attempt failed


def new_answer_id() -> str:
    """A short random id (16 URL-safe characters): fits Telegram's 64-byte callback data."""
    return secrets.token_urlsafe(12)


_FEEDBACK_DATA = re.compile(r"vote:([A-Za-z0-9_-]{16}):([+-])")


def feedback_data(answer_id: str, value: int) -> str:
    """The callback data of a 👍 (+1) or 👎 (-1) button: ``vote:<answer id>:+`` (23 bytes)."""
    return f"vote:{answer_id}:{'+' if value > 0 else '-'}"


def parse_feedback_data(data: str | None) -> tuple[str, int] | None:
    """``(answer_id, +1 or -1)`` of a button's callback data; ``None`` when it is not a vote button's."""
    match = _FEEDBACK_DATA.fullmatch(data or "")
    return None if match is None else (match.group(1), 1 if match.group(2) == "+" else -1)


# --- The database ---------------------------------------------------------------------


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error (the connection stays usable)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with suppress(sqlite3.Error):  # SQLite may have rolled back itself (e.g. SQLITE_FULL)
                conn.execute("ROLLBACK")
        raise


class LogDatabase:
    """One connection to the question log: creates or checks the schema, hashes ids, writes rows.

    Synchronous and for one thread at a time; :class:`QuestionLog` runs it on its writer
    thread, ``bench/gen_question_log.py`` directly.
    """

    def __init__(
        self, path: str | Path, *, salt_env: str = SALT_ENV, busy_timeout: float = 1.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._prepare(self._conn)
            self._salt = self._load_salt((os.environ if env is None else env).get(salt_env, ""))
        except BaseException:
            self._conn.close()
            raise

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Hook for tests (e.g. a page limit that simulates a full disk); the default does nothing."""

    def _load_salt(self, from_env: str) -> bytes:
        with _transaction(self._conn) as conn:
            for statement in _SCHEMA:
                conn.execute(statement)
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            version = int(meta.get("schema_version", SCHEMA_VERSION))
            if version > SCHEMA_VERSION:
                raise QuestionLogError(
                    f"the question log {self.path} has schema version {version}, written by a newer "
                    f"version of the bot (this one reads version {SCHEMA_VERSION}); use a newer bot or another file"
                )
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            if from_env:
                return from_env.encode("utf-8")
            if "salt" not in meta:
                meta["salt"] = secrets.token_hex(32)
                conn.execute("INSERT INTO meta VALUES ('salt', ?)", (meta["salt"],))
            return bytes.fromhex(meta["salt"])

    def hash_id(self, purpose: str, value: int | str | None) -> str | None:
        """HMAC-SHA256 of ``purpose:value`` (user and chat hashes of the same number differ)."""
        if value is None:
            return None
        digest = hmac.new(self._salt, f"{purpose}:{value}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def write(self, questions: Sequence[QuestionRow] = (), votes: Sequence[VoteRow] = ()) -> None:
        """Store the rows in one transaction (a question already stored is kept as it was)."""
        with _transaction(self._conn) as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO questions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        q.answer_id, to_iso(q.at), q.kind.value, self.hash_id("user", q.user),
                        self.hash_id("chat", q.chat), q.question, int(q.answered), q.reason.value,
                        json.dumps(
                            [{"doc_id": c.doc_id, "score": round(c.score, 4), "quote": c.quote} for c in q.cited],
                            ensure_ascii=False,
                        ),
                        round(q.latency_ms, 3),
                    )
                    for q in questions
                ],
            )
            conn.executemany(
                "INSERT INTO votes VALUES (?, ?, ?, ?) ON CONFLICT (answer_id, user_hash) "
                "DO UPDATE SET value = excluded.value, ts = excluded.ts",
                [(v.answer_id, self.hash_id("user", v.user), v.value, to_iso(v.at)) for v in votes],
            )

    def purge(self, before: datetime) -> int:
        """Delete questions asked before ``before``, votes cast before it, and votes on deleted
        answers; the number of rows deleted."""
        cutoff = to_iso(before)
        with _transaction(self._conn) as conn:
            n = conn.execute("DELETE FROM questions WHERE ts < ?", (cutoff,)).rowcount
            n += conn.execute("DELETE FROM votes WHERE ts < ?", (cutoff,)).rowcount
            n += conn.execute(
                "DELETE FROM votes WHERE answer_id NOT IN (SELECT answer_id FROM questions)"
            ).rowcount
        return n

    def close(self) -> None:
        self._conn.close()


def open_for_reading(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to an existing question log whose schema this version reads."""
    path = Path(path)
    if not path.is_file():
        raise QuestionLogError(f"no question log at {path} (is insights.log_questions on?)")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    except sqlite3.Error as exc:
        raise QuestionLogError(f"cannot read the question log {path}: {exc}") from None
    version = int(meta.get("schema_version", 0))
    if version != SCHEMA_VERSION:
        conn.close()
        raise QuestionLogError(
            f"the question log {path} has schema version {version}; this version of the bot reads {SCHEMA_VERSION}"
        )
    return conn


# --- The background writer -----------------------------------------------------------


class QuestionSink(Protocol):
    """What the front ends call: :class:`QuestionLog` or :class:`NullQuestionLog`."""

    def record(
        self, question: str, result: Result | None, *, kind: ChatKind | str, user: int | str | None = None,
        chat: int | str | None = None, latency_ms: float, at: datetime | None = None,
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
        self, path: str | Path, *, retention_days: int = 90, queue_size: int = 1000, salt_env: str = SALT_ENV,
        busy_timeout: float = 1.0, warn_every: float = 300.0, clock: Callable[[], datetime] = utc_now,
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
        self, question: str, result: Result | None, *, kind: ChatKind | str, user: int | str | None = None,
        chat: int | str | None = None, latency_ms: float, at: datetime | None = None,
    ) -> str:
        """Queue one question and its result (``None``: the service failed); the answer id.

        The id is returned even when the row is dropped, so a front end's code path does
        not depend on the log's health.
        """
        row = QuestionRow.of(question, result, kind=kind, user=user, chat=chat, latency_ms=latency_ms,
                             at=at or self._clock())
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
            try:
                self._queue.put_nowait(_WAKE)
            except queue.Full:
                pass  # the writer is busy anyway and sees the flag
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the question log %s was not written within %.1fs; %d queued rows may be lost",
                        self.path, timeout, self._queue.qsize())
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
            self._drop_warner.warn("question log queue is full: dropping rows (%d dropped so far); "
                                   "is %s locked or on a full disk?", dropped, self.path)
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
                batch = self._take(timeout=wait)
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

    def _take(self, timeout: float) -> list[_Item]:
        """The next rows (up to one batch), waiting up to ``timeout`` for the first."""
        items: list[_Item] = []
        try:
            item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            while True:
                if item is not _WAKE:
                    items.append(item)  # type: ignore[arg-type]
                if len(items) >= _BATCH:
                    break
                item = self._queue.get_nowait()
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
            self.path, type(exc).__name__, exc, len(batch) + self._queue.qsize(),
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
        self, question: str, result: Result | None, *, kind: ChatKind | str, user: int | str | None = None,
        chat: int | str | None = None, latency_ms: float, at: datetime | None = None,
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
    return QuestionLog(cfg.question_log_path, retention_days=cfg.insights.retention_days,
                       salt_env=cfg.insights.salt_env)
