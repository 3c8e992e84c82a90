"""Metrics endpoint and health check on an ephemeral local port; the JSON-lines log formatter."""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.insights.metrics import BotMetrics, JsonFormatter, MetricsError, MetricsServer
from bot.insights.store import LogStats
from insights_support import make_result


class TimedOut(Exception):
    """Stands in for telegram.error.TimedOut: only the class name matters."""


@pytest.fixture
def metrics() -> BotMetrics:
    return BotMetrics(clock=lambda: 1_700_000_100.0)


@pytest.fixture
def server(metrics: BotMetrics) -> Iterator[MetricsServer]:
    with MetricsServer(metrics, port=0) as running:
        yield running


def get(server: MetricsServer, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def samples(server: MetricsServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, content_type, text = get(server, "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counters_move_after_recording_outcomes(metrics: BotMetrics, server: MetricsServer) -> None:
    before = samples(server)
    answered = ("docqa_questions_total", (("outcome", "answered"), ("reason", "answered")))
    weak = ("docqa_questions_total", (("outcome", "refused"), ("reason", "not_found")))
    error = ("docqa_questions_total", (("outcome", "error"), ("reason", "error")))
    assert before[answered] == before[weak] == before[error] == 0  # every series exists from the start
    metrics.observe_answer(make_result("q", ["doc-1"]), 0.030)
    metrics.observe_answer(make_result("q"), 0.012)
    metrics.observe_answer(make_result("q"), 0.2)
    metrics.observe_answer(None, 3.0)
    metrics.vote(1)
    metrics.vote(-1)
    metrics.vote(-1)
    metrics.telegram_error(TimedOut())
    metrics.telegram_error("Forbidden")
    metrics.telegram_error("no such kind!")
    metrics.set_index(5, 321, datetime.fromtimestamp(1_700_000_000, UTC))
    after = samples(server)
    assert (after[answered], after[weak], after[error]) == (1, 2, 1)
    assert after[("docqa_answer_latency_seconds_count", ())] == 4
    assert after[("docqa_answer_latency_seconds_bucket", (("le", "0.05"),))] == 2
    assert after[("docqa_feedback_total", (("vote", "up"),))] == 1
    assert after[("docqa_feedback_total", (("vote", "down"),))] == 2
    for kind in ("TimedOut", "Forbidden", "other"):
        assert after[("docqa_telegram_errors_total", (("kind", kind),))] == 1
    assert after[("docqa_index_articles", ())] == 5 and after[("docqa_index_sentences", ())] == 321
    assert after[("docqa_index_last_update_timestamp_seconds", ())] == 1_700_000_000
    assert after[("docqa_index_age_seconds", ())] == 100


def test_healthz_is_503_until_the_index_and_telegram_are_ready(metrics: BotMetrics, server: MetricsServer) -> None:
    status, content_type, body = get(server, "/healthz")
    assert (status, content_type) == (503, "application/json")
    assert json.loads(body) == {"status": "unavailable", "index_loaded": False, "telegram": False}
    metrics.mark_index_loaded()
    assert get(server, "/healthz")[0] == 503
    metrics.mark_telegram(True)
    metrics.set_index(5, 321, 1_700_000_000)
    status, _, body = get(server, "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "index_loaded": True, "telegram": True, "index_age_seconds": 100}
    metrics.mark_telegram(False)
    assert get(server, "/healthz")[0] == 503
    assert get(server, "/nothing")[0] == 404


def test_without_telegram_the_index_is_enough() -> None:
    metrics = BotMetrics(require_telegram=False)
    assert not metrics.health()[0]
    metrics.mark_index_loaded()
    assert metrics.health() == (True, {"status": "ok", "index_loaded": True})


def test_registries_are_separate_and_not_the_global_one() -> None:
    a, b = BotMetrics(), BotMetrics()
    a.vote(1)
    assert b'docqa_feedback_total{vote="up"} 0.0' in b.exposition()
    assert b'docqa_feedback_total{vote="up"} 1.0' in a.exposition()
    assert not any(name.startswith("docqa") for name in REGISTRY._names_to_collectors)


def test_question_log_figures_are_read_at_each_scrape(metrics: BotMetrics, server: MetricsServer) -> None:
    stats = [LogStats(written=10, dropped=0, pending=0, failing=False)]
    metrics.watch_question_log(lambda: stats[0])
    assert samples(server)[("docqa_question_log_written_total", ())] == 10
    stats[0] = LogStats(written=12, dropped=3, pending=5, failing=True)
    now = samples(server)
    assert now[("docqa_question_log_dropped_total", ())] == 3
    assert (now[("docqa_question_log_pending", ())], now[("docqa_question_log_failing", ())]) == (5, 1)


def test_a_taken_port_is_a_clear_error(metrics: BotMetrics) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsError, match=f"127.0.0.1:{port}.*metrics_port"):
            MetricsServer(metrics, port=port)
    with pytest.raises(ValueError):
        metrics.vote(0)


def test_json_lines_formatter() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord(
        "bot.telegram", logging.WARNING, __file__, 1, "answered %s\nin %d ms", ("chat", 12), None
    )
    record.chat_kind = "group"
    record.level = "clash"  # an extra field named like a core field is kept under another name
    record.when = datetime(2026, 1, 1, tzinfo=UTC)  # not JSON: written as str()
    line = formatter.format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "WARNING" and data["extra_level"] == "clash"
    assert (data["logger"], data["message"], data["chat_kind"]) == ("bot.telegram", "answered chat\nin 12 ms", "group")
    assert data["when"] == "2026-01-01 00:00:00+00:00"
    assert data["time"].endswith("Z") and len(data["time"]) == 24
    try:
        raise RuntimeError("hỏng")
    except RuntimeError:
        import sys

        failed = logging.LogRecord("bot", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    data = json.loads(formatter.format(failed))
    assert "RuntimeError: hỏng" in data["exception"] and data["message"] == "failed"
