"""``/stats`` for the bot's administrators: the last days of the question log, in a few lines and a chart.

Who may ask is decided here (:func:`refusal`); what they get is built by
:func:`build_stats`, which reads SQLite, segments the refused questions and
draws with matplotlib: blocking work, run in a worker thread
(``asyncio.to_thread``) so the event loop keeps answering meanwhile. Nothing
here sends anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from retrieval.config import Config
from retrieval.service import AnswerService

from ..insights.log import QuestionSink
from ..insights.render import render_chart_png, to_text
from ..insights.report import build_report, service_inputs
from ..insights.store import QuestionLogError
from . import format as fmt

REPORT_DAYS = 7
TOP_GROUPS = 5  # unanswered topics listed
FLUSH_SECONDS = 2.0  # questions of the last moments are written before the report reads the log


@dataclass(frozen=True)
class StatsSettings:
    """Who may use /stats and where its figures come from."""

    admins: frozenset[int] = frozenset()
    log_path: Path | None = None  # None: insights.log_questions is off
    tz: tzinfo = UTC

    @classmethod
    def of(cls, cfg: Config, admins: frozenset[int]) -> StatsSettings:
        return cls(
            admins,
            cfg.question_log_path if cfg.insights.log_questions else None,
            ZoneInfo(cfg.insights.report_timezone),
        )


@dataclass(frozen=True)
class Stats:
    """What an administrator gets: the text (plain, Vietnamese) and the chart (PNG), if any."""

    text: str
    chart: bytes | None = None


def refusal(settings: StatsSettings, user_id: int | None, private: bool) -> str | None:
    """Why /stats is refused (the Vietnamese reply), or None for an administrator in a private chat.
    The figures are never shown in a group, even to an administrator."""
    if user_id is None or user_id not in settings.admins:
        return fmt.ADMINS_ONLY
    if not private:
        return fmt.STATS_IN_PRIVATE
    return None


def build_stats(
    settings: StatsSettings, service: AnswerService, question_log: QuestionSink, now: datetime | None = None
) -> Stats:
    """The last REPORT_DAYS days: totals, votes, latency, questions per day and the TOP_GROUPS
    unanswered topics as text, and the chart as a PNG. Blocking: call it in a worker thread."""
    if settings.log_path is None:
        return Stats(fmt.STATS_NO_LOG)
    question_log.flush(timeout=FLUSH_SECONDS)
    try:
        report = build_report(
            settings.log_path, timedelta(days=REPORT_DAYS), *service_inputs(service), tz=settings.tz, now=now
        )
    except QuestionLogError:
        return Stats(fmt.STATS_NO_LOG)
    return Stats(to_text(report, days=REPORT_DAYS, groups=TOP_GROUPS), render_chart_png(report))
