"""The neutral document every reader returns, the error they raise, and small shared helpers.

Every format (HTML, PDF, DOCX, plain text) is read into the same
:class:`Document`: citation metadata and :class:`Block` paragraphs in reading
order. A block keeps where it came from (PDF page, DOCX/HTML heading) so an
answer quoting it can cite the place, not just the file.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from retrieval.errors import BotError


class Kind(StrEnum):
    """The formats :func:`~retrieval.ingest.formats.read_document` reads."""

    HTML = "html"
    PDF = "pdf"
    DOCX = "docx"
    TEXT = "text"


class SkipKind(StrEnum):
    """What a file that is not a readable document is, for "skipped 3 images, 1 archive"."""

    EMPTY = "empty file"
    IMAGE = "image"
    ARCHIVE = "archive"
    EXECUTABLE = "executable"
    AUDIO_VIDEO = "audio/video"
    OFFICE = "unsupported office file"  # .doc/.xls/.ppt (OLE2), .xlsx, .pptx, .odt, .rtf
    BINARY = "binary file"
    OTHER = "unsupported file type"

    def in_words(self, n: int) -> str:  # not ``count``, which would shadow str.count
        """``n`` files of this kind, in words: "1 image", "3 archives", "2 audio/video files"."""
        one, many = _SKIP_NOUNS[self]
        return f"{n} {one if n == 1 else many}"


_SKIP_NOUNS = {
    SkipKind.EMPTY: ("empty file", "empty files"),
    SkipKind.IMAGE: ("image", "images"),
    SkipKind.ARCHIVE: ("archive", "archives"),
    SkipKind.EXECUTABLE: ("executable", "executables"),
    SkipKind.AUDIO_VIDEO: ("audio/video file", "audio/video files"),
    SkipKind.OFFICE: ("unsupported office file", "unsupported office files"),
    SkipKind.BINARY: ("binary file", "binary files"),
    SkipKind.OTHER: ("file of an unsupported type", "files of unsupported types"),
}


@dataclass(frozen=True)
class Block:
    """A paragraph of text, in reading order."""

    text: str
    page: int | None = None  # 1-based PDF page where the paragraph starts
    section: str | None = None  # the DOCX/HTML heading it sits under, if any
    row: bool = False  # a table row (cells joined with " | "): text, though it has no sentence end
    heading: bool = False  # a heading (its ``section`` is the heading it sits under): not body text


@dataclass(frozen=True)
class Document:
    """A file read into citation metadata and paragraphs, whatever its format."""

    blocks: tuple[Block, ...]
    kind: Kind
    title: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD
    source: str | None = None  # site name or publisher
    author: str | None = None
    url: str | None = None  # canonical URL


class UnreadableDocument(BotError, ValueError):
    """A file that cannot be read as a document; ``reason`` says why, for a skip log.

    It is a ``ValueError`` too, so code that already skips bad files on
    ``ValueError`` (``retrieval.ingest``) skips these with their reason.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotADocument(UnreadableDocument):
    """A file that is no document at all (an image, an archive...): ``skip_kind`` says which."""

    def __init__(self, skip_kind: SkipKind, detail: str = "") -> None:
        super().__init__(f"not a document: {skip_kind}{f' ({detail})' if detail else ''}")
        self.skip_kind = skip_kind


class Sections:
    """The heading each block sits under, from the headings met in reading order.

    A heading of level n closes the open headings of level n and deeper; the
    blocks after it sit under it, and it sits under the heading that is still open.
    """

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []

    @property
    def current(self) -> str | None:
        return self._open[-1][1] if self._open else None

    def enter(self, level: int, heading: str) -> str | None:
        """Open ``heading``; returns the heading it itself sits under."""
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        parent = self.current
        self._open.append((level, heading))
        return parent


# A table's first row is its header when each of its cells is a short label, not a number ...
MAX_HEADER_WORDS = 8
_NUMBER = re.compile(r"[\d\s.,%/:+-]*")
# ... and a header cell that only numbers the rows is left out of the labelled rows.
_ROW_NUMBER_HEADERS = frozenset({"stt", "tt", "số tt", "số thứ tự", "no", "no.", "#"})


def table_blocks(rows: list[list[str]], section: str | None) -> list[Block]:
    """A table's rows (their non-empty cells) as blocks, cells joined with " | ".

    When the first row reads as a header (two or more rows; every header cell a short label,
    not a number) it is a heading block, and each row with as many cells names them:
    "Họ và tên: Nguyễn Văn An | Chức vụ: Chủ tịch UBND phường", without a row-number column
    ("STT"). A row alone ("2 | Trần Thị Bình") answers nothing a question asks about.
    """
    rows = [r for r in rows if r]
    header = rows[0] if len(rows) >= 2 and len(rows[0]) >= 2 else None
    if header is not None and any(len(c.split()) > MAX_HEADER_WORDS or _NUMBER.fullmatch(c) for c in header):
        header = None
    if header is None:
        return [Block(" | ".join(r), section=section, row=True) for r in rows]
    blocks = [Block(" | ".join(header), section=section, heading=True)]
    for row in rows[1:]:
        if len(row) == len(header):
            row = [
                f"{label}: {cell}" for label, cell in zip(header, row) if label.casefold() not in _ROW_NUMBER_HEADERS
            ]
        blocks.append(Block(" | ".join(row), section=section, row=True))
    return blocks


_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# Zero-width characters and C0/C1 controls other than tab/newline: never text.
_INVISIBLE = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200d\u2060\ufeff]")


def clean_line(text: str) -> str:
    """NFC text with runs of spaces collapsed and invisible characters removed, stripped."""
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", _INVISIBLE.sub("", text)).strip()


def clean_block(text: str) -> str:
    """A paragraph on one line: :func:`clean_line` with line breaks turned into spaces."""
    return clean_line(text.replace("\r", " ").replace("\n", " "))


_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")


def iso_date(value: object) -> str | None:
    """A date or datetime (or an ISO-like string starting with one) as ``YYYY-MM-DD``."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, str):
        m = _ISO.search(value)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
            except ValueError:
                return None
    return None


def optional_text(value: object) -> str | None:
    """A metadata value as stripped one-line text, or None when empty."""
    if value is None:
        return None
    text = clean_block(str(value))
    return text or None
