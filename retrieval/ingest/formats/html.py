"""Saved web pages (.html, .htm): the article's text and metadata, without the site around it.

A news page is mostly site: header, menus, breadcrumbs, "Tin khác" /
"Tin liên quan" teasers, comment forms, footers. trafilatura finds the main
text and the metadata (title, publication date through htmldate, site name,
author, canonical URL) from the page alone; it never fetches anything. When
it finds no main text (a short notice, an unusual layout) a simple extraction
of paragraphs, headings and list items outside page furniture takes over.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import trafilatura
from lxml import etree
from lxml import html as lxml_html

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

log = logging.getLogger(__name__)

# Photo captions are not article text (the corpus cleaner drops "Ảnh: ..." lines too).
_PRUNE = [
    "//figcaption",
    "//*[contains(@class, 'caption') or contains(@class, 'Caption')]",
    "//table[contains(@class, 'image') or contains(@class, 'picture') or contains(@class, 'tplCaption')]",
]
# Page furniture the fallback extraction leaves out, by tag and by class/id words.
_FURNITURE_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "button",
    "select",
    "textarea",
    "iframe",
    "svg",
    "figcaption",
)
_FURNITURE_NAMES = re.compile(
    r"related|comment|binh-?luan|share|social|footer|header|menu|nav|breadcrumb|sidebar|widget|banner"
    r"|advert|\bads?\b|tags?\b|tin-?khac|tin-?lien-?quan|box-|caption|popup|cookie",
    re.IGNORECASE,
)
_TEXT_TAGS = frozenset({"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "dd"})
_HEADING_REND = re.compile(r"h([1-6])")


def _element_text(element: etree._Element) -> str:
    return clean_block("".join(element.itertext()))


def _trafilatura_blocks(body: etree._Element, title: str | None) -> Iterator[Block]:
    """Blocks from trafilatura's XML body: <head>, <p>, <list>/<item>, <table>/<row>/<cell>, <quote>."""
    sections = Sections()
    first = True
    for element in body:
        tag = element.tag
        if tag == "head":
            text = _element_text(element)
            level_match = _HEADING_REND.fullmatch(element.get("rend") or "")
            level = int(level_match.group(1)) if level_match else 2
            # The page's own <h1> repeats the title: it is the title, not a section.
            if not (first and title and text == title):
                yield Block(text, section=sections.enter(level, text), heading=True)
        elif tag == "list":
            for item in element.iter("item"):
                yield Block(_element_text(item), section=sections.current)
        elif tag == "table":
            rows = [[text for cell in row.iter("cell") if (text := _element_text(cell))] for row in element.iter("row")]
            yield from table_blocks(rows, sections.current)
        else:  # p, quote, code and anything newer
            yield Block(_element_text(element), section=sections.current)
        first = False


def _is_furniture(element: lxml_html.HtmlElement) -> bool:
    if element.tag in _FURNITURE_TAGS:
        return True
    names = f"{element.get('class') or ''} {element.get('id') or ''} {element.get('role') or ''}"
    return bool(names.strip()) and bool(_FURNITURE_NAMES.search(names))


def _fallback_blocks(page: bytes, title: str | None) -> list[Block]:
    """Paragraphs, headings and list items outside scripts, menus, headers, footers, asides and forms."""
    try:
        root = lxml_html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        return []
    for element in list(root.iter(etree.Element)):
        if element.getparent() is not None and _is_furniture(element):
            element.drop_tree()
    sections = Sections()
    blocks: list[Block] = []
    for element in root.iter(*_TEXT_TAGS):
        if any(parent.tag in _TEXT_TAGS for parent in element.iterancestors()):
            continue  # its text is already in the enclosing paragraph or item
        text = _element_text(element)
        if not text:
            continue
        if element.tag[0] == "h" and element.tag[1:].isdigit():
            if not (not blocks and title and text == title):
                blocks.append(Block(text, section=sections.enter(int(element.tag[1]), text), heading=True))
        else:
            blocks.append(Block(text, section=sections.current))
    return blocks


def read_html(data: bytes) -> Document:
    """A web page's main text as blocks (sections from its headings) and its metadata."""
    extracted = trafilatura.bare_extraction(
        data,
        with_metadata=True,
        include_comments=False,
        include_images=False,
        include_tables=True,
        favor_precision=True,
        prune_xpath=_PRUNE,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if isinstance(extracted, dict):  # only with as_dict=True
        raise TypeError("trafilatura.bare_extraction returned a dict, not a Document")
    meta = extracted if extracted is not None else trafilatura.extract_metadata(data)
    title = optional_text(getattr(meta, "title", None))
    blocks: list[Block] = []
    if extracted is not None and extracted.body is not None:
        blocks = [b for b in _trafilatura_blocks(extracted.body, title) if b.text]
    if not blocks:
        log.debug("trafilatura found no main text; using the simple extraction")
        blocks = _fallback_blocks(data, title)
    if not blocks:
        raise UnreadableDocument("no text in the page (only menus, links and forms, or nothing at all)")
    return Document(
        blocks=tuple(blocks),
        kind=Kind.HTML,
        title=title,
        date=iso_date(getattr(meta, "date", None)),
        source=optional_text(getattr(meta, "sitename", None)),
        author=optional_text(getattr(meta, "author", None)),
        url=optional_text(getattr(meta, "url", None)),
    )
