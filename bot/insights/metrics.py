"""Metrics and health for the operator: Prometheus ``/metrics`` and ``/healthz`` on one optional port,
and a JSON-lines log formatter for log collectors.

Everything lives in objects the front end builds once at start-up: :class:`BotMetrics`
holds its own :class:`prometheus_client.CollectorRegistry` (never the library's global
default registry, so two bots or two tests in one process never share counters), and
:class:`MetricsServer` serves it only when a port is configured (``metrics_port: 0``,
the default, means no server). It binds to 127.0.0.1 unless told otherwise: the
numbers are for a local Prometheus or an SSH tunnel, not the internet.

``/healthz`` answers 200 once the front end has marked the index loaded and (for the
Telegram bot) the connection to Telegram working, else 503: what a container
orchestrator's readiness probe needs.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Self

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from retrieval.answer.compose import Outcome
from retrieval.errors import BotError

from .store import LogStats, reason_of

if TYPE_CHECKING:
    from retrieval.answer.compose import Result

log = logging.getLogger(__name__)

# Answer latency buckets (seconds): answers take tens of milliseconds, a cold start seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


class MetricsError(BotError):
    """The metrics endpoint cannot listen (port taken, address not local...)."""


class BotMetrics:
    """The bot's counters, histogram and gauges, and the health flags ``/healthz`` reports.

    Thread-safe: the Telegram handlers, the answering threads and the HTTP server's
    threads may call it at once.
    """

    def __init__(self, *, require_telegram: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        self.require_telegram = require_telegram
        self._clock = clock
        self._lock = threading.Lock()
        self._index_loaded = False
        self._telegram_ok = False
        self._index_updated: float | None = None
        r = self.registry
        self.questions = Counter(
            "docqa_questions",
            "Questions by outcome (answered, refused, error) and reason code.",
            ["outcome", "reason"],
            registry=r,
        )
        self.latency = Histogram(
            "docqa_answer_latency_seconds", "Time to answer a question (seconds).", buckets=LATENCY_BUCKETS, registry=r
        )
        self.telegram_errors = Counter(
            "docqa_telegram_errors", "Failed Telegram Bot API calls by error kind.", ["kind"], registry=r
        )
        self.feedback = Counter("docqa_feedback", "👍/👎 votes on answers.", ["vote"], registry=r)
        self.index_articles = Gauge("docqa_index_articles", "Articles in the loaded index.", registry=r)
        self.index_sentences = Gauge("docqa_index_sentences", "Sentences in the loaded index.", registry=r)
        self.index_updated = Gauge(
            "docqa_index_last_update_timestamp_seconds", "When the loaded index was built (Unix time).", registry=r
        )
        self.index_age = Gauge("docqa_index_age_seconds", "Seconds since the loaded index was built.", registry=r)
        self.index_age.set_function(self._index_age)
        for reason in Outcome:  # every series exists from the start, so rates work from the first scrape
            self.questions.labels(_outcome(reason), reason.value)
        for vote in ("up", "down"):
            self.feedback.labels(vote)

    # --- what the front ends report ----------------------------------------------------

    def observe_answer(self, result: Result | None, seconds: float) -> None:
        """One question answered (``result``), refused, or failed (``None``), in ``seconds``."""
        reason = reason_of(result)
        self.questions.labels(_outcome(reason), reason.value).inc()
        self.latency.observe(max(0.0, seconds))

    def vote(self, value: int) -> None:
        """A 👍 (+1) or 👎 (-1)."""
        if value not in (1, -1):
            raise ValueError(f"a vote is +1 or -1, got {value!r}")
        self.feedback.labels("up" if value > 0 else "down").inc()

    def telegram_error(self, error: BaseException | str) -> None:
        """A failed Bot API call: its kind is the exception's class name (``TimedOut``, ``RetryAfter``,
        ``Forbidden``...), so the label has as few values as the library has error classes."""
        kind = error if isinstance(error, str) else type(error).__name__
        self.telegram_errors.labels(kind if _KIND.fullmatch(kind) else "other").inc()

    def set_index(self, articles: int, sentences: int, updated: datetime | float) -> None:
        """The loaded index's size and build time (an aware datetime or Unix seconds)."""
        stamp = updated.timestamp() if isinstance(updated, datetime) else float(updated)
        self.index_articles.set(articles)
        self.index_sentences.set(sentences)
        self.index_updated.set(stamp)
        with self._lock:
            self._index_updated = stamp

    def mark_index_loaded(self, loaded: bool = True) -> None:
        with self._lock:
            self._index_loaded = loaded

    def mark_telegram(self, ok: bool) -> None:
        """Whether the last contact with the Bot API worked (``getMe`` at start, then each poll or send)."""
        with self._lock:
            self._telegram_ok = ok

    def watch_question_log(self, stats: Callable[[], LogStats]) -> None:
        """Expose the question log's written/dropped/pending rows, read at each scrape."""
        self.registry.register(_QuestionLogCollector(stats))

    # --- what the endpoint shows ---------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, object]]:
        """(healthy, a short JSON-able body)."""
        with self._lock:
            index, telegram = self._index_loaded, self._telegram_ok
        healthy = index and (telegram or not self.require_telegram)
        body: dict[str, object] = {"status": "ok" if healthy else "unavailable", "index_loaded": index}
        if self.require_telegram:
            body["telegram"] = telegram
        age = self._index_age()
        if not math.isnan(age):
            body["index_age_seconds"] = round(age)
        return healthy, body

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)

    def _index_age(self) -> float:
        with self._lock:
            updated = self._index_updated
        return float("nan") if updated is None else max(0.0, self._clock() - updated)


def _outcome(reason: Outcome) -> str:
    return "answered" if reason is Outcome.ANSWERED else "error" if reason is Outcome.ERROR else "refused"


class _QuestionLogCollector:
    """Reads :class:`~bot.insights.store.LogStats` when Prometheus scrapes."""

    def __init__(self, stats: Callable[[], LogStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self._stats()
        yield CounterMetricFamily("docqa_question_log_written", "Question-log rows written.", value=s.written)
        yield CounterMetricFamily(
            "docqa_question_log_dropped",
            "Question-log rows dropped (queue full, closed, or disabled).",
            value=s.dropped,
        )
        yield GaugeMetricFamily(
            "docqa_question_log_pending", "Question-log rows waiting to be written.", value=s.pending
        )
        yield GaugeMetricFamily(
            "docqa_question_log_failing", "1 while writing the question log fails.", value=int(s.failing)
        )


# --- The HTTP endpoint --------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    metrics: BotMetrics


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "docqa-metrics"

    def do_GET(self) -> None:  # the name http.server calls
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, self.server.metrics.exposition())
        elif path == "/healthz":
            healthy, body = self.server.metrics.health()
            self._send(200 if healthy else 503, "application/json", json.dumps(body).encode())
        elif path == "/":
            self._send(200, "text/plain; charset=utf-8", b"/metrics  /healthz\n")
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # http.server's signature
        log.debug("metrics endpoint: " + format, *args)  # scrapes every 15 s: not worth INFO


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` of ``metrics`` on ``host:port`` from a daemon thread.

    ``port=0`` picks a free port (tests); read it back from :attr:`port`. A front end starts
    one only when ``metrics_port`` is set, and calls :meth:`close` at shutdown.
    """

    def __init__(self, metrics: BotMetrics, port: int, host: str = "127.0.0.1") -> None:
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            raise MetricsError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}); check metrics_host and metrics_port"
            ) from None
        self._server.metrics = metrics
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", host, self.port)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- JSON-lines logs ---------------------------------------------------------------------------

# The attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, then the
    record's ``extra=`` fields, and ``exception`` / ``stack`` when there is one.

    For log collectors (Loki, Elasticsearch, journald with JSON parsing): a line is a
    record, whatever newlines the message or traceback hold. Values JSON cannot encode
    are written as ``str(value)``.
    """

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                data[key if key not in data else f"extra_{key}"] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)
