"""Scale benchmark: build, save, load and query a synthetic Vietnamese corpus of 10k to 1M sentences.

Usage (from the repository root)::

    .venv/bin/python bench/scale.py                          # 10k and 100k sentences
    .venv/bin/python bench/scale.py --sizes 10k --queries 50
    .venv/bin/python bench/scale.py --sizes 1M --quick --workdir /tmp/scale   # no rank-bm25 at 1M
    .venv/bin/python bench/scale.py --json
    .venv/bin/python bench/scale.py --sizes 100k --write   # and update docs/performance.md

``--write`` keeps each size's latest results in ``docs/performance.json`` and
writes ``docs/performance.md`` from them: a run of some sizes replaces those
rows and keeps the others (the 1M row takes about 20 minutes to refresh).

The corpus and the questions: :mod:`bench.scale_corpus`. The measurements:
:mod:`bench.scale_timing`.

What is measured, per size
--------------------------
* **build**: ``AnswerService.open(cfg, corpus, rebuild=True)`` (ingestion,
  sentence splitting, word segmentation, the BM25 fields, saving), wall
  seconds and sentences per second, from an empty ``cache_dir`` (a cold
  build: no saved segmentation is reused); also the CPU time of the worker
  processes it started (0 when it segmented in this process alone), and the
  wall seconds of each stage (ingest, segment, index, save:
  ``IndexInfo.stages``).
* **segmentation speedup**: ``segment_corpus`` alone (no cache) on the first
  articles of the corpus, ``--speedup-sentences`` sentences, in one process
  and on all cores (``build_workers``), back to back, the order alternating
  between repeats; sentences/s of each (median over ``--repeats``) and the
  ratio parallel / single of each repeat (median, min, max). The model is
  loaded in this process beforehand, as the build does before it forks.
* **index MB**: the saved index file (``retrieval.index.store.index_path``).
* **load / first answer**: a fresh ``python -c`` process imports the project,
  opens the service (it must load the saved index, not rebuild it) and
  answers one question. "load" is ``AnswerService.open`` inside it; "first
  answer" is the wall time from starting the process to its first answer.
* **RSS**: that process's resident memory (``VmRSS``) after answering every
  question ``--repeats`` times; "peak" is its ``VmHWM``. From 200,000 sentences
  on, the benchmark process loads the compiled first stage once before, so that
  the serving process finds it in numba's cache as a deployed one does
  (``kernels_cache_s``: how long that took; about 14 s when it compiled).
* **retrieval p50/p95**: ``retrieval.search.rerank.rank(service.backend, index, query, text,
  cfg.retrieval, 10)`` per question, the question already analysed (in the fresh
  process). From 200,000 sentences on, the compiled first stage loads in the
  background after the first answer (``SearchBackend.warm_up_after_first_answer``);
  the timings start once it is loaded (``kernels_ready_s``: how long after the
  first answer that was).
* **ask p50/p95**: ``service.answer(text)``: normalize, segment, analyse,
  retrieve, compose. The segmenter's cache is cleared before each call, so
  every call segments its question as a new question would be.
* **rank-bm25 p50**: ``rank_bm25.BM25Okapi`` over the same word-field tokens
  the index scores (``query.expand`` of each sentence's words) and the
  questions' ``Query.terms``: ``get_scores`` plus the top-10 selection. Run
  in the benchmark process on the index it built; skipped at 1M sentences and
  more with ``--quick`` (it takes minutes there).
* **identical**: for every question, ``index.bm25.scores(terms)`` equals
  ``BM25Okapi.get_scores(terms)`` exactly (``np.array_equal``).

Every timing loop runs ``--repeats`` times; p50 and p95 are taken over all
questions in each run, and the median of the runs is reported.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bench/ is on sys.path, not the repo
    sys.path.insert(0, str(REPO))

from bench.scale_corpus import (  # noqa: E402
    TARGETS_1M,
    UNKNOWN_SHARE,
    XQUAD,
    parse_size,
    real_texts,
    syllable_inventory,
)
from bench.scale_timing import log_step, measure_size  # noqa: E402
from bench.xquad import library_version  # noqa: E402

# ------------------------------------------------------------------------ output


def table_row(r: dict) -> list[str]:
    s, ref = r["serving"], r["reference"]
    identical = (
        "skipped"
        if ref is None
        else (
            f"yes ({ref['compared']})"
            if ref["identical"] == ref["compared"]
            else f"no ({ref['compared'] - ref['identical']}/{ref['compared']} differ)"
        )
    )
    return [
        r["size"],
        f"{r['sentences']:,}",
        f"{r['build_s']:.1f}",
        f"{r['sentences_per_s']:,.0f}",
        f"{r['index_mb']:.1f}",
        f"{s['load_s']:.2f}",
        f"{s['first_answer_s']:.2f}",
        f"{s['rss_mb']:.0f} ({s['peak_rss_mb']:.0f})",
        f"{s['retrieval']['p50_ms']:.2f} / {s['retrieval']['p95_ms']:.2f}",
        f"{s['ask']['p50_ms']:.2f} / {s['ask']['p95_ms']:.2f}",
        "–" if ref is None else f"{ref['rank_bm25']['p50_ms']:.1f}",
        identical,
    ]


def format_table(results: Sequence[dict]) -> str:
    head = [
        "size",
        "sentences",
        "build s",
        "sentences/s",
        "index MB",
        "load s",
        "first answer s",
        "RSS MB (peak)",
        "retrieval p50 / p95 ms",
        "ask p50 / p95 ms",
        "rank-bm25 p50 ms",
        "identical",
    ]
    t = TARGETS_1M
    target = [
        "target (1M)",
        "1,000,000",
        t["build"],
        t["rate"],
        "–",
        "–",
        t["first"],
        t["rss"],
        t["retrieval"],
        t["ask"],
        "–",
        t["identical"],
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---|"]
    lines += ["| " + " | ".join(table_row(r)) + " |" for r in results]
    lines.append("| " + " | ".join(target) + " |")
    return "\n".join(lines)


def report_text(out: dict) -> str:
    lines = [
        f"Scale benchmark, seed {out['seed']}, {out['queries']} questions "
        f"(~{UNKNOWN_SHARE:.0%} with unknown words), {out['repeats']} timing runs; library {out['library']}; "
        f"{out['cpus']} CPUs, load average {out['load_average']} at start",
        "",
        format_table(out["results"]),
        "",
    ]
    for r in out["results"]:
        s, ref = r["serving"], r["reference"]
        lines.append(
            f"{r['size']}: {r['articles']:,} articles, corpus {r['corpus_mb']} MB, generator vocabulary "
            f"{r['generator_vocabulary']:,} words, word field {r['word_field_terms']:,} terms; answered "
            f"{s['answered']}/{r['questions']} ({r['unknown_questions']} with unknown words); fresh process: "
            f"imports {s['import_s']:.2f}s, load {s['load_s']:.2f}s, first question {s['first_question_s']:.2f}s"
            + (
                ""
                if ref is None
                else f"; word-field BM25 top-10 alone p50 {ref['word_field_bm25']['p50_ms']:.2f} ms; "
                f"BM25Okapi built in {ref['rank_bm25_build_s']:.1f}s"
            )
            + f"; build worker CPU {r['build_worker_cpu_s']:.0f}s; build stages "
            + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in r["build_stages_s"].items())
            + f"; size wall time {r['wall_s']:.0f}s"
        )
        sp = r["speedup"]
        if sp is not None:
            lines.append(
                f"{r['size']} segmentation alone ({sp['articles']} articles, {sp['texts']:,} sentences and titles): "
                f"1 process {sp['single_per_s']:,.0f}/s, {sp['workers']} processes {sp['parallel_per_s']:,.0f}/s; "
                f"speedup {sp['ratio']:.2f}x (median of {sp['repeats']}; min {sp['ratio_min']:.2f}, "
                f"max {sp['ratio_max']:.2f}); CPU {sp['single_cpu_s']:.1f}s vs {sp['parallel_cpu_s']:.1f}s; "
                f"load average {sp['load_average'][0]:.2f} before, {sp['load_average'][1]:.2f} after"
            )
    lines += [
        "build: AnswerService.open(rebuild=True) from an empty cache_dir; worker CPU is the CPU time of the "
        "processes it started (0: it segmented in one process);",
        "first answer: wall time of a fresh python process from start to its first answer (imports + load + answer);",
        "RSS: that process after answering every question in every run (peak: VmHWM); "
        "retrieval/ask/rank-bm25: median over runs of p50/p95 over questions.",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="10k,100k", help="corpus sizes in sentences (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="skip rank-bm25 at 1M sentences and more")
    ap.add_argument("--queries", type=int, default=200, metavar="N", help="questions per size (default: %(default)s)")
    ap.add_argument("--repeats", type=int, default=3, help="timing runs (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default: %(default)s)")
    ap.add_argument(
        "--speedup-sentences",
        type=int,
        default=10_000,
        metavar="N",
        help="segment the first N sentences in 1 process and on all cores to measure the speedup "
        "(0: skip; default: %(default)s)",
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep corpora and indexes here and reuse them (default: a temporary folder)",
    )
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml", help="default: %(default)s")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument(
        "--write", action="store_true", help="keep the results in docs/performance.json and rewrite docs/performance.md"
    )
    args = ap.parse_args(argv)
    try:
        args.sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError as exc:
        ap.error(str(exc))
    if not args.sizes:
        ap.error("--sizes is empty")
    if args.queries < 1 or args.repeats < 1:
        ap.error("--queries and --repeats must be >= 1")
    if args.speedup_sentences < 0:
        ap.error("--speedup-sentences must be >= 0")
    if not args.config.is_file():
        ap.error(f"config file not found: {args.config}")
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict:
    if not XQUAD.is_file():
        # Without XQuAD the syllables come from the seeds alone: another corpus and other
        # questions, whose figures do not compare with a run that had it.
        log_step("setup", f"warning: {XQUAD} not found; syllables from the seed articles only")
    inventory = syllable_inventory(real_texts())
    return {
        "library": library_version(),
        "seed": args.seed,
        "queries": args.queries,
        "repeats": args.repeats,
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "syllables": len(inventory),
        "xquad_syllables": XQUAD.is_file(),
        "results": [measure_size(size, args, inventory, workdir) for size in args.sizes],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        out = run(args, args.workdir.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
            out = run(args, Path(tmp))
    print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else report_text(out))
    if args.write:
        write_docs(out)
    return 0


DOCS = REPO / "docs"


def write_docs(out: dict) -> None:
    """Merge this run's sizes into docs/performance.json and write docs/performance.md from it."""
    store = DOCS / "performance.json"
    kept = json.loads(store.read_text(encoding="utf-8")) if store.is_file() else {}
    run = {k: v for k, v in out.items() if k != "results"}
    for r in out["results"]:
        kept[r["size"]] = {"run": run, "result": r}
    order = sorted(kept, key=parse_size)
    store.write_text(json.dumps({k: kept[k] for k in order}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    results = [kept[k]["result"] for k in order]
    lines = [
        "# Performance",
        "",
        "Written by `bench/scale.py --write` (`.venv/bin/python bench/scale.py --sizes 10k,100k --write`; the 1M",
        "row with `--sizes 1M --quick --speedup-sentences 0 --workdir DIR --write`, about 20 minutes and 3 GB).",
        "Each size's figures come from its latest run, listed below the table; the raw results are in",
        "`performance.json`. How the corpus and questions are made and what each column means:",
        "`bench/scale.py`'s docstring. Why the index and the first stage are shaped as they are:",
        "[design.md](design.md).",
        "",
        format_table(results),
        "",
    ]
    for k in order:
        r, meta = kept[k]["result"], kept[k]["run"]
        stages = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in r["build_stages_s"].items())
        lines.append(
            f"- **{k}**: library {meta['library']}, {meta['cpus']} CPUs (load average {meta['load_average']}"
            f" at start), {meta['queries']} questions x {meta['repeats']} runs; {r['articles']:,} articles; "
            f"build stages {stages}; answered {r['serving']['answered']}/{r['questions']}."
        )
    lines += [
        "",
        "Columns: build from an empty cache (ingestion, segmentation on every core, the BM25 fields,",
        "saving); first answer: a fresh process from start to its first answer (imports, load, answer);",
        "RSS after answering every question; retrieval: `rank` alone on analysed questions; ask: the whole",
        "`AnswerService.answer`; rank-bm25: `BM25Okapi.get_scores` on the same tokens; identical: its scores",
        "equal the word field's for every question. p50/p95 over questions, median over runs.",
        "",
    ]
    (DOCS / "performance.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"written to {DOCS / 'performance.md'}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
