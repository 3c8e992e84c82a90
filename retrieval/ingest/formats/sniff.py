"""What a file is, by its first bytes as well as its name.

Files in a folder of documents are misnamed often enough (a PDF saved as
.txt, a picture saved as .html, a .doc renamed .docx) that the name alone is
not trusted: a recognised signature decides. Files that are no document at
all are classified (image, archive, executable...) so a caller can say what
it skipped.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from pathlib import Path
from typing import NamedTuple

from .base import Kind, SkipKind

# How much of a file to read to sniff it (read_document passes the whole file).
HEAD_BYTES = 8192
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".text", ""})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".shtml"})

_SIGNATURES: tuple[tuple[bytes, SkipKind, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", SkipKind.IMAGE, "PNG"),
    (b"\xff\xd8\xff", SkipKind.IMAGE, "JPEG"),
    (b"GIF87a", SkipKind.IMAGE, "GIF"),
    (b"GIF89a", SkipKind.IMAGE, "GIF"),
    (b"II*\x00", SkipKind.IMAGE, "TIFF"),
    (b"MM\x00*", SkipKind.IMAGE, "TIFF"),
    (b"\x00\x00\x01\x00", SkipKind.IMAGE, "ICO"),
    (b"\x1f\x8b", SkipKind.ARCHIVE, "gzip"),
    (b"BZh", SkipKind.ARCHIVE, "bzip2"),
    (b"\xfd7zXZ\x00", SkipKind.ARCHIVE, "xz"),
    (b"7z\xbc\xaf\x27\x1c", SkipKind.ARCHIVE, "7-Zip"),
    (b"Rar!\x1a\x07", SkipKind.ARCHIVE, "RAR"),
    (b"\x28\xb5\x2f\xfd", SkipKind.ARCHIVE, "zstd"),
    (b"\x7fELF", SkipKind.EXECUTABLE, "ELF"),
    (b"MZ", SkipKind.EXECUTABLE, "Windows executable"),
    (b"\xca\xfe\xba\xbe", SkipKind.EXECUTABLE, "Mach-O or Java class"),
    (b"\xcf\xfa\xed\xfe", SkipKind.EXECUTABLE, "Mach-O"),
    (b"\xce\xfa\xed\xfe", SkipKind.EXECUTABLE, "Mach-O"),
    (b"\x00asm", SkipKind.EXECUTABLE, "WebAssembly"),
    (b"ID3", SkipKind.AUDIO_VIDEO, "MP3"),
    (b"fLaC", SkipKind.AUDIO_VIDEO, "FLAC"),
    (b"OggS", SkipKind.AUDIO_VIDEO, "Ogg"),
    (b"\x1a\x45\xdf\xa3", SkipKind.AUDIO_VIDEO, "Matroska/WebM"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", SkipKind.OFFICE, "Word/Excel 97-2003 (OLE2); save it as .docx"),
    (b"{\\rtf", SkipKind.OFFICE, "RTF; save it as .docx"),
    (b"SQLite format 3\x00", SkipKind.BINARY, "SQLite database"),
)
_RIFF = {
    b"WEBP": (SkipKind.IMAGE, "WebP"),
    b"WAVE": (SkipKind.AUDIO_VIDEO, "WAV"),
    b"AVI ": (SkipKind.AUDIO_VIDEO, "AVI"),
}
_IMAGE_BRANDS = (b"heic", b"heix", b"mif1", b"avif")
_OFFICE_PARTS = {"xl/workbook.xml": "Excel .xlsx", "ppt/presentation.xml": "PowerPoint .pptx"}
# A page starts with these, after white space, comments and an XML declaration.
_HTML_START = re.compile(
    r"^(?:\s|<!--.*?-->|<\?xml[^>]*\?>)*<(?:!doctype\s+html|html|head|body|meta|title)[\s>/]", re.IGNORECASE | re.DOTALL
)
_SVG_START = re.compile(r"^(?:\s|<!--.*?-->|<\?xml[^>]*\?>|<!doctype\s+svg[^>]*>)*<svg[\s>]", re.IGNORECASE | re.DOTALL)


class Sniffed(NamedTuple):
    """A file's kind: a readable :class:`Kind`, or the :class:`SkipKind` of a non-document."""

    kind: Kind | SkipKind
    detail: str = ""


def _zip_names(path: Path, data: bytes) -> list[str] | None:
    """The member names of a zip, from ``data`` when it is the whole file, else from ``path``."""
    for source in (io.BytesIO(data), path):
        try:
            with zipfile.ZipFile(source) as archive:
                return archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            continue
    return None


def _zip_kind(path: Path, data: bytes) -> Sniffed:
    names = _zip_names(path, data)
    if names is None:  # an unreadable zip: its reader, if any, says what is wrong
        if path.suffix.lower() == ".docx" or b"word/document.xml" in data[:HEAD_BYTES]:
            return Sniffed(Kind.DOCX)
        return Sniffed(SkipKind.ARCHIVE, "zip")
    if "word/document.xml" in names:
        return Sniffed(Kind.DOCX)
    for part, what in _OFFICE_PARTS.items():
        if part in names:
            return Sniffed(SkipKind.OFFICE, what)
    if "mimetype" in names and path.suffix.lower() in (".odt", ".ods", ".odp", ".epub"):
        return Sniffed(SkipKind.OFFICE, f"{path.suffix.lower()} (OpenDocument/EPUB)")
    return Sniffed(SkipKind.ARCHIVE, "zip")


def _text_head(head: bytes) -> str | None:
    """The start of ``head`` as text, or None when it looks binary."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) : 2048].decode(encoding, errors="ignore")
    if b"\x00" in head:
        return None
    return head[:2048].decode("latin-1")


def classify(path: Path | str, head: bytes) -> Sniffed:
    """What the file at ``path`` is, from its first bytes ``head`` (at least :data:`HEAD_BYTES`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not head:
        return Sniffed(SkipKind.EMPTY, "0 bytes")
    if b"%PDF-" in head[:1024]:
        return Sniffed(Kind.PDF)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(path, head)
    for signature, kind, detail in _SIGNATURES:
        if head.startswith(signature):
            return Sniffed(kind, detail)
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return Sniffed(*_RIFF[head[8:12]])
    if head[4:8] == b"ftyp":
        if head[8:12] in _IMAGE_BRANDS:
            return Sniffed(SkipKind.IMAGE, "HEIF/AVIF")
        return Sniffed(SkipKind.AUDIO_VIDEO, "MP4/QuickTime")
    if len(head) > 262 and head[257:262] == b"ustar":
        return Sniffed(SkipKind.ARCHIVE, "tar")
    # A file named .pdf/.docx that has no such signature goes to its reader, which says what is wrong.
    if suffix == ".pdf":
        return Sniffed(Kind.PDF)
    if suffix == ".docx":
        return Sniffed(Kind.DOCX)
    text = _text_head(head)
    if text is None:
        return Sniffed(SkipKind.BINARY, "contains NUL bytes")
    if _SVG_START.match(text):
        return Sniffed(SkipKind.IMAGE, "SVG")
    if _HTML_START.match(text):
        return Sniffed(Kind.HTML)
    if suffix in HTML_SUFFIXES:
        return Sniffed(Kind.HTML)
    if suffix in TEXT_SUFFIXES:
        return Sniffed(Kind.TEXT)
    return Sniffed(SkipKind.OTHER, suffix)


def sniff(path: Path | str, head: bytes) -> Kind | None:
    """The document kind of a file by content and name; None when it is not a document."""
    found = classify(path, head).kind
    return found if isinstance(found, Kind) else None


def skip_kind(path: Path | str, head: bytes) -> SkipKind | None:
    """What a non-document is (image, archive, executable...), for a "skipped 3 images" log; None for a document."""
    found = classify(path, head).kind
    return found if isinstance(found, SkipKind) else None
