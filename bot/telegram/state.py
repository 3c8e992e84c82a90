"""What the handlers share, built once at start-up and typed through ``ContextTypes(bot_data=BotState)``.

python-telegram-bot makes ``bot_data`` by calling the type it was given with
no arguments; :func:`provide` hands it the state built by
:func:`bot.telegram.app.build_application` instead, so handlers read
``context.bot_data.service`` (typed) rather than ``context.bot_data["state"]``.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from telegram.ext import CallbackContext, ExtBot

from retrieval.answer.compose import Result
from retrieval.config import Config, TelegramConfig
from retrieval.service import AnswerService
from retrieval.updates.worker import Updater
from telegram import Message

from ..insights.log import NullQuestionLog, QuestionSink
from ..insights.metrics import BotMetrics
from .delivery import Sender
from .journal import UpdateJournal
from .lifecycle import Lifecycle
from .ratelimit import SlidingWindowLimiter
from .stats import StatsSettings


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
        return cls(message.chat_id, message.message_thread_id if message.is_topic_message else None, message.message_id)


@dataclass
class Pending:
    """A question whose "Xem thêm" button may still be pressed."""

    question: str
    where: Where
    answer_id: str | None = None  # the question log's id of the answer: its 👍/👎 buttons (None: none)
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
    """The latest results by question text (bounded, least recently used dropped), for one
    generation of the index: a question asked again (often, in a group) or paged with "Xem thêm"
    is not ranked again until an update changes the index."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Answered] = OrderedDict()
        self._generation = 0

    def get(self, question: str, compute: Callable[[], Answered], generation: int = 0) -> Answered:
        """The cached ``(result, highlight terms)`` of ``question``, computed on a miss; every result
        is forgotten when ``generation`` (:attr:`AnswerService.generation`) is not the cached one."""
        if generation != self._generation:
            self._items.clear()
            self._generation = generation
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


@dataclass(frozen=True)
class Admin:
    """The administrators (telegram.admins, TELEGRAM_ADMINS) and what their commands use: the updater
    of the served index and the settings of reading and fetching documents."""

    ids: frozenset[int]
    updater: Updater
    cfg: Config


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
    lifecycle: Lifecycle = field(default_factory=lambda: Lifecycle(grace=8.0, conflict_seconds=30.0))
    admin: Admin | None = None  # None: no administrators' commands (a test's bot without an updater)
    question_log: QuestionSink = field(default_factory=NullQuestionLog)
    metrics: BotMetrics = field(default_factory=BotMetrics)
    stats: StatsSettings = field(default_factory=StatsSettings)
    # Counts a failed Bot API call in the metrics, once (the sender's count and the error handler's).
    count_telegram_error: Callable[[BaseException], None] = lambda exc: None


# The context every handler gets: context.bot_data is the BotState.
Context = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotState]


def provide(state: BotState) -> type[BotState]:
    """A stand-in for the BotState type in ``ContextTypes(bot_data=...)``: called with no
    arguments (as python-telegram-bot does), it returns ``state``."""
    return cast(type[BotState], lambda: state)
