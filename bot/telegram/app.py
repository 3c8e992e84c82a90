"""Building and running the bot: ``python -m bot telegram``.

One python-telegram-bot :class:`~telegram.ext.Application`, long polling (or a
webhook). The answering service is built once, before the application, and
kept with the other shared state in ``bot_data``
(:class:`~bot.telegram.state.BotState`). Stop signals end the process cleanly,
also while the index is still loading.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from retrieval.config import Config
from retrieval.errors import ConfigError
from retrieval.service import AnswerService

from . import format as fmt
from . import handlers
from .delivery import Sender
from .journal import InstanceLock, UpdateJournal
from .ratelimit import SlidingWindowLimiter
from .redact import protect_logs, redact
from .settings import (
    DEFAULT_BASE_URL,
    TOKEN_ENV,
    check_webhook,
    journal_path,
    legacy_journal_path,
    lock_path,
    read_base_url,
    read_token,
    secrets_to_hide,
    webhook_secret,
)
from .state import BotState, provide

log = logging.getLogger(__name__)

# Edited messages, channel posts etc. are never requested, so never answered twice.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
# Retries (with growing pauses, about 20 s in all) to reach the Bot API at start-up.
BOOTSTRAP_RETRIES = 5


async def post_init(app: Application) -> None:
    """Register the command menu (Vietnamese descriptions) once the bot is known."""
    try:
        await app.bot.set_my_commands([BotCommand(c, d) for c, d in fmt.COMMANDS])
    except TelegramError as exc:
        log.warning("could not set the command menu: %s", exc)
    state: BotState = app.bot_data
    log.info(
        "bot @%s (id %s) serving %d articles; allowed chats: %s",
        app.bot.username, app.bot.id, len(state.service.articles),
        ", ".join(map(str, state.tg.allowed_chat_ids)) or "all",
    )


def build_application(
    cfg: Config,
    service: AnswerService,
    token: str,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
) -> Application:
    """The Application with its handlers, rate limiter and shared state (no network yet)."""
    tg = cfg.telegram
    state = BotState(
        service=service,
        tg=tg,
        max_question_chars=cfg.answer.max_question_chars,
        limiter=SlidingWindowLimiter(tg.user_rate_limit, tg.user_rate_window),
        # A stopping bot makes one attempt per message (``app`` is bound below, before any send).
        sender=Sender(tg.send_retry_seconds, lambda: app.running),
        journal=UpdateJournal(journal_path(cfg.cache_dir, token, base_url),
                              legacy=legacy_journal_path(cfg.cache_dir, token, base_url)),
    )
    per_second = tg.max_messages_per_second
    builder = (
        ApplicationBuilder()
        .token(token)
        .context_types(ContextTypes(bot_data=provide(state)))
        # Telegram's flood limits; a 429 "retry after" pauses every request and is retried twice.
        .rate_limiter(AIORateLimiter(overall_max_rate=per_second, overall_time_period=1 if per_second else 0,
                                     max_retries=2))
        .concurrent_updates(True)
        .post_init(post_init)
    )
    if base_url:
        builder = builder.base_url(base_url).base_file_url(base_file_url or base_url)
    app = builder.build()
    handlers.register(app)
    return app


class _Stopped(BaseException):
    """SIGTERM or SIGINT arrived during start-up, before python-telegram-bot handles the signals."""


def _stop_during_startup(signum: int, frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


def _signal_name(stop: _Stopped) -> str:
    """The signal behind ``stop``. Raised while a codec decodes (reading the corpus), it
    comes back re-raised with the codec's words around it and the original as its cause."""
    while isinstance(stop.__cause__, _Stopped):
        stop = stop.__cause__
    return str(stop)


def run_telegram(cfg: Config, corpus: Path | None = None) -> int:
    """Run the bot until SIGINT/SIGTERM; 0 on a clean stop, 1 when the Bot API is unreachable
    or the webhook listener cannot bind its address.

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
    hidden = secrets_to_hide(token, secret)
    protect_logs(hidden)
    lock = InstanceLock(lock_path(cfg.cache_dir, token, base_url)).acquire()

    # Until run_polling/run_webhook installs its own handlers, a stop signal
    # (docker stop during the index load) must also end the process cleanly.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _stop_during_startup) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        service = AnswerService.open(cfg, corpus)
        app = build_application(cfg, service, token, base_url=base_url, base_file_url=base_file_url)
        log.info("starting the Telegram bot (%s) via %s", tg.mode, base_url or DEFAULT_BASE_URL)
        if tg.mode == "webhook":
            try:
                app.run_webhook(
                    listen=tg.webhook_listen,
                    port=tg.webhook_port,
                    url_path=urlsplit(tg.webhook_url).path.lstrip("/"),
                    webhook_url=tg.webhook_url,
                    secret_token=secret,
                    allowed_updates=ALLOWED_UPDATES,
                    bootstrap_retries=BOOTSTRAP_RETRIES,
                )
            except OSError as exc:  # the listener could not bind: port taken, address not on this host
                print(
                    f"error: cannot listen for webhook requests on {tg.webhook_listen}:{tg.webhook_port} "
                    f"(telegram.webhook_listen, webhook_port): {redact(str(exc), hidden)}",
                    file=sys.stderr,
                )
                return 1
        else:
            app.run_polling(allowed_updates=ALLOWED_UPDATES, bootstrap_retries=BOOTSTRAP_RETRIES)
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
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lock.release()
    log.info("stopped")
    return 0
