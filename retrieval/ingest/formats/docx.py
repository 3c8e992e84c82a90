"""Word documents (.docx): paragraphs, headings as sections, table rows, and legacy-font text.

Headings are paragraphs in a "Heading n" or "Title" style (or a style based
on one, or with an outline level); each following block records the heading
it sits under as its ``section``. A table gives one block per row, its cells
joined with " | ". Runs in a TCVN3 or VNI font (".VnTime", "VNI-Times")
hold legacy codes, converted by that font's encoding.

A .docx is a zip archive: its declared sizes are checked before anything is
decompressed (Python's zipfile never inflates an entry past its declared
size, so the declared sizes bound the work), which stops zip bombs.
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from collections.abc import Iterator
from typing import Any, NamedTuple

import docx
from docx.document import Document as WordDocument
from docx.opc.exceptions import OpcError
from docx.oxml.ns import qn
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from lxml import etree

from retrieval.ingest.clean import parse_date

from . import legacy
from .base import (
    Block,
    Document,
    Kind,
    Sections,
    UnreadableDocument,
    clean_block,
    iso_date,
    optional_text,
    table_blocks,
)

# Zip bomb guard: a Word document's parts, inflated, stay far below these.
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_RATIO = 100  # inflated size / compressed size of one entry larger than RATIO_FROM_BYTES
RATIO_FROM_BYTES = 1024 * 1024
_LEGACY_FONT_ATTR = re.compile(rb'w:(?:ascii|hAnsi)="(?:\.vn|vni[- ])', re.IGNORECASE)
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def check_zip(data: bytes) -> zipfile.ZipFile:
    """The archive of a .docx, refused when it is not a zip, not Word, or inflates too far."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UnreadableDocument("not a DOCX file: not a zip archive (a .doc saved as .docx?)") from None
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise UnreadableDocument(f"zip bomb guard: {len(entries)} entries in the archive (limit {MAX_ENTRIES})")
    total = sum(e.file_size for e in entries)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableDocument(
            f"zip bomb guard: the archive inflates to {total / 2**20:.0f} MB "
            f"(limit {MAX_UNCOMPRESSED_BYTES // 2**20} MB)"
        )
    for e in entries:
        if e.file_size > RATIO_FROM_BYTES and e.file_size > MAX_RATIO * max(e.compress_size, 1):
            raise UnreadableDocument(
                f"zip bomb guard: {e.filename} inflates {e.file_size // max(e.compress_size, 1)} times "
                f"(limit {MAX_RATIO})"
            )
    if "word/document.xml" not in archive.namelist():
        raise UnreadableDocument("zip archive without word/document.xml: not a Word document")
    return archive


class _Item(NamedTuple):
    block: Block
    level: int | None  # heading level (0 = Title), None for body text and rows


class _Reader:
    """One document's walk: the style fonts and headings it has looked up so far."""

    def __init__(self, document: WordDocument, legacy_fonts: bool) -> None:
        self.document = document
        self.legacy_fonts = legacy_fonts
        self._style_fonts: dict[str, str | None] = {}
        self.default_font = self._default_font()

    def _default_font(self) -> str | None:
        fonts = self.document.styles.element.xpath("w:docDefaults/w:rPrDefault/w:rPr/w:rFonts")
        return (fonts[0].get(qn("w:hAnsi")) or fonts[0].get(qn("w:ascii"))) if fonts else None

    def _style_font(self, style: Any) -> str | None:
        """The font a style (or the style it is based on) sets, if any."""
        if style is None:
            return None
        key = style.style_id
        if key not in self._style_fonts:
            self._style_fonts[key] = None  # a cycle of base styles ends here
            rfonts = style.element.xpath("w:rPr/w:rFonts")
            own = (rfonts[0].get(qn("w:hAnsi")) or rfonts[0].get(qn("w:ascii"))) if rfonts else None
            self._style_fonts[key] = own or self._style_font(style.base_style)
        return self._style_fonts[key]

    def _run_font(self, run: Run, paragraph: Paragraph) -> str | None:
        # Characters above 0x7F (all legacy letters) are drawn with the hAnsi font.
        rfonts = run._r.xpath("w:rPr/w:rFonts")
        own = (rfonts[0].get(qn("w:hAnsi")) or rfonts[0].get(qn("w:ascii"))) if rfonts else None
        return (
            own
            or (self._style_font(run.style) if run._r.rPr is not None and run._r.rPr.rStyle is not None else None)
            or self._style_font(paragraph.style)
            or self.default_font
        )

    def paragraph_text(self, paragraph: Paragraph) -> str:
        if not self.legacy_fonts:
            return paragraph.text
        parts: list[str] = []
        for item in paragraph.iter_inner_content():
            for run in item.runs if not isinstance(item, Run) else (item,):
                found = legacy.font_encoding(self._run_font(run, paragraph))
                parts.append(
                    legacy.to_unicode(run.text, found.encoding, uppercase=found.uppercase) if found else run.text
                )
        return "".join(parts)

    def heading_level(self, paragraph: Paragraph) -> int | None:
        """1-9 for a heading, 0 for a Title paragraph, None for body text."""
        level = paragraph._p.xpath("w:pPr/w:outlineLvl/@w:val")
        if level and level[0].isdigit() and int(level[0]) < 9:
            return int(level[0]) + 1
        style = paragraph.style
        while style is not None:
            name = style.name or ""
            if name.lower() == "title":
                return 0
            m = _HEADING_STYLE.match(name)
            if m:
                return int(m.group(1))
            style = style.base_style
        return None

    def rows(self, table: Table) -> Iterator[list[str]]:
        """Each row's non-empty cells (a merged cell counted once)."""
        for tr in table._tbl.tr_lst:
            cells: list[str] = []
            for tc in tr.tc_lst:
                cell = _Cell(tc, table)
                text = clean_block(" ".join(self.paragraph_text(p) for p in cell.paragraphs))
                if text and (not cells or cells[-1] != text):
                    cells.append(text)
            yield cells

    def blocks(self) -> Iterator[_Item]:
        """The document's blocks in reading order, with what each one is."""
        sections = Sections()
        for item in self.document.iter_inner_content():
            if isinstance(item, Table):
                for block in table_blocks(list(self.rows(item)), sections.current):
                    yield _Item(block, None)
                continue
            text = clean_block(self.paragraph_text(item))
            if not text:
                continue
            level = self.heading_level(item)
            if level is None:
                yield _Item(Block(text, section=sections.current), None)
            elif level == 0:  # a Title paragraph heads the document, not a section
                yield _Item(Block(text, heading=True), 0)
            else:
                yield _Item(Block(text, section=sections.enter(level, text), heading=True), level)


def read_docx(data: bytes) -> Document:
    """A Word document's blocks (with sections), title, date and author."""
    try:
        with check_zip(data) as archive:
            legacy_fonts = any(
                _LEGACY_FONT_ATTR.search(archive.read(name))
                for name in ("word/document.xml", "word/styles.xml")
                if name in archive.namelist()
            )
        document = docx.Document(io.BytesIO(data))
        found = list(_Reader(document, legacy_fonts).blocks())
        props = document.core_properties
    except UnreadableDocument:
        raise  # check_zip's reason as it is
    except (OpcError, KeyError, ValueError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
        raise UnreadableDocument(f"broken DOCX file ({type(exc).__name__}: {exc})") from None

    title = optional_text(props.title)
    if title is None:
        title = next((i.block.text for i in found if i.level == 0), None) or next(
            (i.block.text for i in found if i.level == 1), None
        )
    blocks = [i.block for i in found if not (i.level == 0 and i.block.text == title)]
    if not blocks:
        raise UnreadableDocument("no text in the document (empty, or only images)")
    # A dateline belongs to the document's head: the paragraphs before its first heading.
    head = itertools.takewhile(lambda i: not i.level, found)
    date = next(
        (
            d
            for i in itertools.islice(head, 15)
            if not (i.block.row or i.block.heading) and len(i.block.text) < 120 and (d := parse_date(i.block.text))
        ),
        None,
    )
    return Document(
        blocks=tuple(blocks),
        kind=Kind.DOCX,
        title=title,
        date=date or iso_date(props.created),
        author=optional_text(props.author),
    )
