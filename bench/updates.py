"""How fast a change to the corpus is answerable, and what answering costs meanwhile (issue #23).

For each size, a folder corpus of generated Vietnamese articles (bench/scale.py's generator, one
.txt file per article) is built, then AnswerService.update is timed for one article added, one
replaced and one deleted (each update's stages: reading and segmenting the change, the index,
the save), while another thread asks the corpus's questions without pause: their latency during
the updates against the same questions with no update running shows that answering never waits.

    flock /tmp/heavy.lock .venv/bin/python bench/updates.py --sizes 10k,100k

Until the incremental index (retrieval.index.update.apply_changes) lands, AnswerService._apply
rebuilds the BM25 fields from the segmentation cache: the "index" stage grows with the corpus,
the "read and segment" stage with the change only. This script measures both without change once
it does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import (  # noqa: E402
    build_lexicon, ensure_corpus, make_questions, parse_size, percentile, real_texts, size_label, syllable_inventory,
)
from retrieval.config import load_config  # noqa: E402
from retrieval.service import AnswerService  # noqa: E402
from retrieval.updates.changes import Change  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NEW_ARTICLE = ("Trạm bơm Yên Sở\n\nTrạm bơm Yên Sở có công suất 90 mét khối mỗi giây. "
               "Trạm bảo vệ phía nam Hà Nội khỏi ngập úng trong mùa mưa bão.\n")
NEW_QUESTION = "Trạm bơm Yên Sở có công suất bao nhiêu?"


def folder_corpus(jsonl: Path, folder: Path) -> None:
    """One .txt file per JSONL article (title line, blank line, text)."""
    if folder.is_dir() and any(folder.iterdir()):
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(jsonl, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            (folder / f"{record['id']}.txt").write_text(f"{record['title']}\n\n{record['text']}\n", encoding="utf-8")


class Asker:
    """Asks questions one after another on a thread of its own, recording each latency (ms)."""

    def __init__(self, service: AnswerService, questions: list[str]) -> None:
        self.service, self.questions = service, questions
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            t0 = time.perf_counter()
            self.service.answer(self.questions[i % len(self.questions)])
            self.latencies.append((time.perf_counter() - t0) * 1000)
            i += 1

    def __enter__(self) -> Asker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def summary(latencies: list[float]) -> dict:
    return {"questions": len(latencies), "p50_ms": round(percentile(latencies, 50), 2),
            "p95_ms": round(percentile(latencies, 95), 2), "max_ms": round(max(latencies, default=0.0), 2)}


def measure(size: int, workdir: Path, inventory) -> dict:
    label = size_label(size)
    lex = build_lexicon(inventory, size, 1)
    jsonl = workdir / f"corpus-{label}.jsonl"
    ensure_corpus(jsonl, size, 1, lex)
    folder = workdir / f"folder-{label}"
    folder_corpus(jsonl, folder)
    (folder / "tram_bom.txt").unlink(missing_ok=True)
    questions = [q.text for q in make_questions(lex, size, 1, 200)]
    cfg = dataclasses.replace(load_config(REPO / "config.yaml"), cache_dir=workdir / f"cache-{label}")
    shutil.rmtree(cfg.cache_dir, ignore_errors=True)
    t0 = time.perf_counter()
    service = AnswerService.open(cfg, folder)
    build_s = time.perf_counter() - t0
    for q in questions[:20]:
        service.answer(q)  # warm
    with Asker(service, questions) as idle:
        time.sleep(3.0)
    path = folder / "tram_bom.txt"
    steps = []
    with Asker(service, questions) as busy:
        for what in ("add", "replace", "delete"):
            if what == "delete":
                path.unlink()
            else:
                path.write_text(NEW_ARTICLE if what == "add" else NEW_ARTICLE.replace("90", "95"), encoding="utf-8")
            started = time.perf_counter()
            report = service.update(Change.of([path]))
            seconds = time.perf_counter() - started
            answered = service.answer(NEW_QUESTION).answered
            steps.append({"change": what, "seconds": round(seconds, 3), "answerable_after": answered,
                          "stages_s": {name: round(s, 3) for name, s in report.stages}})
    service.close()
    return {"size": label, "sentences": len(service.index.sentences), "articles": len(service.index.articles),
            "build_s": round(build_s, 1), "updates": steps, "answering_idle": summary(idle.latencies),
            "answering_during_updates": summary(busy.latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k", help="sentences per corpus, comma-separated (10k, 100k)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-updates"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    inventory = syllable_inventory(real_texts())
    results = [measure(parse_size(s), args.workdir, inventory) for s in args.sizes.split(",")]
    print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
