"""Building and running the bot: ``python -m bot telegram``.

One python-telegram-bot :class:`~telegram.ext.Application`, long polling (or a
webhook), run by :func:`serve` rather than ``run_polling`` so that stopping is
ours to bound (:mod:`bot.telegram.lifecycle`). The answering service is built
once, before the application, and kept with the other shared state in
``bot_data`` (:class:`~bot.telegram.state.BotState`), as are the question log
and the metrics (:mod:`bot.insights`); the metrics endpoint, when
``insights.metrics_port`` is set, listens from before the index is loaded to
the end (``/healthz`` answers 503 until the index and the Bot API are ready).
Every update is recorded in the journal before Telegram is told it arrived
(:class:`RecordingQueue`), and taken through a :class:`~bot.telegram.turns.Turn`
(:class:`BotApplication`); updates fetched before the last stop but not
answered are answered first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from retrieval.config import Config
from retrieval.errors import ConfigError
from retrieval.service import AnswerService
from retrieval.updates.watch import Following, follow
from telegram import BotCommand, Update

from ..insights.log import NullQuestionLog, QuestionSink, open_question_log
from ..insights.metrics import BotMetrics, MetricsServer
from . import format as fmt
from . import handlers, turns
from .delivery import FloodLimit, Sender, counted_once, one_line
from .journal import InstanceLock, UpdateJournal
from .lifecycle import Lifecycle, WatchedRequest
from .pacing import GroupPacer
from .ratelimit import SlidingWindowLimiter
from .redact import protect_logs, redact
from .settings import (
    DEFAULT_BASE_URL,
    TOKEN_ENV,
    check_webhook,
    journal_path,
    legacy_journal_path,
    lock_path,
    read_admins,
    read_base_url,
    read_token,
    secrets_to_hide,
    webhook_secret,
)
from .state import Admin, BotState, provide
from .stats import StatsSettings

log = logging.getLogger(__name__)

# Edited messages, channel posts etc. are never requested, so never answered twice;
# my_chat_member tells when the bot is removed from a group.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
# Retries (with growing pauses, about 20 s in all) to reach the Bot API at start-up.
BOOTSTRAP_RETRIES = 5


class RecordingQueue(asyncio.Queue):
    """The update queue. An update is recorded in the journal before it is queued, i.e. before
    python-telegram-bot confirms it to Telegram (the next getUpdates offset, a webhook's 200)."""

    def __init__(self, journal: UpdateJournal) -> None:
        super().__init__()
        self.journal = journal

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            await self.journal.record(item.update_id, item.to_json())
        await super().put(item)


class BotApplication(Application):
    """python-telegram-bot's Application, taking each update through a Turn (journal, stopping)."""

    async def process_update(self, update: object) -> None:
        if not isinstance(update, Update):
            await super().process_update(update)
            return
        state: BotState = self.bot_data
        await turns.take(update, state.journal, state.lifecycle, super().process_update)


def build_application(
    cfg: Config,
    service: AnswerService,
    token: str,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    metrics: BotMetrics | None = None,
    admins: frozenset[int] = frozenset(),
    admin: Admin | None = None,
) -> Application:
    """The Application with its handlers, limits, journal, question log and shared state (no network yet).
    ``admins``: who may use /stats; ``admin``: the administrators and the updater their document
    commands use (None: no such commands)."""
    tg = cfg.telegram
    metrics = metrics or BotMetrics()
    lifecycle = Lifecycle(tg.shutdown_grace_seconds, tg.conflict_exit_seconds)
    pacer = GroupPacer(tg.group_rate_limit, tg.group_rate_window)
    lifecycle.on_stop(pacer.close)
    journal = UpdateJournal(
        journal_path(cfg.cache_dir, token, base_url), legacy=legacy_journal_path(cfg.cache_dir, token, base_url)
    )
    count_error = counted_once(metrics.telegram_error)
    question_log = open_question_log(cfg)
    metrics.watch_question_log(question_log.stats)
    state = BotState(
        service=service,
        tg=tg,
        max_question_chars=cfg.answer.max_question_chars,
        limiter=SlidingWindowLimiter(tg.user_rate_limit, tg.user_rate_window),
        sender=Sender(tg.send_retry_seconds, lambda: not lifecycle.stopping, pacer=pacer, on_error=count_error),
        journal=journal,
        lifecycle=lifecycle,
        admin=admin,
        question_log=question_log,
        metrics=metrics,
        stats=StatsSettings.of(cfg, admins),
        count_telegram_error=count_error,
    )
    builder = (
        ApplicationBuilder()
        .application_class(BotApplication)
        .token(token)
        .context_types(ContextTypes(bot_data=provide(state)))
        .request(WatchedRequest(lifecycle, metrics.mark_telegram, connection_pool_size=256))
        .get_updates_request(WatchedRequest(lifecycle, metrics.mark_telegram, connection_pool_size=1))
        .update_queue(RecordingQueue(journal))
        .rate_limiter(FloodLimit(tg.max_messages_per_second))
        .concurrent_updates(True)
    )
    if base_url:
        builder = builder.base_url(base_url).base_file_url(base_file_url or base_url)
    app = builder.build()
    handlers.register(app)
    return app


async def post_init(app: Application) -> None:
    """Register the command menu (Vietnamese descriptions) once the bot is known."""
    try:
        await app.bot.set_my_commands([BotCommand(c, d) for c, d in fmt.COMMANDS])
    except TelegramError as exc:
        log.warning("could not set the command menu: %s", exc)
    state: BotState = app.bot_data
    log.info(
        "bot @%s (id %s) serving %d articles; allowed chats: %s; administrators: %d",
        app.bot.username,
        app.bot.id,
        len(state.service.articles),
        ", ".join(map(str, state.tg.allowed_chat_ids)) or "all",
        len(state.admin.ids) if state.admin else 0,
    )


async def replay(app: Application) -> None:
    """Queue the updates fetched before the last stop but not answered (they come first)."""
    journal: UpdateJournal = app.bot_data.journal
    queued = 0
    for update_id, body in journal.pending():
        try:
            update = Update.de_json(json.loads(body), app.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("cannot read update %s kept from before the restart (%s); skipping it", update_id, exc)
            await journal.end(update_id)
            continue
        app.update_queue.put_nowait(update)  # recorded already
        queued += 1
    if queued:
        log.info("answering %d update(s) fetched before the last stop but not answered", queued)


async def _initialize(app: Application) -> None:
    """``app.initialize()`` (getMe), retried with growing pauses while the Bot API cannot be reached."""
    pause = 1.0
    for attempt in range(BOOTSTRAP_RETRIES + 1):
        try:
            await app.initialize()
            return
        except (NetworkError, RetryAfter) as exc:
            if attempt == BOOTSTRAP_RETRIES:
                raise
            log.warning("reaching the Bot API failed (%s); trying again in %.0fs", one_line(exc), pause)
            await asyncio.sleep(pause)
            pause = min(30.0, pause * 1.5)


async def serve(app: Application, start_updates: Callable[[], Awaitable[Any]]) -> None:
    """Start (``start_updates``: polling or the webhook), answer until a stop signal or a fatal
    condition, then stop within telegram.shutdown_grace_seconds."""
    state: BotState = app.bot_data
    lifecycle = state.lifecycle
    lifecycle.listen()
    try:
        await _initialize(app)
        await post_init(app)
        await replay(app)
        await start_updates()
        await app.start()
        lifecycle.started = True
        await lifecycle.wait()
    except asyncio.CancelledError:
        if lifecycle.started:
            raise
        return  # a stop signal during start-up (logged by the lifecycle)
    finally:
        await _stop(app, state)


async def _stop(app: Application, state: BotState) -> None:
    """Stop fetching (confirming what was fetched: it is all in the journal), let the handlers on
    their way finish or be abandoned, close the HTTP clients and the journal."""
    lifecycle = state.lifecycle
    if app.updater is not None and app.updater.running:
        try:
            await asyncio.wait_for(app.updater.stop(), timeout=max(0.1, lifecycle.time_left() - 0.5))
        except (TelegramError, TimeoutError) as exc:  # e.g. the polling ended on a 401
            log.debug("stopping the updater: %s", one_line(exc))
    if app.running:
        await app.stop()
    await app.shutdown()
    unanswered = state.journal.unanswered()
    state.journal.close()
    if unanswered:
        log.info("%d fetched update(s) not answered yet are kept for the next start", unanswered)
    # The question log writes what is queued in what is left of the grace (a little is kept for exiting).
    await asyncio.to_thread(state.question_log.close, max(0.1, lifecycle.time_left() - 0.3))


def note_index(metrics: BotMetrics, service: AnswerService) -> None:
    """The loaded index's size and age in the metrics (its build time is its file's), and /healthz's
    "index loaded"."""
    try:
        updated = service.info.path.stat().st_mtime if service.info is not None else time.time()
    except OSError:  # not saved (a read-only cache folder): built just now
        updated = time.time()
    metrics.set_index(len(service.articles), len(service.index.sentences), updated)
    metrics.mark_index_loaded()


def _fetch_failed(app: Application, exc: TelegramError) -> None:
    """A failed getUpdates goes to the error handler (update None), as under ``run_polling``."""
    app.create_task(app.process_error(update=None, error=exc))


class _Stopped(BaseException):
    """SIGTERM or SIGINT arrived during start-up, before the event loop handles the signals."""


def _stop_during_startup(signum: int, frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


def _signal_name(stop: _Stopped) -> str:
    """The signal behind ``stop``. Raised while a codec decodes (reading the corpus), it
    comes back re-raised with the codec's words around it and the original as its cause."""
    while isinstance(stop.__cause__, _Stopped):
        stop = stop.__cause__
    return str(stop)


def run_telegram(cfg: Config, corpus: Path | None = None) -> int:
    """Run the bot until SIGINT/SIGTERM; 0 on a clean stop; 1 when the Bot API is unreachable,
    the webhook listener cannot bind its address, or 409 Conflict persists; 2 when the token
    is rejected (at start-up or later).

    Raises ConfigError for a missing, malformed or rejected token and for an
    incomplete webhook setup, AlreadyRunning when another instance holds the
    cache folder (the CLI prints either as one line, exit code 2).
    """
    tg = cfg.telegram
    token = read_token(os.environ)
    base_url, base_file_url = read_base_url(os.environ)
    secret = None
    if tg.mode == "webhook":
        check_webhook(tg, base_url)
        secret = webhook_secret(tg, os.environ)
    admins = read_admins(tg, os.environ)
    hidden = secrets_to_hide(token, secret)
    protect_logs(hidden)
    lock = InstanceLock(lock_path(cfg.cache_dir, token, base_url)).acquire()
    metrics = BotMetrics()
    question_log: QuestionSink = NullQuestionLog()
    server = None
    service: AnswerService | None = None

    # Until the event loop handles them, a stop signal (docker stop during the index load)
    # must also end the process cleanly.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _stop_during_startup) for sig in (signal.SIGTERM, signal.SIGINT)}
    following: Following | None = None
    try:
        if cfg.insights.metrics_port:
            server = MetricsServer(metrics, cfg.insights.metrics_port, cfg.insights.metrics_host)
        # Following the corpus, an out-of-date saved index is served at once and brought up to date
        # in the background.
        service = AnswerService.open(cfg, corpus, stale_ok=cfg.watch)
        note_index(metrics, service)
        following = follow(service, cfg)
        app = build_application(
            cfg,
            service,
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            metrics=metrics,
            admins=admins,
            admin=Admin(admins, following.updater, cfg),
        )
        question_log = app.bot_data.question_log
        log.info("starting the Telegram bot (%s) via %s", tg.mode, base_url or DEFAULT_BASE_URL)
        updater = app.updater
        if updater is None:  # build_application always gives it one
            raise RuntimeError("the Telegram application has no updater")
        if tg.mode == "webhook":

            def start_updates() -> Awaitable[Any]:
                return updater.start_webhook(
                    listen=tg.webhook_listen,
                    port=tg.webhook_port,
                    url_path=urlsplit(tg.webhook_url).path.lstrip("/"),
                    webhook_url=tg.webhook_url,
                    secret_token=secret,
                    allowed_updates=ALLOWED_UPDATES,
                    bootstrap_retries=BOOTSTRAP_RETRIES,
                )
        else:

            def start_updates() -> Awaitable[Any]:
                return updater.start_polling(
                    allowed_updates=ALLOWED_UPDATES,
                    bootstrap_retries=BOOTSTRAP_RETRIES,
                    error_callback=lambda exc: _fetch_failed(app, exc),
                )

        try:
            asyncio.run(serve(app, start_updates))
        except OSError as exc:
            if tg.mode != "webhook":
                raise
            # the listener could not bind: port taken, address not on this host
            print(
                f"error: cannot listen for webhook requests on {tg.webhook_listen}:{tg.webhook_port} "
                f"(telegram.webhook_listen, webhook_port): {redact(str(exc), hidden)}",
                file=sys.stderr,
            )
            return 1
    except _Stopped as stop:
        log.info("stopped by %s during start-up", _signal_name(stop))
        return 0
    except InvalidToken:
        raise ConfigError(f"the Bot API server rejected {TOKEN_ENV}: check the token with @BotFather") from None
    except NetworkError as exc:
        print(
            f"error: cannot reach the Bot API server at {base_url or 'https://api.telegram.org'}: "
            f"{redact(str(exc), hidden)}",
            file=sys.stderr,
        )
        return 1
    finally:
        if following is not None:
            following.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        question_log.close(timeout=1.0)  # closed at the stop already; this is for a failed start-up
        if service is not None:
            service.close()  # the search backend's thread
        if server is not None:
            server.close()
        lock.release()
    fatal = app.bot_data.lifecycle.fatal
    if fatal is not None:
        print(f"error: {fatal.message}", file=sys.stderr)
        return fatal.exit_code
    log.info("stopped")
    return 0
