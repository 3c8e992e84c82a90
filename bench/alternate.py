"""Compare the serving speed of two trees of the project, alternating fresh processes on one saved index.

Usage (from the repository root, after ``bench/scale.py --workdir DIR`` built the size)::

    git worktree add /tmp/old <commit>
    .venv/bin/python bench/alternate.py --old /tmp/old --size 1M --workdir DIR --rounds 4

Each round starts one fresh serving process per tree (:func:`bench.scale_timing.serve`, the
tree's own code: it loads the saved index, answers one question, waits for the compiled
first stage, then times every question ``--repeats`` times), in the order old, new in
even rounds and new, old in odd ones, so a load on the machine that drifts weighs on
both. Both trees load the same index file (``DIR/cache-SIZE``) and ask the same questions
(those of ``bench/scale.py``: same ``--seed`` and ``--queries``). Printed: each process's
retrieval and ask p50 / p95, first answer and kernels' load time, the median of each over
the rounds, and new / old: the ratio of the medians and the median of each round's own
ratio (steadier when the machine's load drifts between rounds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.scale_corpus import (  # noqa: E402
    build_lexicon,
    make_questions,
    parse_size,
    real_texts,
    size_label,
    syllable_inventory,
)
from bench.scale_timing import CHILD_CODE  # noqa: E402

FIGURES = (("retrieval", "p50_ms"), ("retrieval", "p95_ms"), ("ask", "p50_ms"), ("ask", "p95_ms"))


def serve_once(tree: Path, spec: Path) -> dict:
    """One fresh serving process of ``tree``'s code: its reports, merged, plus the wall
    seconds from its start to its first answer (as :func:`bench.scale_timing.run_fresh_process`)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD_CODE, str(spec), str(tree)],
        cwd=tree,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert proc.stdout is not None  # stdout=PIPE
    first = proc.stdout.readline()
    first_answer_s = time.perf_counter() - started
    rest, errors = proc.communicate()
    lines = [json.loads(line) for line in (first + rest).splitlines() if line.startswith("{")]
    if proc.returncode != 0 or len(lines) < 2:
        raise SystemExit(f"error: the serving process of {tree} failed:\n{errors[-2000:]}")
    return lines[0] | lines[-1] | {"first_answer_s": round(first_answer_s, 3)}


def row(report: dict) -> dict:
    return {f"{part} {name}": report[part][name] for part, name in FIGURES} | {
        "first answer s": report["first_answer_s"],
        "kernels s": report["kernels_ready_s"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", type=Path, required=True, help="the other tree (a git worktree of the older commit)")
    ap.add_argument("--size", default="1M")
    ap.add_argument("--workdir", type=Path, required=True, help="bench/scale.py's --workdir that holds the index")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml")
    args = ap.parse_args(argv)
    size = parse_size(args.size)
    label = size_label(size)
    workdir = args.workdir.resolve()
    corpus = workdir / f"corpus-{label}-seed{args.seed}.jsonl"
    if not corpus.is_file():
        ap.error(f"{corpus} not found: run bench/scale.py --sizes {label} --workdir {workdir} first")
    lex = build_lexicon(syllable_inventory(real_texts()), size, args.seed)
    texts = [q.text for q in make_questions(lex, size, args.seed, args.queries)]
    spec = workdir / f"alternate-{label}.json"
    spec.write_text(
        json.dumps(
            {
                "config": str(args.config.resolve()),
                "cache_dir": str(workdir / f"cache-{label}"),
                "corpus": str(corpus),
                "questions": texts,
                "repeats": args.repeats,
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    trees = {"old": args.old.resolve(), "new": REPO}
    rows: dict[str, list[dict]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
            rows[name].append(row(serve_once(trees[name], spec)))
            print(f"round {r + 1} {name}: " + ", ".join(f"{k} {v}" for k, v in rows[name][-1].items()), flush=True)
    medians = {
        name: {
            k: statistics.median(x[k] for x in runs if x[k] is not None)
            if any(x[k] is not None for x in runs)
            else None
            for k in runs[0]
        }
        for name, runs in rows.items()
    }
    print(
        f"\nmedians over {args.rounds} rounds ({label}, {len(texts)} questions, {args.repeats} repeats each); "
        "new/old: of the medians, and the median of each round's own ratio:"
    )
    for key in medians["old"]:
        old, new = medians["old"][key], medians["new"][key]
        if old is None or new is None:
            continue
        paired = statistics.median(n[key] / o[key] for o, n in zip(rows["old"], rows["new"]))
        print(f"  {key:18} old {old:8.3f}  new {new:8.3f}  new/old {new / old:.3f}  paired {paired:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
