"""The scale benchmark's measurements of one size: build, fresh-process serving, the rank-bm25
reference and the segmentation speedup (bench/scale.py runs them and writes the report)."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bench/ is on sys.path, not the repo
    sys.path.insert(0, str(REPO))

from bench.scale_corpus import (  # noqa: E402
    TOP_K,
    build_lexicon,
    ensure_corpus,
    make_questions,
    size_label,
)
from retrieval.config import Config, load_config  # noqa: E402

# ------------------------------------------------------------------------ timings


def percentile(values: Sequence[float], pct: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), pct)) if values else 0.0


T = TypeVar("T")


def timed_ms(fn: Callable[[], T]) -> tuple[float, T]:
    """(milliseconds, result) of one call."""
    t0 = time.perf_counter()
    result = fn()
    return (time.perf_counter() - t0) * 1000, result


def summarise(runs: Sequence[Sequence[float]]) -> dict:
    """p50 and p95 over the questions of each run; the median over runs."""
    return {
        "p50_ms": round(float(np.median([percentile(r, 50) for r in runs])), 3),
        "p95_ms": round(float(np.median([percentile(r, 95) for r in runs])), 3),
    }


def memory_mb() -> dict:
    """This process's resident memory now (VmRSS) and at its peak (VmHWM), from /proc."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields.get("VmRSS"), "peak_rss_mb": fields.get("VmHWM")}


def time_service(service, texts: Sequence[str], repeats: int) -> dict:
    """Retrieval (``rank`` on analysed questions) and whole-ask timings of ``service``."""
    from retrieval.search.rerank import rank

    cfg = service.cfg.retrieval
    analysed = [(t, service.composer.query(t, service.segmenter.terms(t))) for t in texts]
    retrieval_runs, ask_runs = [], []
    answered = 0
    for _ in range(repeats):
        retrieval_runs.append(
            [timed_ms(partial(rank, service.backend, service.index, q, t, cfg, TOP_K))[0] for t, q in analysed]
        )
        ask = []
        for t in texts:
            service.segmenter.terms.cache_clear()  # a new question is segmented, not looked up
            ms, result = timed_ms(partial(service.answer, t))
            ask.append(ms)
            answered += result.answered
        ask_runs.append(ask)
    return {"retrieval": summarise(retrieval_runs), "ask": summarise(ask_runs), "answered": answered // repeats}


# ------------------------------------------------------------------ fresh process


# Run as `python -c CHILD_CODE SPEC_FILE REPO`: the clock starts before any project import.
# (A tree from before the benchmark was split in three has ``serve`` in bench/scale.py.)
CHILD_CODE = (
    "import sys, time; started = time.perf_counter(); sys.path.insert(0, sys.argv[2])\n"
    "try:\n    from bench.scale_timing import serve\n"
    "except ImportError:\n    from bench.scale import serve\n"
    "serve(sys.argv[1], started)"
)


def serve(spec_file: str, started: float) -> None:
    """The fresh process: load the saved index, answer one question (report), then time
    every question and report the timings and memory. One JSON line per report."""
    from retrieval.service import AnswerService

    spec = json.loads(Path(spec_file).read_text(encoding="utf-8"))
    cfg = dataclasses.replace(load_config(spec["config"]), cache_dir=Path(spec["cache_dir"]))
    imported = time.perf_counter()
    service = AnswerService.open(cfg, Path(spec["corpus"]))
    opened = time.perf_counter()
    assert service.info is not None  # open() says how it obtained the index
    if service.info.reason != "loaded":
        raise SystemExit(
            f"error: the saved index was not loaded ({service.info.reason}); "
            "did retrieval/ or the config change while the benchmark ran?"
        )
    service.answer(spec["questions"][0])
    answered = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": round(imported - started, 3),
                "load_s": round(opened - imported, 3),
                "first_question_s": round(answered - opened, 3),
            }
        ),
        flush=True,
    )
    # A large index loads its compiled first stage in the background after the first answer
    # (questions meanwhile get the numpy pass): time the steady state.
    kernels_s = None
    if service.backend.uses_kernels(service.index):
        if not service.backend.wait_for_kernels(timeout=600):
            raise SystemExit("error: the compiled first stage did not load")
        kernels_s = round(time.perf_counter() - answered, 3)
    timings = time_service(service, spec["questions"], spec["repeats"])
    print(json.dumps(timings | memory_mb() | {"kernels_ready_s": kernels_s}), flush=True)


def run_fresh_process(config: Path, cfg: Config, corpus: Path, texts: Sequence[str], repeats: int) -> dict:
    """Start a fresh Python process on the saved index; its reports plus the wall time to its first answer."""
    spec = corpus.with_suffix(".serve.json")
    spec.write_text(
        json.dumps(
            {
                "config": str(config),
                "cache_dir": str(cfg.cache_dir),
                "corpus": str(corpus),
                "questions": list(texts),
                "repeats": repeats,
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD_CODE, str(spec), str(REPO)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert proc.stdout is not None  # stdout=PIPE
    first_line = proc.stdout.readline()
    first_answer_s = time.perf_counter() - t0
    rest = proc.stdout.read()
    if proc.wait() != 0 or not first_line:
        raise RuntimeError(f"the serving process failed (exit code {proc.returncode})")
    reports = json.loads(first_line) | json.loads(rest.strip().splitlines()[-1])
    return reports | {"first_answer_s": round(first_answer_s, 3)}


# -------------------------------------------------------------------- reference


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best positive scores' ids, best first; ties: lower id first."""
    positive = np.flatnonzero(scores > 0)
    return positive[np.lexsort((positive, -scores[positive]))[:k]]


def time_rank_bm25(service, texts: Sequence[str], repeats: int) -> dict:
    """rank-bm25's BM25Okapi on the index's own word-field tokens: timings and the equality check."""
    from rank_bm25 import BM25Okapi

    from retrieval.text.terms import expand

    index, r = service.index, service.cfg.retrieval
    t0 = time.perf_counter()
    okapi = BM25Okapi([expand(words) for words in index.terms], k1=r.k1, b=r.b, epsilon=r.epsilon)
    build_s = time.perf_counter() - t0
    queries = [service.composer.query(t, service.segmenter.terms(t)).terms for t in texts]
    runs, ours, identical = [], [], 0
    for rep in range(repeats):
        times = []
        for terms in queries:
            ms, scores = timed_ms(partial(okapi.get_scores, terms))
            ms += timed_ms(partial(top_k, scores, TOP_K))[0]
            times.append(ms)
            if rep == 0:
                identical += bool(np.array_equal(index.bm25.scores(terms), scores))
        runs.append(times)
        ours.append([timed_ms(partial(index.bm25.top_k, terms, TOP_K))[0] for terms in queries])
    return {
        "rank_bm25": summarise(runs),
        "word_field_bm25": summarise(ours),
        "rank_bm25_build_s": round(build_s, 2),
        "identical": identical,
        "compared": len(queries),
    }


# ---------------------------------------------------------------------- one size


def cpu_seconds(who: int) -> float:
    """User + system CPU seconds of this process (``RUSAGE_SELF``) or of its finished children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def log_step(label: str, message: str) -> None:
    print(f"[{label}] {message}", file=sys.stderr, flush=True)


def speedup_sample(corpus: Path, cfg: Config, sentences: int) -> list:
    """The first articles of ``corpus`` holding at least ``sentences`` sentences (all of them if fewer)."""
    from retrieval.ingest.corpus import load_corpus
    from retrieval.text.segment import Segmenter

    splitter = Segmenter()
    sample, total = [], 0
    for article in load_corpus(corpus, cfg.ingest).articles:
        if total >= sentences:
            break
        sample.append(article)
        total += sum(len(splitter.sentence_spans(p)) for p in article.paragraphs)
    return sample


def measure_speedup(articles: Sequence, workers: int, repeats: int) -> dict:
    """Segmentation alone (``segment_corpus``, no cache) in one process and on ``workers``
    processes, on the same articles, back to back (alternating order): rates and ratios."""
    from retrieval.index.segcache import segment_corpus
    from retrieval.text.segment import Segmenter

    Segmenter().terms("khởi động mô hình")  # load underthesea here first, as a build does before forking
    rates: dict[int, list[float]] = {1: [], workers: []}
    cpu: dict[int, list[float]] = {1: [], workers: []}
    ratios: list[float] = []
    sentences = 0
    load_before = os.getloadavg()[0]
    for rep in range(repeats):
        run: dict[int, float] = {}
        for w in (1, workers) if rep % 2 == 0 else (workers, 1):
            gc.collect()
            cpu0 = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            segmented = segment_corpus(articles, Segmenter(), "speedup", workers=w, progress=False)
            wall = time.perf_counter() - t0
            cpu[w].append(cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN) - cpu0)
            sentences = sum(len(s.sentences) + 1 for s in segmented)  # + the title
            run[w] = sentences / wall
            rates[w].append(run[w])
        ratios.append(run[workers] / run[1])
    return {
        "articles": len(articles),
        "texts": sentences,
        "workers": workers,
        "repeats": repeats,
        "single_per_s": round(float(np.median(rates[1])), 1),
        "parallel_per_s": round(float(np.median(rates[workers])), 1),
        "ratio": round(float(np.median(ratios)), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "single_cpu_s": round(float(np.median(cpu[1])), 1),
        "parallel_cpu_s": round(float(np.median(cpu[workers])), 1),
        # Other processes on the machine slow the parallel runs most: the 1-minute load before and after.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def measure_size(size: int, args: argparse.Namespace, inventory, workdir: Path) -> dict:
    """Generate, build, save, load and query one corpus size; everything measured for its table row."""
    from retrieval.index.store import index_path
    from retrieval.service import AnswerService

    label = size_label(size)
    started = time.perf_counter()
    lex = build_lexicon(inventory, size, args.seed)
    corpus = workdir / f"corpus-{label}-seed{args.seed}.jsonl"
    t0 = time.perf_counter()
    reused = ensure_corpus(corpus, size, args.seed, lex)
    log_step(label, f"corpus {'reused' if reused else 'generated'} in {time.perf_counter() - t0:.1f}s: {corpus}")
    questions = make_questions(lex, size, args.seed, args.queries)
    texts = [q.text for q in questions]

    config = args.config.resolve()
    # An empty cache folder per size: the build is always a cold one, whatever the library caches there.
    cfg = dataclasses.replace(load_config(config), cache_dir=workdir / f"cache-{label}")
    shutil.rmtree(cfg.cache_dir, ignore_errors=True)
    speedup = None
    if args.speedup_sentences:  # before the build: worker processes fork from a small process, as in a build
        workers = cfg.build_workers or os.cpu_count() or 1
        sample = speedup_sample(corpus, cfg, args.speedup_sentences)
        log_step(
            label, f"segmentation speedup: {len(sample)} articles, 1 vs {workers} processes, {args.repeats} repeats ..."
        )
        speedup = measure_speedup(sample, workers, args.repeats)
        del sample
        gc.collect()
    log_step(label, "building the index ...")
    workers_before = cpu_seconds(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    service = AnswerService.open(cfg, corpus, rebuild=True)
    build_s = time.perf_counter() - t0
    worker_cpu_s = cpu_seconds(resource.RUSAGE_CHILDREN) - workers_before
    index = service.index
    out = {
        "size": label,
        "sentences": len(index.sentences),
        "articles": len(index.articles),
        "generator_vocabulary": len(lex.words),
        "word_field_terms": index.bm25.n_terms,
        "questions": len(texts),
        "unknown_questions": sum(q.unknown for q in questions),
        "corpus_mb": round(corpus.stat().st_size / 2**20, 1),
        "corpus_reused": reused,
        "build_s": round(build_s, 2),
        "sentences_per_s": round(len(index.sentences) / build_s, 1),
        "build_worker_cpu_s": round(worker_cpu_s, 1),
        "build_stages_s": {name: round(seconds, 2) for name, seconds in service.info.stages} if service.info else {},
        "index_mb": round(index_path(cfg, corpus).stat().st_size / 2**20, 1),
    }
    log_step(label, f"built in {build_s:.1f}s")
    if service.backend.uses_kernels(index):
        # The serving process must find the kernels in numba's cache, as a deployed one does (they
        # are compiled once per machine): compiled in it, they added about 140 MB of LLVM's memory
        # to its RSS at 1M (869 instead of 728 MB) and 14 s before they were ready.
        t0 = time.perf_counter()
        service.backend.load_kernels(index)
        out["kernels_cache_s"] = round(time.perf_counter() - t0, 2)
        log_step(label, f"compiled first stage in numba's cache after {out['kernels_cache_s']:.1f}s")
    log_step(label, f"fresh process: load, answer, time {len(texts)} questions ...")
    out["serving"] = run_fresh_process(config, cfg, corpus, texts, args.repeats)
    out["speedup"] = speedup
    if args.quick and size >= 1_000_000:
        out["reference"] = None
    else:
        log_step(label, "rank-bm25 reference ...")
        out["reference"] = time_rank_bm25(service, texts, args.repeats)
    del service, index
    gc.collect()
    out["wall_s"] = round(time.perf_counter() - started, 1)
    log_step(label, f"done in {out['wall_s']:.0f}s")
    return out
