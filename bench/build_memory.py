"""Peak memory of building the index from a large JSONL corpus.

Usage (from the repository root; run under ``flock /tmp/heavy.lock`` on a shared machine)::

    .venv/bin/python bench/build_memory.py --mb 200                        # underthesea, about 15 min on 2 cores
    .venv/bin/python bench/build_memory.py --mb 20 --segmenter whitespace  # quick: no word segmentation model
    .venv/bin/python bench/build_memory.py --mb 200 --json

A synthetic Vietnamese JSONL corpus of about ``--mb`` megabytes is generated
with ``bench/scale.py``'s generator (deterministic for ``--seed``; reused from
``--workdir`` when it is there), then the index is built in a fresh child
process, as ``python -m bot index`` does it (``AnswerService.open(...,
rebuild=True)``, an empty cache folder: a cold build, ``build_workers: 0``, all
cores). Every 0.1 s the parent samples the child's resident memory (VmRSS) and
the proportional set size (PSS) of the child and its worker processes together
(copy-on-write pages shared after a fork counted once). Printed: the peaks,
the stage running at each peak (ingest, segment, index, save, from the
child's log), the child's own peak (VmHWM), the build's wall time per stage,
articles and sentences.

``--segmenter whitespace`` splits words at spaces and sentences with a regular
expression: it measures the pipeline's own memory in a minute or two, without
underthesea's model (about 100 MB per process) or its run time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bench/ is on sys.path, not the repo
    sys.path.insert(0, str(REPO))

STAGE_MARKS = (  # (a log line's words, the stage that starts there)
    ("building index for", "ingest"),
    ("segmenting", "segment"),
    ("indexing", "index"),
)


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (worker processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo.extend(int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split())
        except OSError:
            pass
    return out


def ensure_corpus(mb: float, seed: int, workdir: Path) -> tuple[Path, int]:
    """A JSONL corpus of about ``mb`` MB from bench/scale.py's generator, and its sentence count."""
    from bench import scale_corpus as scale

    inventory = scale.syllable_inventory(scale.real_texts())
    probe = scale.build_lexicon(inventory, 100_000, seed)
    sample = [scale.generate_article(probe, seed, n, 25) for n in range(200)]
    per_sentence = sum(
        len(json.dumps({"id": a.doc_id, "title": a.title, "text": a.text}, ensure_ascii=False).encode()) + 1
        for a in sample
    ) / (200 * 25)
    sentences = int(mb * 2**20 / per_sentence)
    lex = scale.build_lexicon(inventory, sentences, seed)
    path = workdir / f"corpus-{mb:g}mb-seed{seed}.jsonl"
    scale.ensure_corpus(path, sentences, seed, lex)
    return path, sentences


def _child(args: argparse.Namespace) -> int:
    """The build itself, in this (fresh) process; one JSON line on stdout."""
    import logging

    from retrieval.config import load_config
    from retrieval.service import AnswerService
    from retrieval.text.segment import Segmenter

    logging.basicConfig(level=logging.INFO, format="%(created).3f %(name)s: %(message)s", stream=sys.stderr)
    cfg = load_config(args.config)
    segmenter, seg_id = None, None
    if args.segmenter == "whitespace":

        def sentences(text: str) -> list[str]:
            return [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]

        segmenter, seg_id = Segmenter(word_tokenize=str.split, sent_tokenize=sentences), "bench-whitespace"
    started = time.perf_counter()
    service = AnswerService.open(
        cfg, Path(args.corpus), rebuild=True, progress=False, segmenter=segmenter, segmenter_id=seg_id
    )
    assert service.info is not None  # open() says how it obtained the index
    print(
        json.dumps(
            {
                "build_s": round(time.perf_counter() - started, 1),
                "stages_s": {name: round(s, 1) for name, s in service.info.stages},
                "articles": len(service.articles),
                "sentences": len(service.index.sentences),
                "child_peak_rss_mb": round(_status_kib(os.getpid(), "VmHWM") / 1024),
                "saved": service.info.saved,
            }
        )
    )
    return 0


def measure(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    corpus, sentences = ensure_corpus(args.mb, args.seed, workdir)
    print(
        f"corpus: {corpus} ({corpus.stat().st_size / 2**20:.0f} MB, about {sentences:,} sentences) "
        f"ready in {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    cache = Path(tempfile.mkdtemp(prefix="build-memory-cache-", dir=workdir))
    config = cache / "config.yaml"
    base = (REPO / "config.yaml").read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^cache_dir:.*$", f"cache_dir: {cache}", base), encoding="utf-8")
    log_path = cache / "build.log"
    samples: list[tuple[float, int, int]] = []  # (time, child RSS kB, tree PSS kB)
    with log_path.open("w") as log:
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                "--config",
                str(config),
                "--corpus",
                str(corpus),
                "--segmenter",
                args.segmenter,
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        while child.poll() is None:
            samples.append((time.time(), _status_kib(child.pid, "VmRSS"), sum(map(_pss_kib, _tree(child.pid)))))
            time.sleep(0.1)
        assert child.stdout is not None  # stdout=PIPE
        result = json.loads(child.stdout.read().strip().splitlines()[-1])
    marks: list[tuple[float, str]] = []
    for line in log_path.read_text().splitlines():
        stamp, _, text = line.partition(" ")
        for words, stage in STAGE_MARKS:
            if words in text and (not marks or marks[-1][1] != stage):
                marks.append((float(stamp), stage))

    def stage_at(t: float) -> str:
        return next((stage for at, stage in reversed(marks) if at <= t), "start-up")

    rss_peak = max(samples, key=lambda s: s[1])
    pss_peak = max(samples, key=lambda s: s[2])
    shutil.rmtree(cache, ignore_errors=True)
    return {
        "corpus_mb": round(corpus.stat().st_size / 2**20),
        "segmenter": args.segmenter,
        **result,
        "peak_rss_mb": round(rss_peak[1] / 1024),
        "peak_rss_stage": stage_at(rss_peak[0]),
        "peak_tree_pss_mb": round(pss_peak[2] / 1024),
        "peak_tree_pss_stage": stage_at(pss_peak[0]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=200, help="corpus size in MB (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "build-memory"))
    parser.add_argument("--segmenter", choices=("underthesea", "whitespace"), default="underthesea")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    out = measure(args)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(
            f"{out['corpus_mb']} MB JSONL, {out['articles']:,} articles, {out['sentences']:,} sentences, "
            f"{out['segmenter']} segmentation: built in {out['build_s']} s ({out['stages_s']})"
        )
        print(
            f"peak RSS of the building process {out['peak_rss_mb']} MB (during {out['peak_rss_stage']}; "
            f"VmHWM {out['child_peak_rss_mb']} MB); peak PSS with its workers {out['peak_tree_pss_mb']} MB "
            f"(during {out['peak_tree_pss_stage']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
