"""The question log: rows round-trip, ids are hashed, old rows go, and trouble never reaches the caller."""

from __future__ import annotations

import json
import logging
import sqlite3
import struct
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.insights.log import NullQuestionLog, QuestionLog
from bot.insights.store import SCHEMA_VERSION, ChatKind, LogDatabase, QuestionLogError, open_for_reading
from insights_support import make_result
from retrieval.answer.compose import Outcome

USER, CHAT = 987654321012, -1009876543210  # distinctive: easy to find in the file's bytes
LOGGER = "bot.insights.log"


def rows(path: Path, sql: str = "SELECT * FROM questions ORDER BY ts") -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "questions.sqlite"  # the folder does not exist yet


def test_rows_round_trip(db_path: Path) -> None:
    at = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=123456) - timedelta(days=1)
    with QuestionLog(db_path) as qlog:
        a = qlog.record(
            "Hà Nội hợp tác với ai?",
            make_result("q", ["doc-1", "doc-2"]),
            kind=ChatKind.PRIVATE,
            user=USER,
            chat=USER,
            latency_ms=12.5,
            at=at,
        )
        b = qlog.record("Giá vàng hôm nay?", make_result("q"), kind="group", user=USER, chat=CHAT, latency_ms=3)
        c = qlog.record("lỗi", None, kind=ChatKind.CLI, latency_ms=1.0)
        assert qlog.vote(a, USER, +1) and qlog.vote(a, USER, -1) and qlog.vote(a, "console", +1)
        assert qlog.flush(timeout=5)
        assert qlog.stats().written == 6 and qlog.stats().dropped == 0
    assert len({a, b, c}) == 3 and all(len(x) == 16 for x in (a, b, c))
    by_id = {r["answer_id"]: r for r in rows(db_path)}
    first = by_id[a]
    assert first["ts"] == at.strftime("%Y-%m-%dT10:00:00.123Z")
    assert (first["chat_kind"], first["question"], first["answered"], first["reason"]) == (
        "private",
        "Hà Nội hợp tác với ai?",
        1,
        "answered",
    )
    assert first["latency_ms"] == 12.5
    assert [c["doc_id"] for c in json.loads(first["answers"])] == ["doc-1", "doc-2"]
    assert json.loads(first["answers"])[0] == {"doc_id": "doc-1", "score": 10.0, "quote": "Câu trích từ doc-1."}
    assert first["user_hash"] != first["chat_hash"]  # a private chat's id equals the user's: still not linkable
    assert (by_id[b]["answered"], by_id[b]["reason"], by_id[b]["chat_kind"]) == (0, "not_found", "group")
    assert by_id[b]["user_hash"] == first["user_hash"]
    assert (by_id[c]["reason"], by_id[c]["user_hash"], by_id[c]["answers"]) == ("error", None, "[]")
    votes = rows(db_path, "SELECT answer_id, value FROM votes ORDER BY value")
    assert [(v["answer_id"], v["value"]) for v in votes] == [(a, -1), (a, 1)]  # changed, not added


def test_reasons_are_the_result_outcomes() -> None:
    from bot.insights.store import reason_of

    assert reason_of(make_result("q", ["d"])) is Outcome.ANSWERED
    assert reason_of(make_result("q", outcome=Outcome.NO_CONTENT)) is Outcome.NO_CONTENT
    assert reason_of(make_result("q", outcome=Outcome.EMPTY)) is Outcome.EMPTY
    assert reason_of(make_result("q")) is Outcome.NOT_FOUND
    assert reason_of(None) is Outcome.ERROR


def test_no_raw_ids_in_the_database_files(db_path: Path) -> None:
    qlog = QuestionLog(db_path)
    for n in range(20):
        answer = qlog.record(
            f"Câu hỏi số {n}?", make_result("q", ["doc-1"]), kind="group", user=USER, chat=CHAT, latency_ms=5
        )
        qlog.vote(answer, USER, 1)
    assert qlog.flush(timeout=5)
    wal = db_path.with_name(db_path.name + "-wal")
    files = [db_path, wal]
    assert wal.stat().st_size > 0  # the rows are (at least) in the WAL while the log is open
    forbidden = [str(abs(x)).encode() for x in (USER, CHAT)]
    forbidden += [struct.pack(">q", x) for x in (USER, CHAT)] + [struct.pack("<q", x) for x in (USER, CHAT)]
    try:
        for f in files:
            data = f.read_bytes()
            if f == wal:
                assert "Câu hỏi số 7?".encode() in data  # the search below does look at the rows
            for raw in forbidden:
                assert raw not in data, f"raw id {raw!r} found in {f.name}"
    finally:
        qlog.close()
    data = db_path.read_bytes()  # after the checkpoint at close
    assert "Câu hỏi số 7?".encode() in data
    assert not any(raw in data for raw in forbidden)


def test_salt_from_the_environment_is_not_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_QLOG_SALT", "bí mật của người vận hành")
    hashes = []
    for name in ("a.sqlite", "b.sqlite"):
        db = LogDatabase(tmp_path / name, salt_env="TEST_QLOG_SALT")
        hashes.append(db.hash_id("user", USER))
        db.close()
        assert rows(tmp_path / name, "SELECT key FROM meta WHERE key = 'salt'") == []
    assert hashes[0] == hashes[1]  # one salt for every file: the same user has the same hash
    monkeypatch.delenv("TEST_QLOG_SALT")
    own = LogDatabase(tmp_path / "c.sqlite", salt_env="TEST_QLOG_SALT")
    own_hash = own.hash_id("user", USER)
    own.close()
    assert own_hash != hashes[0]
    again = LogDatabase(tmp_path / "c.sqlite", salt_env="TEST_QLOG_SALT")  # the stored salt is reused
    assert again.hash_id("user", USER) == own_hash
    again.close()


def test_retention_deletes_old_rows_on_open(db_path: Path) -> None:
    now = datetime.now(UTC)
    with QuestionLog(db_path, retention_days=0) as qlog:  # 0: keep everything
        old = qlog.record("cũ", make_result("q", ["d"]), kind="console", latency_ms=1, at=now - timedelta(days=91))
        new = qlog.record("mới", make_result("q", ["d"]), kind="console", latency_ms=1, at=now - timedelta(days=89))
        qlog.vote(old, "console", -1)
        qlog.vote(new, "console", 1)
    assert len(rows(db_path)) == 2
    with QuestionLog(db_path, retention_days=90) as qlog:
        assert qlog.flush(timeout=5)
    assert [r["question"] for r in rows(db_path)] == ["mới"]
    assert [v["answer_id"] for v in rows(db_path, "SELECT answer_id FROM votes")] == [new]


def test_retention_runs_again_while_the_log_stays_open(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.insights.log

    monkeypatch.setattr(bot.insights.log, "_PURGE_EVERY", 0.2)  # "daily", sped up
    now = [datetime.now(UTC)]
    with QuestionLog(db_path, retention_days=1, clock=lambda: now[0]) as qlog:
        qlog.record("hôm qua", None, kind="cli", latency_ms=1, at=now[0] - timedelta(hours=20))
        assert qlog.flush(timeout=5)
        time.sleep(0.4)
        assert len(rows(db_path)) == 1  # not a day old yet
        now[0] += timedelta(hours=5)  # now it is
        deadline = time.monotonic() + 5
        while rows(db_path) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert rows(db_path) == []


def test_a_locked_database_costs_one_warning_and_no_row(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    qlog = QuestionLog(db_path, busy_timeout=0.5)
    qlog.record("trước", None, kind="cli", latency_ms=1)
    assert qlog.flush(timeout=5)
    script = (
        "import sqlite3, time\n"
        f"c = sqlite3.connect({str(db_path)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True)\n"
        "time.sleep(3); c.execute('COMMIT')\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        slowest = 0.0
        for n in range(200):
            started = time.perf_counter()
            answer = qlog.record(
                f"Câu hỏi {n} khi bị khóa?", make_result("q", ["d"]), kind="private", user=n, chat=n, latency_ms=2
            )
            qlog.vote(answer, n, 1)
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.005)  # spread over about a second: the writer fails while they arrive
        assert slowest < 0.05
        assert qlog.stats().failing
    finally:
        assert holder.wait(timeout=20) == 0
    assert qlog.flush(timeout=15)
    assert len(warnings_of(caplog)) == 1, warnings_of(caplog)
    assert "locked" in warnings_of(caplog)[0]
    assert any("written again" in r.getMessage() for r in caplog.records if r.name == LOGGER)
    assert qlog.close(timeout=5)
    assert len(rows(db_path)) == 201
    assert rows(db_path, "SELECT count(*) AS n FROM votes")[0]["n"] == 200


class TinyDisk(LogDatabase):
    """A database that may not grow past a few pages: SQLite reports SQLITE_FULL, as on a full disk."""

    def _prepare(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA max_page_count = 12")


def test_a_full_disk_and_a_full_queue_cost_a_warning_each(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    qlog = QuestionLog(db_path, queue_size=20, database=TinyDisk)
    slowest = 0.0
    for n in range(200):
        started = time.perf_counter()
        qlog.record("x" * 2000, make_result("q", ["d"]), kind="private", user=n, chat=n, latency_ms=1)
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.05
    deadline = time.monotonic() + 5
    while not qlog.stats().failing and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = qlog.stats()
    assert stats.failing and stats.dropped > 0
    assert not qlog.close(timeout=0.5)
    messages = warnings_of(caplog)
    assert sum("full" in m and "dropping" in m for m in messages) == 1
    assert sum(m.startswith("cannot write") and "full" in m for m in messages) == 1


def test_newer_schema_is_never_written(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    LogDatabase(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(QuestionLogError, match="newer version"):
        LogDatabase(db_path)
    with pytest.raises(QuestionLogError, match="schema version"):
        open_for_reading(db_path)
    qlog = QuestionLog(db_path)
    qlog._thread.join(timeout=5)  # the writer stops at once
    assert qlog.record("q", None, kind="cli", latency_ms=1)  # still an id, never an exception
    assert not qlog.flush(timeout=1)
    assert rows(db_path) == []
    assert any("newer version" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_close_writes_what_is_queued(db_path: Path) -> None:
    qlog = QuestionLog(db_path)
    for n in range(300):
        qlog.record(f"q{n}", None, kind="console", latency_ms=1)
    assert qlog.close(timeout=10)
    assert len(rows(db_path)) == 300
    assert not qlog.vote("x", 1, 1)  # after close: dropped, no exception


def test_off_switch_and_bad_calls(db_path: Path) -> None:
    null = NullQuestionLog()
    assert null.record("q", None, kind="cli", latency_ms=1) is None
    assert not null.vote("x", 1, 1) and null.close()
    with QuestionLog(db_path) as qlog:
        with pytest.raises(ValueError, match=r"\+1 or -1"):
            qlog.vote("x", 1, 2)
        with pytest.raises(ValueError):
            qlog.record("q", None, kind="fax", latency_ms=1)
        with pytest.raises(ValueError, match="timezone"):
            qlog.record("q", None, kind="cli", latency_ms=1, at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="retention_days"):
        QuestionLog(db_path, retention_days=-1)
    with pytest.raises(QuestionLogError, match="no question log"):
        open_for_reading(db_path.with_name("missing.sqlite"))


def test_feedback_button_data_round_trips() -> None:
    from bot.insights.store import feedback_data, new_answer_id, parse_feedback_data

    answer = new_answer_id()
    for value in (1, -1):
        data = feedback_data(answer, value)
        assert len(data.encode()) <= 64  # Telegram's limit for callback data
        assert parse_feedback_data(data) == (answer, value)
    for other in (None, "", "more:abc:1", f"vote:{answer}:0", f"vote:{answer[:-1]}:+", f"vote:{answer}:+x"):
        assert parse_feedback_data(other) is None
