"""Article text -> title, source, date and body paragraphs, without site boilerplate.

News pages saved as text carry the site around the article: a dateline,
photo captions, credit lines, related-news blocks, comment forms, and lines
mangled by a wrong encoding. This module keeps the article and finds its
metadata. The markers and patterns it uses come from ``config.yaml``
(:class:`~retrieval.config.IngestConfig`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice

from retrieval.config import IngestConfig
from retrieval.text.normalize import normalize

# Sentence-ending punctuation, possibly followed by closing quotes/brackets.
_TERMINAL = re.compile(r"[.!?…:;][\"'”’»)\]]*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•+–]|\d{1,3}[.)])\s+")
_DMY = re.compile(r"(?<!\d)(\d{1,2})\s*([/.-])\s*(\d{1,2})\s*\2\s*(\d{4})(?!\d)")
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_VERBAL = re.compile(r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})", re.IGNORECASE)
# What may surround a date on a dateline: weekday names, times, AM/PM, GMT.
_DATELINE_FILLER = re.compile(
    r"(thứ\s+(hai|ba|tư|năm|sáu|bảy)|chủ\s+nhật|\d{1,2}[:h]\d{2}(:\d{2})?|\b(am|pm|gmt|utc)\b"
    r"|[+-]\d{1,2}|\d+\s+(trả lời|bình luận|lượt xem)|cập nhật|đăng|ngày)",
    re.IGNORECASE,
)
# A title that ends with its own timestamp: "Title (11:09 22/03/2017)".
_TITLE_STAMP = re.compile(r"\s*[(\[]\s*(\d{1,2}:\d{2}\s*)?\d{1,2}[/.-]\d{1,2}[/.-]\d{4}(\s*\d{1,2}:\d{2})?\s*[)\]]\s*$")
_AGENCY_PREFIX = re.compile(r"^\s*(?:\((?P<a>[A-ZĐ]{2,6})\)\s*|(?P<b>[A-ZĐ]{2,6})\s+[-–—]\s+)")
# Mojibake: replacement characters, "?" inside words from a lossy re-encode,
# or UTF-8 read as Latin-1/cp1252 ("Ã¡", "Ä‘", "áº").
_MOJIBAKE = re.compile(r"\ufffd|[ÃÄÆ][\u0080-\u00bf\u0152-\u0178\u2018-\u203a]|á»|áº")
_QMARK_IN_WORD = re.compile(r"[^\W\d_]\?[^\W\d_]")


@dataclass(frozen=True)
class Cleaned:
    """What :func:`clean_text` keeps of an article."""

    title: str
    source: str | None
    date: str | None
    paragraphs: tuple[str, ...]
    # The line of the text (0-based) each paragraph starts on: where it came from.
    lines: tuple[int, ...] = ()


def parse_date(text: str) -> str | None:
    """The first complete date (day, month and year) in ``text``, as ISO ``YYYY-MM-DD``."""
    candidates: list[tuple[int, int, int, int]] = []  # (position, year, month, day)
    for m in _DMY.finditer(text):
        candidates.append((m.start(), int(m[4]), int(m[3]), int(m[1])))
    for m in _ISO.finditer(text):
        candidates.append((m.start(), int(m[1]), int(m[2]), int(m[3])))
    for m in _VERBAL.finditer(text):
        candidates.append((m.start(), int(m[3]), int(m[2]), int(m[1])))
    for _, year, month, day in sorted(candidates):
        try:
            return dt.date(year, month, day).isoformat()
        except ValueError:
            continue
    return None


def has_terminal_punctuation(line: str) -> bool:
    return bool(_TERMINAL.search(line))


def is_mojibake(line: str) -> bool:
    if _MOJIBAKE.search(line):
        return True
    # Two "?" inside words; most lines have no "?" at all, and two matches are enough.
    return "?" in line and next(islice(_QMARK_IN_WORD.finditer(line), 1, None), None) is not None


def _is_dateline(line: str) -> bool:
    """A short line that is only a date with its weekday/time decorations."""
    if len(line) > 100 or parse_date(line) is None:
        return False
    rest = _DMY.sub(" ", line)
    rest = _ISO.sub(" ", rest)
    rest = _DATELINE_FILLER.sub(" ", rest)
    words = [w for w in re.split(r"[\s,|·•\-–—/()]+", rest) if any(c.isalpha() for c in w)]
    return len(words) <= 2


def _clean_title(line: str) -> str:
    return _TITLE_STAMP.sub("", line).strip(" \t-–—|")


def _is_real_line(line: str) -> bool:
    """Debris such as ``--> -->`` or a lone separator is not a title (at least 3 letters)."""
    letters = 0
    for ch in line:
        if ch.isalpha():
            letters += 1
            if letters == 3:
                return True
    return False


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


@lru_cache(maxsize=64)
def _marker_forms(markers: tuple[str, ...]) -> frozenset[str]:
    """The cut markers in their matching form (once per configuration, not per article)."""
    return frozenset(normalize(m).rstrip(":").strip() for m in markers)


def _continues(line: str) -> bool:
    """Does ``line`` read as the rest of an unfinished previous line?

    It starts in lower case, or with a digit that is not a list number
    ("O\n2 trong máu" continues; "2. Bước hai" does not).
    """
    return line[0].islower() or (line[0].isdigit() and not _LIST_ITEM.match(line))


def _blocks(lines: list[str]) -> list[tuple[int, str]]:
    """Join hard-wrapped lines (a line without final punctuation followed by a
    line that continues it) into one block; other lines stand alone.
    Each block comes with the index of its first line."""
    blocks: list[tuple[int, str]] = []
    prev_open = False
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            blocks.append((i, ""))
            prev_open = False
            continue
        if prev_open and blocks and blocks[-1][1] and _continues(line):
            blocks[-1] = (blocks[-1][0], blocks[-1][1] + "\n" + line)
        else:
            blocks.append((i, line))
        prev_open = not has_terminal_punctuation(line)
    return blocks


def clean_text(
    text: str,
    rules: IngestConfig,
    *,
    title: str | None = None,
    source: str | None = None,
    date: str | None = None,
    text_lines: frozenset[int] = frozenset(),
    heading_lines: frozenset[int] = frozenset(),
) -> Cleaned:
    """Split an article into title, source, date and body paragraphs.

    ``title``/``source``/``date`` given by the caller (front matter, JSONL
    fields, a document's metadata) win over what is found in the text.
    What a document's format tells about its lines (0-based) overrides the
    guess from their look: ``text_lines`` are text though they may look like
    headings (table rows have no sentence end), ``heading_lines`` are headings
    though they may look like text (a numbered "1. Mục đích").
    """
    lines = text.splitlines()
    markers = _marker_forms(rules.cut_markers)
    # A paragraph is usually both a line (the marker check) and a block (the
    # repeated-title check): normalize it once.
    normalized: dict[str, str] = {}

    def norm(line: str) -> str:
        form = normalized.get(line)
        if form is None:
            form = normalized[line] = normalize(line)
        return form

    drop_patterns = _compiled(rules.drop_line_patterns)
    source_patterns = _compiled(rules.source_line_patterns)

    # Title: the first real line, unless given.
    first = next((i for i, ln in enumerate(lines) if _is_real_line(ln)), None)
    header_title_line = ""
    if first is not None and (title is None or normalize(_clean_title(lines[first])) == normalize(title)):
        header_title_line = lines[first]
        title = title or _clean_title(lines[first])
        offset = first + 1
    else:
        offset = first if first is not None else len(lines)
    body_lines = lines[offset:]
    title = (title or "").strip()

    # Everything from the first related-news / comments marker on is the site's.
    for i, ln in enumerate(body_lines):
        if norm(ln).strip().rstrip(":").strip() in markers:
            body_lines = body_lines[:i]
            break

    # Date: only from the title line and short header lines.
    if date is None:
        header = [header_title_line, *[ln for ln in body_lines if ln.strip()][: rules.date_header_lines]]
        for ln in header:
            if ln is header_title_line or len(ln.strip()) < 100:
                date = parse_date(ln)
                if date:
                    break

    found_source: str | None = None
    paragraphs: list[str] = []
    starts: list[int] = []
    norm_title = normalize(title)
    after_image = False  # the line after a repeated title (image alt) is its caption
    for at, block in _blocks(body_lines):
        if not block:
            continue
        if norm_title and norm(block) == norm_title:
            after_image = True
            continue
        words = len(block.split())
        if after_image:
            after_image = False
            if words <= 30 and len(re.findall(r"[.!?](?:\s|$)", block)) <= 1:
                continue
        if is_mojibake(block) or any(p.search(block) for p in drop_patterns):
            continue
        if words <= 12:
            hit = next((m for p in source_patterns if (m := p.search(block))), None)
            if hit is not None:
                name = hit.groupdict().get("source") or hit.group(0)
                name = name.split("/")[-1].strip(" .,;:-–—")
                found_source = found_source or (name or None)
                continue
        if _is_dateline(block):
            continue
        line = offset + at
        if line in heading_lines or (
            not has_terminal_punctuation(block)
            and words <= rules.max_heading_words
            and not _LIST_ITEM.match(block)
            and line not in text_lines
        ):
            continue
        paragraphs.append(block)
        starts.append(line)

    # An agency tag opening the lead ("(CLO) ", "HNP - ") names the source and
    # is not part of any sentence worth quoting.
    if paragraphs:
        m = _AGENCY_PREFIX.match(paragraphs[0])
        if m:
            abbr = m["a"] or m["b"]
            found_source = found_source or rules.source_aliases.get(abbr)
            paragraphs[0] = paragraphs[0][m.end() :]

    kept = [(p, line) for p, line in zip(paragraphs, starts) if p.strip()]
    return Cleaned(
        title=title,
        source=source or found_source,
        date=date,
        paragraphs=tuple(p for p, _ in kept),
        lines=tuple(line for _, line in kept),
    )
