"""The work the administrators' handlers delegate to: documents added to the corpus, removed, re-read.

An administrator (telegram.admins or TELEGRAM_ADMINS) may send a document in a
private chat, ``/add URL``, ``/remove DOC_ID`` and ``/reload``; anyone else is
told politely that only administrators can, and nothing is downloaded or
written. A document is downloaded through the Bot API (getFile, then its file
path), read before anything is written (a document that cannot be read
changes nothing), stored under a safe name and indexed by the updater; the
reply comes once it is answerable. Reading, fetching and writing run in a
worker thread, the index update on the updater's: the event loop never waits.
"""

from __future__ import annotations

import asyncio
import logging

from retrieval.errors import describe_error
from retrieval.updates.changes import Change, UpdateReport, article_summary
from retrieval.updates.fetch import FetchError, fetch_page
from retrieval.updates.intake import (
    IntakeError,
    NameTaken,
    NotAFolder,
    UnknownDocument,
    Unreadable,
    add_document,
    corpus_folder,
    delete,
    document_file,
)
from telegram import Message

from . import format as fmt
from .answers import admit, reply_html
from .state import Admin, BotState

log = logging.getLogger(__name__)


async def admitted_admin(state: BotState, message: Message) -> Admin | None:
    """The admin tools when the sender of ``message`` is an administrator (and within the per-user
    limit); otherwise None, and a non-administrator is told that only administrators can."""
    if not await admit(state, message):
        return None
    admin = state.admin
    user = message.from_user
    if admin is None or user is None or message.sender_chat is not None or user.id not in admin.ids:
        log.info(
            "refused an administrators' command from user %s in chat %s", user.id if user else None, message.chat_id
        )
        await reply_html(state, message, [fmt.plain(fmt.NOT_ADMIN)])
        return None
    return admin


def _sender(message: Message) -> int:
    """The user id of the sender of a message :func:`admitted_admin` let through (it has one)."""
    if message.from_user is None:
        raise ValueError(f"message {message.message_id} has no sender: admitted_admin should have refused it")
    return message.from_user.id


async def _update(admin: Admin, change: Change) -> UpdateReport:
    """The updater's report of ``change``, awaited without blocking the event loop."""
    return await asyncio.wrap_future(admin.updater.submit(change))


def _intake_error(exc: IntakeError, name: str) -> str:
    if isinstance(exc, NameTaken):
        return fmt.DOC_NAME_TAKEN.format(name=exc.path.name)
    if isinstance(exc, NotAFolder):
        return fmt.NOT_A_FOLDER
    if isinstance(exc, FetchError):
        return fmt.FETCH_FAILED.format(reason=str(exc))
    if isinstance(exc, UnknownDocument):
        return fmt.UNKNOWN_DOC.format(doc_id=name)
    return fmt.DOC_UNREADABLE.format(name=name, reason=str(exc).removeprefix(f"{name}: "))


async def _store_and_index(
    state: BotState, message: Message, admin: Admin, name: str, data: bytes, replace: bool
) -> None:
    """Check and store one document, index it, and tell the admin what was found."""
    corpus = state.service.source.corpus if state.service.source else admin.cfg.corpus
    try:
        path, doc_id, _ = await asyncio.to_thread(add_document, corpus, name, data, admin.cfg.ingest, replace=replace)
    except IntakeError as exc:
        log.info("document %r from admin %s not added: %s", name, _sender(message), exc)
        await reply_html(state, message, [fmt.plain(_intake_error(exc, name))])
        return
    log.info("admin %s added %s to the corpus (%d bytes)", _sender(message), path, len(data))
    try:
        report = await _update(admin, Change.of([path]))
    except Exception as exc:  # noqa: BLE001 - logged by the updater; the admin is told
        await reply_html(state, message, [fmt.plain(fmt.UPDATE_FAILED.format(reason=describe_error(exc)))])
        return
    # This update's report, or the index as served (the folder's watcher may have indexed the file first).
    found = report.find(doc_id) or article_summary(state.service.index, doc_id)
    if found is None:
        await reply_html(state, message, [fmt.plain(_intake_error(Unreadable("not indexed"), name))])
        return
    replaced = any(s.doc_id == doc_id for s in report.replaced)
    await reply_html(
        state, message, [fmt.added_message(found.doc_id, found.title, found.date, found.sentences, replaced=replaced)]
    )


async def receive_document(state: BotState, message: Message) -> None:
    """An administrator's document in a private chat: downloaded, checked, stored and indexed."""
    admin = await admitted_admin(state, message)
    if admin is None:
        return
    document = message.document
    if document is None:
        raise ValueError(f"message {message.message_id} holds no document: its handler's filter should not match")
    limit = admin.cfg.telegram.max_upload_mb
    if document.file_size and document.file_size > limit << 20:
        await reply_html(
            state, message, [fmt.plain(fmt.DOC_TOO_LARGE.format(size=document.file_size / 2**20, limit=limit))]
        )
        return
    file = await document.get_file()
    data = bytes(await file.download_as_bytearray())
    if len(data) > limit << 20:
        await reply_html(state, message, [fmt.plain(fmt.DOC_TOO_LARGE.format(size=len(data) / 2**20, limit=limit))])
        return
    replace = (message.caption or "").strip().casefold() in fmt.REPLACE_CAPTIONS
    await _store_and_index(state, message, admin, document.file_name or "tai_lieu", data, replace)


async def add_url(state: BotState, message: Message, url: str) -> None:
    """``/add URL``: the page fetched, stored as a Markdown article and indexed."""
    admin = await admitted_admin(state, message)
    if admin is None:
        return
    if not url:
        await reply_html(state, message, [fmt.plain(fmt.ADD_USAGE)])
        return
    cfg = admin.cfg
    try:
        page = await asyncio.to_thread(
            fetch_page, url, max_bytes=cfg.fetch_max_mb << 20, timeout=cfg.fetch_timeout_seconds
        )
    except IntakeError as exc:
        await reply_html(state, message, [fmt.plain(_intake_error(exc, url))])
        return
    await _store_and_index(state, message, admin, page.name, page.text.encode("utf-8"), replace=True)


async def remove_document(state: BotState, message: Message, doc_id: str) -> None:
    """``/remove DOC_ID``: the document's file deleted and the index updated; without an id, the ids."""
    admin = await admitted_admin(state, message)
    if admin is None:
        return
    articles = state.service.articles
    if not doc_id:
        await reply_html(state, message, fmt.document_ids_messages(articles))
        return
    corpus = state.service.source.corpus if state.service.source else admin.cfg.corpus
    try:
        path, number = document_file(articles, corpus_folder(corpus), doc_id)
        title = articles[number].title
        await asyncio.to_thread(delete, path)
        await _update(admin, Change.of([path]))
    except IntakeError as exc:
        await reply_html(state, message, [fmt.plain(_intake_error(exc, doc_id))])
        return
    except Exception as exc:  # noqa: BLE001 - logged by the updater; the admin is told
        await reply_html(state, message, [fmt.plain(fmt.UPDATE_FAILED.format(reason=describe_error(exc)))])
        return
    log.info("admin %s removed %s from the corpus", _sender(message), path)
    await reply_html(state, message, [fmt.removed_message(doc_id, title)])


async def reload_corpus(state: BotState, message: Message) -> None:
    """``/reload``: the whole corpus read again and the index brought up to date."""
    admin = await admitted_admin(state, message)
    if admin is None:
        return
    try:
        report = await _update(admin, Change.everything())
    except Exception as exc:  # noqa: BLE001 - logged by the updater; the admin is told
        await reply_html(state, message, [fmt.plain(fmt.UPDATE_FAILED.format(reason=describe_error(exc)))])
        return
    await reply_html(
        state,
        message,
        [
            fmt.plain(
                fmt.RELOADED.format(
                    added=len(report.added),
                    replaced=len(report.replaced),
                    removed=len(report.removed),
                    articles=report.articles,
                    sentences=report.sentences,
                )
            )
        ],
    )
