"""Synthetic question log: N realistic rows over ~60 days, and the time a report on them takes.

Usage (from the repository root)::

    .venv/bin/python bench/gen_question_log.py --rows 10000 --out /tmp/questions.sqlite
    .venv/bin/python bench/gen_question_log.py --rows 10000 --html /tmp/report.html --png /tmp/stats.png
    .venv/bin/python bench/gen_question_log.py --rows 10000 --segmenter underthesea

The log
-------
Deterministic for a given ``--seed``. Questions about a catalogue of
``len(ARTICLES)`` Vietnamese news articles (a few are never cited), asked from
private chats, groups, the console and the CLI, more in the day and evening
(Vietnam time) than at night and a little more every week. About 20% are
refused: most of them about a handful of topics the catalogue lacks (gold
prices, the weather, the lottery...), the rest scattered one-off questions;
a few are empty, only question words, or failures. About one answer in eight
gets a vote, mostly 👍; the quotes of two articles get mostly 👎. Latencies
are log-normal (answers ~45 ms, refusals ~30 ms) with a slow tail.

The report
----------
The report over the whole period is built with :func:`bot.insights.report.build_report`
and timed: ``terms`` is a lower-cased syllable splitter (``--segmenter
simple``) or the bot's underthesea segmentation (``--segmenter
underthesea``), ``idf`` an IDF computed over the catalogue's titles and the
answerable questions with the same ``terms`` (words of the missing topics are
mostly unknown to it, as they would be to the real index).
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.question_log_data import (  # noqa: E402
    ARTICLES,
    DISLIKED_DOCS,
    EVERYDAY,
    MISSING_TOPICS,
    PREFIXES,
    SCATTERED,
    SLOTS,
    VAGUE,
)
from bot.insights.store import (  # noqa: E402
    ChatKind,
    Cited,
    LogDatabase,
    QuestionRow,
    VoteRow,
    new_answer_id,
)
from retrieval.answer.compose import Outcome  # noqa: E402

VIETNAM = timedelta(hours=7)


def simple_terms(text: str) -> list[str]:
    """Lower-cased syllables: the bench's stand-in for word segmentation."""
    return re.findall(r"\w+", text.lower())


def bench_idf(terms: Callable[[str], Sequence[str]]) -> Callable[[str], float | None]:
    """IDF over the catalogue (titles and answerable questions, one document each) by ``terms``;
    EVERYDAY words have the IDF of a word in most documents; ``None`` for any other word
    ("bot", "vàng", "xổ số"): the index has never seen it."""
    docs = [title for _, title, _ in ARTICLES] + [q for _, _, qs in ARTICLES for q in qs]
    df = Counter(w for d in docs for w in set(terms(d)))
    n = len(docs)
    table = {w: math.log((n - k + 0.5) / (k + 0.5) + 1) for w, k in df.items()}
    for word in EVERYDAY:
        for term in terms(word):
            table.setdefault(term, 0.1)
    return table.get


def catalogue() -> list[tuple[str, str]]:
    """The ``(doc_id, title)`` pairs the bench's report is built with."""
    return [(doc_id, title) for doc_id, title, _ in ARTICLES]


def _when(rng: random.Random, end: datetime, days: int) -> datetime:
    """A time in the ``days`` days before ``end``: more recent days a little busier, weekends a little
    quieter, Vietnam's daytime and evening much busier than the night."""
    while True:
        # Half spread evenly, half with a density growing towards ``end``: use picks up.
        day = days * (rng.random() if rng.random() < 0.5 else 1 - math.sqrt(rng.random()))
        at = end - timedelta(days=day)
        local = at + VIETNAM
        busy = 0.15 if local.hour < 6 else 1.0 if 8 <= local.hour < 23 else 0.5
        if local.weekday() >= 5:
            busy *= 0.7
        if rng.random() < busy:
            return at


def _fill(rng: random.Random, template: str) -> str:
    """``template`` with its slots filled at random."""

    def pick(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in SLOTS:
            return _fill(rng, rng.choice(SLOTS[name]))
        return str(
            {
                "n": rng.randint(1, 12),
                "d": rng.randint(1, 28),
                "m": rng.randint(1, 12),
                "year": rng.randint(2024, 2027),
            }[name]
        )

    return re.sub(r"\{(\w+)\}", pick, template)


def _vary(rng: random.Random, question: str) -> str:
    """How people type: a polite prefix, lower case, no question mark."""
    text = rng.choice(PREFIXES) + (question[0].lower() + question[1:] if rng.random() < 0.3 else question)
    return text.rstrip("?") if rng.random() < 0.2 else text


def generate(
    rows: int, *, days: int = 60, seed: int = 1, end: datetime | None = None
) -> tuple[list[QuestionRow], list[VoteRow]]:
    """``rows`` questions and their votes (deterministic for ``seed``)."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC)
    answerable = [(doc_id, title, q) for doc_id, title, qs in ARTICLES for q in qs]
    weights = [1 / (1 + i) ** 0.6 for i in range(len(answerable))]  # some articles far more asked about
    users = list(range(10_000_001, 10_000_801))
    groups = [-1_001_000_000_000 - i for i in range(20)]
    questions: list[QuestionRow] = []
    votes: list[VoteRow] = []
    for _ in range(rows):
        at = _when(rng, end, days)
        kind = rng.choices(list(ChatKind), weights=(60, 30, 8, 2))[0]
        user = rng.choice(users) if kind in (ChatKind.PRIVATE, ChatKind.GROUP) else None
        chat = user if kind is ChatKind.PRIVATE else rng.choice(groups) if kind is ChatKind.GROUP else None
        roll = rng.random()
        cited: tuple[Cited, ...] = ()
        if roll < 0.78:
            doc_id, title, text = rng.choices(answerable, weights=weights)[0]
            others = rng.sample(answerable, k=rng.choice((0, 1, 2)))
            cited = tuple(
                Cited(d, round(rng.uniform(8, 25) * (0.9**k), 3), f"{t}: trích đoạn trả lời câu hỏi.")
                for k, (d, t, _) in enumerate([(doc_id, title, text), *others])
            )
            reason, latency = Outcome.ANSWERED, rng.lognormvariate(math.log(45), 0.5)
        elif roll < 0.78 + 0.17:
            topic = rng.choices(MISSING_TOPICS, weights=[w for w, _ in MISSING_TOPICS])[0][1]
            text = _fill(rng, rng.choice(topic)) if rng.random() < 0.88 else rng.choice(SCATTERED)
            reason, latency = Outcome.NOT_FOUND, rng.lognormvariate(math.log(30), 0.5)
        elif roll < 0.995:
            text, reason = rng.choice(VAGUE), Outcome.NO_CONTENT
            latency = rng.lognormvariate(math.log(8), 0.4)
        else:
            text, reason, latency = "Cho hỏi về metro số 1", Outcome.ERROR, rng.uniform(100, 900)
        if rng.random() < 0.01:
            latency *= 20  # the slow tail: a cold cache, a busy machine
        row = QuestionRow(
            answer_id=new_answer_id(),
            at=at,
            kind=kind,
            user=user,
            chat=chat,
            question=_vary(rng, text),
            answered=reason is Outcome.ANSWERED,
            reason=reason,
            cited=cited,
            latency_ms=latency,
        )
        questions.append(row)
        if cited and user is not None and rng.random() < 0.125:
            bad = cited[0].doc_id in DISLIKED_DOCS
            value = -1 if rng.random() < (0.75 if bad else 0.12) else 1
            votes.append(VoteRow(row.answer_id, user, value, at + timedelta(seconds=rng.uniform(5, 600))))
    return questions, votes


def write_log(path: Path, questions: Sequence[QuestionRow], votes: Sequence[VoteRow]) -> None:
    db = LogDatabase(path)
    try:
        for i in range(0, len(questions), 5000):
            db.write(questions[i : i + 5000])
        db.write(votes=votes)
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="the SQLite file (default: a temporary one); replaced")
    parser.add_argument("--segmenter", choices=("simple", "underthesea"), default="simple")
    parser.add_argument("--html", type=Path, help="write the HTML report here")
    parser.add_argument("--png", type=Path, help="write the /stats chart here")
    args = parser.parse_args(argv)

    from bot.insights.render import render_chart_png, to_html, to_json, to_text
    from bot.insights.report import build_report

    workdir = tempfile.TemporaryDirectory()
    path = args.out or Path(workdir.name) / "questions.sqlite"
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    questions, votes = generate(args.rows, days=args.days, seed=args.seed)
    write_log(path, questions, votes)
    print(
        f"generated {len(questions):,} questions and {len(votes):,} votes over {args.days} days "
        f"in {time.perf_counter() - started:.2f}s -> {path} ({path.stat().st_size / 1e6:.1f} MB)"
    )

    if args.segmenter == "underthesea":  # as the bot would call it: content words of its segmentation
        from retrieval.answer.compose import Composer
        from retrieval.config import load_config
        from retrieval.text.segment import Segmenter

        cfg = load_config(REPO / "config.yaml")
        composer, segmenter = Composer(cfg.answer, cfg.retrieval), Segmenter()
        segmenter.warm_up()  # the model's load time is start-up, not report time

        def terms(text: str) -> list[str]:
            return composer.content_terms(segmenter.terms(text))
    else:
        terms = simple_terms
    idf = bench_idf(terms)
    articles = catalogue()
    started = time.perf_counter()
    report = build_report(str(path), timedelta(days=args.days + 1), terms, idf, articles)  # whole days
    built = time.perf_counter() - started
    print(f"report on {report.questions:,} questions ({args.segmenter} segmentation) built in {built:.2f}s")
    for name, render in (("json", to_json), ("text", to_text), ("html", to_html)):
        started = time.perf_counter()
        output = render(report)
        print(f"  to_{name}: {time.perf_counter() - started:.3f}s, {len(output.encode()):,} bytes")
        if name == "html" and args.html:
            args.html.write_text(output, encoding="utf-8")
    started = time.perf_counter()
    png = render_chart_png(report)
    print(f"  render_chart_png: {time.perf_counter() - started:.2f}s, {len(png):,} bytes")
    if args.png:
        args.png.write_bytes(png)
    print()
    print(to_text(report))
    workdir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
