"""PDF text layers as paragraphs, each with the page it starts on.

A PDF has no paragraphs, only positioned lines: the paragraphs are rebuilt
from where the lines sit (pypdfium2 gives each line's box and font size).
Lines break mid-sentence, so the lines of a paragraph are joined with a
space, and a word hyphenated at a line end ("com-" + "puting") is joined
whole. A new paragraph starts at:

* a vertical gap larger than the page's usual line spacing, or a change of
  font size (a title, a heading);
* an indented line (a first-line indent, or a line aligned elsewhere than the
  previous one, as in a signature block; centred lines of a title go on);
* a line ending a sentence (. ! ? : ; …) well short of the right margin, or
  followed by a list item ("1. ", "- ", "a) ", "Điều 2");
* a short line (a heading) followed by a capitalised line or a list item;
* across a page break, a sentence end followed by a capitalised line.

Running headers and footers (the same line, digits aside, at the same
height at the top or bottom of most pages) and page numbers ("3", "- 3 -", "Trang 3", "3/10")
are removed first. A PDF without a text layer (a scan) is refused: OCR is
not done here.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from retrieval.ingest.clean import parse_date

from .base import Block, Document, Kind, UnreadableDocument, clean_line, iso_date, optional_text

log = logging.getLogger(__name__)

# PDFium's load errors (fpdfview.h FPDF_ERR_*), as reasons a person can act on.
_LOAD_ERRORS = {
    pdfium_c.FPDF_ERR_FORMAT: "corrupt or truncated PDF (its structure cannot be read)",
    pdfium_c.FPDF_ERR_PASSWORD: "encrypted PDF (it needs a password); save a copy without a password",
    pdfium_c.FPDF_ERR_SECURITY: "encrypted PDF with an unsupported security handler",
    pdfium_c.FPDF_ERR_FILE: "PDF cannot be opened",
}
SCANNED = "no text layer (scanned PDF?); OCR is not supported"

_TERMINAL = re.compile(r"[.!?:;…][\"'”’»)\]]*$")
_LIST_ITEM = re.compile(r"^(?:[-–•+*]\s|\d{1,3}[.)]\s|[a-zđ][.)]\s|[IVX]{1,5}\.\s|(?:Điều|Chương|Mục)\s+\d)")
_PAGE_NUMBER = re.compile(
    r"^[-–—\s]*(?:(?:trang|page|tr\.)\s*)?\d{1,4}(?:\s*(?:/|of|trên)\s*\d{1,4})?[-–—\s]*$", re.IGNORECASE
)
_HYPHENS = ("-", "\u00ad", "\u2010", "\x02")  # hyphen, soft hyphen, Unicode hyphen, PDFium's hyphen mark
# A line whose right end is this share of the column short of the right margin ends its paragraph.
SHORT_LINE = 0.18
# A line spacing this many times the page's usual one is a paragraph gap.
GAP_FACTOR = 1.3
# A line starting this many points right of the column's left edge is indented.
INDENT_POINTS = 6.0
# Lines looked at, at each page edge, for running headers and footers...
EDGE_LINES = 2
# ... which repeat at the same height, give or take half this many points.
RUNNING_Y_POINTS = 6.0
# Metadata titles that are file names or placeholders, not titles.
_JUNK_TITLE = re.compile(r"^(?:microsoft\s+\w+\s+-\s+.*|untitled.*|.*\.(?:docx?|pdf|odt|rtf|txt))$", re.IGNORECASE)


@dataclass(frozen=True)
class _Line:
    """A line of text with its box (PDF points, y upwards) and font size."""

    text: str
    page: int
    x0: float
    x1: float
    bottom: float
    size: float


@dataclass(frozen=True)
class _Page:
    """The layout measures of one page's lines."""

    left: float
    right: float
    pitch: float  # usual distance between the baselines of consecutive lines


def _page_lines(textpage: pdfium.PdfTextPage, number: int) -> Iterator[_Line]:
    count = textpage.count_chars()
    text = textpage.get_text_range() if count else ""
    if len(text) != count:  # PDFium's index and its text disagree: no geometry to trust
        log.debug("page %d: text length %d != %d characters; lines without positions", number, len(text), count)
        for raw in text.splitlines():
            if raw.strip():
                yield _Line(clean_line(raw), number, 0.0, 0.0, 0.0, 0.0)
        return
    start = 0
    for raw in text.split("\r\n"):
        end = start + len(raw)
        first = start + (len(raw) - len(raw.lstrip()))
        last = end - 1 - (len(raw) - len(raw.rstrip()))
        if first <= last:
            left, bottom, _, _ = textpage.get_charbox(first, loose=True)
            _, _, right, _ = textpage.get_charbox(last, loose=True)
            size = pdfium_c.FPDFText_GetFontSize(textpage.raw, first)
            line = clean_line(raw)
            if line:
                yield _Line(line, number, left, right, bottom, round(size, 1))
        start = end + 2  # the "\r\n" PDFium put between the lines


def _edge_key(line: _Line) -> tuple[str, int]:
    """A running line's identity: its text with digits masked, and its height on the page."""
    return re.sub(r"\d+", "#", line.text.casefold()).strip(), round(line.bottom / RUNNING_Y_POINTS)


def _drop_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Pages without page numbers and the header/footer lines most pages repeat at their edges."""

    def edges(lines: list[_Line]) -> list[_Line]:
        ordered = sorted(lines, key=lambda ln: -ln.bottom)  # top of the page first
        return ordered[:EDGE_LINES] + ordered[-EDGE_LINES:]

    seen = Counter(key for lines in pages for key in {_edge_key(ln) for ln in edges(lines)})
    needed = max(2, math.ceil(len(pages) / 2))
    running = {key for key, n in seen.items() if n >= needed}
    cleaned: list[list[_Line]] = []
    for lines in pages:
        at_edge = {id(ln) for ln in edges(lines)}
        cleaned.append(
            [
                ln
                for ln in lines
                if id(ln) not in at_edge or not (_PAGE_NUMBER.match(ln.text) or _edge_key(ln) in running)
            ]
        )
    return cleaned


def _measure(lines: list[_Line]) -> _Page:
    """The column edges (from the lines in the page's most common font size) and line spacing."""
    if not lines:
        return _Page(0.0, 0.0, 0.0)
    body_size = Counter(ln.size for ln in lines).most_common(1)[0][0]
    body = [ln for ln in lines if ln.size == body_size]
    pitches = [a.bottom - b.bottom for a, b in itertools.pairwise(lines) if a.size == b.size and a.bottom > b.bottom]
    return _Page(
        left=min(ln.x0 for ln in body),
        right=max(ln.x1 for ln in body),
        pitch=statistics.median(pitches) if pitches else 0.0,
    )


def _starts_upper(text: str) -> bool:
    return text.lstrip("“\"'‘(«[")[:1].isupper()


def _same_centre(a: _Line, b: _Line) -> bool:
    return abs((a.x0 + a.x1) - (b.x0 + b.x1)) / 2 < INDENT_POINTS


def _breaks(prev: _Line, cur: _Line, layout: dict[int, _Page]) -> bool:
    """Does ``cur`` start a new paragraph after ``prev``? (The rules of the module docstring.)"""
    if prev.size and cur.size and abs(cur.size - prev.size) > 0.15 * max(cur.size, prev.size):
        return True
    page, cur_page = layout[prev.page], layout[cur.page]
    ended = bool(_TERMINAL.search(prev.text))
    short = prev.x1 < page.right - SHORT_LINE * (page.right - page.left)
    listed = bool(_LIST_ITEM.match(cur.text))
    if cur.page == prev.page:
        pitch = prev.bottom - cur.bottom
        if pitch <= 0 or (page.pitch and pitch > GAP_FACTOR * page.pitch):
            return True  # a gap, or a line above the previous one (another column)
        indented = cur.x0 > cur_page.left + INDENT_POINTS
        if indented and abs(cur.x0 - prev.x0) > INDENT_POINTS and not _same_centre(prev, cur):
            return True  # a first-line indent, or another alignment (a signature block)
    elif ended and _starts_upper(cur.text):
        return True
    if ended and (short or listed):
        return True
    return short and (_starts_upper(cur.text) or listed)


def _join(paragraph: str, line: str) -> str:
    if paragraph.endswith(_HYPHENS) and len(paragraph) > 1 and paragraph[-2].isalpha() and line[:1].islower():
        return paragraph[:-1] + line
    return f"{paragraph} {line}"


def _paragraphs(lines: list[_Line], layout: dict[int, _Page]) -> list[tuple[str, int, float]]:
    """(text, page where it starts, font size) of each paragraph."""
    out: list[tuple[str, int, float]] = []
    prev: _Line | None = None
    for line in lines:
        if prev is None or _breaks(prev, line, layout):
            out.append((line.text, line.page, line.size))
        else:
            text, page, size = out[-1]
            out[-1] = (_join(text, line.text), page, size)
        prev = line
    return out


def _title_from_lines(first_page: list[_Line]) -> str | None:
    """The largest-font lines near the top of page 1 (a title may take two lines), if larger than the text."""
    head = first_page[:12]
    if not head:
        return None
    body_size = statistics.median(ln.size for ln in first_page)
    biggest = max(ln.size for ln in head)
    if biggest <= body_size * 1.1:
        return None
    start = next(i for i, ln in enumerate(head) if ln.size == biggest)
    parts: list[str] = []
    for line in head[start:]:
        if line.size != biggest:
            break
        parts.append(line.text)
    return clean_line(" ".join(parts)) or None


def _metadata(document: pdfium.PdfDocument) -> dict[str, str]:
    try:
        return document.get_metadata_dict(skip_empty=True)
    except pdfium.PdfiumError:
        return {}


def read_pdf(data: bytes) -> Document:
    """The paragraphs of a PDF's text layer with their start pages, its title, date and author."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        raise UnreadableDocument(_LOAD_ERRORS.get(code, f"PDF cannot be opened ({exc})")) from None
    try:
        pages: list[list[_Line]] = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            try:
                pages.append(list(_page_lines(textpage, index + 1)))
            finally:
                textpage.close()
                page.close()
        meta = _metadata(document)
    finally:
        document.close()

    if not any(pages):
        raise UnreadableDocument(SCANNED)
    pages = _drop_running_lines(pages) if len(pages) > 1 else pages
    layout = {i + 1: _measure(lines) for i, lines in enumerate(pages)}
    lines = [ln for page_lines in pages for ln in page_lines]
    if not lines:
        raise UnreadableDocument(SCANNED)
    paragraphs = _paragraphs(lines, layout)

    meta_title = optional_text(meta.get("Title"))
    title = meta_title if meta_title and not _JUNK_TITLE.match(meta_title) else _title_from_lines(pages[0])
    if title and title != meta_title:  # taken from the text: not a paragraph of it as well
        paragraphs = [p for i, p in enumerate(paragraphs) if not (i < 3 and p[0] == title)]
    date = next((d for ln in pages[0][:15] if len(ln.text) < 120 and (d := parse_date(ln.text))), None)
    blocks = tuple(Block(text, page=page) for text, page, _ in paragraphs)
    return Document(
        blocks=blocks,
        kind=Kind.PDF,
        title=title,
        date=date or _pdf_date(meta.get("CreationDate")),
        author=optional_text(meta.get("Author")),
    )


def _pdf_date(value: str | None) -> str | None:
    """A PDF date string ("D:20181015093000+07'00'") as ISO YYYY-MM-DD."""
    if not value:
        return None
    m = re.match(r"^(?:D:)?(\d{4})(\d{2})(\d{2})", value.strip())
    return iso_date(f"{m[1]}-{m[2]}-{m[3]}") if m else None
