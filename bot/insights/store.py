"""The question log's storage: the SQLite schema, id hashing, and the rows.

Why a log: the refused questions are the operator's to-do list of missing
documents, 👎 votes point at quotes that did not answer, and latency shows when
the bot slows down (:mod:`bot.insights.report` reads this database).

Privacy: user and chat ids are stored only as HMAC-SHA256 hashes (truncated
to 128 bits), never raw, and no names are stored. The HMAC salt comes from
the environment variable ``salt_env`` (``QUESTION_LOG_SALT``) when it is set;
otherwise it is generated once and kept in the database's ``meta`` table. A
salt kept outside the file is the stronger choice: whoever holds a copy of the
file can then not test candidate ids (Telegram ids are small numbers) against
the hashes.

:class:`LogDatabase` is one synchronous connection that writes rows;
:func:`open_for_reading` is the report's read-only one. Writing without ever
slowing an answer is :mod:`bot.insights.log`'s job.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.answer.compose import Outcome
from retrieval.errors import BotError

if TYPE_CHECKING:  # the front ends have the service loaded; this module does not need it
    from retrieval.answer.compose import Result

SCHEMA_VERSION = 1
SALT_ENV = "QUESTION_LOG_SALT"
# Longest question text and quote kept per row (the service cuts questions at 1000 characters).
MAX_QUESTION_CHARS = 2000
MAX_QUOTE_CHARS = 500

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
        cls,
        question: str,
        result: Result | None,
        *,
        kind: ChatKind | str,
        user: int | str | None,
        chat: int | str | None,
        latency_ms: float,
        at: datetime,
        answer_id: str | None = None,
    ) -> QuestionRow:
        if at.tzinfo is None:
            raise ValueError("the time of a question must be timezone-aware (datetime.now(UTC))")
        cited = tuple(
            Cited(a.doc_id, float(a.score), _text(a.quote, MAX_QUOTE_CHARS)) for a in (result.answers if result else ())
        )
        return cls(
            answer_id=answer_id or new_answer_id(),
            at=at,
            kind=ChatKind(kind),
            user=user,
            chat=chat,
            question=_text(question, MAX_QUESTION_CHARS),
            answered=bool(result and result.answered),
            reason=reason_of(result),
            cited=cited,
            latency_ms=float(latency_ms),
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
        self,
        path: str | Path,
        *,
        salt_env: str = SALT_ENV,
        busy_timeout: float = 1.0,
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
                        q.answer_id,
                        to_iso(q.at),
                        q.kind.value,
                        self.hash_id("user", q.user),
                        self.hash_id("chat", q.chat),
                        q.question,
                        int(q.answered),
                        q.reason.value,
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
            n += conn.execute("DELETE FROM votes WHERE answer_id NOT IN (SELECT answer_id FROM questions)").rowcount
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
