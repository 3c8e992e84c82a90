"""Fit the re-ranker's feature weights on XQuAD half A (even articles), report both halves.

    .venv/bin/python bench/train_ranker.py            # prints the weights as YAML
    .venv/bin/python bench/train_ranker.py --write    # also writes them into config.yaml

For every question of half A, typed with and without diacritics, the first
stage (BM25 fields, article evidence) proposes ``retrieval.rerank_depth``
sentences; a sentence is a positive when it belongs to the gold paragraph and
holds a gold answer. A logistic regression (scikit-learn) on the features of
``retrieval.search.learned.FEATURES`` learns how much each counts; the score used at run
time is ``exp(w · features)``, so only the weights are stored, in config.yaml.
Half B is never looked at while fitting; its figures are reported for honesty.
Needs scikit-learn (``pip install scikit-learn``), only for fitting.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import xquad  # noqa: E402
from retrieval.config import load_config  # noqa: E402
from retrieval.search.first_stage import candidates_for  # noqa: E402
from retrieval.search.learned import FEATURES, features  # noqa: E402
from retrieval.service import AnswerService  # noqa: E402
from retrieval.text.answer_types import TypeRules  # noqa: E402
from retrieval.text.normalize import fold_diacritics  # noqa: E402


def question_rows(service, cfg, text: str, q) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Features, labels and candidate ids of one question (None: no candidates)."""
    query = service.composer.query(text, service.segmenter.terms(text))
    found = candidates_for(service.index, query, cfg.retrieval)
    if found is None:
        return None
    candidates, base, fused, art_rel = found
    rows = features(
        service.index,
        query,
        text,
        candidates,
        base,
        fused,
        art_rel,
        TypeRules.from_config(cfg.retrieval),
        cfg.retrieval.type_window,
    )
    labels = np.array(
        [
            service.index.sentence_article(int(i)).doc_id == q.doc_id
            and xquad.gold_match(service.index.text(int(i)), q.answers)
            for i in candidates
        ]
    )
    return rows, labels, candidates


def dev_rows(cfg, path: Path) -> list:
    """Feature groups of the dev questions over the seeds (answerable ones)."""
    from retrieval.evaluate import _fold, load_questions

    service = AnswerService.open(cfg, cfg.corpus)
    groups = []
    for q in load_questions(path):
        if q.expect is None:
            continue
        query = service.composer.query(q.question, service.segmenter.terms(q.question))
        found = candidates_for(service.index, query, cfg.retrieval)
        if found is None:
            continue
        candidates, base, fused, art_rel = found
        rows = features(
            service.index,
            query,
            q.question,
            candidates,
            base,
            fused,
            art_rel,
            TypeRules.from_config(cfg.retrieval),
            cfg.retrieval.type_window,
        )
        labels = np.array(
            [
                service.index.sentence_article(int(i)).doc_id in q.docs
                and _fold(q.expect) in _fold(service.index.text(int(i)))
                for i in candidates
            ]
        )
        groups.append((rows, labels, candidates))
    print(
        f"dev: {len(groups)} answerable questions, first-stage Hit@1 "
        f"{hit1(groups, np.eye(len(FEATURES))[FEATURES.index('fused')]) / max(1, len(groups)):.3f}"
    )
    return groups


def hit1(groups, weights: np.ndarray) -> float:
    hits = 0
    for rows, labels, candidates in groups:
        score = rows @ weights
        order = np.lexsort((candidates, -score))
        hits += bool(labels[order[0]])
    return hits


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(REPO / "config.yaml"))
    parser.add_argument(
        "--data",
        default=str(xquad.DEFAULT_DATA)
        if hasattr(xquad, "DEFAULT_DATA")
        else str(REPO.parent / "shared/eval/xquad/xquad.vi.json"),
    )
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--write", action="store_true", help="write the weights into config.yaml")
    parser.add_argument(
        "--dev",
        type=Path,
        default=REPO.parent / "shared/eval/seeds_dev.yaml",
        help="dev questions added to the training pairs (answerable ones)",
    )
    parser.add_argument(
        "--dev-weight", type=int, default=20, help="how many times each dev question's pairs are repeated"
    )
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression

    cfg = load_config(args.config)
    cfg = dataclasses.replace(cfg, retrieval=dataclasses.replace(cfg.retrieval, ranker_weights={}))
    paragraphs, questions = xquad.load_xquad(Path(args.data))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "xquad.jsonl"
        xquad.write_corpus(paragraphs, corpus)
        service = AnswerService.open(dataclasses.replace(cfg, cache_dir=Path(tmp) / "cache"), corpus)
        groups = {}
        for half in ("A", "B"):
            for accentless in (False, True):
                rows = []
                for q in xquad.select_questions(questions, half):
                    text = fold_diacritics(q.question) if accentless else q.question
                    r = question_rows(service, cfg, text, q)
                    if r is not None:
                        rows.append(r)
                groups[half, accentless] = rows

    # Pairwise transform (RankSVM-style): for each question, every positive
    # sentence against every negative one; the model learns which of the two
    # should rank higher, which is what the ranking needs.
    train = groups["A", False] + groups["A", True]
    dev_groups = dev_rows(cfg, args.dev) if args.dev and args.dev.exists() else []
    train = train + dev_groups * args.dev_weight
    diffs = []
    for rows, labels, _ in train:
        pos, neg = rows[labels], rows[~labels]
        if len(pos) and len(neg):
            diffs.append((pos[:, None, :] - neg[None, :, :]).reshape(-1, rows.shape[1]))
    d = np.vstack(diffs)
    x = np.vstack([d, -d])
    y = np.concatenate([np.ones(len(d)), np.zeros(len(d))])
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=args.C, max_iter=3000, fit_intercept=False).fit(x / scale, y)
    weights = model.coef_[0] / scale

    print(f"trained on {len(d)} (positive, negative) sentence pairs of half A, with and without diacritics")
    for (half, accentless), rows in groups.items():
        n = len(xquad.select_questions(questions, half))
        base = hit1(rows, np.eye(len(FEATURES))[FEATURES.index("bm25")])
        print(
            f"  half {half} {'accentless' if accentless else 'accented  '}: first-stage Hit@1 {base / n:.3f}"
            f" -> re-ranked {hit1(rows, weights) / n:.3f}  ({n} questions; refusals not counted)"
        )
    yaml_lines = ["  ranker_weights:"] + [f"    {name}: {w:.4f}" for name, w in zip(FEATURES, weights)]
    print("\n".join(yaml_lines))
    if args.write:
        path = Path(args.config)
        text = path.read_text(encoding="utf-8")
        block = re.compile(r"^  ranker_weights:.*?(?=^  \S|^\S|\Z)", re.M | re.S)
        new = "\n".join(yaml_lines) + "\n"
        text = block.sub(new, text, count=1) if block.search(text) else text
        path.write_text(text, encoding="utf-8")
        print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
