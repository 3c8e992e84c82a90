"""How soon a document dropped into the corpus folder is answerable, and what answering costs
meanwhile (issue #23).

For each size, a folder corpus of generated Vietnamese articles (bench/scale.py's generator, one
.txt file per article) is indexed once (kept in ``--workdir`` for the next run), then the bot's
own machinery follows it as the console and Telegram do (``retrieval.updates.watch.follow``:
the file watcher, its debounce, the updater thread, ``AnswerService.update`` and the incremental
index). Then, while another thread asks the corpus's questions without pause:

* ``--updates`` changes land in the folder one after the other (written beside it and renamed
  in, as a copy does): a new article, a new version of one added before (its fact changed), and
  every fifth change a deletion. Each is timed **from the rename to the moment a question about
  it is answered from it** (the new fact quoted; after a deletion, no longer quoted), asked
  each time the served index changes. This includes the debounce (``watch_debounce_seconds``,
  1 s by default).
* answering latency during the updates against the same questions with no update running
  (p50/p95 over questions), and no question may fail;
* the process's resident memory (VmRSS sampled every 20 ms) during the updates against idle.

Then ``python -m bot add FILE`` of one more article into the saved index is timed as a new
process (load, read, segment, apply, save), and the saved index is checked: a fresh process
loads it and answers from the added article.

    flock /tmp/heavy.lock .venv/bin/python bench/updates.py --sizes 10k,1M --write

``--write`` puts the table in docs/updates.md (between its "measured" markers).

Past 400 lines because the corpus, the changes, the background load and the report are one
measurement whose parts must agree on names and timings.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale_corpus import (
    build_lexicon,
    ensure_corpus,
    make_questions,
    parse_size,
    real_texts,
    size_label,
    syllable_inventory,
)
from bench.scale_timing import percentile
from retrieval.config import load_config
from retrieval.service import AnswerService
from retrieval.updates.watch import follow

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "updates.md"
BEGIN, END = "<!-- measured: begin (bench/updates.py --write) -->", "<!-- measured: end -->"
# Pumping stations with made-up names (two syllables each, never in the generated corpus's facts).
STATIONS = (
    "Yên Sở",
    "Đông Mỹ",
    "Liên Mạc",
    "Cổ Đông",
    "Phú Đô",
    "Vân Nội",
    "Hồng Vân",
    "Tả Thanh Oai",
    "Đại Áng",
    "Ngọc Hồi",
    "Kim Bài",
    "Phương Tú",
    "Tráng Việt",
    "Hạ Mỗ",
    "Tân Hội",
    "Sen Hồ",
    "Đan Hoài",
    "Thuận Thành",
    "Phù Đổng",
    "Xuân Thu",
    "Lại Yên",
    "Sơn Đồng",
    "Cát Quế",
    "Đức Giang",
)


def folder_corpus(jsonl: Path, folder: Path) -> None:
    """One .txt file per JSONL article (title line, blank line, text)."""
    if folder.is_dir() and any(folder.iterdir()):
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(jsonl, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            (folder / f"{record['id']}.txt").write_text(f"{record['title']}\n\n{record['text']}\n", encoding="utf-8")


def station_article(name: str, capacity: int) -> str:
    return (
        f"Trạm bơm {name}\n\nTrạm bơm {name} có công suất {capacity} mét khối mỗi giây. "
        f"Trạm bảo vệ vùng trũng quanh {name} khỏi ngập úng trong mùa mưa bão.\n"
    )


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Background:
    """Asks questions without pause on one thread (their latencies, failures) and samples the
    resident memory every 20 ms on another."""

    def __init__(self, service: AnswerService, questions: list[str]) -> None:
        self.service, self.questions = service, questions
        self.latencies: list[float] = []
        self.failures = 0
        self.rss: list[float] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._ask, daemon=True),
            threading.Thread(target=self._sample, daemon=True),
        ]

    def _ask(self) -> None:
        i = 0
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                self.service.answer(self.questions[i % len(self.questions)])
            except Exception:  # noqa: BLE001 - counted: the target is that none fails
                self.failures += 1
            self.latencies.append((time.perf_counter() - t0) * 1000)
            i += 1

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.rss.append(rss_mb())

    def __enter__(self) -> Background:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def summary(self) -> dict:
        return {
            "questions": len(self.latencies),
            "failed": self.failures,
            "p50_ms": round(percentile(self.latencies, 50), 2),
            "p95_ms": round(percentile(self.latencies, 95), 2),
            "max_ms": round(max(self.latencies, default=0.0), 2),
            "rss_mb_median": round(percentile(self.rss, 50), 1),
            "rss_mb_max": round(max(self.rss, default=0.0), 1),
        }


def land(folder: Path, name: str, text: str) -> float:
    """Write ``name`` as a copy would (a hidden temporary file renamed in); the time of the rename."""
    tmp = folder / f".{name}.part"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / name)
    return time.perf_counter()


def wait_until(check, timeout: float = 120.0) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def answered_after_update(service: AnswerService, check, timeout: float = 120.0) -> bool:
    """Wait until ``check()`` holds, asking it only when the served index has changed (reading
    the generation every 5 ms is free; asking every few ms would load the machine it measures)."""
    deadline = time.perf_counter() + timeout
    seen = -1
    while time.perf_counter() < deadline:
        generation = service.generation
        if generation != seen:
            seen = generation
            if check():
                return True
        time.sleep(0.005)
    return False


def quoted(service: AnswerService, doc_id: str, name: str, capacity: int) -> bool:
    result = service.answer(f"Trạm bơm {name} có công suất bao nhiêu mét khối mỗi giây?")
    return any(a.doc_id == doc_id and str(capacity) in a.quote for a in result.answers)


def gone(service: AnswerService, doc_id: str, name: str) -> bool:
    """No answer about station ``name`` quotes ``doc_id`` any more."""
    result = service.answer(f"Trạm bơm {name} có công suất bao nhiêu mét khối mỗi giây?")
    return not any(a.doc_id == doc_id for a in result.answers)


def run_changes(service: AnswerService, folder: Path, n: int) -> list[dict]:
    """``n`` changes landing in ``folder``: add, replace, ..., every fifth a deletion."""
    steps: list[dict] = []
    added: list[tuple[str, str]] = []  # (file name, station) added and still there
    for i in range(n):
        if i % 5 == 4 and added:
            file, name = added.pop(0)
            doc_id = file[:-4]
            os.remove(folder / file)
            t0 = time.perf_counter()
            ok = answered_after_update(service, functools.partial(gone, service, doc_id, name))
            what = "delete"
        elif i % 2 == 0 or not added:
            name = STATIONS[len(steps) % len(STATIONS)] + ("" if len(steps) < len(STATIONS) else f" {i}")
            file = f"tram_bom_{i:03d}.txt"
            capacity = 10 + i
            t0 = land(folder, file, station_article(name, capacity))
            ok = answered_after_update(service, functools.partial(quoted, service, file[:-4], name, capacity))
            added.append((file, name))
            what = "add"
        else:
            file, name = added[-1]
            capacity = 500 + i
            t0 = land(folder, file, station_article(name, capacity))
            ok = answered_after_update(service, functools.partial(quoted, service, file[:-4], name, capacity))
            what = "replace"
        seconds = time.perf_counter() - t0
        report = service.last_update
        steps.append(
            {
                "change": what,
                "answerable_s": round(seconds, 3),
                "ok": ok,
                "update_stages_s": {k: round(v, 3) for k, v in (report.stages if report else ())},
            }
        )
    return steps


def time_cli_add(cfg_path: Path, folder: Path, workdir: Path) -> dict:
    """``python -m bot add`` of one article (a new process), then a fresh process asking about it."""
    doc = workdir / "tram_bom_cli.txt"
    doc.write_text(station_article("Bát Tràng", 77), encoding="utf-8")
    (folder / doc.name).unlink(missing_ok=True)
    env = os.environ | {"PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    add = subprocess.run(
        [sys.executable, "-m", "bot", "add", str(doc), "--corpus", str(folder), "--config", str(cfg_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    add_s = time.perf_counter() - t0
    ask = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "ask",
            "Trạm bơm Bát Tràng có công suất bao nhiêu?",
            "--json",
            "--corpus",
            str(folder),
            "--config",
            str(cfg_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    answers = json.loads(ask.stdout)["answers"] if ask.returncode == 0 else []
    log_lines = (add.stderr + ask.stderr).splitlines()
    return {
        "add_s": round(add_s, 2),
        "add_rc": add.returncode,
        "answered_after_restart": any(a["doc_id"] == "tram_bom_cli" for a in answers),
        "rebuilt": any("building index" in line for line in log_lines),
    }


def measure(size: int, workdir: Path, inventory, n_updates: int) -> dict:
    label = size_label(size)
    lex = build_lexicon(inventory, size, 1)
    jsonl = workdir / f"corpus-{label}.jsonl"
    ensure_corpus(jsonl, size, 1, lex)
    folder = workdir / f"folder-{label}"
    folder_corpus(jsonl, folder)
    for stale in list(folder.glob("tram_bom_*.txt")) + list(folder.glob(".*.part")):
        stale.unlink()
    questions = [q.text for q in make_questions(lex, size, 1, 200)]
    cfg = dataclasses.replace(load_config(REPO / "config.yaml"), cache_dir=workdir / f"cache-{label}")
    cfg_path = workdir / f"config-{label}.yaml"
    cfg_path.write_text(yaml.safe_dump({"corpus": str(folder), "cache_dir": str(cfg.cache_dir)}), encoding="utf-8")
    # Built when needed by a process of its own (`bot ask` loads the saved index or builds and saves
    # it): the bot measured is one started on the saved index, as in production, without a build's memory.
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot", "ask", "Hà Nội", "--corpus", str(folder), "--config", str(cfg_path)],
        check=True,
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
    )
    index_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    service = AnswerService.open(cfg, folder)
    open_s = time.perf_counter() - t0
    opened = service.info.reason if service.info else ""
    for q in questions[:50]:
        service.answer(q)  # warm (compiled kernels, caches)
    with Background(service, questions) as idle:
        time.sleep(5.0)
    following = follow(service, cfg)
    wait_until(following.updater.idle, timeout=600)  # the start-up check of the whole folder
    try:
        with Background(service, questions) as busy:
            steps = run_changes(service, folder, n_updates)
    finally:
        following.close()
    service.close()
    sentences, articles = service.index.bm25.n_live, len(service.index.live_ids())
    del service
    cli = time_cli_add(cfg_path, folder, workdir)
    times = [s["answerable_s"] for s in steps]
    return {
        "size": label,
        "sentences": sentences,
        "articles": articles,
        "index_s": round(index_s, 1),
        "open_s": round(open_s, 1),
        "opened": opened,
        "debounce_s": cfg.watch_debounce_seconds,
        "updates": steps,
        "answerable_p50_s": round(percentile(times, 50), 2),
        "answerable_p95_s": round(percentile(times, 95), 2),
        "all_answerable": all(s["ok"] for s in steps),
        "idle": idle.summary(),
        "during_updates": busy.summary(),
        "cli_add": cli,
    }


def table(results: list[dict]) -> str:
    rows = [
        "| size | changes | landing → answerable p50 / p95 s | answering p95 idle → during (ms) | failed "
        "| RSS idle → max during (MB) | `bot add` one article, new process (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        i, d, c = r["idle"], r["during_updates"], r["cli_add"]
        rows.append(
            f"| {r['size']} ({r['sentences']:,} sentences) | {len(r['updates'])} | "
            f"{r['answerable_p50_s']} / {r['answerable_p95_s']} | {i['p95_ms']} → {d['p95_ms']} | "
            f"{d['failed']} | {i['rss_mb_median']:.0f} → {d['rss_mb_max']:.0f} | {c['add_s']} |"
        )
    return "\n".join(rows)


def write_doc(results: list[dict], command: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout
    body = (
        f"{BEGIN}\n`{command}` (library {commit.strip()}, {os.cpu_count()} CPUs; debounce "
        f"{results[0]['debounce_s']} s included):\n\n{table(results)}\n{END}"
    )
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + body + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k", help="sentences per corpus, comma-separated (10k, 100k, 1M)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-updates"))
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--write", action="store_true", help="put the table in docs/updates.md")
    parser.add_argument("--switch-interval", type=float, help="sys.setswitchinterval (s) for this process")
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    args.workdir.mkdir(parents=True, exist_ok=True)
    inventory = syllable_inventory(real_texts())
    results = []
    for s in args.sizes.split(","):
        results.append(measure(parse_size(s), args.workdir, inventory, args.updates))
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.write:
        write_doc(results, "bench/updates.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
