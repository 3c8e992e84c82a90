"""Plain text (.txt, .md) in whatever encoding it was saved in, as Unicode paragraphs.

Vietnamese text files come as UTF-8 (with or without a BOM), UTF-16 (from
Windows Notepad "Unicode"), Windows-1258 (which writes tones as combining
marks, so the result is NFC-normalized) or the pre-Unicode TCVN3/VNI
encodings (:mod:`.legacy`). Valid UTF-8 is always taken as UTF-8; otherwise
each Vietnamese candidate is judged by how many of its words are Vietnamese
syllables, and charset-normalizer decides for other languages.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from charset_normalizer import from_bytes

from . import legacy
from .base import Block, Document, Kind, Sections, UnreadableDocument, clean_line

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM it starts with
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# A Vietnamese decoding is taken when this share of its non-ASCII words are syllables.
MIN_VIETNAMESE_SHARE = 0.8
_BLANK_LINES = re.compile(r"\n[ \t\u00a0]*\n")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def _by_bom(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise UnreadableDocument(
                    f"starts with a {encoding.upper()} byte-order mark but is not {encoding.upper()} "
                    f"({exc.reason} at byte {exc.start + len(bom)})"
                ) from None
    return None


def _vietnamese_share(text: str) -> float:
    valid, total = legacy.vietnamese_share(text[: legacy.DETECT_CHARS])
    return valid / total if total else 0.0


def _guess_8bit(data: bytes) -> str:
    """Bytes that are not UTF-8: Windows-1258, TCVN3/VNI, or what charset-normalizer finds."""
    latin = data.decode("latin-1")
    found = legacy.detect(latin)
    if found is not None:
        return legacy.to_unicode(latin, found)
    cp1258 = unicodedata.normalize("NFC", data.decode("cp1258", errors="replace"))
    if "\ufffd" not in cp1258 and _vietnamese_share(cp1258) >= MIN_VIETNAMESE_SHARE:
        return cp1258
    matches = from_bytes(data)
    # On short Western text charset-normalizer ranks look-alike code pages (cp1250,
    # cp1257) level with Windows-1252; the Windows default wins when it is plausible.
    best = next((m for m in matches if m.encoding == "cp1252"), None) or matches.best()
    if best is None:
        raise UnreadableDocument("not text in any known encoding (binary data?)")
    return str(best)


def decode_text(data: bytes) -> str:
    """The text in ``data`` as a Unicode NFC string; raises :class:`UnreadableDocument` for binary data.

    Legacy TCVN3/VNI text is converted to Unicode, also when it was already
    re-saved as UTF-8 ("Hµ Néi" in a UTF-8 file).
    """
    text = _by_bom(data)
    if text is None:
        if b"\x00" in data[:8192]:
            raise UnreadableDocument("binary file (contains NUL bytes and no UTF-16 byte-order mark)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _guess_8bit(data)
        else:
            found = legacy.detect(text)
            if found is not None:
                text = legacy.to_unicode(text, found)
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def paragraphs(text: str) -> list[str]:
    """The paragraphs of ``text``: runs of lines separated by blank lines, lines kept as they are."""
    out: list[str] = []
    for chunk in _BLANK_LINES.split(text):
        lines = [clean_line(line) for line in chunk.split("\n")]
        para = "\n".join(line for line in lines if line)
        if para:
            out.append(para)
    return out


def markdown_heading(line: str) -> tuple[int, str] | None:
    """(level, text) of a Markdown "## heading" line; None for any other line."""
    m = _MD_HEADING.match(line)
    return (len(line) - len(line.lstrip("#")), m.group(1)) if m else None


def read_text(data: bytes, *, markdown: bool = False) -> Document:
    """A plain-text document: its paragraphs; in Markdown, "# heading" lines become sections.

    Title, date and source are left to the caller: the corpus reader takes
    them from YAML front matter and the article's first lines
    (``retrieval.clean``), so no second set of rules lives here.
    """
    blocks: list[Block] = []
    sections = Sections()
    for para in paragraphs(decode_text(data)):
        heading = markdown_heading(para) if markdown and "\n" not in para else None
        if heading:
            blocks.append(Block(para, section=sections.enter(*heading), heading=True))
        else:
            blocks.append(Block(para, section=sections.current))
    if not blocks:
        raise UnreadableDocument("no text (the file is empty or only blank lines)")
    return Document(blocks=tuple(blocks), kind=Kind.TEXT)
