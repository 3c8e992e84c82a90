"""AnswerService.update: only what changed is read, the result equals a full rebuild, the swap is
safe under concurrent questions, failures leave the previous index served, restarts pick up what an
interrupted update left; the Updater's merging; the corpus watcher and its debouncer."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml

from qa_support import (
    DEV_QUESTIONS,
    WS_SEGMENTER_ID,
    good_article,
    open_ws,
    with_cache,
    write_article,
    write_jsonl_corpus,
)
from retrieval.errors import CorpusError
from retrieval.index.store import compat_key, load_last_good
from retrieval.index.update import merge
from retrieval.updates import changes as changes_module
from retrieval.updates.changes import Change
from retrieval.updates.watch import CorpusWatcher, Debouncer, follow
from retrieval.updates.worker import Updater

BRIDGE = good_article(
    "Cầu Rồng", "Cầu Rồng ở Đà Nẵng dài 666 mét và phun lửa vào tối thứ bảy. Đây là cây cầu nổi tiếng."
)
BRIDGE_Q = "Cầu Rồng dài bao nhiêu mét?"
DEV = (
    [item["question"] for item in yaml.safe_load(DEV_QUESTIONS.read_text(encoding="utf-8"))]
    if DEV_QUESTIONS.is_file()
    else []
)


def arrays_of(index) -> dict[str, np.ndarray]:
    """Every saved array of ``index``; an updated index's changes folded in first (merge: the arrays a
    rebuild of its corpus gives, tests/test_update.py; its scores equal a rebuild's before that too)."""
    if index.changes is not None:
        index = merge(index)
    meta, arrays = index.arrays()
    return {"meta": json.dumps(meta, sort_keys=True)} | arrays


def same_index(a, b) -> bool:
    x, y = arrays_of(a), arrays_of(b)
    return x.keys() == y.keys() and all(
        x[k] == y[k] if k == "meta" else np.array_equal(np.asarray(x[k]), np.asarray(y[k])) for k in x
    )


def fresh_build(cfg, corpus: Path, tmp: Path):
    """The index a full build of ``corpus`` gives now (another cache folder)."""
    return open_ws(with_cache(cfg, tmp), corpus, rebuild=True).index


@pytest.fixture
def service(cfg, seed_copy):
    return open_ws(cfg, seed_copy)


def test_an_added_file_is_answerable_and_equals_a_full_rebuild(service, cfg, seed_copy, tmp_path):
    assert not service.answer(BRIDGE_Q).answered
    path = write_article(seed_copy, "sub/cau_rong.txt", BRIDGE)
    report = service.update(Change.of([path]))
    assert [(s.doc_id, s.title, s.sentences) for s in report.added] == [("sub/cau_rong", "Cầu Rồng", 2)]
    assert not report.replaced and not report.removed and report.saved
    assert (report.articles, report.sentences - report.sentences_before) == (6, 2)
    assert service.answer(BRIDGE_Q).answers[0].doc_id == "sub/cau_rong"
    assert service.generation == 1
    assert same_index(service.index, fresh_build(cfg, seed_copy, tmp_path / "other"))
    # The saved file is the new index: the next start loads it without building.
    again = open_ws(cfg, seed_copy)
    assert again.info.reason == "loaded" and len(again.articles) == 6


def test_changed_and_deleted_files(service, cfg, seed_copy, tmp_path):
    first = sorted(seed_copy.glob("*.txt"))[0]
    first.write_text(BRIDGE, encoding="utf-8")
    second = sorted(seed_copy.glob("*.txt"))[1]
    second.unlink()
    report = service.update(Change.of([first, second]))
    assert [s.doc_id for s in report.replaced] == [first.stem]
    assert report.removed == (second.stem,) and not report.added
    assert service.answer(BRIDGE_Q).answers[0].doc_id == first.stem
    assert same_index(service.index, fresh_build(cfg, seed_copy, tmp_path / "other"))


def test_only_the_changed_files_are_read_and_segmented(service, seed_copy, monkeypatch):
    read, segmented = [], []
    real_read, real_segment = changes_module.read_files, service._segment

    def spy_read(root, files, ids, *args, **kwargs):
        read.extend(files)
        return real_read(root, files, ids, *args, **kwargs)

    def spy_segment(articles, prune):
        if not prune:
            segmented.extend(a.doc_id for a in articles)
        return real_segment(articles, prune)

    monkeypatch.setattr(changes_module, "read_files", spy_read)
    monkeypatch.setattr(service, "_segment", spy_segment)
    path = write_article(seed_copy, "cau_rong.txt", BRIDGE)
    service.update(Change.of([path]))
    assert read == [path.resolve()] and segmented == ["cau_rong"]
    # The same file again, unchanged: read, not segmented, and the index stays.
    generation = service.generation
    report = service.update(Change.of([path]))
    assert not report.changed and service.generation == generation and segmented == ["cau_rong"]


def test_a_file_whose_doc_id_changes_is_read_again(service, seed_copy):
    write_article(seed_copy, "a.txt", BRIDGE)
    service.update(Change.of([seed_copy / "a.txt"]))
    assert "a" in {a.doc_id for a in service.articles}
    other = write_article(seed_copy, "a.md", good_article("Hồ Gươm", "Hồ Gươm nằm ở trung tâm Hà Nội và có tháp Rùa."))
    report = service.update(Change.of([other]))  # a.txt is now "a.txt", a.md "a.md": a.txt was not named
    ids = {a.doc_id for a in service.articles}
    assert {"a.txt", "a.md"} <= ids and "a" not in ids
    assert report.removed == ("a",) and {s.doc_id for s in report.added} == {"a.txt", "a.md"}


def test_an_unreadable_file_keeps_its_previous_article(service, seed_copy, caplog):
    path = write_article(seed_copy, "cau_rong.txt", BRIDGE)
    service.update(Change.of([path]))
    path.write_bytes(b"")  # a copy in progress, an editor that truncated the file
    with caplog.at_level(logging.WARNING):
        report = service.update(Change.of([path]))
    assert not report.changed and [Path(s.origin).name for s in report.skipped] == ["cau_rong.txt"]
    assert service.answer(BRIDGE_Q).answered
    assert any("cau_rong.txt" in r.getMessage() for r in caplog.records)
    path.unlink()  # only deleting the file takes its article out
    assert service.update(Change.of([path])).removed == ("cau_rong",)


def test_a_new_unreadable_file_changes_nothing(service, seed_copy):
    path = write_article(seed_copy, "anh.txt", b"\x89PNG\r\n\x1a\n" + bytes(64))
    before = service.index
    report = service.update(Change.of([path]))
    assert not report.changed and service.index is before


def test_a_failed_update_leaves_the_previous_index(service, seed_copy, monkeypatch):
    before = service.index
    path = write_article(seed_copy, "cau_rong.txt", BRIDGE)

    def broken(*args, **kwargs):
        raise MemoryError("out of memory while building")

    monkeypatch.setattr("retrieval.service.apply_changes", broken)
    with pytest.raises(MemoryError):
        service.update(Change.of([path]))
    assert service.index is before and service.generation == 0
    assert not service.answer(BRIDGE_Q).answered
    monkeypatch.undo()
    assert service.update(Change.of([path])).added  # the next try works


def test_removing_every_file_is_refused(service, seed_copy):
    files = sorted(seed_copy.glob("*.txt"))
    for f in files:
        f.unlink()
    with pytest.raises(CorpusError, match="no loadable article"):
        service.update(Change.of(files))
    assert len(service.articles) == 5


def test_a_rescan_finds_what_changed_and_is_cheap_when_nothing_did(service, seed_copy):
    assert not service.update(Change.everything()).changed
    write_article(seed_copy, "cau_rong.txt", BRIDGE)
    assert [s.doc_id for s in service.update(Change.everything()).added] == ["cau_rong"]


def test_a_jsonl_corpus_is_read_again_when_it_changes(cfg, tmp_path):
    path = write_jsonl_corpus(tmp_path / "corpus.jsonl")
    service = open_ws(cfg, path)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records[0]["text"] = "Cầu Rồng ở Đà Nẵng dài 666 mét và phun lửa vào tối thứ bảy."
    del records[1]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    report = service.update(Change.of([path]))
    assert [s.doc_id for s in report.replaced] == [records[0]["id"]] and len(report.removed) == 1
    assert service.answer(BRIDGE_Q).answered


def test_the_swap_is_safe_under_concurrent_questions(service, seed_copy):
    """Questions asked from several threads while updates add and remove a file: every answer is
    the old index's or the new one's, none fails."""
    questions = [BRIDGE_Q, "Đại sứ Mỹ tại Việt Nam tên là gì?", "Hà Nội có bao nhiêu dân?"]
    without = [service.answer(q) for q in questions]
    path = write_article(seed_copy, "cau_rong.txt", BRIDGE)
    service.update(Change.of([path]))
    with_it = [service.answer(q) for q in questions]
    assert with_it[0].answered and not without[0].answered
    stop = threading.Event()

    def churn() -> int:
        n = 0
        while not stop.is_set():
            if path.exists():
                path.unlink()
            else:
                write_article(seed_copy, "cau_rong.txt", BRIDGE)
            service.update(Change.of([path]))
            n += 1
        return n

    def asking(i: int) -> bool:
        q = i % len(questions)
        got = service.answer(questions[q])
        return got in (without[q], with_it[q])

    with ThreadPoolExecutor(max_workers=5) as pool:
        updates = pool.submit(churn)
        results = list(pool.map(asking, range(600)))
        stop.set()
        assert updates.result() >= 3
    assert all(results)


def test_a_stale_saved_index_is_served_then_brought_up_to_date(cfg, seed_copy):
    open_ws(cfg, seed_copy)
    write_article(seed_copy, "cau_rong.txt", BRIDGE)  # added while the bot was stopped
    service = open_ws(cfg, seed_copy, stale_ok=True)
    assert service.info.stale and not service.info.rebuilt and len(service.articles) == 5
    assert service.update(Change.everything()).added
    assert service.answer(BRIDGE_Q).answered
    assert open_ws(cfg, seed_copy).info.reason == "loaded"
    # Without stale_ok the out-of-date index is rebuilt, as always.
    write_article(seed_copy, "ho.txt", good_article("Hồ Gươm", "Hồ Gươm có tháp Rùa ở giữa hồ."))
    assert open_ws(cfg, seed_copy).info.rebuilt


def test_a_killed_update_leaves_the_old_or_the_new_saved_index(cfg, seed_copy, monkeypatch):
    """The saved index is replaced whole: after an update was interrupted at any point the file on disk
    is the old index or the new one (never a mix), and the next start finds the change."""
    service = open_ws(cfg, seed_copy)
    old_ids = {a.doc_id for a in service.articles}
    path = write_article(seed_copy, "cau_rong.txt", BRIDGE)

    def killed(target: Path, *parts: bytes) -> None:  # dies after writing the temporary file, before the rename
        with open(target.with_name(target.name + ".killed.tmp"), "wb") as fh:
            for part in parts:
                fh.write(part)
        raise SystemExit("killed")

    monkeypatch.setattr("retrieval.index.store.write_atomically", killed)
    with pytest.raises(SystemExit):
        service.update(Change.of([path]))
    monkeypatch.undo()
    saved = load_last_good(service.info.path, compat_key(cfg, WS_SEGMENTER_ID))
    assert {a.doc_id for a in saved.articles} == old_ids
    restarted = open_ws(cfg, seed_copy, stale_ok=True)
    assert restarted.info.stale
    assert [s.doc_id for s in restarted.update(Change.everything()).added] == ["cau_rong"]


# --- The Updater ---------------------------------------------------------------------------


class SlowService:
    """Records the changes it is given; each update takes ``seconds``; fails when asked to."""

    def __init__(self, seconds: float = 0.2) -> None:
        self.seconds = seconds
        self.calls: list[Change] = []
        self.fail = False

    def update(self, change: Change):
        self.calls.append(change)
        time.sleep(self.seconds)
        if self.fail:
            raise OSError("disk full")
        from retrieval.updates.changes import UpdateReport

        return UpdateReport(articles=len(self.calls))


def test_updater_merges_the_changes_that_wait(tmp_path):
    service = SlowService()
    updater = Updater(service)
    try:
        first = updater.submit(Change.of([tmp_path / "a"]))
        time.sleep(0.05)  # the first update is running
        rest = [updater.submit(Change.of([tmp_path / n])) for n in "bcd"]
        assert first.result(5).articles == 1
        assert {f.result(5).articles for f in rest} == {2}
        assert service.calls[1].paths == {tmp_path / n for n in "bcd"}
        everything = updater.submit(Change.everything() | Change.of([tmp_path / "e"]))
        assert everything.result(5) and service.calls[-1].rescan
        assert updater.idle()
    finally:
        updater.close()


def test_updater_failure_is_one_line_and_the_error_goes_to_the_future(tmp_path, caplog):
    service = SlowService(0.0)
    service.fail = True
    updater = Updater(service)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(OSError):
            updater.submit(Change.of([tmp_path / "a"])).result(5)
        lines = [r for r in caplog.records if r.name == "retrieval.updates.worker"]
        assert len(lines) == 1 and "disk full" in lines[0].getMessage() and "previous" in lines[0].getMessage()
        service.fail = False
        assert updater.submit(Change.of([tmp_path / "a"])).result(5)
    finally:
        updater.close()
    with pytest.raises(RuntimeError):
        updater.submit(Change.everything()).result(1)


# --- The watcher ---------------------------------------------------------------------------


def test_debouncer_hands_out_a_path_once_it_is_quiet():
    now = [0.0]
    debouncer = Debouncer(1.0, clock=lambda: now[0])
    a, b = Path("/c/a"), Path("/c/b")
    debouncer.add([a])
    now[0] = 0.6
    debouncer.add([a, b])  # saved again: its quiet period starts again
    now[0] = 1.5
    assert debouncer.due() == set()
    now[0] = 1.6
    assert debouncer.due() == {a, b}
    assert debouncer.due() == set() and len(debouncer) == 0


class Collected:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.lock = threading.Lock()

    def __call__(self, change: Change) -> None:
        with self.lock:
            self.changes.append(change)

    def paths(self) -> set[Path]:
        with self.lock:
            return set().union(*(c.paths for c in self.changes)) if self.changes else set()


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("polling", [False, True])
def test_watcher_reports_settled_files_and_ignores_hidden_ones(tmp_path, polling):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    seen = Collected()
    # A quiet period ten times the pause between saves: a loaded machine must not split them.
    watcher = CorpusWatcher(folder.resolve(), seen, 1.0, force_polling=polling).start()
    try:
        target = folder / "sub" / "a.txt"
        for i in range(5):  # an editor saving again and again: one change, once it has settled
            target.write_text(f"version {i}")
            time.sleep(0.1)
        (folder / ".a.txt.swp").write_text("editor")
        (folder / ".hidden").mkdir()
        (folder / ".hidden" / "b.txt").write_text("x")
        wait_for(lambda: seen.paths())
        time.sleep(1.5)
        assert seen.paths() == {target.resolve()}
        assert len(seen.changes) == 1
    finally:
        watcher.stop()


def test_watcher_follows_a_single_file_corpus(tmp_path):
    path = write_jsonl_corpus(tmp_path / "corpus.jsonl")
    seen = Collected()
    watcher = CorpusWatcher(path.resolve(), seen, 0.2).start()
    try:
        (tmp_path / "other.txt").write_text("not the corpus")
        tmp = tmp_path / "corpus.jsonl.new"
        tmp.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        tmp.replace(path)  # an editor's atomic save
        wait_for(lambda: path.resolve() in seen.paths())
        time.sleep(0.4)
        assert seen.paths() == {path.resolve()}
    finally:
        watcher.stop()


def test_follow_keeps_the_service_current(cfg, seed_copy):
    cfg = with_cache(cfg, cfg.cache_dir, watch_debounce_seconds=0.3)
    service = open_ws(cfg, seed_copy)
    following = follow(service, cfg)
    try:
        started = time.monotonic()
        shutil.copy(seed_copy / sorted(p.name for p in seed_copy.glob("*.txt"))[0], seed_copy / "copy.txt")
        write_article(seed_copy, "cau_rong.txt", BRIDGE)
        wait_for(lambda: service.answer(BRIDGE_Q).answered)
        assert time.monotonic() - started < 5
        (seed_copy / "cau_rong.txt").unlink()
        wait_for(lambda: not service.answer(BRIDGE_Q).answered)
    finally:
        following.close()
    with_watch_off = with_cache(cfg, cfg.cache_dir, watch=False)
    following = follow(service, with_watch_off)
    try:
        assert following.watcher is None
    finally:
        following.close()


def test_updates_take_the_change_without_a_rebuild(service, cfg, seed_copy, tmp_path, monkeypatch):
    """Adding, replacing and deleting files never rebuilds: the served index is the saved one plus its
    changes (saved beside it), and it answers as a fresh build of the same folder does."""

    def no_rebuild(*args, **kwargs):
        raise AssertionError("an update rebuilt the index")

    monkeypatch.setattr("retrieval.service.build_index", no_rebuild)
    files = sorted(seed_copy.glob("*.txt"))
    added = write_article(seed_copy, "cau_rong.txt", BRIDGE)
    files[0].write_text(
        good_article("Hồ Gươm", "Hồ Gươm nằm ở trung tâm Hà Nội và có Tháp Rùa ở giữa hồ."), encoding="utf-8"
    )
    files[1].unlink()
    report = service.update(Change.of([added, files[0], files[1]]))
    assert (len(report.added), len(report.replaced), len(report.removed)) == (1, 1, 1) and report.saved
    assert service.index.changes is not None
    monkeypatch.undo()
    rebuilt = open_ws(with_cache(cfg, tmp_path / "other"), seed_copy, rebuild=True)
    for question in (BRIDGE_Q, "Tháp Rùa ở đâu?", *DEV):
        got, want = service.answer(question), rebuilt.answer(question)
        assert [(a.doc_id, a.quote, a.score) for a in got.answers] == [
            (a.doc_id, a.quote, a.score) for a in want.answers
        ]
    again = open_ws(cfg, seed_copy)
    assert again.info.reason == "loaded" and again.index.changes is not None
    assert sorted(a.doc_id for a in again.articles) == sorted(a.doc_id for a in rebuilt.articles)


def test_large_changes_are_merged_in_another_process(service, cfg, seed_copy, tmp_path):
    """Changes that reach merge_sentences start a merge in another process; the next update serves its
    new base with the changes made meanwhile, and the saved files stand for the corpus."""
    service.merge_sentences = 1
    first = write_article(seed_copy, "cau_rong.txt", BRIDGE)
    service.update(Change.of([first]))
    merging = service._merge
    assert merging is not None
    assert merging.process.wait(timeout=120) == 0
    second = write_article(
        seed_copy, "ho_guom.txt", good_article("Hồ Gươm", "Hồ Gươm nằm ở trung tâm Hà Nội và có Tháp Rùa ở giữa hồ.")
    )
    service.update(Change.of([second]))
    changes = service.index.changes
    assert changes is not None and [a.doc_id for a in changes.added] == ["ho_guom"]  # the bridge is in the base
    assert same_index(service.index, fresh_build(cfg, seed_copy, tmp_path / "other"))
    if service._merge is not None:
        service._merge.process.wait(timeout=120)
    again = open_ws(cfg, seed_copy)
    assert again.info.reason == "loaded" and len(again.articles) == 7
    assert again.answer(BRIDGE_Q).answers[0].doc_id == "cau_rong"


def test_watcher_without_watchfiles_logs_one_error_and_stops(tmp_path, monkeypatch, caplog):
    """A broken install (watchfiles missing) is one error line naming the fix; start() returns."""
    monkeypatch.setitem(__import__("sys").modules, "watchfiles", None)
    with caplog.at_level(logging.ERROR, logger="retrieval.updates.watch"):
        watcher = CorpusWatcher(tmp_path, Collected(), 0.2).start(timeout=5.0)
        watcher.stop()
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "pip install watchfiles" in caplog.records[0].getMessage()
