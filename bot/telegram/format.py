"""Telegram rendering, pure functions only: HTML answers, message splitting, mentions.

Nothing here talks to Telegram. Every piece of article or user text goes
through :func:`html.escape`; every message is at most
:data:`telegram.constants.MessageLimit.MAX_TEXT_LENGTH` long, measured in
UTF-16 code units (how Telegram counts, and never less than ``len()``).
The Vietnamese texts a Telegram user reads live here; the wording shared with
the console (refusal, citation, dates) comes from :mod:`retrieval.answer.messages`.
Past 400 lines because the texts and the rules that fit them into Telegram
(UTF-16 lengths, HTML that is cut and split safely) are read together.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from telegram.constants import MessageLimit

from retrieval.answer import messages
from retrieval.answer.compose import Answer, Result
from retrieval.ingest.corpus import Article
from retrieval.text.normalize import normalize

MAX_MESSAGE = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096
# Quotes longer than this (characters) are sent collapsed: <blockquote expandable>.
EXPANDABLE_QUOTE_CHARS = 300
ELLIPSIS = "…"
BLOCK_SEP = "\n\n"

# --- What a Telegram user reads (Vietnamese) --------------------------------

START = (
    "Xin chào{name}! Tôi trả lời câu hỏi bằng cách trích nguyên văn từ {n} bài viết, "
    "kèm tên bài, nguồn và ngày đăng để bạn kiểm chứng."
)
START_EXAMPLES = "Bạn cứ gõ câu hỏi bằng tiếng Việt, ví dụ:"
START_FOOTER = "Gõ /sources để xem danh sách bài viết, /help để xem hướng dẫn."
HELP = (
    "<b>Cách dùng</b>\n"
    "• Trong tin nhắn riêng: gõ câu hỏi bằng tiếng Việt rồi gửi.\n"
    "• Trong nhóm: nhắc tên tôi ({mention}) kèm câu hỏi, trả lời (reply) một tin nhắn của tôi, "
    "hoặc gõ /ask{at} &lt;câu hỏi&gt;.\n\n"
    "Tôi chỉ trích dẫn các bài viết hiện có; khi không tìm thấy câu trả lời, tôi sẽ nói rõ. "
    "Nhấn «{more}» dưới câu trả lời để xem các đoạn trích tiếp theo.\n\n"
    "<b>Các lệnh</b>\n"
    "/ask &lt;câu hỏi&gt; — đặt câu hỏi\n"
    "/sources — danh sách bài viết\n"
    "/help — hướng dẫn này"
)
ASK_USAGE = "Bạn hãy gõ câu hỏi ngay sau lệnh, ví dụ: /ask {example}"
MENTION_USAGE = "Bạn muốn hỏi gì? Hãy gõ câu hỏi ngay sau tên tôi, ví dụ: {mention} {example}"
DEFAULT_EXAMPLE = "Đại sứ Mỹ tại Việt Nam tên là gì?"
NON_TEXT = "Tôi chỉ đọc được tin nhắn chữ. Bạn hãy gõ câu hỏi bằng tiếng Việt nhé."
UNKNOWN_COMMAND = "Tôi không biết lệnh này. Gõ /help để xem hướng dẫn."
RATE_LIMITED = "Bạn hỏi hơi nhanh. Hãy đợi khoảng {seconds} giây rồi hỏi tiếp nhé."
NOT_ALLOWED = (
    "Xin lỗi, bot này chỉ phục vụ một số cuộc trò chuyện đã được cho phép (mã cuộc trò chuyện này: {chat_id})."
)
MORE_BUTTON = "Xem thêm"
VOTE_UP_BUTTON = "👍"
VOTE_DOWN_BUTTON = "👎"
VOTE_THANKS = "Cảm ơn bạn đã góp ý!"
ADMINS_ONLY = "Xin lỗi, chỉ quản trị viên của bot mới dùng được lệnh này."
STATS_IN_PRIVATE = "Bạn hãy dùng lệnh /stats trong tin nhắn riêng với tôi."
STATS_NO_LOG = "Chưa có số liệu: nhật ký câu hỏi đang tắt (insights.log_questions) hoặc chưa đọc được."
HELP_ADMIN = "/stats — thống kê 7 ngày qua (chỉ quản trị viên)"
MORE_INTRO = "Các đoạn trích tiếp theo:"
MORE_EXPIRED = "Câu hỏi này đã cũ. Bạn hãy gửi lại câu hỏi nhé."
NO_MORE = "Không còn đoạn trích nào khác cho câu hỏi này."
ERROR = messages.ERROR
EMPTY = messages.EMPTY

# The administrators' commands: adding documents to the corpus, removing them, reading it again.
NOT_ADMIN = "Xin lỗi, chỉ quản trị viên mới làm được việc này."
DOC_TOO_LARGE = "Tệp này quá lớn ({size:.1f} MB). Tôi chỉ nhận tệp đến {limit} MB."
DOC_UNREADABLE = (
    "Tôi không đọc được tệp «{name}», nên kho tài liệu không thay đổi. Tôi đọc được PDF có lớp chữ "
    "(không phải bản quét), DOCX, trang web HTML và văn bản (.txt, .md).\nChi tiết: {reason}"
)
DOC_NAME_TAKEN = (
    "Kho đã có tệp «{name}», nên tôi chưa thay đổi gì. Muốn thay bản cũ, bạn hãy gửi lại tệp kèm chú thích «thay thế»."
)
DOC_ADDED = "Đã thêm vào kho: {cite}, {sentences} câu (mã tài liệu: {doc_id}). Bạn có thể hỏi về tài liệu này ngay."
DOC_REPLACED = "Đã cập nhật trong kho: {cite}, {sentences} câu (mã tài liệu: {doc_id}). Bạn có thể hỏi ngay."
NOT_A_FOLDER = (
    "Kho tài liệu của bot là một tệp (JSONL hoặc một tài liệu), không phải thư mục: hãy sửa trực tiếp tệp đó."
)
UPDATE_FAILED = "Tôi chưa cập nhật được chỉ mục, nên các câu trả lời vẫn dựa trên kho cũ.\nChi tiết: {reason}"
ADD_USAGE = "Bạn hãy gõ địa chỉ trang web ngay sau lệnh, ví dụ: /add https://example.com/bai-viet"
FETCH_FAILED = "Tôi không tải được trang này, nên kho tài liệu không thay đổi.\nChi tiết: {reason}"
REMOVE_USAGE = "Bạn hãy gõ mã tài liệu ngay sau lệnh, ví dụ: /remove {example}. Các mã hiện có:"
REMOVED = "Đã xoá khỏi kho: {cite} (mã tài liệu: {doc_id})."
UNKNOWN_DOC = "Không có tài liệu nào mang mã «{doc_id}». Gõ /remove để xem các mã hiện có."
RELOADED = (
    "Đã đọc lại toàn bộ kho: {added} tài liệu mới, {replaced} được cập nhật, {removed} bị xoá. "
    "Hiện có {articles} tài liệu, {sentences} câu."
)
REPLACE_CAPTIONS = frozenset({"thay thế", "thay the", "thay", "replace", "/replace"})

# (command, description) for set_my_commands, in menu order.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("ask", "Đặt câu hỏi về các bài viết"),
    ("sources", "Danh sách bài viết"),
    ("help", "Hướng dẫn sử dụng"),
    ("start", "Lời chào và câu hỏi mẫu"),
)


# --- Lengths and offsets in UTF-16 code units --------------------------------


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (characters outside the BMP count twice)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf16_to_index(text: str, units: int) -> int:
    """Python index of the character that starts at UTF-16 offset ``units``.

    An offset past the end gives ``len(text)``; one inside a surrogate pair
    gives the index after that character.
    """
    if units <= 0:
        return 0
    count = 0
    for i, ch in enumerate(text):
        if count >= units:
            return i
        count += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def entity_span(text: str, offset: int, length: int) -> tuple[int, int]:
    """Python ``(start, end)`` of a Telegram entity given in UTF-16 ``offset``/``length``."""
    return utf16_to_index(text, offset), utf16_to_index(text, offset + length)


# --- Mentions and addressing in groups ---------------------------------------


def mention_spans(text: str, entities: Iterable[Any], username: str | None, bot_id: int) -> list[tuple[int, int]]:
    """Python spans of the entities in ``text`` that mention this bot.

    ``entities`` are Telegram ``MessageEntity`` objects (or anything with
    ``type``, ``offset``, ``length`` and, for text mentions, ``user.id``). A
    ``mention`` counts when it is ``@username`` (case-insensitive); a
    ``text_mention`` when its user is the bot.
    """
    wanted = f"@{username}".casefold() if username else None
    spans = []
    for entity in entities:
        kind = str(getattr(entity, "type", ""))
        start, end = entity_span(text, entity.offset, entity.length)
        if kind == "mention":
            if wanted is not None and text[start:end].casefold() == wanted:
                spans.append((start, end))
        elif kind == "text_mention":
            user = getattr(entity, "user", None)
            if user is not None and user.id == bot_id:
                spans.append((start, end))
    return spans


_EDGE_JUNK = " \t\r\n,:;-–—"


def strip_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` without the given spans; the gaps become one space, edges are trimmed."""
    if not spans:
        return text.strip()
    pieces = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    joined = ""
    for piece in pieces:
        if joined and piece:
            joined = joined.rstrip(" \t") + " " + piece.lstrip(" \t")
        else:
            joined += piece
    return joined.strip(_EDGE_JUNK)


def group_question(
    text: str | None,
    entities: Iterable[Any],
    *,
    username: str | None,
    bot_id: int,
    replied_to_bot: bool,
) -> str | None:
    """The question in a group message addressed to the bot, or None when it is not addressed.

    A message is addressed when it mentions the bot or replies to one of its
    messages. The mention is cut out; the result may be empty ("@bot" alone).
    """
    if not text:
        return None
    spans = mention_spans(text, entities, username, bot_id)
    if not spans and not replied_to_bot:
        return None
    return strip_spans(text, spans)


def command_argument(text: str, command_length_utf16: int) -> str:
    """What follows a leading bot command (``/ask@bot  câu hỏi`` -> ``câu hỏi``)."""
    return text[utf16_to_index(text, command_length_utf16) :].strip()


# --- Highlighting the question's words in a quote ----------------------------

_UNIT = re.compile(r"\w+")


def _term_pieces(term: str) -> list[tuple[str, str | None]]:
    """A term (``hà_nội``, ``covid-19``) -> its word pieces, each with the gap that precedes it.

    The gap is None for the first piece, ``" "`` (any whitespace) between
    syllables, or the exact punctuation inside one syllable (``-`` in
    ``covid-19``, ``/`` in ``15/10``).
    """
    pieces: list[tuple[str, str | None]] = []
    for s_i, syllable in enumerate(term.split("_")):
        pos = 0
        for u_i, m in enumerate(_UNIT.finditer(syllable)):
            if u_i == 0:
                gap = None if s_i == 0 or not pieces else " "
            else:
                gap = syllable[pos : m.start()]
            pieces.append((m.group(), gap))
            pos = m.end()
    return pieces


def highlight(quote: str, terms: Iterable[str]) -> str:
    """Escaped ``quote`` with the words of ``terms`` in ``<b>``.

    Terms are normalized index terms (syllables joined by ``_``); a quote
    word matches when its :func:`normalize` form is equal. Adjacent bold
    words are merged into one ``<b>`` run.
    """
    text = unicodedata.normalize("NFC", quote)
    units = [(m.start(), m.end(), normalize(m.group())) for m in _UNIT.finditer(text)]
    by_first: dict[str, list[list[tuple[str, str | None]]]] = {}
    for term in dict.fromkeys(terms):
        pieces = _term_pieces(normalize(term))
        if pieces:
            by_first.setdefault(pieces[0][0], []).append(pieces)
    marked: list[tuple[int, int]] = []
    for i, (start, _end, norm) in enumerate(units):
        for pieces in by_first.get(norm, ()):
            if i + len(pieces) > len(units):
                continue
            ok = True
            for k in range(1, len(pieces)):
                piece, gap = pieces[k]
                prev_end, (u_start, _u_end, u_norm) = units[i + k - 1][1], units[i + k]
                between = text[prev_end:u_start]
                gap_ok = (between != "" and between.isspace()) if gap == " " else between == gap
                if u_norm != piece or not gap_ok:
                    ok = False
                    break
            if ok:
                marked.append((start, units[i + len(pieces) - 1][1]))
    if not marked:
        return html.escape(text, quote=False)
    # Union of spans; spans separated only by whitespace become one.
    marked.sort()
    merged: list[list[int]] = []
    for start, end in marked:
        if merged and (start <= merged[-1][1] or text[merged[-1][1] : start].isspace()):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out = []
    pos = 0
    for start, end in merged:
        out.append(html.escape(text[pos:start], quote=False))
        out.append(f"<b>{html.escape(text[start:end], quote=False)}</b>")
        pos = end
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


# --- Answer blocks ------------------------------------------------------------


def _link(url: str | None, label_html: str) -> str:
    if url and re.match(r"^https?://[^\s<>\"]+$", url, flags=re.IGNORECASE):
        return f'<a href="{html.escape(url, quote=True)}">{label_html}</a>'
    return label_html


def answer_block(answer: Answer, terms: Iterable[str], number: int | None = None) -> str:
    """One quote in a blockquote (words of the question in bold), then its citation."""
    tag = "blockquote expandable" if len(answer.quote) > EXPANDABLE_QUOTE_CHARS else "blockquote"
    prefix = f"{number}. " if number is not None else ""
    cite = html.escape(
        messages.citation(answer.title, answer.source, answer.date, page=answer.page, section=answer.section),
        quote=False,
    )
    return f"<{tag}>{prefix}{highlight(answer.quote, terms)}</blockquote>\n— {_link(answer.url, cite)}"


@dataclass(frozen=True)
class Page:
    """The messages for one page of a result, and whether a next page exists."""

    messages: tuple[str, ...]
    has_more: bool


def result_page(
    result: Result,
    terms: Sequence[str],
    *,
    page: int = 0,
    per_page: int = 3,
    max_question_chars: int | None = None,
) -> Page:
    """Render page ``page`` (0-based, ``per_page`` quotes each) of ``result`` as HTML messages.

    A refused result is its Vietnamese message (which already carries the
    note about a cut question). An answered one starts with a note when the
    question was cut.
    """
    if per_page < 1:
        raise ValueError("per_page must be >= 1")
    if not result.answered:
        return Page(tuple(pack_blocks([html.escape(result.message, quote=False)])), False)
    first = page * per_page
    shown = result.answers[first : first + per_page]
    if not shown:
        return Page((html.escape(NO_MORE, quote=False),), False)
    header = []
    if page == 0 and result.truncated:
        limit = max_question_chars if max_question_chars is not None else "?"
        header.append(f"<i>{html.escape(messages.TRUNCATED.format(limit=limit), quote=False)}</i>")
    header.append(f"<b>{html.escape(messages.ANSWER_INTRO if page == 0 else MORE_INTRO, quote=False)}</b>")
    numbered = len(result.answers) > 1
    blocks = ["\n".join(header)]
    for n, answer in enumerate(shown, start=first + 1):
        blocks.append(answer_block(answer, terms, n if numbered else None))
    return Page(tuple(pack_blocks(blocks)), len(result.answers) > first + per_page)


def sources_messages(articles: Sequence[Article]) -> list[str]:
    """The /sources list: one line per article (title, source, date; linked when it has a url)."""
    lines = [f"<b>{html.escape(messages.SOURCES_TITLE.format(n=len(articles)), quote=False)}</b>"]
    for n, a in enumerate(articles, start=1):
        cite = html.escape(messages.citation(a.title, a.source, a.date), quote=False)
        lines.append(f"{n}. {_link(a.url, cite)}")
    return pack_blocks(lines, sep="\n")


def document_ids_messages(articles: Sequence[Article], limit: int = 200) -> list[str]:
    """The /remove list: each article's doc_id and title (the first ``limit``)."""
    example = articles[0].doc_id if articles else "tai_lieu"
    lines = [html.escape(REMOVE_USAGE.format(example=example), quote=False)]
    for a in articles[:limit]:
        lines.append(f"• <code>{html.escape(a.doc_id, quote=False)}</code> — {html.escape(a.title, quote=False)}")
    if len(articles) > limit:
        lines.append(f"… (+{len(articles) - limit})")
    return pack_blocks(lines, sep="\n")


def added_message(doc_id: str, title: str, date: str | None, sentences: int, *, replaced: bool) -> str:
    """What an admin is told once a document is in the index: its title, date and sentences."""
    cite = f"«{title}»" + (f" ({messages.format_date(date)})" if date else "")
    text = (DOC_REPLACED if replaced else DOC_ADDED).format(cite=cite, sentences=sentences, doc_id=doc_id)
    return plain(text)


def removed_message(doc_id: str, title: str) -> str:
    return plain(REMOVED.format(cite=f"«{title}»", doc_id=doc_id))


def start_message(n_articles: int, first_name: str | None, examples: Sequence[str]) -> str:
    """The /start greeting with example questions."""
    name = f", {first_name}" if first_name else ""
    parts = [html.escape(START.format(name=name, n=n_articles), quote=False)]
    if examples:
        lines = [html.escape(START_EXAMPLES, quote=False)]
        lines += [f"• <i>{html.escape(q, quote=False)}</i>" for q in examples]
        parts.append("\n".join(lines))
    parts.append(html.escape(START_FOOTER, quote=False))
    return truncate_html(BLOCK_SEP.join(parts))


def help_message(username: str | None, admin: bool = False) -> str:
    """The /help text; group usage names the bot. An administrator also reads about /stats."""
    mention = f"@{username}" if username else "tên bot"
    at = f"@{username}" if username else ""
    text = HELP.format(mention=html.escape(mention), at=html.escape(at), more=MORE_BUTTON)
    return f"{text}\n{html.escape(HELP_ADMIN, quote=False)}" if admin else text


def plain(text: str) -> str:
    """A plain Vietnamese text as a safe HTML message."""
    return truncate_html(html.escape(text, quote=False))


# --- Splitting into messages of at most 4096 characters ------------------------

_TOKEN = re.compile(r"<[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|.", re.DOTALL)


def truncate_html(text: str, limit: int = MAX_MESSAGE, ellipsis: str = ELLIPSIS) -> str:
    """Cut well-formed Telegram HTML to at most ``limit`` UTF-16 units, closing open tags.

    Tags and character references are never split; the cut prefers a word
    boundary and is marked with ``ellipsis`` inside the innermost open tag.
    """
    if utf16_len(text) <= limit:
        return text
    tokens = _TOKEN.findall(text)
    out: list[str] = []
    stack: list[str] = []  # names of open tags
    size = 0
    closing = 0  # size of the closing tags for ``stack``
    budget = limit - utf16_len(ellipsis)
    last_break = None  # (len(out), len(stack), size, closing) before a whitespace char
    for tok in tokens:
        if tok.startswith("<") and len(tok) > 2:
            name = tok[1:-1].split()[0].lstrip("/")
            if tok.startswith("</"):
                if stack and stack[-1] == name:
                    stack.pop()
                    closing -= len(name) + 3
                out.append(tok)
                size += len(tok)
                continue
            need = len(tok) + len(name) + 3
            if size + need + closing > budget:
                break
            out.append(tok)
            stack.append(name)
            size += len(tok)
            closing += len(name) + 3
            continue
        cost = utf16_len(tok)
        if size + cost + closing > budget:
            break
        if tok.isspace():
            last_break = (len(out), list(stack), size, closing)
        out.append(tok)
        size += cost
    else:  # pragma: no cover - only reached when the text fitted after all
        return text
    if last_break is not None and len(out) - last_break[0] <= 40:
        # Cut at the last word boundary when it is close: no half words.
        cut, stack, size, closing = last_break
        out = out[:cut]
    # Drop tags opened right before the cut (they would be empty).
    while out and stack and out[-1].startswith("<") and not out[-1].startswith("</"):
        out.pop()
        stack.pop()
    body = "".join(out).rstrip()
    return body + ellipsis + "".join(f"</{name}>" for name in reversed(stack))


def pack_blocks(blocks: Sequence[str], limit: int = MAX_MESSAGE, sep: str = BLOCK_SEP) -> list[str]:
    """Join HTML blocks into as few messages as possible, each at most ``limit`` UTF-16 units.

    Messages are split only between blocks; a block too long on its own is
    cut with :func:`truncate_html`.
    """
    out: list[str] = []
    current = ""
    for block in blocks:
        if not block:
            continue
        if utf16_len(block) > limit:
            # Too long for any message: cut it to the room left in the current
            # message when that is at least half a message, else to a whole one.
            room = limit - utf16_len(current) - utf16_len(sep) if current else limit
            block = truncate_html(block, room if room >= limit // 2 else limit)
        if not current:
            current = block
        elif utf16_len(current) + utf16_len(sep) + utf16_len(block) <= limit:
            current += sep + block
        else:
            out.append(current)
            current = block
    if current:
        out.append(current)
    return out
