"""One file of a folder corpus, whatever its format, as the text the article cleaner reads.

The kind of a file is decided by its content as well as its name
(:func:`retrieval.ingest.formats.classify`: a PDF named ``.txt`` is a PDF):

* **Text** (``.txt``, ``.md``): decoded (UTF-8/16, Windows-1258, TCVN3, VNI:
  :func:`~retrieval.ingest.formats.decode_text`), YAML front matter split off.
  In Markdown, a ``# heading`` line is the section of the lines after it (its
  ``#`` marks are dropped, so a first-line heading reads as the title).
* **HTML, PDF, DOCX**: read into blocks (:func:`~retrieval.ingest.formats.read_document`),
  one line each with a blank line between, so the cleaner judges every block
  on its own (captions, credit lines, datelines). The document's title, date,
  source (a page's site name; a PDF's or DOCX's author) and URL play the part
  of front matter.

A :class:`Layout` says where each line comes from (PDF page, heading) and
which lines are table rows; the corpus reader carries it to the paragraphs.
Files that are no document at all (images, archives, executables) raise
:class:`~retrieval.ingest.formats.NotADocument`, which the corpus reader
counts by kind instead of warning about each.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from retrieval.ingest.doccache import document_key
from retrieval.ingest.formats import (
    Document,
    Kind,
    NotADocument,
    SkipKind,
    UnreadableDocument,
    classify,
    decode_text,
    markdown_heading,
    read_document,
)
from retrieval.ingest.formats.base import Sections
from retrieval.ingest.formats.sniff import HTML_SUFFIXES

# The names a single-file corpus may have (in a folder, every file is looked at).
DOCUMENT_SUFFIXES = frozenset(HTML_SUFFIXES | {".pdf", ".docx", ".txt", ".md", ".markdown"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
# Office files that are documents the bot does not read (.doc, .xlsx...), named so: each gets its
# own warning (the reason says what to do) instead of being counted with the images and archives,
# as an empty file does. An OLE2 file of another name (Windows' Thumbs.db) is only counted.
_OFFICE_SUFFIXES = frozenset(
    {".doc", ".dot", ".docm", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".odp", ".rtf", ".epub"}
)


@dataclass(frozen=True)
class Layout:
    """Where each line of an article's text comes from (one entry per line; empty: nowhere known)."""

    pages: tuple[int | None, ...] = ()  # the PDF page a line's block starts on
    sections: tuple[str | None, ...] = ()  # the heading a line sits under
    rows: frozenset[int] = frozenset()  # table rows: text, though they look like headings
    headings: frozenset[int] = frozenset()  # headings: never paragraphs, though they may look like text

    def origins(self, lines: Sequence[int]) -> tuple[tuple[int | None, ...], tuple[str | None, ...]]:
        """(pages, sections) of the paragraphs that start on ``lines``."""
        pages = tuple(self.pages[i] for i in lines) if self.pages else ()
        sections = tuple(self.sections[i] for i in lines) if self.sections else ()
        return pages, sections


@dataclass(frozen=True)
class FileText:
    """A file as the article cleaner reads it."""

    text: str
    meta: dict[str, Any]  # title, source, date, url: front matter, or the document's metadata
    layout: Layout = field(default_factory=Layout)
    # A document read from the file just now (not from the cache), with its cache key.
    fresh: tuple[str, Document] | None = None


class UnreadableContent(UnreadableDocument):
    """A document whose bytes cannot be read (encrypted, damaged, scanned...), with their cache key
    (:func:`~retrieval.ingest.doccache.document_key`): the same bytes fail the same way, so the
    failure is remembered like a document."""

    def __init__(self, reason: str, key: str) -> None:
        super().__init__(reason)
        self.key = key


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(YAML front matter, the rest) of a text; raises ValueError when the front matter is broken."""
    if not text.startswith("---"):
        return {}, text
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            try:
                meta = yaml.safe_load("\n".join(lines[1:i])) or {}
            except yaml.YAMLError as exc:
                raise ValueError(f"broken YAML front matter: {str(exc).splitlines()[0]}") from None
            if not isinstance(meta, dict):
                raise ValueError("front matter must be a mapping (title: ..., source: ...)")
            return meta, "\n".join(lines[i + 1 :])
    raise ValueError("front matter opened with '---' but never closed")


def _markdown(body: str) -> tuple[str, Layout]:
    """The body with heading lines' ``#`` marks dropped, and the section each line sits under."""
    lines = body.split("\n")
    sections = Sections()
    under: list[str | None] = []
    headings: set[int] = set()
    for i, line in enumerate(lines):
        heading = markdown_heading(line.strip())
        if heading is None:
            under.append(sections.current)
        else:
            under.append(sections.enter(*heading))
            lines[i] = heading[1]
            headings.add(i)
    return "\n".join(lines), Layout(sections=tuple(under), headings=frozenset(headings))


def text_file(data: bytes, markdown: bool) -> FileText:
    """A .txt/.md file: decoded, its front matter as metadata; Markdown headings as sections."""
    meta, body = split_front_matter(decode_text(data))
    if not markdown:
        return FileText(body, meta)
    body, layout = _markdown(body)
    return FileText(body, meta, layout)


def document_text(document: Document) -> FileText:
    """An HTML/PDF/DOCX document's blocks as lines (a blank line between blocks), its metadata."""
    lines: list[str] = []
    pages: list[int | None] = []
    sections: list[str | None] = []
    rows: set[int] = set()
    headings: set[int] = set()
    for block in document.blocks:
        if lines:
            lines.append("")
            pages.append(None)
            sections.append(None)
        if block.row:
            rows.add(len(lines))
        if block.heading:
            headings.add(len(lines))
        lines.append(" ".join(block.text.split("\n")))
        pages.append(block.page)
        # A heading that is the document's title (a DOCX whose title is its first heading) is no part of it.
        sections.append(block.section if block.section != document.title else None)
    source = document.source if document.kind is Kind.HTML else document.source or document.author
    meta = {"title": document.title, "source": source, "date": document.date, "url": document.url}
    return FileText("\n".join(lines), meta, Layout(tuple(pages), tuple(sections), frozenset(rows), frozenset(headings)))


def _load(file: Path, max_bytes: int) -> bytes:
    info = file.stat()  # follows symlinks: a loop or a dangling link is an OSError
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file (a FIFO, socket or device)")
    if info.st_size > max_bytes:
        raise ValueError(
            f"larger than {max_bytes / 2**20:.0f} MB ({info.st_size / 2**20:.1f} MB; setting ingest.max_file_mb)"
        )
    return file.read_bytes()


def read_file(file: Path, max_bytes: int, cached: Document | str | None = None) -> FileText:
    """The text, metadata and layout of ``file``, read by its kind; ``cached``: what reading it
    gave before (:mod:`retrieval.ingest.doccache`): the document, or why it could not be read.

    Raises :class:`NotADocument` for images, archives, executables and the like;
    :class:`UnreadableContent` for a PDF, DOCX or page that cannot be read; ValueError (among them
    :class:`UnreadableDocument`) or OSError with the reason for another file that cannot be used.
    """
    if isinstance(cached, str):
        raise UnreadableDocument(cached)
    if cached is not None:
        return document_text(cached)
    return read_data(file, _load(file, max_bytes), max_bytes)


def read_data(file: Path, data: bytes, max_bytes: int) -> FileText:
    """:func:`read_file` of bytes already read: ``data`` is the content of a file named ``file``
    (its suffix is a hint, the content decides). Raises as :func:`read_file` does."""
    if len(data) > max_bytes:
        raise ValueError(
            f"larger than {max_bytes / 2**20:.0f} MB ({len(data) / 2**20:.1f} MB; setting ingest.max_file_mb)"
        )
    found = classify(file, data)
    if isinstance(found.kind, SkipKind):
        if found.kind is SkipKind.EMPTY or (found.kind is SkipKind.OFFICE and file.suffix.lower() in _OFFICE_SUFFIXES):
            raise UnreadableDocument(f"{found.kind}{f' ({found.detail})' if found.detail else ''}")
        raise NotADocument(found.kind, found.detail)
    if found.kind is Kind.TEXT:
        return text_file(data, markdown=file.suffix.lower() in MARKDOWN_SUFFIXES)
    key = document_key(data)
    try:
        document = read_document(file, data, max_bytes=max_bytes)
    except UnreadableDocument as exc:
        raise UnreadableContent(exc.reason, key) from None
    got = document_text(document)
    return FileText(got.text, got.meta, got.layout, fresh=(key, document))


def relative_posix(root: Path, file: Path) -> str:
    """``file.relative_to(root).as_posix()`` without pathlib's parsing (every update names every
    file of the folder); ValueError, as pathlib, for a file outside ``root``."""
    prefix, full = os.path.join(str(root), ""), str(file)
    if not full.startswith(prefix):
        return file.relative_to(root).as_posix()
    return full[len(prefix) :].replace(os.sep, "/")


def _without_suffix(relative: str) -> str:
    """``PurePosixPath(relative).with_suffix("").as_posix()``: the last name's last suffix off,
    where pathlib sees one (a dot neither first nor last in the name)."""
    head, _, name = relative.rpartition("/")
    i = name.rfind(".")
    if 0 < i < len(name) - 1:
        name = name[:i]
    return f"{head}/{name}" if head else name


def doc_ids(root: Path, files: Sequence[Path]) -> list[str]:
    """Each file's doc_id: its path relative to ``root`` without the extension, unique.

    Files that would share one (``a.pdf`` and ``a.docx``) keep their extension
    (``a.docx``, ``a.pdf``); an id still taken after that (``a.pdf.txt``) gets
    ``~2``, ``~3``... in the files' order. So an id depends only on the names.
    """
    return ids_of([relative_posix(root, f) for f in files])


def ids_of(relative: Sequence[str]) -> list[str]:
    """:func:`doc_ids` of files given by their paths relative to the corpus, in posix form."""
    stems = [_without_suffix(r) for r in relative]
    shared = Counter(stems)
    ids: list[str] = []
    taken: set[str] = set()
    for rel, stem in zip(relative, stems):
        base = stem if shared[stem] == 1 else rel
        doc_id, n = base, 1
        while doc_id in taken:
            n += 1
            doc_id = f"{base}~{n}"
        taken.add(doc_id)
        ids.append(doc_id)
    return ids


def file_size(file: Path) -> int:
    """The size of ``file`` in bytes; 0 when it cannot be told (reading it will say why)."""
    try:
        return os.stat(file).st_size
    except OSError:
        return 0
