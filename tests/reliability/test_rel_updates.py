"""Updates killed half-way (issue #23): the saved index is the previous one or the new one, never a
mix, and the change is picked up at the next start.

1. the real bot process, following a copy of the seeds, is killed (SIGKILL) while it segments a large
   document dropped into the folder; the saved index is the previous one, and after the restart the
   previous index answers at once while the document is indexed in the background (timed);
2. a process that updates the index again and again (a file added, then deleted) is killed at random
   moments, 25 times: each time the saved file is, array for array, one of the two indexes a full
   build gives, and a restart brings it up to date with the folder.

Figures go to the "reliability" summary. Every wait is bounded.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rel_support import replies_by_update, report, wait_until

from qa_support import WS_SEGMENTER_ID, open_ws, with_cache
from retrieval.config import load_config
from retrieval.index.store import compat_key, index_path, load_last_good
from retrieval.index.update import merge
from retrieval.updates.changes import Change
from tg_support import REPO, SEEDS, new_id, private_update, start_bot

FACT = "Trạm bơm Yên Sở có công suất 90 mét khối mỗi giây và bảo vệ phía nam Hà Nội khỏi ngập úng."
FACT_Q = "Trạm bơm Yên Sở có công suất bao nhiêu?"
SEED_Q = "Đại sứ Mỹ tại Việt Nam tên là gì?"


TEMPLATES = (
    "Phường {a} hoàn thành {i} hạng mục cải tạo đường ống thoát nước trong tháng {m} năm {y}.",
    "Tổ dân phố số {a} trồng thêm {i} cây xanh dọc tuyến đường ven hồ vào sáng chủ nhật thứ {m}.",
    "Ban quản lý dự án quận {a} nghiệm thu {i} mét đường dây điện ngầm trước kỳ hạn {m} tuần.",
    "Trường tiểu học số {a} tiếp nhận {i} bộ máy tính do doanh nghiệp tài trợ trong năm học {y}.",
)


def large_document(sentences: int) -> str:
    """A long article (distinct numbered sentences: segmenting it takes seconds) that holds FACT."""
    body = [TEMPLATES[i % 4].format(a=i % 97 + 1, i=i + 10, m=i % 12 + 1, y=2000 + i % 25) for i in range(sentences)]
    body.insert(sentences // 2, FACT)
    paragraphs = [" ".join(body[i : i + 5]) for i in range(0, len(body), 5)]
    return "Báo cáo tổng hợp về hạ tầng đô thị\n\n" + "\n\n".join(paragraphs) + "\n"


def drop(folder: Path, name: str, text: str) -> Path:
    """Write a whole file at once (a hidden temporary file renamed into place, as a copy tool does)."""
    tmp = folder / f".{name}.part"
    tmp.write_text(text, encoding="utf-8")
    path = folder / name
    tmp.replace(path)
    return path


def ask(api, uid: int, question: str) -> str:
    update = api.push(private_update(uid, question))
    wait_until(lambda: replies_by_update(api, [update])[update["update_id"]], 20, "an answer")
    return replies_by_update(api, [update])[update["update_id"]][0].params["text"]


def test_sigkill_during_an_update_then_restart(fake_api, tmp_path):
    api = fake_api
    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    shutil.copytree(SEEDS, corpus)
    settings = {"watch_debounce_seconds": 0.3}
    bot = start_bot(
        api,
        tmp_path / "first",
        cache,
        corpus=corpus,
        settings=settings,
        telegram={"user_rate_limit": 1000, "max_messages_per_second": 0},
    )
    uid = new_id()
    try:
        assert "Ted Osius" in ask(api, uid, SEED_Q)
        wait_until(lambda: "following" in bot.log_text(), 10, "the watch")
        drop(corpus, "bao_cao_ha_tang.txt", large_document(6000))
        wait_until(lambda: "segmenting 1 of 1 articles" in bot.log_text(), 20, "the update to start segmenting")
        bot.proc.send_signal(signal.SIGKILL)
        bot.proc.wait(timeout=10)
        during = bot.log_text()
    finally:
        if bot.proc.poll() is None:
            bot.proc.kill()
    assert "index updated" not in during  # killed in the middle of it
    cfg = load_config(tmp_path / "first" / "config.yaml")
    saved = load_last_good(index_path(cfg, corpus.resolve()), compat_key(cfg, f"underthesea-{_underthesea_version()}"))
    assert {a.doc_id for a in saved.articles} == {p.stem for p in SEEDS.glob("*.txt")}  # the previous index, whole

    restarted_at = time.monotonic()
    bot = start_bot(
        api,
        tmp_path / "second",
        cache,
        corpus=corpus,
        settings=settings,
        telegram={"user_rate_limit": 1000, "max_messages_per_second": 0},
    )
    try:
        ready = time.monotonic() - restarted_at
        first = time.monotonic()
        assert "Ted Osius" in ask(api, uid, SEED_Q)
        first_answer = time.monotonic() - first
        assert "while it is brought up to date in the background" in bot.log_text()
        while "90 mét khối" not in ask(api, uid, FACT_Q):
            assert time.monotonic() - restarted_at < 60, bot.log_text()[-2000:]
            time.sleep(0.2)
        picked_up = time.monotonic() - restarted_at
        assert "Traceback" not in bot.log_text()
    finally:
        bot.terminate()
    report(
        f"kill -9 during an update (segmenting a 6,000-sentence document dropped into the folder): the saved "
        f"index was the previous one, whole; after the restart the bot polled in {ready:.1f} s serving it (a "
        f"seed question answered {first_answer:.2f} s later), and the document was answerable {picked_up:.1f} s "
        "after the restart (indexed in the background)"
    )


def _underthesea_version() -> str:
    from retrieval.text.segment import underthesea_version

    return underthesea_version()


DRIVER = """
import sys, time
sys.path.insert(0, "tests")
from pathlib import Path
from qa_support import open_ws, with_cache, good_article
from retrieval.config import load_config
from retrieval.updates.changes import Change
corpus, cache = Path(sys.argv[1]), Path(sys.argv[2])
cfg = with_cache(load_config("config.yaml"), cache)
service = open_ws(cfg, corpus, stale_ok=True)
service.update(Change.everything())
path = corpus / "them.txt"
print("ready", flush=True)
while True:
    if path.exists():
        path.unlink()
    else:  # whole or not at all: a kill never leaves half a file
        tmp = corpus / ".them.txt.part"
        tmp.write_text(good_article("Cầu Rồng", "Cầu Rồng dài 666 mét. Cầu phun lửa vào tối thứ bảy."),
                       encoding="utf-8")
        tmp.replace(path)
    service.update(Change.of([path]))
"""


def _arrays(index) -> dict:
    if index.changes is not None:  # an updated index: its changes folded in (a rebuild's arrays)
        index = merge(index)
    meta, arrays = index.arrays()
    return {"meta": json.dumps(meta, sort_keys=True)} | {k: np.asarray(v) for k, v in arrays.items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] if k == "meta" else np.array_equal(a[k], b[k]) for k in a)


def test_updates_killed_at_random_moments_leave_a_whole_index(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    for i in range(120):  # a larger corpus: saving takes a visible part of each update
        (corpus / f"bai_{i:03d}.txt").write_text(
            f"Bài số {i}\n\nPhường {i} tổ chức {i + 3} buổi tập huấn chuyển đổi số. Có {i * 7} người dân tham dự "
            f"buổi tập huấn thứ {i}. Cán bộ phường {i} hướng dẫn cài đặt ứng dụng dịch vụ công.\n",
            encoding="utf-8",
        )
    cfg = with_cache(load_config(REPO / "config.yaml"), tmp_path / "cache")
    references = {}
    for present in (False, True):
        path = corpus / "them.txt"
        if present:
            from qa_support import good_article

            path.write_text(
                good_article("Cầu Rồng", "Cầu Rồng dài 666 mét. Cầu phun lửa vào tối thứ bảy."), encoding="utf-8"
            )
        references[present] = _arrays(open_ws(with_cache(cfg, tmp_path / f"ref-{present}"), corpus, rebuild=True).index)
    (corpus / "them.txt").unlink()
    open_ws(cfg, corpus)
    rng = random.Random(23)
    outcomes = {False: 0, True: 0}
    for _ in range(25):
        proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(corpus), str(tmp_path / "cache")],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.6))
        finally:
            proc.kill()
            proc.wait(timeout=10)
        saved = _arrays(load_last_good(index_path(cfg, corpus.resolve()), compat_key(cfg, WS_SEGMENTER_ID)))
        matches = [present for present, ref in references.items() if _same(saved, ref)]
        assert len(matches) == 1, "the saved index is neither the one without the file nor the one with it"
        outcomes[matches[0]] += 1
        restarted = open_ws(cfg, corpus, stale_ok=True)
        restarted.update(Change.everything())
        assert _same(_arrays(restarted.index), references[(corpus / "them.txt").exists()])
    assert all(outcomes.values()), outcomes  # both outcomes were seen
    report(
        f"updates killed at 25 random moments (a 125-article folder, a file added and deleted in a loop): the "
        f"saved index was each time one of the two full builds, array for array (without the file "
        f"{outcomes[False]}, with it {outcomes[True]}); each restart brought it up to date with the folder"
    )
