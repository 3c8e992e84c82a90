"""The report: figures of a small log, refused questions grouped by topic, and its renderings."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.insights.render import chart_svg, render_chart_png, to_html, to_json, to_text
from bot.insights.report import Report, build_report, group_refusals
from bot.insights.store import ChatKind, Cited, LogDatabase, QuestionRow, VoteRow
from insights_support import words
from retrieval.answer.compose import Outcome

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ARTICLES = [("doc-a", "Hà Nội xây dựng thành phố thông minh"), ("doc-b", "Metro số 1"), ("doc-c", "Bài chưa ai hỏi")]
# The index's IDF of the words it knows; the missing topics' words (vàng, sjc, thời, tiết, xổ) are unknown.
IDF = {
    "giá": 1.0,
    "hôm": 0.5,
    "nay": 0.5,
    "bao": 0.3,
    "nhiêu": 0.3,
    "là": 0.1,
    "gì": 0.1,
    "hà": 1.5,
    "nội": 1.5,
    "ngày": 0.5,
    "mai": 1.0,
    "ở": 0.2,
    "đâu": 0.2,
    "mua": 1.2,
    "tăng": 1.3,
    "hay": 0.3,
    "giảm": 1.3,
    "đà": 2.0,
    "nẵng": 2.0,
    "miền": 2.0,
    "bắc": 1.8,
    "số": 1.0,
    "metro": 3.0,
    "dài": 1.1,
    "thành": 0.8,
    "phố": 0.8,
    "thông": 1.0,
    "minh": 1.0,
}
EVIL = '<script>alert("x")</script> xem https://evil.example/a.js'
REFUSED = [
    "Giá vàng hôm nay bao nhiêu?",
    "giá vàng SJC hôm nay",
    "Vàng tăng hay giảm hôm nay?",
    "Mua vàng ở đâu?",
    "Thời tiết Hà Nội ngày mai?",
    "thời tiết Đà Nẵng hôm nay",
    "Xổ số miền Bắc",
    EVIL,
]


def question(
    text: str,
    *,
    days_ago: float,
    answered: list[str] | None = None,
    reason: Outcome | None = None,
    latency: float = 10.0,
    answer_id: str | None = None,
) -> QuestionRow:
    cited = tuple(Cited(d, 9.0, f"Câu trích từ {d} <b>đậm</b>.") for d in (answered or ()))
    return QuestionRow(
        answer_id=answer_id or f"id-{text[:20]}-{days_ago}",
        at=NOW - timedelta(days=days_ago),
        kind=ChatKind.GROUP if cited else ChatKind.PRIVATE,
        user=7,
        chat=-100,
        question=text,
        answered=bool(cited),
        reason=reason or (Outcome.ANSWERED if cited else Outcome.NOT_FOUND),
        cited=cited,
        latency_ms=latency,
    )


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """A week of questions: 6 answered, 8 refused for want of a document, 1 vague, 1 failure, 1 too old."""
    rows = [
        question(
            f"Metro số 1 dài bao nhiêu {n}?",
            days_ago=n % 3,
            answered=["doc-a", "doc-b"] if n < 2 else ["doc-a"] if n < 4 else ["doc-b"],
            latency=10.0 * (n + 1),
            answer_id=f"ans-{n}",
        )
        for n in range(6)
    ]
    rows += [question(text, days_ago=1 + n % 5, latency=5.0) for n, text in enumerate(REFUSED)]
    rows += [
        question("là gì?", days_ago=0, reason=Outcome.NO_CONTENT, latency=1.0),
        question("lỗi", days_ago=0, reason=Outcome.ERROR, latency=900.0),
        question("Giá vàng tháng trước?", days_ago=20),
    ]
    votes = [
        VoteRow("ans-4", 1, -1, NOW),
        VoteRow("ans-4", 2, -1, NOW),
        VoteRow("ans-4", 3, 1, NOW),
        VoteRow("ans-0", 1, 1, NOW),
    ]
    path = tmp_path / "questions.sqlite"
    db = LogDatabase(path)
    db.write(rows, votes)
    db.close()
    return path


@pytest.fixture
def report(log_path: Path) -> Report:
    return build_report(str(log_path), timedelta(days=7), words, IDF.get, ARTICLES, now=NOW)


def test_figures_of_a_small_log(report: Report) -> None:
    assert (report.questions, report.answered, report.refused, report.errors) == (16, 6, 9, 1)
    assert dict(report.reasons) == {"answered": 6, "not_found": 8, "no_content": 1, "error": 1}
    assert (report.up_votes, report.down_votes, report.voted_answers) == (2, 2, 2)
    # 16 latencies: 1, 5 x8, 10..60, 900 -> nearest rank: p50 the 8th, p95 the 16th
    assert (report.latency_p50_ms, report.latency_p95_ms) == (5.0, 900.0)
    assert report.days[0].day.isoformat() == "2026-03-04" and len(report.days) == 7
    assert sum(d.questions for d in report.days) == 16
    assert [(a.doc_id, a.count) for a in report.most_cited] == [("doc-a", 4), ("doc-b", 4)]
    assert [a.doc_id for a in report.never_cited] == ["doc-c"] and report.never_cited_total == 1
    [bad] = report.disliked
    assert (bad.answer_id, bad.up, bad.down, bad.doc_id, bad.title) == ("ans-4", 1, 2, "doc-b", "Metro số 1")
    assert bad.quote == "Câu trích từ doc-b <b>đậm</b>."


def test_refused_questions_are_grouped_by_topic(report: Report) -> None:
    groups = [(g.keywords, g.count) for g in report.refusal_groups]
    assert groups[0] == (("vàng",), 4)
    assert groups[1] == (("thời", "tiết"), 2)
    assert sorted(c for _, c in groups[2:]) == [1, 1]
    assert report.refusal_groups[0].example in REFUSED[:4]
    assert report.refusal_groups[1].examples == ("thời tiết Đà Nẵng hôm nay", "Thời tiết Hà Nội ngày mai?")
    grouped = {q for g in report.refusal_groups for q in g.examples}
    assert "là gì?" not in grouped and "lỗi" not in grouped  # vague questions and failures are no topic


def test_words_of_every_question_do_not_make_a_topic() -> None:
    refused = ["bot ơi giá vàng", "bot ơi vàng sjc", "bot ơi thời tiết mai", "bot ơi thời tiết hà nội"]
    answered = ["bot ơi metro dài bao nhiêu", "bot ơi metro ở đâu", "metro số 1 ở đâu"]
    alone = [(g.keywords, g.count) for g in group_refusals(refused, words, IDF.get)]
    assert alone[0] == (("bot", "ơi"), 4)  # without answered questions "bot ơi" looks like the topic
    contrasted = [(g.keywords, g.count) for g in group_refusals(refused, words, IDF.get, answered)]
    assert contrasted == [(("thời", "tiết"), 2), (("vàng",), 2)]


@pytest.mark.parametrize("refused", [[], ["?", "..."], ["là gì"]])
def test_grouping_edge_cases(refused: list[str]) -> None:
    groups = group_refusals(refused, words, {"là": 0.1, "gì": 0.1}.get)
    assert sum(g.count for g in groups) == (1 if refused == ["là gì"] else 0)


def test_json_and_text(report: Report) -> None:
    data = json.loads(to_json(report))
    assert data["questions"] == 16 and data["answered_share"] == 0.375
    assert data["refusal_groups"][0]["keywords"] == ["vàng"]
    assert data["days"][0]["day"] == "2026-03-04" and "refusal_rate" in data["days"][0]
    text = to_text(report, days=3)
    lines = text.splitlines()
    assert lines[0] == "📊 Thống kê 7 ngày (04/03–10/03/2026)"
    assert lines[1] == "Câu hỏi: 16 · trả lời 38% · từ chối 56% · lỗi 6%"
    assert lines[4].count("·") == 2  # the last three days
    assert lines[6].startswith("1. vàng — 4 câu, vd: «") and len(lines) <= 12
    assert len(text) < 4096  # one Telegram message


def test_an_empty_period(log_path: Path) -> None:
    later = build_report(str(log_path), timedelta(days=2), words, IDF.get, ARTICLES, now=NOW + timedelta(days=60))
    assert later.questions == 0 and later.latency_p50_ms is None and len(later.days) == 2
    assert "chưa có câu hỏi nào" in to_text(later)
    assert "<svg" in to_html(later)
    assert render_chart_png(later).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="positive"):
        build_report(str(log_path), timedelta(0), words, IDF.get, ARTICLES)


def test_html_is_self_contained_and_escaped(report: Report) -> None:
    page = to_html(report)
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert html.escape(EVIL, quote=True) in page and "<b>đậm</b>" not in page
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(|src=|href=", page, re.IGNORECASE)
    outside_user_text = page.replace(html.escape(EVIL, quote=True), "")
    assert "http://" not in outside_user_text and "https://" not in outside_user_text


def test_svg_chart_draws_every_day(report: Report) -> None:
    svg = chart_svg(report)
    assert svg.count("<rect") == 2 * len(report.days) + 3  # two bars a day and the legend
    assert svg.count("<title>") == len(report.days) and "<path d=" in svg


def test_chart_png(report: Report) -> None:
    image = pytest.importorskip("PIL.Image")
    png = render_chart_png(report)
    import io

    picture = image.open(io.BytesIO(png)).convert("RGB")
    assert picture.size == (1000, 450)
    colours = {colour for _, colour in picture.getcolors(maxcolors=1 << 20)}
    assert (37, 99, 235) in colours and (245, 158, 11) in colours  # answered and refused bars


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs chromium (apt-get install -y chromium) to render")
def test_html_renders_in_headless_chromium(report: Report, tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    page, shot = tmp_path / "report.html", tmp_path / "shot.png"
    page.write_text(to_html(report), encoding="utf-8")
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 0
    picture = image.open(shot).convert("RGB")
    assert picture.size == (1200, 1600)
    width, height = picture.size
    pixels = picture.load()
    blue = [(x, y) for y in range(0, height, 2) for x in range(0, width, 2) if _near(pixels[x, y], (37, 99, 235))]
    assert len(blue) > 100, "no answered bars on the page"
    left, top = min(x for x, _ in blue), min(y for _, y in blue)
    right, bottom = max(x for x, _ in blue), max(y for _, y in blue)
    assert bottom < 900, "the chart should be near the top of the page"
    region = [pixels[x, y] for y in range(top, bottom + 1) for x in range(left, right + 1)]
    assert any(_near(p, (245, 158, 11)) for p in region), "no refused bars in the chart region"
    assert sum(p != (255, 255, 255) for p in region) > 0.05 * len(region)


def _near(pixel: tuple[int, int, int], colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_question_log", REPO / "bench" / "gen_question_log.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_on_ten_thousand_generated_questions(tmp_path: Path) -> None:
    gen = _load_generator()
    path = tmp_path / "questions.sqlite"
    questions, votes = gen.generate(10_000, days=60, seed=3, end=NOW)
    gen.write_log(path, questions, votes)
    started = time.perf_counter()
    report = build_report(
        str(path), timedelta(days=61), gen.simple_terms, gen.bench_idf(gen.simple_terms), gen.catalogue(), now=NOW
    )
    assert time.perf_counter() - started < 5.0  # the budget; it takes well under a second
    assert report.questions == 10_000 and 0.15 < report.share(report.refused) < 0.25
    assert report.refusal_groups[0].keywords[0] == "vàng"
    topics = {"vàng", "học", "xổ", "thời", "lịch", "la", "tỷ", "đô", "nhiệt", "mưa", "bão"}
    assert all(g.keywords[0] in topics for g in report.refusal_groups[:5])
    assert {a.doc_id for a in report.never_cited} == {d for d, _, qs in gen.ARTICLES if not qs}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("24h", timedelta(hours=24)),
        ("2w", timedelta(days=14)),
        (" 90d ", timedelta(days=90)),
    ],
)
def test_parse_since(text: str, expected: timedelta) -> None:
    from bot.insights.report import parse_since

    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "7", "0d", "7 days", "-1d", "1.5d", "d"])
def test_parse_since_refuses_with_the_accepted_forms(text: str) -> None:
    from bot.insights.report import parse_since

    with pytest.raises(ValueError, match="24h, 7d or 2w"):
        parse_since(text)


def test_report_with_the_service_inputs(ws_service, tmp_path: Path) -> None:
    """The service's own segmentation, IDF and articles: a word of the seeds is known, a missing topic's is not."""
    from bot.insights.log import QuestionLog
    from bot.insights.report import service_inputs

    terms, idf, articles = service_inputs(ws_service)
    assert len(articles) == len(ws_service.articles)
    assert list(terms("Hà Nội là gì?")) == ["hà", "nội"]  # whitespace words without the stopwords
    assert idf("nội") is not None and idf("vietlott") is None
    path = tmp_path / "q.sqlite"
    with QuestionLog(path) as qlog:
        for text in (
            "Hà Nội hợp tác với Phần Lan về việc gì?",
            "Xổ số Vietlott tối nay?",
            "Vietlott trả thưởng ra sao?",
        ):
            result = ws_service.answer(text)
            qlog.record(text, result, kind="console", latency_ms=5)
    report = build_report(str(path), timedelta(days=1), terms, idf, articles)
    assert report.answered == 1 and report.refusal_groups[0].keywords[0] == "vietlott"
    assert report.refusal_groups[0].count == 2
    assert report.most_cited[0].title in dict(articles).values()
