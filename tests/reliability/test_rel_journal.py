"""Units: the journal of fetched and handled updates (no update lost or answered twice across
restarts), and the lock that keeps a second process of the same bot off it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3

import pytest

import bot.telegram.journal as journal_module
from bot.telegram.journal import AlreadyRunning, InstanceLock, UpdateJournal


def _run(coro):
    return asyncio.run(coro)


def _claims(journal: UpdateJournal, ids: list[int]) -> list[bool]:
    async def run() -> list[bool]:
        return [await journal.claim(i) for i in ids]

    return _run(run())


def _body(update_id: int) -> str:
    return json.dumps({"update_id": update_id, "message": {"text": f"câu hỏi {update_id}"}}, ensure_ascii=False)


def test_journal_survives_a_restart_and_skips_handled_ids(tmp_path):
    path = tmp_path / "cache" / "updates.sqlite"
    first = UpdateJournal(path)
    assert _claims(first, [5, 7, 6, 7]) == [True, True, True, False]
    first.close()
    again = UpdateJournal(path)  # a new process
    assert 5 in again and 6 in again and 7 in again and 8 not in again
    assert _claims(again, [6, 8]) == [False, True]
    again.close()
    with sqlite3.connect(path) as db:
        assert [u for (u,) in db.execute("SELECT update_id FROM updates ORDER BY seq")] == [5, 7, 6, 8]


def test_fetched_updates_wait_for_the_next_start_until_handled(tmp_path):
    """Recorded when fetched; handled when a reply leaves; an abandoned reply (nothing left) goes back."""
    path = tmp_path / "updates.sqlite"
    journal = UpdateJournal(path)

    async def first_process() -> None:
        for update_id in (1, 2, 3, 4):
            await journal.record(update_id, _body(update_id))
        assert journal.begin(1) and not journal.begin(1)  # in hand: not taken twice
        await journal.mark_handled(1)  # its reply left
        await journal.end(1)
        assert journal.begin(2)
        await journal.mark_handled(2)  # its first message was refused (429), then the bot stopped
        await journal.end(2, handled=False)
        assert journal.begin(3)  # it waited for its group's turn when the bot stopped
        await journal.end(3, handled=False)
        # 4: fetched, never taken up (the bot was killed)

    _run(first_process())
    journal.close()
    restarted = UpdateJournal(path)
    assert [u for u, _ in restarted.pending()] == [2, 3, 4]
    assert restarted.pending()[0][1] == _body(2)
    assert 1 in restarted and 2 not in restarted
    _run(restarted.end(4))
    assert [u for u, _ in restarted.pending()] == [2, 3]
    restarted.close()


def test_a_handled_update_fetched_again_is_not_kept_again(tmp_path):
    journal = UpdateJournal(tmp_path / "updates.sqlite")

    async def run() -> None:
        await journal.claim(9)
        await journal.record(9, _body(9))  # Telegram sent it again (its confirmation was lost)

    _run(run())
    journal.close()
    assert UpdateJournal(tmp_path / "updates.sqlite").pending() == []


def test_journal_is_bounded_and_appends_rather_than_rewrites(tmp_path):
    path = tmp_path / "updates.sqlite"
    journal = UpdateJournal(path, capacity=50)
    assert all(_claims(journal, list(range(1000, 2200))))
    assert len(journal) == 50 and 2199 in journal and 1000 not in journal
    wal = path.with_name(path.name + "-wal")
    before = wal.stat().st_size
    _claims(journal, list(range(3000, 3010)))
    per_claim = (wal.stat().st_size - before) / 10
    journal.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT count(*) FROM updates").fetchone()[0]
    assert 50 <= rows <= 50 + 50 // 4 + 10  # old rows are deleted as new ones come
    assert per_claim <= 3 * 4096 + 100, per_claim  # a page or two appended, not the whole record
    again = UpdateJournal(path, capacity=50)
    assert 3009 in again and 2170 in again and 1000 not in again


@pytest.mark.parametrize("content", [b"", b"{not json", b"SQLite format 3\x00" + b"\xff" * 200, b"\x00\xff" * 10])
def test_damaged_journal_is_set_aside_with_a_warning(tmp_path, caplog, content):
    path = tmp_path / "updates.sqlite"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="bot.telegram.journal"):
        journal = UpdateJournal(path)
    assert len(journal) == 0
    if content:  # an empty file is a valid new database
        assert any("damaged handled-updates journal" in r.getMessage() for r in caplog.records)
    assert _claims(journal, [1]) == [True]
    journal.close()
    assert 1 in UpdateJournal(path)


def test_unwritable_journal_warns_once_and_keeps_deduplicating(tmp_path, caplog, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="bot.telegram.journal"):
        journal = UpdateJournal(blocker / "updates.sqlite")  # cannot be opened: a warning, then memory only
        assert _claims(journal, [1, 2, 2, 3]) == [True, True, False, True]
    assert sum("cannot open the handled-updates journal" in r.getMessage() for r in caplog.records) == 1
    caplog.clear()

    def disk_full(*args):
        raise sqlite3.OperationalError("database or disk is full")

    journal = UpdateJournal(tmp_path / "updates.sqlite")
    monkeypatch.setattr(journal, "_apply", disk_full)
    with caplog.at_level(logging.WARNING, logger="bot.telegram.journal"):
        assert _claims(journal, [1, 2, 2, 3]) == [True, True, False, True]
    warnings = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(warnings) == 1 and "answered again" in warnings[0]


def test_the_json_record_of_earlier_versions_is_taken_over(tmp_path):
    legacy = tmp_path / "telegram-1-abc-handled.json"
    legacy.write_text(json.dumps({"format": 1, "handled": [11, 12, 13]}))
    journal = UpdateJournal(tmp_path / "telegram-1-abc-updates.sqlite", legacy=legacy)
    assert 11 in journal and 13 in journal and not legacy.exists()
    assert _claims(journal, [12, 14]) == [False, True]


def test_a_second_instance_cannot_take_the_lock(tmp_path):
    path = tmp_path / "cache" / "telegram-1-abc-instance.lock"
    first = InstanceLock(path).acquire()
    with pytest.raises(AlreadyRunning, match=rf"pid {os.getpid()}\b.*{tmp_path / 'cache'}"):
        InstanceLock(path).acquire()
    first.release()
    InstanceLock(path).acquire().release()  # free again


def test_journal_module_has_no_state_of_its_own():
    assert not any(isinstance(v, (set, dict, list)) for k, v in vars(journal_module).items() if not k.startswith("__"))
