"""How the bot is doing, read from the question log (:mod:`bot.insights.store`).

:func:`build_report` turns the log of one period into a :class:`Report`;
:mod:`bot.insights.render` presents it (JSON, a few Vietnamese lines, one HTML
file, the ``/stats`` photo).

The most useful part is the refused questions grouped by topic: each group is
a document the corpus lacks. Questions are grouped by their most telling
content words, weighed by the index's own IDF (a word the index has never seen
weighs most: it is the surest sign the corpus is not about the question). The
word segmentation and the IDF are injected, so this module does not need the
index, and tests can pass a whitespace splitter and a dict.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.answer.compose import Outcome

from .store import open_for_reading, to_iso, utc_now

if TYPE_CHECKING:  # only for a type: the report itself never needs the index loaded
    from retrieval.service import AnswerService

DocId = str
Terms = Callable[[str], Sequence[str]]
Idf = Callable[[str], float | None]

MAX_KEYWORDS = 3  # most telling words kept per refused question
KEYWORD_SHARE = 0.5  # ... each weighing at least this share of the question's heaviest word
UNKNOWN_FACTOR = 2.0  # a word the index lacks weighs this times the largest IDF seen
ANSWERED_SAMPLE = 1000  # answered questions segmented to tell topic words from filler words
TOP_CITED = 10
MAX_LISTED = 200  # never-cited articles, disliked answers and groups kept in a report


@dataclass(frozen=True)
class DayCount:
    """Questions asked on one local day."""

    day: date
    questions: int
    answered: int
    refused: int  # refused for any reason, errors included

    @property
    def refusal_rate(self) -> float | None:
        return self.refused / self.questions if self.questions else None


@dataclass(frozen=True)
class RefusalGroup:
    """Refused questions that share their most telling words: probably one missing document."""

    keywords: tuple[str, ...]
    count: int  # questions asked (a question asked twice counts twice)
    example: str
    examples: tuple[str, ...]  # up to three distinct questions, the example first


@dataclass(frozen=True)
class Disliked:
    """An answer that got 👎, with what it quoted."""

    answer_id: str
    at: datetime
    question: str
    quote: str
    doc_id: DocId
    title: str
    up: int
    down: int


@dataclass(frozen=True)
class ArticleCount:
    doc_id: DocId
    title: str
    count: int


@dataclass(frozen=True)
class Report:
    """The figures of one period; every list is ordered as it should be shown."""

    start: datetime
    end: datetime
    questions: int
    answered: int
    refused: int  # not answered, errors excluded
    errors: int
    reasons: tuple[tuple[str, int], ...]  # reason code -> questions, most first
    chat_kinds: tuple[tuple[str, int], ...]
    up_votes: int
    down_votes: int
    voted_answers: int  # answers with at least one vote
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    days: tuple[DayCount, ...]
    refusal_groups: tuple[RefusalGroup, ...]
    disliked: tuple[Disliked, ...]
    most_cited: tuple[ArticleCount, ...]
    never_cited: tuple[ArticleCount, ...]  # at most MAX_LISTED, in corpus order
    never_cited_total: int
    articles: int  # in the index

    def share(self, n: int, of: int | None = None) -> float:
        total = self.questions if of is None else of
        return n / total if total else 0.0


# --- Building --------------------------------------------------------------------------

_SINCE = re.compile(r"\s*(\d{1,4})\s*([hdw])\s*")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_since(text: str) -> timedelta:
    """``"7d"``, ``"24h"``, ``"2w"`` -> a duration (the CLI's ``--since``)."""
    match = _SINCE.fullmatch(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"--since must be a number of hours, days or weeks such as 24h, 7d or 2w, got {text!r}")
    return int(match.group(1)) * _UNIT[match.group(2)]


def service_inputs(service: AnswerService) -> tuple[Terms, Idf, list[tuple[DocId, str]]]:
    """What :func:`build_report` needs from the answering service: its content words (the same
    segmentation and stopwords as for answering), the sentence index's IDF, and the articles."""
    return service.content_words, service.idf, [(a.doc_id, a.title) for a in service.articles]


def build_report(
    db_path: str | Path,
    since: timedelta,
    terms: Terms,
    idf: Idf,
    articles: Sequence[tuple[DocId, str]],
    *,
    tz: tzinfo = UTC,
    now: datetime | None = None,
) -> Report:
    """The report of the last ``since`` (whole days in ``tz``, today included) from the log at ``db_path``.

    ``terms`` is the bot's word segmentation (content words), ``idf`` the index's IDF of a
    word (``None`` for a word the index does not know), ``articles`` the indexed
    ``(doc_id, title)`` pairs. Raises :class:`~bot.insights.store.QuestionLogError` when the
    log is missing or of another schema version.
    """
    if since <= timedelta(0):
        raise ValueError("since must be a positive duration, e.g. timedelta(days=7)")
    end = (now or utc_now()).astimezone(tz)
    n_days = max(1, math.ceil(since / timedelta(days=1)))
    first_day = end.date() - timedelta(days=n_days - 1)
    start = datetime.combine(first_day, time(), tz)
    rows = _read(db_path, start)

    titles = dict(articles)
    days = {first_day + timedelta(days=i): [0, 0, 0] for i in range(n_days)}
    reasons: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    cited: Counter[str] = Counter()
    latencies: list[float] = []
    refused_questions: list[str] = []
    answered_questions: list[str] = []
    disliked: list[Disliked] = []
    up = down = voted = 0
    for row in rows:
        at = datetime.fromisoformat(row.ts)
        bucket = days.setdefault(at.astimezone(tz).date(), [0, 0, 0])
        bucket[0] += 1
        bucket[1 if row.answered else 2] += 1
        reasons[row.reason] += 1
        kinds[row.kind] += 1
        latencies.append(row.latency_ms)
        up, down, voted = up + row.up, down + row.down, voted + bool(row.up or row.down)
        if row.answered:
            answered_questions.append(row.question)
            answers = json.loads(row.answers)
            cited.update({a["doc_id"] for a in answers})  # once per answer, however many quotes
            if row.down and answers:
                first = answers[0]
                disliked.append(
                    Disliked(
                        row.answer_id,
                        at,
                        row.question,
                        first["quote"],
                        first["doc_id"],
                        titles.get(first["doc_id"], first["doc_id"]),
                        row.up,
                        row.down,
                    )
                )
        elif row.reason not in (Outcome.EMPTY, Outcome.NO_CONTENT, Outcome.ERROR):
            refused_questions.append(row.question)

    latencies.sort()
    disliked.sort(key=lambda d: (d.up - d.down, -d.down, -d.at.timestamp()))
    never = [ArticleCount(d, t, 0) for d, t in articles if d not in cited]
    errors = reasons.get(Outcome.ERROR, 0)
    answered = sum(1 for r in rows if r.answered)
    return Report(
        start=start,
        end=end,
        questions=len(rows),
        answered=answered,
        refused=len(rows) - answered - errors,
        errors=errors,
        reasons=tuple(reasons.most_common()),
        chat_kinds=tuple(kinds.most_common()),
        up_votes=up,
        down_votes=down,
        voted_answers=voted,
        latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95),
        days=tuple(DayCount(d, *counts) for d, counts in sorted(days.items())),
        refusal_groups=tuple(group_refusals(refused_questions, terms, idf, _sample(answered_questions))[:MAX_LISTED]),
        disliked=tuple(disliked[:MAX_LISTED]),
        most_cited=tuple(ArticleCount(d, titles.get(d, d), n) for d, n in cited.most_common(TOP_CITED)),
        never_cited=tuple(never[:MAX_LISTED]),
        never_cited_total=len(never),
        articles=len(titles),
    )


@dataclass(frozen=True)
class _Row:
    answer_id: str
    ts: str
    kind: str
    question: str
    answered: bool
    reason: str
    answers: str
    latency_ms: float
    up: int
    down: int


def _read(db_path: str | Path, start: datetime) -> list[_Row]:
    conn = open_for_reading(db_path)
    try:
        cursor = conn.execute(
            """
            SELECT q.answer_id, q.ts, q.chat_kind, q.question, q.answered, q.reason, q.answers, q.latency_ms,
                   coalesce(v.up, 0), coalesce(v.down, 0)
            FROM questions AS q
            LEFT JOIN (SELECT answer_id, sum(value > 0) AS up, sum(value < 0) AS down
                       FROM votes GROUP BY answer_id) AS v USING (answer_id)
            WHERE q.ts >= ? ORDER BY q.ts
            """,
            (to_iso(start),),
        )
        return [_Row(*r) for r in cursor]
    finally:
        conn.close()


def _sample(items: Sequence[str], size: int = ANSWERED_SAMPLE) -> Sequence[str]:
    """At most ``size`` items, evenly spread (deterministic)."""
    return items if len(items) <= size else [items[i * len(items) // size] for i in range(size)]


def _percentile(ordered: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# --- Grouping the refused questions -------------------------------------------------------


def words_of(question: str, terms: Terms) -> tuple[str, ...]:
    """The question's distinct words, lower-cased, punctuation trimmed (a whitespace splitter leaves "gì?")."""
    cleaned = (t.strip(string.punctuation + "“”‘’…«»–—").lower() for t in terms(question))
    return tuple(w for w in dict.fromkeys(cleaned) if any(c.isalnum() for c in w))


def word_weights(
    refused: Mapping[str, tuple[str, ...]],
    counts: Mapping[str, int],
    answered: Sequence[tuple[str, ...]],
    idf: Idf,
) -> dict[str, float]:
    """How telling each word of the refused questions is.

    Its IDF in the index, or UNKNOWN_FACTOR times the largest IDF seen when the index
    lacks it; times the square of its *refusal lift*: its share of the refused questions
    over that share plus its share of the answered ones. A topic the corpus lacks
    ("vàng") has a lift near 1; words people put in every question ("bot ơi", "cho mình
    hỏi") are as common in answered questions, lift about 0.5, and weigh a quarter.
    """
    n_refused = sum(counts.values()) or 1
    in_refused: Counter[str] = Counter()
    for text, words in refused.items():
        for w in words:
            in_refused[w] += counts[text]
    in_answered = Counter(w for words in answered for w in words)
    base: dict[str, float | None] = {w: idf(w) for w in in_refused}
    heavy = UNKNOWN_FACTOR * max((v for v in base.values() if v is not None), default=1.0) or 1.0
    weights = {}
    for w, r in in_refused.items():
        p_r, p_a = r / n_refused, in_answered[w] / max(1, len(answered))
        lift = p_r / (p_r + p_a)
        value = base[w]
        weights[w] = (heavy if value is None else max(float(value), 0.0)) * lift * lift
    return weights


def question_keywords(words: Sequence[str], weight: Mapping[str, float], freq: Mapping[str, int]) -> tuple[str, ...]:
    """The most telling of a question's words: up to MAX_KEYWORDS of the heaviest, each weighing
    at least KEYWORD_SHARE of the heaviest one. Among equally heavy words (several the index
    lacks) the one more refused questions use (``freq``) goes first: it names the topic."""
    if not words:
        return ()
    ranked = sorted(words, key=lambda w: (-weight[w], -freq[w], w))
    top = weight[ranked[0]]
    return tuple(w for w in ranked[:MAX_KEYWORDS] if weight[w] >= KEYWORD_SHARE * top and weight[w] > 0)


def group_refusals(
    questions: Sequence[str],
    terms: Terms,
    idf: Idf,
    answered: Sequence[str] = (),
) -> list[RefusalGroup]:
    """Refused questions grouped by shared keywords, largest group first.

    ``answered`` (answered questions of the same period, a sample is enough) tells topic
    words from the words of any question (:func:`word_weights`). Greedy cover: the
    keyword that the most ungrouped questions share (ties: the heavier word) takes all of
    them as a group; repeat until no keyword is shared. Unlike single-link clustering this
    never chains two topics through one common word. The rest are groups of one. A
    group's keywords are its seed word and the words most of its questions have.
    """
    counts = Counter(questions)
    refused = {text: words_of(text, terms) for text in counts}  # each distinct text segmented once
    weight = word_weights(refused, counts, [words_of(q, terms) for q in answered], idf)
    freq = Counter(w for text, words in refused.items() for w in words for _ in range(counts[text]))
    key_of = {text: question_keywords(words, weight, freq) for text, words in refused.items()}
    remaining = {i: key_of[q] for i, q in enumerate(questions) if key_of[q]}
    groups: list[RefusalGroup] = []
    while remaining:
        shared = Counter(w for ks in remaining.values() for w in ks)
        seed, n = min(shared.items(), key=lambda wn: (-wn[1], -weight[wn[0]], wn[0]))
        if n == 1:  # nothing shared any more: the rest are groups of one, heaviest word first
            for i in sorted(remaining, key=lambda i: (-weight[remaining[i][0]], i)):
                groups.append(_group([questions[i]], [remaining[i]], remaining[i][0], weight))
            break
        members = [i for i, ks in remaining.items() if seed in ks]
        groups.append(_group([questions[i] for i in members], [remaining[i] for i in members], seed, weight))
        for i in members:
            del remaining[i]
    groups.sort(key=lambda g: -g.count)  # stable: among equal counts, the greedy order
    return groups


def _group(texts: list[str], keys: list[tuple[str, ...]], seed: str, weight: Mapping[str, float]) -> RefusalGroup:
    freq = Counter(w for ks in keys for w in ks)
    shared = [
        w
        for w, n in sorted(freq.items(), key=lambda wn: (-wn[1], -weight[wn[0]], wn[0]))
        if w != seed and 2 * n > len(keys)
    ]
    words = (seed, *shared)[:MAX_KEYWORDS]
    # The example: the question that has most of the group's words; then the one asked most often,
    # then the shortest (the fewest words besides the topic).
    asked = Counter(texts)
    order = sorted(
        range(len(texts)), key=lambda i: (-sum(w in keys[i] for w in words), -asked[texts[i]], len(texts[i]), i)
    )
    examples = tuple(dict.fromkeys(texts[i] for i in order))[:3]
    return RefusalGroup(tuple(w.replace("_", " ") for w in words), len(texts), examples[0], examples)
