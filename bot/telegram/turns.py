"""One update's turn: from the moment the bot takes it up to the end of its reply.

A :class:`Turn` is the context of everything an update's handler does (a
context variable, so the sender finds it without it being passed along): who
the reply is for (the group pacing), and whether a message of the reply may
already have reached Telegram. That last fact decides what happens to an
update whose reply is abandoned (the bot stopping): nothing left yet, and it
is answered after the restart; something may have, and it is not answered
again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

from telegram import Update

from .journal import UpdateJournal
from .lifecycle import Lifecycle

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """The update being handled, and what its reply has done so far."""

    update_id: int
    chat_id: int | None
    member: int  # whose reply it is (user, or the chat for anonymous senders)
    journal: UpdateJournal
    marked: bool = False  # recorded as handled
    may_have_left: bool = False  # a message of the reply may have reached Telegram
    abandoned: str | None = None  # why the reply was given up while the bot stopped

    async def leaving(self) -> None:
        """A message of the reply is about to be sent: from now on the update counts as handled."""
        if not self.marked:
            self.marked = True
            await self.journal.mark_handled(self.update_id)


_CURRENT: ContextVar[Turn | None] = ContextVar("turn", default=None)


def current() -> Turn | None:
    """The turn of the update being handled here, if any."""
    return _CURRENT.get()


def member_of(update: Update) -> int:
    """Who an update is from: the user, or the chat for anonymous admins and channel senders."""
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat else 0


async def take(
    update: Update, journal: UpdateJournal, lifecycle: Lifecycle, dispatch: Callable[[Update], Awaitable[None]]
) -> None:
    """Handle ``update`` (``dispatch``) once: not while the bot stops (it was recorded when fetched:
    answered after the restart), not when handled before; then record how it ended."""
    if lifecycle.stopping:
        return
    if not journal.begin(update.update_id):
        log.info("skipping update %s: it was handled before a restart", update.update_id)
        return
    chat = update.effective_chat
    turn = Turn(update.update_id, chat.id if chat else None, member_of(update), journal)
    token = _CURRENT.set(turn)
    task = asyncio.current_task()
    if task is not None:
        lifecycle.track(task)
    try:
        await dispatch(update)
    except asyncio.CancelledError:
        turn.abandoned = turn.abandoned or "the shutdown grace (telegram.shutdown_grace_seconds) is used up"
        raise
    finally:
        _CURRENT.reset(token)
        if task is not None:
            lifecycle.untrack(task)
        handled = turn.abandoned is None or turn.may_have_left
        if turn.abandoned is not None:
            log.warning(
                "abandoned the reply to update %s in chat %s: %s; %s",
                turn.update_id,
                turn.chat_id,
                turn.abandoned,
                "a message of it may have been delivered, so it is not answered again"
                if turn.may_have_left
                else "it will be answered after the restart",
            )
        await journal.end(update.update_id, handled=handled)
