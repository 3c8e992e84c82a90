"""Incremental updates at scale (issue #23): apply added, replaced and removed articles to a saved
index of the scale benchmark's corpus while questions are being answered, and check the result
against a rebuild.

Usage (from the repository root; the index must be saved already, e.g. by bench/scale.py or by
opening the service once on the corpus with this cache folder)::

    .venv/bin/python bench/update.py --workdir /tmp/engine-scale --cache /tmp/engine-scale/cache-1M-inc \\
        --size 1M --updates 20 --queries 200 --json /tmp/update-1M.json

What is measured
----------------
* **idle**: ``service.answer`` of every question (p50/p95, ms; the segmenter's cache cleared
  before each, as a new question), and the process's resident memory (VmRSS) afterwards.
* **updates**: ``--updates`` changes one after the other, alternating a new article (appended
  to the JSONL corpus: the next line) and a new version of a random existing article (same id,
  same line), every fifth one a removal instead. Each is timed by stage: *segment* (the
  service's segmenter, on this thread), *apply* (:func:`retrieval.index.update.apply_changes`),
  *swap* (``service.use_index``), *save* (the changes file, after the swap); "answerable" is
  segment + apply + swap. A question made from the new article's text must then be answered
  from it.
* **during updates**: a second thread answers the questions in a loop while the updates run
  (``--pause`` seconds apart); their latencies (p50/p95) and the highest VmRSS sampled every
  20 ms (the peak is reset before, through /proc/self/clear_refs).
* **kill -9** (``--kill-rounds``): a writer process loads the saved index, then applies and
  saves one new article after another; it is killed at a random moment, and a fresh load
  (``load_index`` with the fingerprint of the last save it reported, and of the next) must give
  exactly one of those two states: the articles of that state, none of the other's.
* **spot check**: :func:`retrieval.index.update.merge` of the final index (the rebuild of the
  changed corpus from its stored words: build_index's arrays), then for each question the first
  stage's candidates and their base and fused scores per (doc_id, sentence of the article) of
  the updated index (compiled MaxScore, and the numpy pass) against the rebuild's numpy pass,
  and each field's N, average length and the IDFs of the question's terms.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import random
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.scale_corpus import (  # noqa: E402
    article_sizes,
    build_lexicon,
    generate_article,
    make_questions,
    parse_size,
    real_texts,
    size_label,
    syllable_inventory,
)
from bench.scale_timing import percentile  # noqa: E402
from retrieval.config import load_config  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ask_all(service, texts, out: list[float], stop: threading.Event | None = None) -> None:
    """Answer ``texts`` (in a loop until ``stop`` when given), appending each answer's ms to ``out``."""
    while True:
        for t in texts:
            if stop is not None and stop.is_set():
                return
            service.segmenter.terms.cache_clear()
            t0 = time.perf_counter()
            service.answer(t)
            out.append((time.perf_counter() - t0) * 1000)
        if stop is None:
            return


def summary(values) -> dict:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3) if values else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True, help="cache folder holding the saved index")
    ap.add_argument("--size", default="1M")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--updates", type=int, default=20)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between updates (default: %(default)s)")
    ap.add_argument("--no-spot-check", action="store_true")
    ap.add_argument("--kill-rounds", type=int, default=0, help="kill -9 rounds (default: %(default)s)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    from retrieval.index.segcache import segment_article
    from retrieval.index.store import changes_path, index_path, save_index
    from retrieval.index.update import apply_changes
    from retrieval.ingest.corpus import _article
    from retrieval.service import AnswerService

    size = parse_size(args.size)
    label = size_label(size)
    lex = build_lexicon(syllable_inventory(real_texts()), size, args.seed)
    corpus = args.workdir / f"corpus-{label}-seed{args.seed}.jsonl"
    cfg = dataclasses.replace(load_config(REPO / "config.yaml"), cache_dir=args.cache)
    path = index_path(cfg, corpus.resolve())
    changes_path(path).unlink(missing_ok=True)  # start from the saved base
    t0 = time.perf_counter()
    service = AnswerService.open(cfg, corpus)
    assert service.info is not None  # open() says how it obtained the index
    if service.info.reason != "loaded":
        raise SystemExit(f"the saved index was not loaded ({service.info.reason})")
    out: dict = {
        "size": label,
        "load_s": round(time.perf_counter() - t0, 2),
        "sentences": len(service.index.sentences),
        "articles": len(service.index.articles),
    }
    texts = [q.text for q in make_questions(lex, size, args.seed, args.queries)]
    service.answer(texts[0])
    if service.backend.uses_kernels(service.index) and not service.backend.wait_for_kernels(600):
        raise SystemExit("the compiled first stage did not load")
    idle: list[float] = []
    for _ in range(2):
        ask_all(service, texts, idle)
    out["idle_ask_ms"] = summary(idle[len(texts) :])  # the second round: pages touched, caches warm
    out["idle_rss_mb"] = round(rss_mb(), 1)

    # The changes: new articles (the next lines of the JSONL) and new versions of existing ones.
    sizes = article_sizes(size, args.seed)
    rng = random.Random(args.seed)
    next_line = len(sizes) + 1
    base_index = service.index
    fp = "bench-update"

    def make(number: int, doc_id: str, line: int, variant: int):
        art = generate_article(lex, args.seed + 1000 + variant, number, 30)
        return _article(doc_id, art.text, {"title": art.title}, f"{corpus}:{line}", cfg.ingest)

    stop = threading.Event()
    during: list[float] = []
    peak = [0.0]

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.02)

    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM
    asker = threading.Thread(target=ask_all, args=(service, texts, during, stop), daemon=True)
    sampler = threading.Thread(target=sample, daemon=True)
    asker.start()
    sampler.start()
    updates = []
    added_ids: list[str] = []
    removed_ids: set[str] = set()
    for u in range(args.updates):
        kind = "remove" if u % 5 == 4 else ("add" if u % 2 == 0 else "replace")
        record: dict = {"kind": kind}
        t_start = time.perf_counter()
        if kind == "remove":
            number = rng.randrange(len(sizes))
            doc_id = f"a{number:07d}"
            pairs, removed = [], [doc_id]
            removed_ids.add(doc_id)
            record["segment_s"] = 0.0
        else:
            if kind == "add":
                doc_id, line, number = f"new{u:04d}", next_line, 9_000_000 + u
                next_line += 1
                added_ids.append(doc_id)
            else:
                number = rng.randrange(len(sizes))
                doc_id, line = f"a{number:07d}", number + 1
            article = make(number, doc_id, line, u)
            t = time.perf_counter()
            seg = segment_article(service.segmenter, article.title, article.paragraphs)
            record["segment_s"] = time.perf_counter() - t
            record["sentences"] = len(seg.sentences)
            pairs, removed = [(article, seg)], []
        t = time.perf_counter()
        updated = apply_changes(service.index, pairs, removed)
        record["apply_s"] = time.perf_counter() - t
        t = time.perf_counter()
        service.use_index(updated)
        record["swap_s"] = time.perf_counter() - t
        record["answerable_s"] = time.perf_counter() - t_start
        t = time.perf_counter()
        save_index(updated, path, f"{fp}-{u}", None)
        record["save_s"] = time.perf_counter() - t
        if pairs:
            art = pairs[0][0]
            words = [w for w in art.paragraphs[0].split()[:8]]
            result = service.answer(" ".join(words) + " là gì?")
            record["answered_from_it"] = any(a.doc_id == art.doc_id for a in result.answers)
        updates.append({k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items()})
        print(json.dumps(updates[-1]), file=sys.stderr, flush=True)
        time.sleep(args.pause)
    stop.set()
    asker.join()
    sampler.join()
    out["updates"] = updates
    for kind in ("add", "replace", "remove"):
        rows = [r for r in updates if r["kind"] == kind]
        if rows:
            out[f"{kind}_s"] = {
                stage: summary([r[stage] for r in rows])
                for stage in ("segment_s", "apply_s", "swap_s", "answerable_s", "save_s")
            }
    rows = [r for r in updates if r["kind"] != "remove"]
    out["answerable_s"] = summary([r["answerable_s"] for r in updates])
    out["answered_from_new_article"] = f"{sum(r.get('answered_from_it', False) for r in rows)}/{len(rows)}"
    out["during_updates_ask_ms"] = summary(during)
    out["during_updates_peak_rss_mb"] = round(max(peak[0], 0.0), 1)
    out["during_updates_vmhwm_mb"] = round(hwm_mb(), 1)
    out["rss_ratio"] = round(out["during_updates_peak_rss_mb"] / out["idle_rss_mb"], 3)
    out["latency_p95_ratio"] = round(out["during_updates_ask_ms"]["p95"] / out["idle_ask_ms"]["p95"], 3)
    after: list[float] = []
    ask_all(service, texts, after)
    out["after_updates_ask_ms"] = summary(after)
    out["changes_file_mb"] = round(changes_path(path).stat().st_size / 2**20, 2)
    print(json.dumps(out, indent=1), file=sys.stderr, flush=True)

    if args.kill_rounds:
        out["kill_9"], current = [], f"{fp}-{args.updates - 1}"
        for r in range(args.kill_rounds):  # each round starts from the state the last one left
            out["kill_9"].append(kill_round(path, current, corpus, cfg, r))
            served = out["kill_9"][-1]["served"]
            if not served:
                break
            current = f"{current}-kill{r}-{served[0]['state']}"
    if not args.no_spot_check:
        out["spot_check"] = spot_check(service, texts)
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    del base_index
    return 0


WRITER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from bench.scale_corpus import build_lexicon, generate_article, parse_size, real_texts, syllable_inventory
from retrieval.config import load_config
from retrieval.index.segcache import segment_article
from retrieval.index.store import load_index, save_index
from retrieval.index.update import apply_changes
from retrieval.ingest.corpus import _article
from retrieval.text.segment import Segmenter
path, fp, corpus, round_ = Path(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
cfg = load_config(Path(sys.argv[1]) / "config.yaml")
index = load_index(path, fp)
segmenter = Segmenter()
lex = build_lexicon(syllable_inventory(real_texts()), 10_000, 1)
print("loaded", flush=True)
for k in range(1, 1000):
    art = generate_article(lex, 7000 + round_, k, 20)
    origin = f"{corpus}:{10_000_000 + 1000 * round_ + k}"
    a = _article(f"kill{round_}-{k}", art.text, {"title": art.title}, origin, cfg.ingest)
    index = apply_changes(index, [(a, segment_article(segmenter, a.title, a.paragraphs))])
    save_index(index, path, f"{fp}-kill{round_}-{k}", None)
    print(k, flush=True)
"""


def kill_round(path: Path, fp: str, corpus: Path, cfg, round_: int) -> dict:
    """A writer that applies and saves new articles in a loop is killed at a random moment; then a
    fresh load must give exactly the state of its last finished save or of the next."""
    import os
    import signal
    import subprocess

    from retrieval.errors import IndexFormatError
    from retrieval.index.store import load_index

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(REPO), str(path), fp, str(corpus), str(round_)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None  # stdout=PIPE
    assert writer.stdout.readline().strip() == "loaded"
    writer.stdout.readline()  # the first save is done
    time.sleep(random.Random(round_).uniform(0.5, 4.0))
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    printed = writer.stdout.read().split()
    last = int(printed[-1]) if printed else 1
    served = []
    for k in (last, last + 1):
        try:
            index = load_index(path, f"{fp}-kill{round_}-{k}")
        except IndexFormatError:
            continue
        ids = {a.doc_id for a in index.changes.added}
        mine = {f"kill{round_}-{j}" for j in range(1, k + 1)}
        served.append(
            {
                "state": k,
                "exactly_its_articles": mine <= ids
                and not any(d.startswith(f"kill{round_}-") and d not in mine for d in ids),
            }
        )
    return {"last_reported": last, "served": served, "ok": len(served) == 1 and served[0]["exactly_its_articles"]}


def spot_check(service, texts) -> dict:
    """The first stage of the updated index against a rebuild of the changed corpus, per question."""
    from retrieval.index.update import ARTICLE_FIELDS, SENTENCE_FIELDS, merge
    from retrieval.search import first_stage

    index = service.index
    t0 = time.perf_counter()
    rebuilt = merge(index)
    merge_s = time.perf_counter() - t0
    gc.collect()

    def names(ix):
        article = np.asarray(ix.sentences.article)
        firsts = {}
        dead = set(ix.changes.dead_sentences.tolist()) if ix.changes is not None else set()
        for a in np.unique(article).tolist():
            firsts[a] = int(np.searchsorted(article, a))
        return lambda i: (ix.articles.identity(int(article[i]))[0], int(i) - firsts[int(article[i])]), dead

    mine_name, _dead = names(index)
    their_name, _ = names(rebuilt)
    cfg = service.cfg.retrieval
    same = compared = 0
    field_checks = {
        name: [
            getattr(index, name).n_live == getattr(rebuilt, name).n_docs,
            getattr(index, name).avgdl == getattr(rebuilt, name).avgdl,
        ]
        for name in SENTENCE_FIELDS + ARTICLE_FIELDS
        if getattr(index, name) is not None
    }
    idf_checked = idf_same = 0
    for text in texts:
        query = service.composer.query(text, service.segmenter.terms(text))
        found = first_stage.first_stage(service.backend, index, query, cfg)
        numpy_found = first_stage.candidates_for(index, query, cfg)
        want = first_stage.candidates_for(rebuilt, query, cfg)
        got = {} if found is None else {mine_name(d): (b, f) for d, b, f in zip(*found)}
        got_np = (
            {}
            if numpy_found is None
            else {mine_name(d): (numpy_found[1][d], numpy_found[2][d]) for d in numpy_found[0]}
        )
        expected = {} if want is None else {their_name(d): (want[1][d], want[2][d]) for d in want[0]}
        compared += 1
        same += got == expected and got_np == expected
        for name, terms in (("bm25", query.terms), ("fold", query.folded)):
            for term in terms:
                idf_checked += 1
                idf_same += getattr(index, name).idf_of(term) == getattr(rebuilt, name).idf_of(term)
    return {
        "merge_s": round(merge_s, 1),
        "questions": compared,
        "identical": same,
        "fields_n_and_avgdl_equal": field_checks,
        "idf_checked": idf_checked,
        "idf_equal": idf_same,
    }


if __name__ == "__main__":
    raise SystemExit(main())
