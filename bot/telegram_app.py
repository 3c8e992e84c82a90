"""The Telegram front end: ``python -m bot telegram``.

One python-telegram-bot :class:`~telegram.ext.Application`, long polling (or a
webhook), built by :func:`run_telegram`. The answering service is built once
before the application and kept in ``bot_data`` with the other shared state;
handlers are thin: they read the update, call one function, send the reply.
Rendering lives in :mod:`bot.telegram_format`, the per-user limit in
:mod:`bot.ratelimit`, sending with retries in :mod:`bot.delivery`, the record
of handled updates (no update answered twice across restarts) in
:mod:`bot.journal`.

The token comes only from ``TELEGRAM_BOT_TOKEN`` and never reaches a log line:
every root log handler gets a formatter that masks it (python-telegram-bot
logs the Bot API URL, which contains the token, at DEBUG level).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from retrieval.answer.compose import Result
from retrieval.config import Config, TelegramConfig
from retrieval.errors import ConfigError
from retrieval.service import AnswerService

from . import telegram_format as fmt
from .delivery import DeliveryFailed, Sender, one_line
from .journal import UpdateJournal
from .ratelimit import SlidingWindowLimiter

log = logging.getLogger(__name__)

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
BASE_URL_ENV = "TELEGRAM_BASE_URL"
TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Edited messages, channel posts etc. are never requested, so never answered twice.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
# Retries (with growing pauses, about 20 s in all) to reach the Bot API at start-up.
BOOTSTRAP_RETRIES = 5
MORE_DATA = re.compile(r"^more:([A-Za-z0-9_-]{1,16}):(\d{1,3})$")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


# --- Shared state (built once, kept in bot_data) ------------------------------


@dataclass(frozen=True)
class Where:
    """Where replies go: the chat, its forum topic (if any) and the message replied to."""

    chat_id: int
    thread_id: int | None
    reply_to: int | None

    @classmethod
    def of(cls, message: Message) -> Where:
        # message_thread_id is also set on reply chains in ordinary groups; only
        # forum topics take it back when sending.
        return cls(message.chat_id, message.message_thread_id if message.is_topic_message else None,
                   message.message_id)


@dataclass
class Pending:
    """A question whose "Xem thêm" button may still be pressed."""

    question: str
    where: Where
    pages_shown: set[int] = field(default_factory=lambda: {0})


class QuestionStore:
    """The latest questions with a "Xem thêm" button, by short id (bounded, oldest dropped)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Pending] = OrderedDict()

    def add(self, pending: Pending) -> str:
        key = secrets.token_urlsafe(6)
        while key in self._items:
            key = secrets.token_urlsafe(6)
        self._items[key] = pending
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Pending | None:
        return self._items.get(key)


Answered = tuple[Result, tuple[str, ...]]  # a result and the question's words to highlight


class AnswerCache:
    """The latest results by question text (bounded, least recently used dropped).

    The index does not change while the bot runs, so a question asked again
    (often, in a group) or paged with "Xem thêm" is not ranked again.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Answered] = OrderedDict()

    def get(self, question: str, compute: Callable[[], Answered]) -> Answered:
        """The cached ``(result, highlight terms)`` of ``question``, computed on a miss."""
        item = self._items.get(question)
        if item is None:
            item = self._items[question] = compute()
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(question)
        return item

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class BotState:
    """Everything the handlers share."""

    service: AnswerService
    tg: TelegramConfig
    max_question_chars: int
    limiter: SlidingWindowLimiter
    questions: QuestionStore = field(default_factory=QuestionStore)
    answers: AnswerCache = field(default_factory=AnswerCache)
    sender: Sender = field(default_factory=Sender)
    journal: UpdateJournal = field(default_factory=lambda: UpdateJournal(None))


def _state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.bot_data["state"]


# --- The work handlers delegate to ---------------------------------------------


def answer_page(state: BotState, question: str, page: int) -> fmt.Page:
    """Answer ``question`` (up to telegram.max_total_answers quotes) and render page ``page``."""
    service = state.service

    def compute() -> Answered:
        result = service.answer(question, max_answers=state.tg.max_total_answers)
        return result, result.highlight

    result, terms = state.answers.get(question, compute)
    return fmt.result_page(
        result, terms, page=page, per_page=state.tg.answers_per_message,
        max_question_chars=state.max_question_chars,
    )


def more_markup(key: str, page: int) -> InlineKeyboardMarkup:
    """The "Xem thêm" button for page ``page`` of the question stored under ``key``."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(fmt.MORE_BUTTON, callback_data=f"more:{key}:{page}")]])


@dataclass(frozen=True)
class PageClaim:
    """What a "Xem thêm" press gets: a page to send (``pending`` set) and/or a toast text."""

    pending: Pending | None = None
    key: str = ""
    page: int = 0
    toast: str | None = None


def claim_page(state: BotState, data: str | None, chat_id: int | None, user_id: int) -> PageClaim:
    """Check a "Xem thêm" press: known question, same chat, page not sent yet, user within the limit."""
    match = MORE_DATA.match(data or "")
    pending = state.questions.get(match[1]) if match else None
    if match is None or pending is None or pending.where.chat_id != chat_id:
        return PageClaim(toast=fmt.MORE_EXPIRED)
    page = int(match[2])
    if page in pending.pages_shown:
        return PageClaim()  # a second press on the same button
    verdict = state.limiter.hit(user_id)
    if not verdict.allowed:
        return PageClaim(toast=fmt.RATE_LIMITED.format(seconds=max(1, round(verdict.retry_after))))
    pending.pages_shown.add(page)
    return PageClaim(pending, match[1], page)


def _sender_key(message: Message) -> int:
    """Who asked: the user, or the chat for anonymous admins and channel senders."""
    if message.sender_chat is not None:
        return message.sender_chat.id
    return message.from_user.id if message.from_user else message.chat.id


def _replies_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return bool(
        replied is not None
        and replied.from_user is not None
        and replied.from_user.id == bot_id
        and replied.forum_topic_created is None  # topic messages "reply" to the topic's first message
    )


def _example(state: BotState) -> str:
    return state.tg.example_questions[0] if state.tg.example_questions else fmt.DEFAULT_EXAMPLE


async def send_html(
    state: BotState, bot: Bot, where: Where, texts: Sequence[str], markup: InlineKeyboardMarkup | None = None
) -> None:
    """Send HTML ``texts`` in order, each retried per telegram.send_retry_seconds; the button,
    if any, goes under the last one. A message given up stops the rest (DeliveryFailed)."""
    for i, text in enumerate(texts):
        label = f"message {i + 1}/{len(texts)} to chat {where.chat_id}" + (
            f" (reply to message {where.reply_to})" if where.reply_to else "")
        await state.sender.send_message(
            bot,
            label,
            chat_id=where.chat_id,
            text=text,
            parse_mode=ParseMode.HTML,
            message_thread_id=where.thread_id,
            reply_parameters=(
                ReplyParameters(message_id=where.reply_to, allow_sending_without_reply=True)
                if where.reply_to else None
            ),
            link_preview_options=NO_PREVIEW,
            reply_markup=markup if i == len(texts) - 1 else None,
        )


async def reply_html(state: BotState, message: Message, texts: Sequence[str]) -> None:
    """Reply to ``message`` (same chat and topic) with HTML ``texts``."""
    await send_html(state, message.get_bot(), Where.of(message), texts)


async def answer_question(message: Message, question: str, usage: str, state: BotState) -> None:
    """Rate-limit, answer ``question`` and reply; an empty question gets ``usage``."""
    verdict = state.limiter.hit(_sender_key(message))
    if not verdict.allowed:
        if verdict.notify:
            await reply_html(state, message,
                             [fmt.plain(fmt.RATE_LIMITED.format(seconds=max(1, round(verdict.retry_after))))])
        log.info("rate limited sender %s in chat %s", _sender_key(message), message.chat_id)
        return
    if not question:
        await reply_html(state, message, [fmt.plain(usage)])
        return
    started = time.perf_counter()
    page = answer_page(state, question, 0)
    markup = None
    if page.has_more:
        markup = more_markup(state.questions.add(Pending(question, Where.of(message))), 1)
    await send_html(state, message.get_bot(), Where.of(message), page.messages, markup)
    log.info(
        "answered chat=%s message=%s messages=%d more=%s in %.0f ms",
        message.chat_id, message.message_id, len(page.messages), page.has_more,
        1000 * (time.perf_counter() - started),
    )


# --- Handlers -------------------------------------------------------------------


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop updates handled before (a restart before Telegram got their confirmation), from
    chats outside telegram.allowed_chat_ids, and messages from other bots."""
    state = _state(context)
    if not await state.journal.claim(update.update_id):
        log.info("skipping update %s: it was handled before a restart", update.update_id)
        raise ApplicationHandlerStop
    chat, message = update.effective_chat, update.message
    allowed = state.tg.allowed_chat_ids
    if allowed and chat is not None and chat.id not in allowed:
        log.debug("ignoring an update from chat %s (not in telegram.allowed_chat_ids)", chat.id)
        if chat.type == ChatType.PRIVATE and message and (message.text or "").startswith("/start"):
            await reply_html(state, message, [fmt.plain(fmt.NOT_ALLOWED.format(chat_id=chat.id))])
        raise ApplicationHandlerStop
    if message and message.from_user and message.from_user.is_bot and not message.sender_chat:
        raise ApplicationHandlerStop


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet and show example questions."""
    state, user = _state(context), update.effective_user
    text = fmt.start_message(len(state.service.articles), user.first_name if user else None,
                             state.tg.example_questions)
    await reply_html(state, update.message, [text])


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain how to ask, in private chats and in groups."""
    await reply_html(_state(context), update.message, [fmt.help_message(context.bot.username)])


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the articles: title, source, date."""
    state = _state(context)
    await reply_html(state, update.message, fmt.sources_messages(state.service.articles))


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask <question>, or /ask in reply to a message holding the question."""
    message = update.message
    command = next(e for e in message.entities if e.type == MessageEntityType.BOT_COMMAND and e.offset == 0)
    question = fmt.command_argument(message.text, command.length)
    replied = message.reply_to_message
    if not question and replied is not None and replied.text and not _replies_to_bot(message, context.bot.id):
        question = replied.text.strip()
    state = _state(context)
    await answer_question(message, question, fmt.ASK_USAGE.format(example=_example(state)), state)


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a private chat every text message is a question."""
    message = update.message
    spans = fmt.mention_spans(message.text, message.entities, context.bot.username, context.bot.id)
    await answer_question(message, fmt.strip_spans(message.text, spans), fmt.EMPTY, _state(context))


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a group, answer only a message that mentions the bot or replies to it."""
    message, bot = update.message, context.bot
    question = fmt.group_question(message.text, message.entities, username=bot.username, bot_id=bot.id,
                                  replied_to_bot=_replies_to_bot(message, bot.id))
    if question is not None:
        state = _state(context)
        usage = fmt.MENTION_USAGE.format(mention=f"@{bot.username}", example=_example(state))
        await answer_question(message, question, usage, state)


async def non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice... in a private chat: say that only text is read."""
    await reply_html(_state(context), update.message, [fmt.plain(fmt.NON_TEXT)])


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An unknown /command in a private chat: point to /help."""
    await reply_html(_state(context), update.message, [fmt.plain(fmt.UNKNOWN_COMMAND)])


async def more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "Xem thêm" button: send the next page of answers to the same question."""
    query = update.callback_query
    state = _state(context)
    claim = claim_page(state, query.data, query.message.chat.id if query.message else None, query.from_user.id)
    await query.answer(claim.toast)
    if claim.pending is None:
        return
    page = answer_page(state, claim.pending.question, claim.page)
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as exc:  # e.g. the message is too old to edit: the new page still goes out
        log.debug("could not remove the button: %s", exc)
    markup = more_markup(claim.key, claim.page + 1) if page.has_more else None
    await send_html(state, context.bot, claim.pending.where, page.messages, markup)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a failed update with its traceback; apologise in its chat when there is one.

    Fetching updates that fails (update None: the Bot API unreachable, 429, 5xx,
    an unreadable answer) is one warning line; python-telegram-bot polls again
    with growing pauses. A reply given up by the sender was logged already and
    gets no apology (it could not be delivered either, or may have been).
    """
    error = context.error
    if update is None and isinstance(error, TelegramError):
        log.warning("fetching updates failed (%s); trying again", one_line(error))
        return
    if isinstance(error, DeliveryFailed):
        return
    if isinstance(error, (NetworkError, RetryAfter)) and not isinstance(error, BadRequest):
        log.warning("update %s not handled: a Bot API call failed (%s)", getattr(update, "update_id", None),
                    one_line(error))
        return
    log.error("failed to handle update %s", getattr(update, "update_id", None), exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    message = update.effective_message
    where = Where.of(message) if message else Where(update.effective_chat.id, None, None)
    try:
        await send_html(_state(context), context.bot, where, [fmt.plain(fmt.ERROR)])
    except TelegramError as exc:
        log.warning("could not send the apology to chat %s: %s", where.chat_id, one_line(exc))


async def post_init(app: Application) -> None:
    """Register the command menu (Vietnamese descriptions) once the bot is known."""
    try:
        await app.bot.set_my_commands([BotCommand(c, d) for c, d in fmt.COMMANDS])
    except TelegramError as exc:
        log.warning("could not set the command menu: %s", exc)
    state: BotState = app.bot_data["state"]
    log.info(
        "bot @%s (id %s) serving %d articles; allowed chats: %s",
        app.bot.username, app.bot.id, len(state.service.articles),
        ", ".join(map(str, state.tg.allowed_chat_ids)) or "all",
    )


# --- Building and running ---------------------------------------------------------


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
    per_second = tg.max_messages_per_second
    builder = (
        ApplicationBuilder()
        .token(token)
        # Telegram's flood limits; a 429 "retry after" pauses every request and is retried twice.
        .rate_limiter(AIORateLimiter(overall_max_rate=per_second, overall_time_period=1 if per_second else 0,
                                     max_retries=2))
        .concurrent_updates(True)
        .post_init(post_init)
    )
    if base_url:
        builder = builder.base_url(base_url).base_file_url(base_file_url or base_url)
    app = builder.build()
    app.bot_data["state"] = BotState(
        service=service,
        tg=tg,
        max_question_chars=cfg.answer.max_question_chars,
        limiter=SlidingWindowLimiter(tg.user_rate_limit, tg.user_rate_window),
        sender=Sender(tg.send_retry_seconds, lambda: app.running),
        journal=UpdateJournal(journal_path(cfg, token, base_url)),
    )

    new = filters.UpdateType.MESSAGE
    private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    app.add_handler(TypeHandler(Update, gate), group=-1)
    app.add_handler(CommandHandler("start", start, filters=new))
    app.add_handler(CommandHandler("help", help_command, filters=new))
    app.add_handler(CommandHandler("sources", sources, filters=new))
    app.add_handler(CommandHandler("ask", ask, filters=new))
    app.add_handler(MessageHandler(new & private & filters.TEXT & ~filters.COMMAND, private_text))
    app.add_handler(MessageHandler(new & groups & filters.TEXT & ~filters.COMMAND, group_text))
    app.add_handler(MessageHandler(new & private & filters.COMMAND, unknown_command))
    app.add_handler(MessageHandler(new & private & ~filters.TEXT & ~filters.StatusUpdate.ALL, non_text))
    app.add_handler(CallbackQueryHandler(more))  # every button press gets an answer, stale ones a toast
    app.add_error_handler(on_error)
    return app


def journal_path(cfg: Config, token: str, base_url: str | None) -> Path:
    """Where the handled update ids of this bot on this Bot API server are kept.

    Named by the bot's id (the token's public part, before the colon) and the
    server: a self-hosted Bot API server numbers its updates itself.
    """
    server = hashlib.sha256((base_url or "https://api.telegram.org/bot").encode()).hexdigest()[:12]
    return cfg.cache_dir / f"telegram-{token.split(':', 1)[0]}-{server}-handled.json"


def read_token(env: Mapping[str, str]) -> str:
    """The bot token from ``TELEGRAM_BOT_TOKEN``; ConfigError (without the value) when missing or malformed."""
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(f"{TOKEN_ENV} is not set: put the token from @BotFather in the environment")
    if not TOKEN_PATTERN.match(token):
        raise ConfigError(
            f"{TOKEN_ENV} does not look like a bot token (expected <digits>:<30+ letters, digits, _ or ->)"
        )
    return token


def read_base_url(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``(base_url, base_file_url)`` for a self-hosted Bot API server, from ``TELEGRAM_BASE_URL``.

    ``http://127.0.0.1:8081/bot`` gives ``http://127.0.0.1:8081/file/bot`` for files.
    """
    url = env.get(BASE_URL_ENV, "").strip()
    if not url:
        return None, None
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{BASE_URL_ENV} must be an http(s) URL such as http://127.0.0.1:8081/bot, got {url!r}")
    if url.endswith("/bot"):
        return url, url[: -len("bot")] + "file/bot"
    return url, f"{parts.scheme}://{parts.netloc}/file/bot"


def webhook_secret(tg: TelegramConfig, env: Mapping[str, str]) -> str:
    """The webhook secret token from the environment variable named by telegram.webhook_secret_env."""
    secret = env.get(tg.webhook_secret_env, "").strip()
    if not SECRET_PATTERN.match(secret):
        raise ConfigError(
            f"webhook mode needs a secret token in the environment variable {tg.webhook_secret_env} "
            "(1-256 characters: letters, digits, _ and -)"
        )
    return secret


def _check_webhook(tg: TelegramConfig, base_url: str | None = None) -> None:
    """The webhook URL must be https:// for Telegram; a self-hosted Bot API server
    (``base_url`` from TELEGRAM_BASE_URL, run with --local) also accepts http://."""
    parts = urlsplit(tg.webhook_url)
    if base_url:
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(
                "telegram.webhook_url must be the http(s):// URL the Bot API server at "
                f"{BASE_URL_ENV} calls (webhook mode)"
            )
    elif parts.scheme != "https" or not parts.hostname:
        raise ConfigError(
            "telegram.webhook_url must be the public https:// URL Telegram calls (webhook mode; "
            f"http:// only with a self-hosted Bot API server in {BASE_URL_ENV})"
        )
    if importlib.util.find_spec("tornado") is None:
        raise ConfigError(
            "telegram.mode is 'webhook' but the webhook server is not installed: "
            "pip install 'python-telegram-bot[webhooks]' (or use mode: polling)"
        )


class RedactingFormatter(logging.Formatter):
    """Wraps a handler's formatter and masks secrets in everything it writes (tracebacks too)."""

    def __init__(self, inner: logging.Formatter | None, secrets_: Sequence[str]) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.secrets = sorted({s for s in secrets_ if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record), self.secrets)


def redact(text: str, secrets_: Sequence[str]) -> str:
    for secret in secrets_:
        text = text.replace(secret, "<redacted>")
    return text


class _NoInvalidTokenTraceback(logging.Filter):
    """python-telegram-bot logs a rejected token with a traceback; run_telegram reports it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InvalidToken))


class _NetworkFaultsInOneLine(logging.Filter):
    """python-telegram-bot logs an unreadable Bot API answer and a 429 given up with a traceback;
    they are network faults the bot survives (and logs itself): keep one line."""

    PREFIXES = ("Can not load invalid JSON data", "Rate limit hit after maximum")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(self.PREFIXES) and record.exc_info:
            record.msg = f"{record.msg} (%s)"
            args = record.args if isinstance(record.args, tuple) else ()
            record.args = (*(a[:200] if isinstance(a, str) else a for a in args), one_line(record.exc_info[1]))
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class _WebhookRefusalsInOneLine(logging.Filter):
    """python-telegram-bot logs a refused webhook request (missing or wrong secret token) at DEBUG
    with a traceback and the token offered, which may be a near miss of the real one (an old
    secret, a typo): keep one line without either."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Request had the wrong secret token: %s":
            record.msg, record.args = "Request had the wrong secret token", ()
        elif record.exc_info and _is_client_error(record.exc_info[1]):
            record.msg = f"{record.msg}: %s"
            record.args = (*(record.args or ()), record.exc_info[1])
            record.exc_info = record.exc_text = None
        return True


def _is_client_error(exc: BaseException | None) -> bool:
    try:
        from tornado.web import HTTPError
    except ImportError:  # no webhook server installed
        return False
    return isinstance(exc, HTTPError) and 400 <= exc.status_code < 500


def protect_logs(secrets_: Sequence[str]) -> None:
    """Mask ``secrets_`` in every root log handler; quiet the HTTP client loggers."""
    for handler in logging.getLogger().handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter, secrets_))
    # httpx logs every request URL, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    ptb = logging.getLogger("telegram.ext")
    if not any(isinstance(f, _NoInvalidTokenTraceback) for f in ptb.filters):
        ptb.addFilter(_NoInvalidTokenTraceback())
    for name in ("telegram.request.BaseRequest", "telegram.ext.AIORateLimiter"):
        network = logging.getLogger(name)
        if not any(isinstance(f, _NetworkFaultsInOneLine) for f in network.filters):
            network.addFilter(_NetworkFaultsInOneLine())
    webhook = logging.getLogger("telegram.ext.Updater")  # the webhook server logs here
    if not any(isinstance(f, _WebhookRefusalsInOneLine) for f in webhook.filters):
        webhook.addFilter(_WebhookRefusalsInOneLine())


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
    incomplete webhook setup (the CLI prints it as one line, exit code 2).
    """
    tg = cfg.telegram
    token = read_token(os.environ)
    base_url, base_file_url = read_base_url(os.environ)
    secret = None
    if tg.mode == "webhook":
        _check_webhook(tg, base_url)
        secret = webhook_secret(tg, os.environ)
    hidden = [token, token.split(":", 1)[1]] + ([secret] if secret else [])
    protect_logs(hidden)

    # Until run_polling/run_webhook installs its own handlers, a stop signal
    # (docker stop during the index load) must also end the process cleanly.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _stop_during_startup) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        service = AnswerService.open(cfg, corpus)
        app = build_application(cfg, service, token, base_url=base_url, base_file_url=base_file_url)
        log.info("starting the Telegram bot (%s) via %s", tg.mode, base_url or "https://api.telegram.org/bot")
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
    log.info("stopped")
    return 0
