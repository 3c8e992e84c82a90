"""Fit the answer-or-refuse model (retrieval/answer/confidence.json) on XQuAD half A.

    .venv/bin/python bench/train_confidence.py --rows /tmp/refusal-rows.jsonl          # print the weights
    .venv/bin/python bench/train_confidence.py --rows /tmp/refusal-rows.jsonl --write  # and write them

The rows (bench/refusal_data.py: every XQuAD question with and without its own
article, with and without diacritics) are collected once and kept in ``--rows``;
``--collect`` (or a missing file) collects them again (about a minute).

One logistic regression (scikit-learn) per kind of question, with diacritics
and without, on half A only: answerable (its article in the corpus) against
unanswerable (its article removed). It is fitted on the questions whose
article coverage is below ``HARD_COVERAGE``: the rest are answered at any
sensible strictness, and fitting on them would spend the model on easy cases
instead of on the boundary, where the refusals are decided.

Each model's bias is then shifted so that a confidence of 0.5 is the point
where 1% of half A's answerable questions would be refused: the shipped
``answer.strictness`` 0.5 means that for both kinds of question, and the curve
in docs/quality.md (bench/refusal.py) shows what other values do. Half B is
never looked at here.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import refusal_data as rd  # noqa: E402
from retrieval.answer.confidence import FEATURES, MODEL_FILE  # noqa: E402
from retrieval.config import load_config  # noqa: E402

# Questions whose best article holds at least this much of them are not fitted on.
HARD_COVERAGE = 0.5
# The share of half A's answerable questions refused at confidence 0.5.
TARGET_FALSE_REFUSALS = 0.01
# scikit-learn's inverse regularisation strength (its default).
C = 1.0


def rows_for(rows: Sequence[rd.Row], accentless: bool, half: str) -> list[rd.Row]:
    return [r for r in rows if r.set.startswith("xquad") and r.accentless == accentless and r.half == half]


def evidence(row: rd.Row) -> dict[str, float]:
    """The evidence of a row that has some (the rows fitted on are filtered on it)."""
    if row.evidence is None:
        raise ValueError(f"row {row} has no evidence: filter on `evidence is not None` first")
    return row.evidence


def matrix(rows: Sequence[rd.Row]) -> np.ndarray:
    return np.array([[evidence(r)[name] for name in FEATURES] for r in rows], dtype=np.float64)


def fit(rows: Sequence[rd.Row], accentless: bool) -> dict[str, float]:
    """Weights (with "bias") for one kind of question, fitted on half A and calibrated there."""
    from sklearn.linear_model import LogisticRegression

    half_a = rows_for(rows, accentless, "A")
    judged = [r for r in half_a if r.evidence is not None]
    train = [r for r in judged if evidence(r)["coverage"] < HARD_COVERAGE]
    model = LogisticRegression(C=C, max_iter=10_000).fit(matrix(train), [r.answerable for r in train])
    weights = dict(zip(FEATURES, (float(w) for w in model.coef_[0])))
    # Answerable questions with nothing to quote are refused whatever the model says: they use up
    # part of the false refusals the calibration allows.
    answerable = [r for r in half_a if r.answerable]
    scores = matrix([r for r in answerable if r.evidence is not None]) @ model.coef_[0] + model.intercept_[0]
    unjudged = sum(r.evidence is None for r in answerable)
    share = max(TARGET_FALSE_REFUSALS - unjudged / len(answerable), 0.0)
    cut = float(np.quantile(scores, share)) if share > 0 else float(scores.min()) - 1e-6
    weights["bias"] = float(model.intercept_[0]) - cut  # a score at the cut becomes confidence 0.5
    return weights


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=Path, required=True, help="collected rows (JSONL), made when missing")
    ap.add_argument("--collect", action="store_true", help="collect the rows again")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/refusal-work"))
    ap.add_argument("--data", type=Path, default=rd.xquad.DEFAULT_DATA)
    ap.add_argument("--write", action="store_true", help=f"write {MODEL_FILE.relative_to(REPO)}")
    args = ap.parse_args(argv)
    if args.collect or not args.rows.is_file():
        args.workdir.mkdir(parents=True, exist_ok=True)
        rd.save_rows(rd.collect(load_config(REPO / "config.yaml"), args.data, args.workdir), args.rows)
    rows = rd.load_rows(args.rows)
    weights = {kind: fit(rows, kind == "accentless") for kind in ("accented", "accentless")}
    out = {
        "about": "Weights of retrieval/answer/confidence.py's model, written by bench/train_confidence.py "
        f"(XQuAD half A, questions with article coverage < {HARD_COVERAGE}; confidence 0.5 = "
        f"{TARGET_FALSE_REFUSALS:.0%} of half A's answerable questions refused).",
        "features": list(FEATURES),
        "weights": {kind: {k: round(v, 4) for k, v in w.items()} for kind, w in weights.items()},
    }
    text = json.dumps(out, ensure_ascii=False, indent=2) + "\n"
    print(text, end="")
    if args.write:
        MODEL_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {MODEL_FILE}", file=sys.stderr)
    return 0 if all(math.isfinite(v) for w in weights.values() for v in w.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
