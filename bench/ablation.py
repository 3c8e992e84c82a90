"""Ablation of the answer-quality ideas: each one switched off (or on) against the defaults.

    .venv/bin/python bench/ablation.py                  # prints the table
    .venv/bin/python bench/ablation.py --write          # also writes docs/quality.md

Every variant is the project's config.yaml with one change. For each it
reports, in the same run: XQuAD Vietnamese half A (even articles, where
settings were chosen) and half B (odd articles, never tuned on), the same
1190 questions typed without diacritics, and the dev set
(../shared/eval/seeds_dev.yaml: Hit@1 over its 26 answerable questions, and
its 4 off-topic questions refused). XQuAD hits follow bench/xquad.py: a
quote among the first k that holds a gold answer and cites its paragraph; a
refusal is a miss. The naive reference, plain rank-bm25 over lower-cased
syllables of the same sentences, is measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import xquad  # noqa: E402
from retrieval.config import Config, load_config  # noqa: E402
from retrieval.evaluate import evaluate, load_questions  # noqa: E402
from retrieval.service import AnswerService  # noqa: E402

DEV = REPO.parent / "shared/eval/seeds_dev.yaml"

# (name, what it changes, retrieval overrides, answer overrides)
VARIANTS: list[tuple[str, str, dict, dict]] = [
    ("defaults", "config.yaml as shipped", {}, {}),
    ("- compound syllables", "index/match words only, not the syllables of compounds", {"expand_compounds": False}, {}),
    ("- question-word removal", "score question and function words too", {"drop_question_words": False}, {}),
    (
        "drop all stopwords",
        "leave every answer.stopwords word out of the scores, not only question words",
        {"question_words": ()},
        {},
    ),
    (
        "- diacritic-free field",
        "no folded field (fold weights 0)",
        {"fold_weight": 0.0, "accentless_fold_weight": 0.0},
        {},
    ),
    ("- accentless pair field", "accentless_bigram_weight 0", {"accentless_bigram_weight": 0.0}, {}),
    ("- article evidence", "article_weight 0", {"article_weight": 0.0}, {}),
    ("- answer-type preference", "type_bonus 0", {"type_bonus": 0.0}, {}),
    ("- abbreviation table", "no abbreviations", {"abbreviations": {}}, {}),
    (
        "- forward widening",
        "answer.widen_forward false: a quote never takes the dependent sentence after it",
        {},
        {"widen_forward": False},
    ),
    (
        "- covering widening",
        "answer.widen_to_cover 0: a quote never takes a neighbour for the question words it lacks",
        {},
        {"widen_to_cover": 0.0},
    ),
    (
        "- antecedent rule",
        "answer.demonstratives empty: a sentence saying 'các thiết bị này' is quoted alone",
        {},
        {"demonstratives": ()},
    ),
    (
        "- attribute focus",
        "retrieval.focus_factor 1: 'X của Y là gì?' sentences without the word X are not lowered",
        {"focus_factor": 1.0},
        {},
    ),
    ("attribute focus 0.5", "retrieval.focus_factor 0.5 (ours: 0.7)", {"focus_factor": 0.5}, {}),
    ("covering widening 0.1", "answer.widen_to_cover 0.1 (ours: 0.05)", {}, {"widen_to_cover": 0.1}),
    ("later quotes >= 0.5 of the best", "answer.min_relative_score 0.5 (ours: 0.3)", {}, {"min_relative_score": 0.5}),
    ("b = 0.75", "rank-bm25's default length normalisation (ours: 0.5)", {"b": 0.75}, {}),
    ("k1 = 1.2", "less term-frequency saturation headroom (ours: 1.5)", {"k1": 1.2}, {}),
    ("k1 = 2.0", "more term-frequency saturation headroom", {"k1": 2.0}, {}),
    ("+ syllable-bigram field", "bigram_weight 0.5", {"bigram_weight": 0.5}, {}),
    ("+ neighbour evidence", "neighbor_weight 0.2", {"neighbor_weight": 0.2}, {}),
]


def variant_config(base: Config, retrieval: dict, answer: dict, cache: Path) -> Config:
    return dataclasses.replace(
        base,
        cache_dir=cache,
        retrieval=dataclasses.replace(base.retrieval, **retrieval),
        answer=dataclasses.replace(base.answer, **answer),
    )


def measure(cfg: Config, corpus: Path, questions, dev_questions) -> dict:
    service = AnswerService.open(cfg, corpus)
    out = {}
    for label, half, accentless in (("A", "A", False), ("B", "B", False), ("no diacritics", "all", True)):
        subset = xquad.select_questions(questions, half)
        out[label] = xquad.run_project(service, subset, accentless).summary(True, False)
    seeds = AnswerService.open(cfg, cfg.corpus)
    report = evaluate(seeds.answer, dev_questions)
    out["dev"] = {"hit_at_1": report.hit_at_1, "off_topic_refused": report.off_topic_refused}
    return out


def reference(service_cfg: Config, corpus: Path, questions) -> dict:
    units = xquad.sentence_units(AnswerService.open(service_cfg, corpus).index)
    out = {}
    for label, half, accentless in (("A", "A", False), ("B", "B", False), ("no diacritics", "all", True)):
        subset = xquad.select_questions(questions, half)
        out[label] = xquad.run_baseline(units, subset, accentless).summary(False, False)
    return out


def _all(r: dict, k: int) -> float:
    """Hit@k over both halves together (all 1190 questions)."""
    a, b = r["A"], r["B"]
    return (a[f"hits_at_{k}"] + b[f"hits_at_{k}"]) / (a["questions"] + b["questions"])


def table(rows: list[tuple[str, str, dict]]) -> str:
    head = (
        "| variant | XQuAD all Hit@1 | all Hit@3 | half A Hit@1 | half B Hit@1 | no diacritics Hit@1 "
        "| no diacritics Hit@3 | refused (of 1190) | first quote chars | dev Hit@1 | off-topic refused |"
    )
    lines = [head, "|" + "---|" * 11]
    for name, _, r in rows:
        refused = r["A"]["refused"] + r["B"]["refused"] if "refused" in r["A"] else "–"
        a, b = r["A"], r["B"]
        quotes = a["first_quotes"] + b["first_quotes"]
        chars = (a["first_quote_chars_mean"] * a["first_quotes"] + b["first_quote_chars_mean"] * b["first_quotes"]) / (
            quotes or 1
        )
        dev = r.get("dev")
        dev_cells = f"{dev['hit_at_1']:.3f} | {dev['off_topic_refused']}" if dev else "– | –"
        lines.append(
            f"| {name} | {_all(r, 1):.3f} | {_all(r, 3):.3f} | {r['A']['hit_at_1']:.3f} | {r['B']['hit_at_1']:.3f} "
            f"| {r['no diacritics']['hit_at_1']:.3f} | {r['no diacritics']['hit_at_3']:.3f} "
            f"| {refused} | {chars:.0f} | {dev_cells} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(REPO / "config.yaml"))
    parser.add_argument("--data", type=Path, default=xquad.DEFAULT_DATA)
    parser.add_argument("--dev", type=Path, default=DEV)
    parser.add_argument("--write", action="store_true", help="write the table into docs/quality.md")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    base = load_config(args.config)
    paragraphs, questions = xquad.load_xquad(args.data)
    dev_questions = load_questions(args.dev)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "xquad_vi.jsonl"
        xquad.write_corpus(paragraphs, corpus)
        cache = Path(tmp) / "cache"
        rows.append(
            (
                "rank-bm25, syllables (reference)",
                "plain BM25Okapi",
                reference(variant_config(base, {}, {}, cache), corpus, questions),
            )
        )
        for name, what, retrieval, answer in VARIANTS:
            t0 = time.perf_counter()
            rows.append(
                (name, what, measure(variant_config(base, retrieval, answer, cache), corpus, questions, dev_questions))
            )
            print(f"  {name}: {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    text = table(rows)
    legend = "\n".join(f"- **{name}**: {what}" for name, what, _ in rows)
    print(text)
    print(f"\nwall time: {time.perf_counter() - started:.0f}s", file=sys.stderr)
    if args.write:
        doc = REPO / "docs" / "quality.md"
        body = doc.read_text(encoding="utf-8") if doc.exists() else ""
        start, end = "<!-- ablation:start -->", "<!-- ablation:end -->"
        block = f"{start}\n{text}\n\n{legend}\n{end}"
        if start in body and end in body:
            body = body[: body.index(start)] + block + body[body.index(end) + len(end) :]
        else:
            body += "\n" + block + "\n"
        doc.write_text(body, encoding="utf-8")
        print(f"written to {doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
