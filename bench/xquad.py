"""XQuAD-vi retrieval benchmark: the project's answers vs. a naive rank-bm25 baseline.

Usage (from the repository root)::

    .venv/bin/python bench/xquad.py                  # all 1190 questions
    .venv/bin/python bench/xquad.py --accentless     # questions typed without diacritics
    .venv/bin/python bench/xquad.py --half A --limit 100 --json

What it measures
----------------
The 240 paragraphs of XQuAD-vi (Artetxe et al., 2020; CC BY-SA 4.0) become a
JSONL corpus, one article per paragraph (``a{article:02d}p{paragraph:02d}``).
The corpus is always all 240 paragraphs; ``--half`` only selects questions.

* **project** - ``AnswerService.answer(q, max_answers=3)``. Hit@k: one of the
  first k answers quotes a gold answer text and cites the question's paragraph.
  A refusal is a miss (and is counted under "refused"). MRR is over the
  returned answers (at most 3).
* **rank-bm25 (syllables)** - ``rank_bm25.BM25Okapi`` with its defaults over
  the *same* sentences the project indexed, tokenized as lower-cased syllables
  (whitespace split, punctuation stripped from token edges). Hit@k: one of the
  k best sentences contains a gold answer and belongs to the question's paragraph.

Gold answers are compared after NFC + casefold + whitespace collapse. Every
number except the timings is deterministic.

One script past 400 lines because the data, the rank-bm25 reference and the scoring of both
are one benchmark, which ablation.py, refusal_data.py and train_ranker.py import.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bench/ is on sys.path, not the repo
    sys.path.insert(0, str(REPO))

from retrieval.config import load_config  # noqa: E402
from retrieval.text.normalize import fold_diacritics  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared/eval/xquad/xquad.vi.json"
PROJECT = "project"
BASELINE = "rank-bm25 (syllables)"
MRR_CUTOFF = 10
PROJECT_MAX_ANSWERS = 3


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Paragraph:
    doc_id: str
    article: int
    title: str
    context: str


@dataclass(frozen=True)
class XQuestion:
    id: str
    question: str
    doc_id: str  # the paragraph the answer comes from
    article: int
    answers: tuple[str, ...]


def paragraph_id(article: int, paragraph: int) -> str:
    """The corpus id of a paragraph: ``a{article:02d}p{paragraph:02d}``."""
    return f"a{article:02d}p{paragraph:02d}"


def load_xquad(path: Path) -> tuple[list[Paragraph], list[XQuestion]]:
    """Read a SQuAD v1.1 file: its paragraphs and its questions, in file order."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    paragraphs: list[Paragraph] = []
    questions: list[XQuestion] = []
    for a, article in enumerate(data["data"]):
        for p, para in enumerate(article["paragraphs"]):
            doc_id = paragraph_id(a, p)
            paragraphs.append(Paragraph(doc_id, a, article["title"], para["context"]))
            for qa in para["qas"]:
                questions.append(
                    XQuestion(
                        id=qa["id"],
                        question=qa["question"],
                        doc_id=doc_id,
                        article=a,
                        answers=tuple(ans["text"] for ans in qa["answers"]),
                    )
                )
    return paragraphs, questions


def select_questions(questions: Sequence[XQuestion], half: str = "all", limit: int | None = None) -> list[XQuestion]:
    """Questions of half ``A`` (even article index), ``B`` (odd) or ``all``; then the first ``limit``."""
    if half == "A":
        chosen = [q for q in questions if q.article % 2 == 0]
    elif half == "B":
        chosen = [q for q in questions if q.article % 2 == 1]
    elif half == "all":
        chosen = list(questions)
    else:
        raise ValueError(f"half must be 'all', 'A' or 'B', got {half!r}")
    return chosen if limit is None else chosen[:limit]


def write_corpus(paragraphs: Iterable[Paragraph], path: Path) -> None:
    """One JSONL record per paragraph: ``{"id", "title", "text"}``."""
    with open(path, "w", encoding="utf-8") as f:
        for p in paragraphs:
            f.write(json.dumps({"id": p.doc_id, "title": p.title, "text": p.context}, ensure_ascii=False))
            f.write("\n")


# ------------------------------------------------------------------------ scoring


def fold(text: str) -> str:
    """The comparison form of a text: Unicode NFC, casefold, whitespace runs -> one space."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def gold_match(text: str, answers: Iterable[str]) -> bool:
    """True when ``text`` contains one of the gold ``answers`` (both compared folded)."""
    haystack = fold(text)
    return any((needle := fold(a)) and needle in haystack for a in answers)


def hit_rank(
    ranked: Iterable[tuple[str, str]], gold_doc: str, answers: Iterable[str], k: int | None = None
) -> int | None:
    """1-based rank of the first ``(doc_id, text)`` that cites ``gold_doc`` and contains a gold answer.

    Only the first ``k`` items are looked at (all when ``k`` is None). None: no hit.
    """
    answers = tuple(answers)
    for rank, (doc_id, text) in enumerate(ranked, start=1):
        if k is not None and rank > k:
            break
        if doc_id == gold_doc and gold_match(text, answers):
            return rank
    return None


def reciprocal_rank(rank: int | None, cutoff: int = MRR_CUTOFF) -> float:
    """1/rank for a hit within ``cutoff``, else 0."""
    return 1.0 / rank if rank is not None and rank <= cutoff else 0.0


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` highest positive scores, best first; ties: lower index first.

    A sentence sharing no token with the query (score 0) is not retrieved.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.flatnonzero(scores > 0)
    order = np.lexsort((positive, -scores[positive]))
    return [int(i) for i in positive[order[:k]]]


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def syllable_tokens(text: str) -> list[str]:
    """Naive tokens: ``text.lower().split()``, Unicode punctuation stripped from each token's edges.

    Tokens left empty are dropped; punctuation inside a token ("1.000", "T-34") stays.
    """
    tokens = []
    for tok in text.lower().split():
        start, end = 0, len(tok)
        while start < end and _is_punct(tok[start]):
            start += 1
        while end > start and _is_punct(tok[end - 1]):
            end -= 1
        if start < end:
            tokens.append(tok[start:end])
    return tokens


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (linear interpolation between closest ranks; 0 for no values)."""
    if not values:
        return 0.0
    return float(np.percentile(np.asarray(values, dtype=np.float64), pct))


@dataclass
class Scores:
    """Per-question outcome of one system."""

    ranks: list[int | None] = dataclasses.field(default_factory=list)  # first hit rank (None: miss)
    refused: int = 0
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    # Length (characters) of the first quote of every answered question: what a hit costs the reader.
    first_quote_chars: list[int] = dataclasses.field(default_factory=list)

    def summary(self, with_refusals: bool, with_latency: bool) -> dict:
        n = len(self.ranks)
        hits1 = sum(r is not None and r <= 1 for r in self.ranks)
        hits3 = sum(r is not None and r <= 3 for r in self.ranks)
        mrr = sum(reciprocal_rank(r) for r in self.ranks)
        out: dict = {
            "questions": n,
            "hits_at_1": hits1,
            "hits_at_3": hits3,
            "hit_at_1": round(hits1 / n, 4) if n else 0.0,
            "hit_at_3": round(hits3 / n, 4) if n else 0.0,
            f"mrr_at_{MRR_CUTOFF}": round(mrr / n, 4) if n else 0.0,
            "first_quotes": len(self.first_quote_chars),
            "first_quote_chars_mean": round(float(np.mean(self.first_quote_chars)), 1)
            if self.first_quote_chars
            else 0.0,
        }
        if with_refusals:
            out["refused"] = self.refused
        if with_latency:
            out["latency_ms_p50"] = round(percentile(self.latencies_ms, 50), 2)
            out["latency_ms_p95"] = round(percentile(self.latencies_ms, 95), 2)
        return out


# ------------------------------------------------------------------------ systems


def run_project(service, questions: Sequence[XQuestion], accentless: bool) -> Scores:
    """Ask the project every question; rank of the first correct quote among its answers."""
    scores = Scores()
    for q in questions:
        text = fold_diacritics(q.question) if accentless else q.question
        t0 = time.perf_counter()
        result = service.answer(text, max_answers=PROJECT_MAX_ANSWERS)
        scores.latencies_ms.append((time.perf_counter() - t0) * 1000)
        if not result.answered:
            scores.refused += 1
            scores.ranks.append(None)
            continue
        ranked = [(a.doc_id, a.quote) for a in result.answers]
        scores.first_quote_chars.append(len(result.answers[0].quote))
        scores.ranks.append(hit_rank(ranked, q.doc_id, q.answers))
    return scores


def sentence_units(index) -> list[tuple[str, str]]:
    """``(doc_id, text)`` of every sentence in the project's index, in index order."""
    return [(index.sentence_article(i).doc_id, index.text(i)) for i in range(len(index.sentences))]


def run_baseline(units: Sequence[tuple[str, str]], questions: Sequence[XQuestion], accentless: bool) -> Scores:
    """rank-bm25 BM25Okapi (k1=1.5, b=0.75, epsilon=0.25) over syllable tokens of the same sentences."""
    bm25 = BM25Okapi([syllable_tokens(text) for _, text in units])
    scores = Scores()
    for q in questions:
        text = fold_diacritics(q.question) if accentless else q.question
        best = top_k(bm25.get_scores(syllable_tokens(text)), MRR_CUTOFF)
        if best:  # no sentence shares a word with the question
            scores.first_quote_chars.append(len(units[best[0]][1]))
        scores.ranks.append(hit_rank((units[i] for i in best), q.doc_id, q.answers))
    return scores


# ---------------------------------------------------------------------- ingestion


def ingestion_report(
    paragraphs: Sequence[Paragraph], articles, units: Sequence[tuple[str, str]], questions: Sequence[XQuestion]
) -> dict:
    """What ingestion kept: missing paragraphs, paragraphs whose text changed, and
    how many questions have their gold answer inside one indexed sentence of their paragraph."""
    by_id = {a.doc_id: a for a in articles}
    missing = [p.doc_id for p in paragraphs if p.doc_id not in by_id]
    changed = []
    for p in paragraphs:
        art = by_id.get(p.doc_id)
        if art is None:
            continue
        given = " ".join(p.context.split())
        kept = " ".join(" ".join(art.paragraphs).split())
        if kept != given:
            changed.append({"id": p.doc_id, "chars_in": len(given), "chars_kept": len(kept)})
    sentences_of: dict[str, list[str]] = {}
    for doc_id, text in units:
        sentences_of.setdefault(doc_id, []).append(text)
    within = sum(any(gold_match(s, q.answers) for s in sentences_of.get(q.doc_id, ())) for q in questions)
    return {
        "paragraphs_in": len(paragraphs),
        "paragraphs_indexed": len(by_id),
        "missing": missing,
        "text_changed": changed,
        "answer_in_one_sentence": within,
    }


# ------------------------------------------------------------------------- output


def library_version(repo: Path = REPO) -> str:
    """The commit the library is at, with "+dirty" when retrieval/ or config.yaml has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "retrieval", "config.yaml"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def format_table(results: dict[str, dict]) -> str:
    """The markdown table of both systems."""
    head = [
        "system",
        "Hit@1",
        "Hit@3",
        f"MRR@{MRR_CUTOFF}",
        "refused",
        "questions",
        "first quote chars",
        "p50 ms",
        "p95 ms",
    ]
    rows = []
    for name, r in results.items():
        rows.append(
            [
                name,
                # from the counts: hit_at_k is already rounded to 4 places, rounding it again can move the 3rd
                f"{r['hits_at_1'] / r['questions']:.3f}" if r["questions"] else "0.000",
                f"{r['hits_at_3'] / r['questions']:.3f}" if r["questions"] else "0.000",
                f"{r[f'mrr_at_{MRR_CUTOFF}']:.3f}",
                str(r["refused"]) if "refused" in r else "–",
                str(r["questions"]),
                f"{r['first_quote_chars_mean']:.0f}",
                f"{r['latency_ms_p50']:.1f}" if "latency_ms_p50" in r else "–",
                f"{r['latency_ms_p95']:.1f}" if "latency_ms_p95" in r else "–",
            ]
        )
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="XQuAD file (default: %(default)s)")
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml", help="default: %(default)s")
    ap.add_argument(
        "--half",
        choices=("all", "A", "B"),
        default="all",
        help="questions of even (A) or odd (B) articles only; the corpus is always complete",
    )
    ap.add_argument("--accentless", action="store_true", help="ask the questions without diacritics")
    ap.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N questions")
    ap.add_argument(
        "--workdir", type=Path, default=None, help="keep the corpus and index cache here (default: a temporary folder)"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)
    if not args.data.is_file():
        ap.error(f"data file not found: {args.data}")
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be >= 1")
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict:
    from retrieval.service import AnswerService

    started = time.perf_counter()
    paragraphs, all_questions = load_xquad(args.data)
    questions = select_questions(all_questions, args.half, args.limit)
    corpus = workdir / "xquad_vi.jsonl"
    write_corpus(paragraphs, corpus)
    cfg = dataclasses.replace(load_config(args.config), cache_dir=workdir / "cache")

    t0 = time.perf_counter()
    service = AnswerService.open(cfg, corpus)
    index_seconds = time.perf_counter() - t0
    units = sentence_units(service.index)
    ingestion = ingestion_report(paragraphs, service.articles, units, questions)

    project = run_project(service, questions, args.accentless)
    baseline = run_baseline(units, questions, args.accentless)
    return {
        "data": str(args.data),
        "library": library_version(),
        "half": args.half,
        "accentless": args.accentless,
        "limit": args.limit,
        "questions": len(questions),
        "sentences_indexed": len(units),
        "ingestion": ingestion,
        "results": {
            PROJECT: project.summary(with_refusals=True, with_latency=True),
            BASELINE: baseline.summary(with_refusals=False, with_latency=False),
        },
        "index_seconds": round(index_seconds, 2),
        "wall_seconds": round(time.perf_counter() - started, 2),
    }


def report_text(out: dict) -> str:
    ing = out["ingestion"]
    changed = ", ".join(f"{c['id']} keeps {c['chars_kept']}/{c['chars_in']} chars" for c in ing["text_changed"])
    lines = [
        f"XQuAD-vi, half={out['half']}, accentless={'yes' if out['accentless'] else 'no'}"
        + (f", limit={out['limit']}" if out["limit"] else "")
        + f"; library {out['library']}",
        "",
        format_table(out["results"]),
        "",
        f"indexed: {out['sentences_indexed']} sentences, {ing['paragraphs_indexed']}/{ing['paragraphs_in']} paragraphs"
        f" (dropped: {', '.join(ing['missing']) or 'none'};"
        f" text changed by ingestion: {changed or 'none'})",
        f"gold answer inside one indexed sentence of its paragraph: "
        f"{ing['answer_in_one_sentence']}/{out['questions']} questions",
        f"project MRR is over its at most {PROJECT_MAX_ANSWERS} answers; latency is per answer() call;"
        " first quote chars: mean length of the first quote (rank-bm25: its best sentence)",
        f"wall time: {out['wall_seconds']:.1f} s (index build {out['index_seconds']:.1f} s)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        out = run(args, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="xquad-bench-") as tmp:
            out = run(args, Path(tmp))
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(report_text(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
