"""The handlers: each reads the update, calls one function of :mod:`bot.telegram.answers`, sends the reply.

``context.bot_data`` is the shared :class:`~bot.telegram.state.BotState`
(``ContextTypes(bot_data=BotState)``); :func:`register` adds every handler to
the application in the order they are tried.
"""

from __future__ import annotations

import logging

from telegram.constants import ChatType
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from telegram import CallbackQuery, ChatMemberUpdated, Message, Update

from ..insights.store import parse_feedback_data
from . import admin, answers
from . import format as fmt
from .delivery import DeliveryFailed, one_line
from .state import Context, Where

log = logging.getLogger(__name__)


# What each handler reads is there by its filter in register(); these say so to the type checker.


def _message(update: Update) -> Message:
    """The update's new message (handlers registered with ``filters.UpdateType.MESSAGE``)."""
    if update.message is None:
        raise ValueError(f"update {update.update_id} holds no new message: its handler's filter should not match")
    return update.message


def _query(update: Update) -> CallbackQuery:
    """The update's button press (handlers registered with ``CallbackQueryHandler``)."""
    if update.callback_query is None:
        raise ValueError(f"update {update.update_id} holds no button press: its handler should not match")
    return update.callback_query


def _membership(update: Update) -> ChatMemberUpdated:
    """The bot's own membership change (the ``ChatMemberHandler.MY_CHAT_MEMBER`` handler)."""
    if update.my_chat_member is None:
        raise ValueError(f"update {update.update_id} holds no membership change: its handler should not match")
    return update.my_chat_member


def _is_vote(data: object) -> bool:
    """The pattern of the 👍/👎 buttons' callback data."""
    return isinstance(data, str) and parse_feedback_data(data) is not None


async def gate(update: Update, context: Context) -> None:
    """Stop updates from chats outside telegram.allowed_chat_ids and messages from other bots.
    (Updates handled before a restart never get here: see :func:`bot.telegram.turns.take`.)"""
    state = context.bot_data
    chat, message = update.effective_chat, update.message
    allowed = state.tg.allowed_chat_ids
    if allowed and chat is not None and chat.id not in allowed and update.my_chat_member is None:
        log.debug("ignoring an update from chat %s (not in telegram.allowed_chat_ids)", chat.id)
        if chat.type == ChatType.PRIVATE and message and (message.text or "").startswith("/start"):
            await answers.reply(state, message, [fmt.plain(fmt.NOT_ALLOWED.format(chat_id=chat.id))])
        raise ApplicationHandlerStop
    if message and message.from_user and message.from_user.is_bot and not message.sender_chat:
        raise ApplicationHandlerStop


async def start(update: Update, context: Context) -> None:
    """Greet and show example questions."""
    state, user = context.bot_data, update.effective_user
    text = fmt.start_message(len(state.service.articles), user.first_name if user else None, state.tg.example_questions)
    await answers.reply(state, _message(update), [text])


async def help_command(update: Update, context: Context) -> None:
    """Explain how to ask, in private chats and in groups."""
    state, message = context.bot_data, _message(update)
    await answers.reply(state, message, [answers.help_text(state, message, context.bot.username)])


async def sources(update: Update, context: Context) -> None:
    """List the articles: title, source, date."""
    state = context.bot_data
    await answers.reply(state, _message(update), fmt.sources_messages(state.service.articles))


async def ask(update: Update, context: Context) -> None:
    """/ask <question>, or /ask in reply to a message holding the question."""
    state, message = context.bot_data, _message(update)
    question = answers.ask_question(message, context.bot.id)
    await answers.answer_question(message, question, fmt.ASK_USAGE.format(example=answers.example(state)), state)


async def private_text(update: Update, context: Context) -> None:
    """In a private chat every text message is a question."""
    message, bot = _message(update), context.bot
    question = answers.private_question(message, bot.username, bot.id)
    await answers.answer_question(message, question, fmt.EMPTY, context.bot_data)


async def group_text(update: Update, context: Context) -> None:
    """In a group, answer only a message that mentions the bot or replies to it."""
    message, bot, state = _message(update), context.bot, context.bot_data
    question = answers.group_question(message, bot.username, bot.id)
    if question is not None:
        usage = fmt.MENTION_USAGE.format(mention=f"@{bot.username}", example=answers.example(state))
        await answers.answer_question(message, question, usage, state)


async def non_text(update: Update, context: Context) -> None:
    """Stickers, photos, voice... in a private chat: say that only text is read."""
    await answers.reply(context.bot_data, _message(update), [fmt.plain(fmt.NON_TEXT)])


async def unknown_command(update: Update, context: Context) -> None:
    """An unknown /command in a private chat: point to /help."""
    await answers.reply(context.bot_data, _message(update), [fmt.plain(fmt.UNKNOWN_COMMAND)])


async def stats(update: Update, context: Context) -> None:
    """/stats: the last 7 days for an administrator in a private chat, a polite refusal for anyone else."""
    await answers.send_stats(context.bot_data, _message(update))


async def vote(update: Update, context: Context) -> None:
    """A 👍/👎 press under an answer: log the vote and thank with a toast."""
    query = _query(update)
    await query.answer(answers.claim_vote(context.bot_data, query.data, query.from_user.id))


async def more(update: Update, context: Context) -> None:
    """The "Xem thêm" button: send the next page of answers to the same question."""
    query, state = _query(update), context.bot_data
    claim = answers.claim_page(state, query.data, query.message.chat.id if query.message else None, query.from_user.id)
    await query.answer(claim.toast)
    await answers.send_more(state, query, claim)


async def upload(update: Update, context: Context) -> None:
    """A document sent in a private chat: an administrator's is added to the corpus and indexed."""
    await admin.receive_document(context.bot_data, _message(update))


async def add_command(update: Update, context: Context) -> None:
    """/add <URL>: an administrator adds a web page to the corpus."""
    message = _message(update)
    await admin.add_url(context.bot_data, message, answers.command_text(message))


async def remove_command(update: Update, context: Context) -> None:
    """/remove <doc_id>: an administrator takes a document out of the corpus (without an id: the ids)."""
    message = _message(update)
    await admin.remove_document(context.bot_data, message, answers.command_text(message))


async def reload_command(update: Update, context: Context) -> None:
    """/reload: an administrator has the whole corpus read again."""
    await admin.reload_corpus(context.bot_data, _message(update))


async def chat_migrated(update: Update, context: Context) -> None:
    """A group became a supergroup: replies follow it to its new id."""
    answers.note_migration(context.bot_data, _message(update))


async def membership(update: Update, context: Context) -> None:
    """The bot was removed from (or added to) a chat: one log line."""
    answers.note_membership(_membership(update))


async def on_error(update: object, context: Context) -> None:
    """Log a failed update with its traceback; apologise in its chat when there is one.

    Fetching updates that fails (update None: the Bot API unreachable, 429, 5xx,
    an unreadable answer, 409 Conflict) is one warning line; python-telegram-bot
    polls again with growing pauses. A reply given up by the sender (a chat out of
    reach included) was logged already and gets no apology: it could not be
    delivered either, or may have been. A rejected token ends the bot
    (:mod:`bot.telegram.lifecycle`): nothing more to say here.
    """
    error = context.error
    if isinstance(error, TelegramError):
        context.bot_data.count_telegram_error(error)
    if isinstance(error, (DeliveryFailed, InvalidToken)):
        return
    if update is None and isinstance(error, Conflict):
        log.warning(
            "fetching updates failed (%s): another process may be polling with this token; the bot "
            "exits after telegram.conflict_exit_seconds (%g) of conflicts",
            one_line(error),
            context.bot_data.tg.conflict_exit_seconds,
        )
        return
    if update is None and isinstance(error, TelegramError):
        log.warning("fetching updates failed (%s); trying again", one_line(error))
        return
    if isinstance(error, (NetworkError, RetryAfter)) and not isinstance(error, BadRequest):
        log.warning(
            "update %s not handled: a Bot API call failed (%s)", getattr(update, "update_id", None), one_line(error)
        )
        return
    log.error("failed to handle update %s", getattr(update, "update_id", None), exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    message = update.effective_message
    where = Where.of(message) if message else Where(update.effective_chat.id, None, None)
    try:
        await answers.send_html(context.bot_data, context.bot, where, [fmt.plain(fmt.ERROR)])
    except TelegramError as exc:
        log.warning("could not send the apology to chat %s: %s", where.chat_id, one_line(exc))


def register(app: Application) -> None:
    """Add the handlers to ``app``: the gate first, then one handler per kind of update."""
    new = filters.UpdateType.MESSAGE
    private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    app.add_handler(TypeHandler(Update, gate), group=-1)
    app.add_handler(CommandHandler("start", start, filters=new))
    app.add_handler(CommandHandler("help", help_command, filters=new))
    app.add_handler(CommandHandler("sources", sources, filters=new))
    app.add_handler(CommandHandler("ask", ask, filters=new))
    app.add_handler(CommandHandler("stats", stats, filters=new))
    app.add_handler(CommandHandler("add", add_command, filters=new))
    app.add_handler(CommandHandler("remove", remove_command, filters=new))
    app.add_handler(CommandHandler("reload", reload_command, filters=new))
    app.add_handler(MessageHandler(new & private & filters.Document.ALL, upload))
    app.add_handler(MessageHandler(new & private & filters.TEXT & ~filters.COMMAND, private_text))
    app.add_handler(MessageHandler(new & groups & filters.TEXT & ~filters.COMMAND, group_text))
    app.add_handler(MessageHandler(new & private & filters.COMMAND, unknown_command))
    app.add_handler(MessageHandler(new & private & ~filters.TEXT & ~filters.StatusUpdate.ALL, non_text))
    app.add_handler(CallbackQueryHandler(vote, pattern=_is_vote))
    app.add_handler(CallbackQueryHandler(more))  # every other button press gets an answer, stale ones a toast
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, chat_migrated))
    app.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_error_handler(on_error)
