"""How the bot is doing, read from the question log (:mod:`bot.questionlog`).

:func:`build_report` turns the log of one period into a :class:`Report`;
``to_json``, ``to_text`` (a few Vietnamese lines for the console and the
Telegram ``/stats`` command), ``to_html`` (one self-contained file for the
operator) and ``render_chart_png`` (the ``/stats`` photo) present it.

The most useful part is the refused questions grouped by topic: each group is
a document the corpus lacks. Questions are grouped by their most telling
content words, weighed by the index's own IDF (a word the index has never seen
weighs most: it is the surest sign the corpus is not about the question). The
word segmentation and the IDF are injected, so this module does not need the
index, and tests can pass a whitespace splitter and a dict.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.answer.compose import Outcome

from .questionlog import open_for_reading, to_iso, utc_now

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
    db_path: str | Path, since: timedelta, terms: Terms, idf: Idf, articles: Sequence[tuple[DocId, str]],
    *, tz: tzinfo = UTC, now: datetime | None = None,
) -> Report:
    """The report of the last ``since`` (whole days in ``tz``, today included) from the log at ``db_path``.

    ``terms`` is the bot's word segmentation (content words), ``idf`` the index's IDF of a
    word (``None`` for a word the index does not know), ``articles`` the indexed
    ``(doc_id, title)`` pairs. Raises :class:`~bot.questionlog.QuestionLogError` when the
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
                disliked.append(Disliked(row.answer_id, at, row.question, first["quote"], first["doc_id"],
                                         titles.get(first["doc_id"], first["doc_id"]), row.up, row.down))
        elif row.reason not in (Outcome.EMPTY, Outcome.NO_CONTENT, Outcome.ERROR):
            refused_questions.append(row.question)

    latencies.sort()
    disliked.sort(key=lambda d: (d.up - d.down, -d.down, -d.at.timestamp()))
    never = [ArticleCount(d, t, 0) for d, t in articles if d not in cited]
    errors = reasons.get(Outcome.ERROR, 0)
    answered = sum(1 for r in rows if r.answered)
    return Report(
        start=start, end=end, questions=len(rows), answered=answered, refused=len(rows) - answered - errors,
        errors=errors, reasons=tuple(reasons.most_common()), chat_kinds=tuple(kinds.most_common()),
        up_votes=up, down_votes=down, voted_answers=voted,
        latency_p50_ms=_percentile(latencies, 50), latency_p95_ms=_percentile(latencies, 95),
        days=tuple(DayCount(d, *counts) for d, counts in sorted(days.items())),
        refusal_groups=tuple(group_refusals(refused_questions, terms, idf, _sample(answered_questions))[:MAX_LISTED]),
        disliked=tuple(disliked[:MAX_LISTED]),
        most_cited=tuple(ArticleCount(d, titles.get(d, d), n) for d, n in cited.most_common(TOP_CITED)),
        never_cited=tuple(never[:MAX_LISTED]), never_cited_total=len(never), articles=len(titles),
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
    refused: Mapping[str, tuple[str, ...]], counts: Mapping[str, int], answered: Sequence[tuple[str, ...]],
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
    questions: Sequence[str], terms: Terms, idf: Idf, answered: Sequence[str] = (),
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
    shared = [w for w, n in sorted(freq.items(), key=lambda wn: (-wn[1], -weight[wn[0]], wn[0]))
              if w != seed and 2 * n > len(keys)]
    words = (seed, *shared)[:MAX_KEYWORDS]
    # The example: the question that has most of the group's words; then the one asked most often,
    # then the shortest (the fewest words besides the topic).
    asked = Counter(texts)
    order = sorted(range(len(texts)),
                   key=lambda i: (-sum(w in keys[i] for w in words), -asked[texts[i]], len(texts[i]), i))
    examples = tuple(dict.fromkeys(texts[i] for i in order))[:3]
    return RefusalGroup(tuple(w.replace("_", " ") for w in words), len(texts), examples[0], examples)


# --- Presenting -------------------------------------------------------------------------


def to_dict(report: Report) -> dict:
    """The report as plain JSON-able data (dates as ISO strings), with the derived shares."""
    def plain(value: object) -> object:
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    data = plain(asdict(report))
    data["answered_share"] = round(report.share(report.answered), 4)
    data["refused_share"] = round(report.share(report.refused + report.errors), 4)
    for day, item in zip(report.days, data["days"]):
        item["refusal_rate"] = None if day.refusal_rate is None else round(day.refusal_rate, 4)
    return data


def to_json(report: Report) -> str:
    return json.dumps(to_dict(report), ensure_ascii=False, indent=2)


def _int(n: int) -> str:
    """Vietnamese thousands separator: 12.345."""
    return f"{n:,}".replace(",", ".")


def _pct(part: int, whole: int) -> str:
    if not whole:
        return "–"
    share = 100 * part / whole
    return "<1%" if 0 < share < 0.5 else f"{round(share)}%"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{_int(round(value))} ms"


def _dm(day: date) -> str:
    return day.strftime("%d/%m")


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_text(report: Report, days: int = 7, groups: int = 5) -> str:
    """A few Vietnamese lines: totals, votes, latency, the last ``days`` days and the top unanswered topics.
    Plain text (a Telegram front end escapes it like any other text)."""
    r = report
    period = f"{r.start.strftime('%d/%m')}–{r.end.strftime('%d/%m/%Y')}"
    if not r.questions:
        return f"📊 Thống kê {len(r.days)} ngày ({period}): chưa có câu hỏi nào."
    lines = [
        f"📊 Thống kê {len(r.days)} ngày ({period})",
        (f"Câu hỏi: {_int(r.questions)} · trả lời {_pct(r.answered, r.questions)} · "
         f"từ chối {_pct(r.refused, r.questions)}" + (f" · lỗi {_pct(r.errors, r.questions)}" if r.errors else "")),
        (f"Đánh giá: 👍 {_int(r.up_votes)} · 👎 {_int(r.down_votes)} "
         f"({_pct(r.voted_answers, r.answered)} câu trả lời được đánh giá)"),
        f"Thời gian trả lời: trung vị {_ms(r.latency_p50_ms)} · p95 {_ms(r.latency_p95_ms)}",
        "Theo ngày: " + " · ".join(f"{_dm(d.day)} {_int(d.questions)}" for d in r.days[-days:]),
    ]
    if r.refusal_groups:
        lines.append("Chủ đề chưa trả lời được nhiều nhất:")
        for n, g in enumerate(r.refusal_groups[:groups], start=1):
            lines.append(f"{n}. {', '.join(g.keywords)} — {_int(g.count)} câu, vd: «{_short(g.example)}»")
    return "\n".join(lines)


# --- HTML -------------------------------------------------------------------------------

COLORS = {"answered": "#2563eb", "refused": "#f59e0b", "rate": "#b91c1c", "grid": "#e5e7eb", "text": "#374151"}

_CSS = """
body{font-family:system-ui,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px;color:#111827;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .muted{color:#6b7280}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;min-width:140px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%;font-size:14px} th,td{border-bottom:1px solid #e5e7eb;
padding:5px 8px;text-align:left;vertical-align:top} th{background:#f9fafb} td.n{text-align:right;white-space:nowrap}
svg text{font-family:inherit;font-size:12px;fill:#374151}
"""


# What the codes in the log mean, for the operator's page.
REASON_LABELS = {
    "answered": "trả lời được", "not_found": "không có bài phù hợp", "no_content": "câu hỏi chưa rõ ý",
    "empty": "tin nhắn trống", "error": "lỗi khi trả lời",
}
KIND_LABELS = {"private": "chat riêng", "group": "nhóm", "console": "console", "cli": "dòng lệnh"}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _axis(max_value: int, most: int = 5) -> tuple[int, int]:
    """``(step, top)`` of a count axis: a whole 1, 2, 2.5 or 5 times a power of ten, at most ``most``
    steps from 0 to ``top`` >= ``max_value`` (411 -> 100 up to 500; 4 -> 1 up to 4)."""
    scale = 1
    while True:
        for m in (1, 2, 2.5, 5):
            step = m * scale
            if step == int(step) and math.ceil(max_value / step) <= most:
                return int(step), int(step) * max(1, math.ceil(max_value / step))
        scale *= 10


def chart_svg(report: Report, width: int = 1000, height: int = 320) -> str:
    """Questions per day (answered and refused, stacked) and the refusal rate (line, right axis), as inline SVG."""
    left, right, top, bottom = 56, 56, 30, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    days = report.days
    y_step, y_max = _axis(max((d.questions for d in days), default=0))
    step = plot_w / max(1, len(days))
    bar_w = max(1.0, step * 0.7)
    label = "Số câu hỏi mỗi ngày và tỉ lệ từ chối"
    out = [f'<svg id="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-label="{label}">']
    for value in range(0, y_max + 1, y_step):  # grid lines and the left axis: questions
        y = top + plot_h * (1 - value / y_max)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{COLORS["grid"]}"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_int(value)}</text>')
    for percent in range(0, 101, 25):  # the right axis: refusal rate
        y = top + plot_h * (1 - percent / 100)
        out.append(f'<text x="{left + plot_w + 6}" y="{y + 4:.1f}">{percent}%</text>')
    label_every = max(1, math.ceil(len(days) / 15))
    points: list[tuple[float, float] | None] = []
    for i, d in enumerate(days):
        x = left + i * step + (step - bar_w) / 2
        h_ok = plot_h * d.answered / y_max
        h_no = plot_h * d.refused / y_max
        tip = f"{_dm(d.day)}: {_int(d.questions)} câu hỏi, {_int(d.refused)} bị từ chối"
        out.append(f'<g><title>{_e(tip)}</title>'
                   f'<rect x="{x:.1f}" y="{top + plot_h - h_ok:.1f}" width="{bar_w:.1f}" height="{h_ok:.1f}" '
                   f'fill="{COLORS["answered"]}"/>'
                   f'<rect x="{x:.1f}" y="{top + plot_h - h_ok - h_no:.1f}" width="{bar_w:.1f}" height="{h_no:.1f}" '
                   f'fill="{COLORS["refused"]}"/></g>')
        if i % label_every == 0:
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_dm(d.day)}</text>')
        rate = d.refusal_rate
        points.append(None if rate is None else (x + bar_w / 2, top + plot_h * (1 - rate)))
    path, pen_down = [], False
    for p in points:  # a day without questions breaks the line
        if p is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{p[0]:.1f},{p[1]:.1f}")
        pen_down = True
    if path:
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{COLORS["rate"]}" stroke-width="2"/>')
    legend = [("answered", "Trả lời"), ("refused", "Từ chối"), ("rate", "Tỉ lệ từ chối (trục phải)")]
    x = left
    for key, label in legend:
        out.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{COLORS[key]}"/>'
                   f'<text x="{x + 16}" y="18">{label}</text>')
        x += 40 + 7 * len(label)
    out.append("</svg>")
    return "\n".join(out)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{_e(c)}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if body else (
        '<p class="muted">Không có.</p>')


def to_html(report: Report) -> str:
    """The report as ONE self-contained HTML file: inline CSS and SVG, no script, no link, all text escaped."""
    r = report
    period = f"{r.start.strftime('%d/%m/%Y')} – {r.end.strftime('%d/%m/%Y %H:%M')} ({r.end.tzname() or 'UTC'})"
    cards = [
        ("Câu hỏi", _int(r.questions)),
        ("Trả lời", _pct(r.answered, r.questions)),
        ("Từ chối", _pct(r.refused, r.questions)),
        ("Lỗi", _pct(r.errors, r.questions)),
        ("👍 thích / 👎 chê", f"{_int(r.up_votes)} / {_int(r.down_votes)}"),
        ("Được đánh giá", _pct(r.voted_answers, r.answered)),
        ("Thời gian p50", _ms(r.latency_p50_ms)),
        ("Thời gian p95", _ms(r.latency_p95_ms)),
    ]
    parts = [
        '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Báo cáo hỏi đáp {_e(period)}</title><style>{_CSS}</style></head><body>",
        f'<h1>Báo cáo hỏi đáp</h1><div class="muted">{_e(period)} · {_int(r.articles)} bài viết trong chỉ mục</div>',
        '<div class="cards">' + "".join(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in cards) + "</div>",
        chart_svg(r),
        "<h2>Câu hỏi bị từ chối, theo chủ đề (tài liệu còn thiếu)</h2>",
        _table(["Từ khóa", "Số câu", "Ví dụ"],
               ((", ".join(g.keywords), _int(g.count), " | ".join(g.examples)) for g in r.refusal_groups),
               numeric=[1]),
        "<h2>Câu trả lời bị chê (👎)</h2>",
        _table(["Thời gian", "Câu hỏi", "Câu trích", "Bài viết", "👍 thích", "👎 chê"],
               ((d.at.astimezone(r.end.tzinfo).strftime("%d/%m %H:%M"), d.question, d.quote, d.title, d.up, d.down)
                for d in r.disliked), numeric=[4, 5]),
        "<h2>Bài viết được trích nhiều nhất</h2>",
        _table(["Bài viết", "Mã", "Số câu trả lời"], ((a.title, a.doc_id, _int(a.count)) for a in r.most_cited),
               numeric=[2]),
        f"<h2>Bài viết chưa được trích lần nào ({_int(r.never_cited_total)})</h2>",
        _table(["Bài viết", "Mã"], ((a.title, a.doc_id) for a in r.never_cited)),
        (f'<p class="muted">… và {_int(r.never_cited_total - len(r.never_cited))} bài khác.</p>'
         if r.never_cited_total > len(r.never_cited) else ""),
        "<h2>Theo ngày</h2>",
        _table(["Ngày", "Câu hỏi", "Trả lời", "Từ chối", "Tỉ lệ từ chối"],
               ((d.day.strftime("%d/%m/%Y"), _int(d.questions), _int(d.answered), _int(d.refused),
                 _pct(d.refused, d.questions)) for d in reversed(r.days)), numeric=[1, 2, 3, 4]),
        "<h2>Lý do và nơi hỏi</h2>",
        _table(["Lý do", "Mã", "Số câu"], ((REASON_LABELS.get(k, k), k, _int(n)) for k, n in r.reasons), numeric=[2]),
        _table(["Nơi hỏi", "Mã", "Số câu"], ((KIND_LABELS.get(k, k), k, _int(n)) for k, n in r.chat_kinds),
               numeric=[2]),
        "</body></html>\n",
    ]
    return "\n".join(parts)


# --- PNG (Telegram /stats) --------------------------------------------------------------------


def render_chart_png(report: Report, width_px: int = 1000, height_px: int = 450) -> bytes:
    """The chart of :func:`chart_svg` as a PNG, for a Telegram photo.

    Drawn with matplotlib (imported here, not at start-up) on a ``Figure`` of its own,
    never pyplot, whose global figure registry is shared state: safe from a worker
    thread. Its bundled DejaVu Sans has the Vietnamese letters, so labels render
    the same on any machine.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = list(range(len(report.days)))
    answered = [d.answered for d in report.days]
    refused = [d.refused for d in report.days]
    ax.bar(xs, answered, color=COLORS["answered"], label="Trả lời", width=0.7)
    ax.bar(xs, refused, bottom=answered, color=COLORS["refused"], label="Từ chối", width=0.7)
    ax.set_ylabel("Số câu hỏi mỗi ngày")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _int(int(v))))
    every = max(1, math.ceil(len(xs) / 12))
    ax.set_xticks(xs[::every], [_dm(d.day) for d in report.days][::every])
    ax.set_xlim(-0.6, len(xs) - 0.4)
    rate_ax = ax.twinx()
    rates = [float("nan") if d.refusal_rate is None else d.refusal_rate for d in report.days]
    rate_ax.plot(xs, rates, color=COLORS["rate"], linewidth=2, marker="o", markersize=3, label="Tỉ lệ từ chối")
    rate_ax.set_ylim(0, 1)
    rate_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    handles = ax.get_legend_handles_labels()[0] + rate_ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=9)
    ax.set_title(f"Câu hỏi {report.start.strftime('%d/%m')}–{report.end.strftime('%d/%m/%Y')}: "
                 f"{_int(report.questions)} câu, trả lời {_pct(report.answered, report.questions)}")
    for side in ("top",):
        ax.spines[side].set_visible(False)
        rate_ax.spines[side].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
