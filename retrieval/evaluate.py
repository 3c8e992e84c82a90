"""Evaluation on a question file (the format of ``shared/eval/seeds_dev.yaml``).

Each question has ``id``, ``question``, ``docs`` (articles whose citation counts
as right), ``expect`` (text the quote must contain after NFC + case folding,
or null when the articles do not answer it) and ``tags``. A hit at rank k is an
answer among the first k whose quote holds ``expect`` and cites one of ``docs``.
"""

from __future__ import annotations

import json
import statistics
import time
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from retrieval.answer.compose import Answer, Result
from retrieval.errors import BotError


class QuestionFileError(BotError):
    """The questions file is missing or not in the expected format."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    docs: tuple[str, ...]
    expect: str | None
    tags: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.expect is not None


@dataclass
class Report:
    questions: int = 0
    answerable: int = 0
    hit_at_1: float = 0.0
    hit_at_3: float = 0.0
    mrr: float = 0.0
    refusal_accuracy: float = 0.0
    off_topic_refused: str = "0/0"
    answerable_refused: int = 0
    per_tag: dict[str, dict[str, float | int]] = field(default_factory=dict)
    latency_ms_p50: float = 0.0
    latency_ms_p95: float = 0.0
    misses: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def load_questions(path: str | Path) -> list[Question]:
    """Read a YAML list or JSONL file of questions."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(f"cannot read questions file {path}: {exc}") from None
    try:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            records = yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise QuestionFileError(f"questions file {path} is not valid: {exc}") from None
    if not isinstance(records, list):
        raise QuestionFileError(f"questions file {path} must be a list of questions")
    questions = []
    for n, r in enumerate(records, start=1):
        if not isinstance(r, dict) or not isinstance(r.get("question"), str):
            raise QuestionFileError(f"question #{n} in {path} needs at least a 'question' text")
        expect = r.get("expect")
        questions.append(
            Question(
                id=str(r.get("id", n)),
                question=r["question"],
                docs=tuple(str(d) for d in (r.get("docs") or ())),
                expect=None if expect is None else str(expect),
                tags=tuple(str(t) for t in (r.get("tags") or ())),
            )
        )
    return questions


def is_hit(answer: Answer, q: Question) -> bool:
    return q.expect is not None and (not q.docs or answer.doc_id in q.docs) and _fold(q.expect) in _fold(answer.quote)


def first_hit_rank(result: Result, q: Question) -> int | None:
    for rank, answer in enumerate(result.answers, start=1):
        if is_hit(answer, q):
            return rank
    return None


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def evaluate(answer_fn, questions: list[Question]) -> Report:
    """Run every question through ``answer_fn(question) -> Result`` and score it."""
    report = Report(questions=len(questions))
    latencies: list[float] = []
    hits1 = hits3 = 0
    rr = 0.0
    correct_refusal = 0
    off_total = off_refused = 0
    tag_stats: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for q in questions:
        t0 = time.perf_counter()
        result = answer_fn(q.question)
        latencies.append((time.perf_counter() - t0) * 1000)
        if q.answerable:
            report.answerable += 1
            rank = first_hit_rank(result, q)
            ok = rank == 1
            hits1 += rank == 1
            hits3 += rank is not None and rank <= 3
            rr += 1 / rank if rank else 0.0
            correct_refusal += result.answered
            report.answerable_refused += not result.answered
        else:
            off_total += 1
            ok = not result.answered
            off_refused += ok
            correct_refusal += ok
        for tag in q.tags or ("untagged",):
            tag_stats[tag][0] += 1
            tag_stats[tag][1] += ok
        if not ok:
            first = result.answers[0] if result.answers else None
            report.misses.append(
                {
                    "id": q.id,
                    "question": q.question,
                    "expected": q.expect,
                    "docs": list(q.docs),
                    "answered": result.answered,
                    "got_doc": first.doc_id if first else None,
                    "got_quote": first.quote if first else None,
                    "hit_rank": first_hit_rank(result, q) if q.answerable else None,
                }
            )
    n_ans = report.answerable or 1
    report.hit_at_1 = round(hits1 / n_ans, 4)
    report.hit_at_3 = round(hits3 / n_ans, 4)
    report.mrr = round(rr / n_ans, 4)
    report.refusal_accuracy = round(correct_refusal / (report.questions or 1), 4)
    report.off_topic_refused = f"{off_refused}/{off_total}"
    report.per_tag = {tag: {"n": n, "correct": c, "rate": round(c / n, 4)} for tag, (n, c) in sorted(tag_stats.items())}
    report.latency_ms_p50 = round(_percentile(latencies, 50), 2)
    report.latency_ms_p95 = round(_percentile(latencies, 95), 2)
    return report


def format_report(report: Report) -> str:
    lines = [
        f"questions: {report.questions} ({report.answerable} answerable)",
        f"Hit@1: {report.hit_at_1:.3f}   Hit@3: {report.hit_at_3:.3f}   MRR: {report.mrr:.3f}",
        f"refusal accuracy: {report.refusal_accuracy:.3f}   off-topic refused: {report.off_topic_refused}"
        f"   answerable refused: {report.answerable_refused}",
        f"latency ms: p50 {report.latency_ms_p50:.1f}   p95 {report.latency_ms_p95:.1f}",
        "per tag (Hit@1, or refused for off-topic):",
    ]
    for tag, s in report.per_tag.items():
        lines.append(f"  {tag:<12} {s['correct']:>3}/{s['n']:<3} {s['rate']:.2f}")
    if report.misses:
        lines.append(f"misses ({len(report.misses)}):")
        for m in report.misses:
            got = "refused" if not m["answered"] else f"{m['got_doc']}: {(m['got_quote'] or '')[:90]}"
            lines.append(f"  {m['id']} {m['question']}")
            lines.append(f"      expected {m['expected']!r} in {m['docs']}; got {got}")
    return "\n".join(lines)
