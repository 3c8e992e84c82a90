"""Bring your own documents: HTML, PDF, DOCX and plain text files read into one neutral :class:`Document`.

    >>> doc = read_document(Path("ke_hoach.pdf"))
    >>> doc.title, doc.date, doc.blocks[0].page

One module per format (:mod:`.html`, :mod:`.pdf`, :mod:`.docx`, :mod:`.text`)
and one for the pre-Unicode Vietnamese encodings (:mod:`.legacy`), behind
:func:`read_document`. The kind of a file is sniffed from its content, not
only its name (:mod:`.sniff`). Every failure is an :class:`UnreadableDocument`
whose ``reason`` a caller can log; a file that is no document at all (an
image, an archive) is a :class:`NotADocument` with a ``skip_kind``.
"""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path

from . import legacy
from .base import Block, Document, Kind, NotADocument, SkipKind, UnreadableDocument
from .docx import read_docx
from .html import read_html
from .pdf import read_pdf
from .sniff import HEAD_BYTES, Sniffed, classify, skip_kind, sniff
from .text import decode_text, markdown_heading, read_text

__all__ = [
    "HEAD_BYTES",
    "MAX_DOCUMENT_BYTES",
    "READER_VERSION",
    "Block",
    "Document",
    "Kind",
    "NotADocument",
    "SkipKind",
    "Sniffed",
    "UnreadableDocument",
    "classify",
    "decode_text",
    "markdown_heading",
    "read_document",
    "reader_id",
    "skip_kind",
    "sniff",
]

# Larger files are refused before they are read.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# Bump when a reader's output for the same bytes changes: documents cached by
# ``retrieval.ingest.doccache`` under another version are read again.
READER_VERSION = 1
# The libraries whose versions decide what the readers return.
_READER_LIBRARIES = ("trafilatura", "htmldate", "lxml", "pypdfium2", "python-docx", "charset-normalizer")


@cache
def reader_id() -> str:
    """What decides a document read from given bytes: :data:`READER_VERSION` and the libraries' versions."""
    versions = []
    for name in _READER_LIBRARIES:
        try:
            versions.append(f"{name}-{metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}-none")
    return f"readers-{READER_VERSION}+" + "+".join(versions)


def _read_text_file(data: bytes, path: Path) -> Document:
    return read_text(data, markdown=path.suffix.lower() in (".md", ".markdown"))


_READERS: dict[Kind, Callable[[bytes, Path], Document]] = {
    Kind.HTML: lambda data, _: read_html(data),
    Kind.PDF: lambda data, _: read_pdf(data),
    Kind.DOCX: lambda data, _: read_docx(data),
    Kind.TEXT: _read_text_file,
}


def _load(path: Path, max_bytes: int) -> bytes:
    try:
        info = path.stat()  # follows symlinks: a dangling or looping link is an OSError
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableDocument("not a regular file (a folder, FIFO, socket or device)")
        if info.st_size > max_bytes:
            raise UnreadableDocument(f"larger than {max_bytes / 2**20:.0f} MB ({info.st_size / 2**20:.1f} MB)")
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(f"cannot read the file: {exc.strerror or exc}") from None


def _finish(document: Document) -> Document:
    """Legacy-encoded text converted, empty blocks dropped; a document with no text refused."""
    texts = [document.title or ""] + [b.text for b in document.blocks]
    fixed = legacy.fix_texts(texts)
    blocks = tuple(
        dataclasses.replace(b, text=text) if text != b.text else b
        for b, text in zip(document.blocks, fixed[1:], strict=True)
        if text.strip()
    )
    if not blocks:
        raise UnreadableDocument(f"no text in the {document.kind.upper()} file")
    return dataclasses.replace(document, title=fixed[0] or None, blocks=blocks)


def read_document(path: Path | str, data: bytes | None = None, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Document:
    """Read one file (or its ``data``, already read) into a :class:`Document`.

    ``path`` names the file (its suffix is a hint; the content decides).
    Raises :class:`UnreadableDocument` with the reason when it cannot be
    used, :class:`NotADocument` (a subclass) when it is no document at all.
    """
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    path = Path(path)
    if data is None:
        data = _load(path, max_bytes)
    elif len(data) > max_bytes:
        raise UnreadableDocument(f"larger than {max_bytes / 2**20:.0f} MB ({len(data) / 2**20:.1f} MB)")
    found = classify(path, data)
    if isinstance(found.kind, SkipKind):
        raise NotADocument(found.kind, found.detail)
    return _finish(_READERS[found.kind](data, path))
