"""The work the handlers delegate to: what a question, a command or a button press gets.

Reading a question out of a message, the per-user limit, answering (cached),
logging and counting the question, rendering a page with its buttons ("Xem
thêm", 👍, 👎) and sending it; a vote; ``/stats``. Nothing here is a handler:
each function takes the shared :class:`~bot.telegram.state.BotState` and the
message or press.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from telegram.constants import ChatMemberStatus, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest

from telegram import (
    Bot,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)

from ..insights.store import ChatKind, feedback_data, parse_feedback_data
from . import format as fmt
from . import stats, turns
from .state import Answered, BotState, Pending, Where

log = logging.getLogger(__name__)

MORE_DATA = re.compile(r"^more:([A-Za-z0-9_-]{1,16}):(\d{1,3})$")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


# --- Reading the question -------------------------------------------------------------


def sender_key(message: Message) -> int:
    """Who asked: the user, or the chat for anonymous admins and channel senders."""
    if message.sender_chat is not None:
        return message.sender_chat.id
    return message.from_user.id if message.from_user else message.chat.id


def replies_to_bot(message: Message, bot_id: int) -> bool:
    """Whether ``message`` replies to one of the bot's messages."""
    replied = message.reply_to_message
    return bool(
        replied is not None
        and replied.from_user is not None
        and replied.from_user.id == bot_id
        and replied.forum_topic_created is None  # topic messages "reply" to the topic's first message
    )


def _text(message: Message) -> str:
    """The text of a message the handlers read as a question (their filters admit text messages only)."""
    if message.text is None:
        raise ValueError(f"message {message.message_id} holds no text: its handler's filter should not match")
    return message.text


def ask_question(message: Message, bot_id: int) -> str:
    """The question of ``/ask <question>``, or of the message an empty /ask replies to."""
    command = next(e for e in message.entities if e.type == MessageEntityType.BOT_COMMAND and e.offset == 0)
    question = fmt.command_argument(_text(message), command.length)
    replied = message.reply_to_message
    if not question and replied is not None and replied.text and not replies_to_bot(message, bot_id):
        question = replied.text.strip()
    return question


def command_text(message: Message) -> str:
    """What follows the leading command of ``message`` (``/add@bot  https://...`` -> ``https://...``)."""
    command = next(e for e in message.entities if e.type == MessageEntityType.BOT_COMMAND and e.offset == 0)
    return fmt.command_argument(_text(message), command.length)


def private_question(message: Message, username: str | None, bot_id: int) -> str:
    """A private message is a question; mentions of the bot are cut out."""
    text = _text(message)
    return fmt.strip_spans(text, fmt.mention_spans(text, message.entities, username, bot_id))


def group_question(message: Message, username: str | None, bot_id: int) -> str | None:
    """The question of a group message addressed to the bot, or None when it is not addressed."""
    return fmt.group_question(
        message.text, message.entities, username=username, bot_id=bot_id, replied_to_bot=replies_to_bot(message, bot_id)
    )


def _update_id() -> int | None:
    turn = turns.current()
    return turn.update_id if turn is not None else None


def stats_refusal(state: BotState, message: Message) -> str | None:
    """Why /stats in ``message`` is refused; None for an administrator in a private chat."""
    user = message.from_user.id if message.from_user and message.sender_chat is None else None
    return stats.refusal(state.stats, user, message.chat.type == ChatType.PRIVATE)


def help_text(state: BotState, message: Message, username: str | None) -> str:
    """/help; an administrator in a private chat also reads about /stats."""
    return fmt.help_message(username, admin=stats_refusal(state, message) is None)


def example(state: BotState) -> str:
    """An example question for the usage hints."""
    return state.tg.example_questions[0] if state.tg.example_questions else fmt.DEFAULT_EXAMPLE


# --- Answering ----------------------------------------------------------------------------


def answer(state: BotState, question: str) -> Answered:
    """The result of ``question`` (up to telegram.max_total_answers quotes) and the words to
    highlight, from the cache when it was asked before."""
    service = state.service

    def compute() -> Answered:
        result = service.answer(question, max_answers=state.tg.max_total_answers)
        return result, result.highlight

    return state.answers.get(question, compute, service.generation)


def render_page(state: BotState, answered: Answered, page: int) -> fmt.Page:
    result, terms = answered
    return fmt.result_page(
        result,
        terms,
        page=page,
        per_page=state.tg.answers_per_message,
        max_question_chars=state.max_question_chars,
    )


def answer_page(state: BotState, question: str, page: int) -> fmt.Page:
    """Answer ``question`` and render page ``page``."""
    return render_page(state, answer(state, question), page)


def answer_markup(more: tuple[str, int] | None, answer_id: str | None) -> InlineKeyboardMarkup | None:
    """The buttons under an answer, in one row: "Xem thêm" for page ``more = (key, page)`` of the
    question stored under ``key``, then 👍 and 👎 when the answer has a question-log id."""
    row = []
    if more is not None:
        row.append(InlineKeyboardButton(fmt.MORE_BUTTON, callback_data=f"more:{more[0]}:{more[1]}"))
    if answer_id is not None:
        row.append(InlineKeyboardButton(fmt.VOTE_UP_BUTTON, callback_data=feedback_data(answer_id, 1)))
        row.append(InlineKeyboardButton(fmt.VOTE_DOWN_BUTTON, callback_data=feedback_data(answer_id, -1)))
    return InlineKeyboardMarkup([row]) if row else None


def chat_kind(message: Message) -> ChatKind:
    return ChatKind.PRIVATE if message.chat.type == ChatType.PRIVATE else ChatKind.GROUP


def note_question(
    state: BotState, message: Message, question: str, answered: Answered | None, seconds: float
) -> str | None:
    """Count the question in the metrics and log it (the log keeps only salted hashes of the
    sender's and the chat's ids); the answer's id in the log, None when the log is off.
    ``answered`` None: answering failed."""
    result = answered[0] if answered is not None else None
    state.metrics.observe_answer(result, seconds)
    return state.question_log.record(
        question,
        result,
        kind=chat_kind(message),
        user=sender_key(message),
        chat=message.chat_id,
        latency_ms=1000 * seconds,
    )


@dataclass(frozen=True)
class PageClaim:
    """What a "Xem thêm" press gets: a page to send (``pending`` set) and/or a toast text."""

    pending: Pending | None = None
    key: str = ""
    page: int = 0
    toast: str | None = None


def claim_page(state: BotState, data: str | None, chat_id: int | None, user_id: int) -> PageClaim:
    """Check a "Xem thêm" press: user within the limit (every press counts), known question, same
    chat, page not sent yet."""
    verdict = state.limiter.hit(user_id)
    if not verdict.allowed:
        return PageClaim(toast=fmt.RATE_LIMITED.format(seconds=max(1, round(verdict.retry_after))))
    match = MORE_DATA.match(data or "")
    pending = state.questions.get(match[1]) if match else None
    moved = state.sender.chat_id
    if match is None or pending is None or chat_id is None or moved(pending.where.chat_id) != moved(chat_id):
        return PageClaim(toast=fmt.MORE_EXPIRED)
    page = int(match[2])
    if page in pending.pages_shown:
        return PageClaim()  # a second press on the same button
    pending.pages_shown.add(page)
    return PageClaim(pending, match[1], page)


def claim_vote(state: BotState, data: str | None, user_id: int) -> str:
    """A 👍/👎 press: within the user's limit (every press counts), the vote is logged (the
    user's later press on the same answer replaces it) and counted. The toast to show."""
    verdict = state.limiter.hit(user_id)
    if not verdict.allowed:
        return fmt.RATE_LIMITED.format(seconds=max(1, round(verdict.retry_after)))
    vote = parse_feedback_data(data)
    if vote is None:
        return fmt.MORE_EXPIRED
    answer_id, value = vote
    state.question_log.vote(answer_id, user_id, value)
    state.metrics.vote(value)
    return fmt.VOTE_THANKS


# --- Sending ----------------------------------------------------------------------------------


async def send_html(
    state: BotState, bot: Bot, where: Where, texts: Sequence[str], markup: InlineKeyboardMarkup | None = None
) -> None:
    """Send HTML ``texts`` in order, each retried per telegram.send_retry_seconds; the button,
    if any, goes under the last one. A message given up stops the rest (DeliveryFailed)."""
    for i, text in enumerate(texts):
        label = f"message {i + 1}/{len(texts)} to chat {where.chat_id}" + (
            f" (reply to message {where.reply_to})" if where.reply_to else ""
        )
        await state.sender.send_message(
            bot,
            label,
            chat_id=where.chat_id,
            text=text,
            parse_mode=ParseMode.HTML,
            message_thread_id=where.thread_id,
            reply_parameters=(
                ReplyParameters(message_id=where.reply_to, allow_sending_without_reply=True) if where.reply_to else None
            ),
            link_preview_options=NO_PREVIEW,
            reply_markup=markup if i == len(texts) - 1 else None,
        )


async def reply_html(state: BotState, message: Message, texts: Sequence[str]) -> None:
    """Reply to ``message`` (same chat and topic) with HTML ``texts``."""
    await send_html(state, message.get_bot(), Where.of(message), texts)


async def admit(state: BotState, message: Message) -> bool:
    """Whether the sender of ``message`` is within telegram.user_rate_limit; every update that
    gets a reply counts. The first refusal in a window gets a notice, later ones nothing: a
    flood is dropped, not queued."""
    verdict = state.limiter.hit(sender_key(message))
    if verdict.allowed:
        return True
    if verdict.notify:
        await reply_html(
            state, message, [fmt.plain(fmt.RATE_LIMITED.format(seconds=max(1, round(verdict.retry_after))))]
        )
    log.info("rate limited sender %s in chat %s", sender_key(message), message.chat_id)
    return False


async def reply(state: BotState, message: Message, texts: Sequence[str]) -> None:
    """Reply to ``message`` with HTML ``texts`` if its sender is within the per-user limit."""
    if await admit(state, message):
        await reply_html(state, message, texts)


async def answer_question(message: Message, question: str, usage: str, state: BotState) -> None:
    """Rate-limit, answer ``question`` and reply; an empty question gets ``usage``."""
    if not await admit(state, message):
        return
    if not question:
        await reply_html(state, message, [fmt.plain(usage)])
        return
    started = time.perf_counter()
    try:
        answered = answer(state, question)
    except Exception:
        note_question(state, message, question, None, time.perf_counter() - started)
        raise
    answer_id = note_question(state, message, question, answered, time.perf_counter() - started)
    if not answered[0].answered:
        answer_id = None  # a refusal has nothing to rate
    page = render_page(state, answered, 0)
    more = None
    if page.has_more:
        more = (state.questions.add(Pending(question, Where.of(message), answer_id)), 1)
    await send_html(state, message.get_bot(), Where.of(message), page.messages, answer_markup(more, answer_id))
    # No chat or user id here: the question log and these lines together must not link a person to a question.
    log.info(
        "answered update=%s kind=%s answer=%s messages=%d more=%s in %.0f ms",
        _update_id(),
        chat_kind(message).value,
        answer_id,
        len(page.messages),
        page.has_more,
        1000 * (time.perf_counter() - started),
    )


async def send_more(state: BotState, query: CallbackQuery, claim: PageClaim) -> None:
    """Send the page a "Xem thêm" press claimed and take the button off the previous one."""
    if claim.pending is None:
        return
    page = answer_page(state, claim.pending.question, claim.page)
    answer_id = claim.pending.answer_id
    try:  # the pressed message keeps its 👍/👎
        await query.edit_message_reply_markup(reply_markup=answer_markup(None, answer_id))
    except BadRequest as exc:  # e.g. the message is too old to edit: the new page still goes out
        log.debug("could not remove the button: %s", exc)
    more = (claim.key, claim.page + 1) if page.has_more else None
    await send_html(state, query.get_bot(), claim.pending.where, page.messages, answer_markup(more, answer_id))


async def send_stats(state: BotState, message: Message) -> None:
    """/stats: an administrator in a private chat gets the last days in a few lines and the chart
    (built in a worker thread); anyone else a polite refusal, and nothing else happens."""
    if not await admit(state, message):
        return
    refused = stats_refusal(state, message)
    if refused is not None:
        await reply_html(state, message, [fmt.plain(refused)])
        return
    built = await asyncio.to_thread(stats.build_stats, state.stats, state.service, state.question_log)
    await reply_html(state, message, [fmt.plain(built.text)])
    if built.chart is not None:
        where = Where.of(message)
        await state.sender.send_photo(
            message.get_bot(),
            f"the /stats chart to chat {where.chat_id}",
            chat_id=where.chat_id,
            photo=built.chart,
            message_thread_id=where.thread_id,
        )


# --- Changes of the chat itself -------------------------------------------------------------


def note_migration(state: BotState, message: Message) -> None:
    """A group became a supergroup (a service message in the old or the new chat): replies
    for the old id go to the new one from now on."""
    if message.migrate_to_chat_id:
        state.sender.chat_moved(message.chat_id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        state.sender.chat_moved(message.migrate_from_chat_id, message.chat_id)


def note_membership(change: ChatMemberUpdated) -> None:
    """Log the bot's removal from a chat (or its return), once per change."""
    old, new = change.old_chat_member.status, change.new_chat_member.status
    gone = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)
    by = change.from_user.id if change.from_user else None
    if new in gone and old not in gone:
        log.warning(
            "the bot was removed from chat %s (%s) by user %s: nothing more is sent there",
            change.chat.id,
            change.chat.title or change.chat.type,
            by,
        )
    elif old in gone and new not in gone:
        log.info(
            "the bot was added to chat %s (%s) by user %s", change.chat.id, change.chat.title or change.chat.type, by
        )
