"""Vietnamese text in the pre-Unicode encodings TCVN3 (ABC) and VNI, back to Unicode.

Documents typed before Unicode was common in Vietnam store Vietnamese letters
as bytes that only the right font (".VnTime", "VNI-Times") draws correctly.
Read as Windows-1252 they look like "Hµ Néi" (TCVN3) or "Haø Noäi" (VNI)
for "Hà Nội": no search would find them.

* **TCVN3** is TCVN 5712:1993. Its VN3 subset (the ".Vn..." fonts) has the
  lower-case letters and Ă Â Ê Ô Ơ Ư Đ in 0xA1-0xFF; upper-case letters with
  a tone are written in the "H" fonts (".VnTimeH") with the lower-case codes.
  The full table (VN1) also places them in 0x01-0x17, 0x80-0x9F and the gaps
  of 0xA1-0xFF, and 0xB0-0xB4 are combining tone marks; this module decodes
  all of VN1, so the 134 letters round-trip. 0x80-0x9F are also where
  Windows-1252 keeps ‘ ’ “ ” … • – —, which Word writes into .VnTime text:
  those eight are read as letters only inside a word or at the end of an
  upper-case word (see :func:`_tcvn3_resolve`).
* **VNI** (VNI for Windows) writes a base letter followed by one Latin-1
  character per mark ("ộ" = "oä", "ờ" = "ôø"); a few letters are one
  character ("ơ" = "ô", "ư" = "ö", "đ" = "ñ", "ĩ" = "ó").

:func:`detect` decides by the words themselves: text is converted only when
most of its non-ASCII words are not Vietnamese syllables and become
Vietnamese syllables once converted, so Unicode Vietnamese, English and French
text are never touched.

One module past 400 lines because the legacy encodings' tables and the detector that tries
each of them are one job: detecting needs every table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import NamedTuple

# The 67 lower-case letters (12 vowels x 6 tones, less the 6 ASCII vowels, and đ),
# in the order of the tables below: each vowel with no tone, grave, acute, hook, tilde, dot.
_VOWELS = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
LOWER_LETTERS: tuple[str, ...] = (*(unicodedata.normalize("NFC", v + t) for v in _VOWELS for t in _TONES), "đ")
LETTERS: tuple[str, ...] = tuple(
    c for c in LOWER_LETTERS + tuple(c.upper() for c in LOWER_LETTERS) if not c.isascii()
)  # the 134 precomposed letters

# TCVN 5712:1993 codes in LOWER_LETTERS order (one row a vowel), then the upper case.
_TCVN3_LOWER = (
    "61 b5 b8 b6 b7 b9  a8 bb be bc bd c6  a9 c7 ca c8 c9 cb  65 cc d0 ce cf d1  aa d2 d5 d3 d4 d6"
    "  69 d7 dd d8 dc de  6f df e3 e1 e2 e4  ab e5 e8 e6 e7 e9  ac ea ed eb ec ee  75 ef f3 f1 f2 f4"
    "  ad f5 f8 f6 f7 f9  79 fa fd fb fc fe  ae"
)
_TCVN3_UPPER = (
    "41 80 83 81 82 84  a1 af c0 ba bf 85  a2 c1 c4 c2 c3 86  45 87 8a 88 89 8b  a3 c5 da cd d9 8c"
    "  49 8d 90 8e 8f 91  4f 92 95 93 94 96  a4 db ff e0 f0 97  a5 98 9b 99 9a 9c  55 9d 01 9e 9f 02"
    "  a6 04 11 05 06 12  59 13 16 14 15 17  a7"
)
# 0xB0-0xB4: combining grave, hook, tilde, acute, dot below.
_TCVN3_COMBINING = {0xB0: "\u0300", 0xB1: "\u0309", 0xB2: "\u0303", 0xB3: "\u0301", 0xB4: "\u0323"}
# Windows-1252 punctuation that shares a code with a VN1 upper-case letter: … ‘ ’ “ ” • – —
_TCVN3_PUNCT_CODES = frozenset({0x85, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97})
# … ‘ “ • – — : punctuation, not a letter, at the start of a word.
_TCVN3_WORD_START_PUNCT = frozenset({0x85, 0x91, 0x93, 0x95, 0x96, 0x97})
_TCVN3_CLOSING = frozenset({0x92, 0x94})  # ’ ”

# VNI: the mark characters after a base vowel, lower-case forms, in _TONES order
# (the no-tone entry is the shape mark: breve for ă, circumflex for â/ê/ô).
_VNI_TONE_MARKS = ("", "ø", "ù", "û", "õ", "ï")
_VNI_BREVE_MARKS = ("ê", "è", "é", "ú", "ü", "ë")  # ă ằ ắ ẳ ẵ ặ after "a"
_VNI_CIRCUMFLEX_MARKS = ("â", "à", "á", "å", "ã", "ä")  # â ầ ấ ẩ ẫ ậ after a/e/o
_VNI_I = ("i", "ì", "í", "æ", "ó", "ò")  # i ì í ỉ ĩ ị: one character each
_VNI_SINGLE = {"ơ": "ô", "ư": "ö", "đ": "ñ", "ỵ": "î"}


class Legacy(StrEnum):
    """A legacy Vietnamese encoding."""

    TCVN3 = "tcvn3"
    VNI = "vni"


class FontEncoding(NamedTuple):
    """What a legacy font name says about the text drawn with it."""

    encoding: Legacy
    uppercase: bool  # an ABC "H" font (".VnTimeH"): lower-case codes drawn as capitals


def _hex_codes(table: str) -> list[int]:
    return [int(h, 16) for h in table.split()]


@cache
def _tcvn3_encode_table() -> MappingProxyType[str, int]:
    upper = [c.upper() for c in LOWER_LETTERS]
    pairs = zip(LOWER_LETTERS + tuple(upper), _hex_codes(_TCVN3_LOWER) + _hex_codes(_TCVN3_UPPER), strict=True)
    return MappingProxyType({letter: code for letter, code in pairs if not letter.isascii()})


@cache
def _cp1252_codes() -> MappingProxyType[str, int]:
    """Every character a byte 0x80-0xFF decodes to, in Windows-1252 or in Latin-1, with its byte."""
    codes = {chr(b): b for b in range(0x80, 0x100)}
    for b in range(0x80, 0xA0):
        try:
            codes[bytes([b]).decode("cp1252")] = b
        except UnicodeDecodeError:
            continue  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: only the Latin-1 control character
    return MappingProxyType(codes)


@cache
def _tcvn3_translation() -> MappingProxyType[int, str]:
    """str.translate table from the legacy characters (as Latin-1 or cp1252) to Unicode."""
    by_code = {code: letter for letter, code in _tcvn3_encode_table().items()}
    by_code.update(_TCVN3_COMBINING)
    table: dict[int, str] = {}
    for ch, code in _cp1252_codes().items():
        if code in by_code and code not in _TCVN3_PUNCT_CODES:
            table[ord(ch)] = by_code[code]
    for code, letter in by_code.items():
        if code < 0x20:
            table[code] = letter
    return MappingProxyType(table)


@cache
def _tcvn3_ambiguous_chars() -> frozenset[str]:
    return frozenset(ch for ch, code in _cp1252_codes().items() if code in _TCVN3_PUNCT_CODES)


@cache
def _tcvn3_ambiguous() -> re.Pattern[str]:
    return re.compile("[" + re.escape("".join(sorted(_tcvn3_ambiguous_chars()))) + "]")


def _tcvn3_is_letter(ch: str) -> bool:
    """Does ``ch`` stand for a letter in TCVN3 text (before conversion)?"""
    if ch.isascii():
        return ch.isalpha()
    converted = _tcvn3_translation().get(ord(ch))
    return converted is not None and converted.isalpha()


def _tcvn3_is_upper(ch: str) -> bool:
    if ch.isascii():
        return ch.isupper()
    converted = _tcvn3_translation().get(ord(ch))
    return converted is not None and converted.isupper()


def _tcvn3_resolve(text: str, i: int, quote_open: bool) -> str:
    """The character at ``i``, one of … ‘ ’ “ ” • – —, as punctuation or as a VN1 capital.

    A capital sits inside a word ("ĐỊNH"), ends an upper-case word ("TRÒ") or
    starts a word ("Ò") unless it is an opening quote, a bullet, a dash or an
    ellipsis; elsewhere ("“một cửa”", " – ") it is the punctuation Word typed.
    After an opening quote, a closing one ending a word is a quote ("“KHÔNG”").
    """
    code = _cp1252_codes()[text[i]]
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    letter_before, letter_after = _tcvn3_is_letter(before), _tcvn3_is_letter(after)
    if letter_before:
        closes = quote_open and code in _TCVN3_CLOSING and not letter_after
        as_letter = not closes and (letter_after or _tcvn3_is_upper(before))
    else:
        as_letter = letter_after and code not in _TCVN3_WORD_START_PUNCT
    return _tcvn3_letters()[code] if as_letter else bytes([code]).decode("cp1252")


@cache
def _tcvn3_letters() -> MappingProxyType[int, str]:
    return MappingProxyType({code: letter for letter, code in _tcvn3_encode_table().items()})


def _tcvn3_to_unicode(text: str) -> str:
    ambiguous = _tcvn3_ambiguous()
    if ambiguous.search(text):
        parts: list[str] = []
        last = 0
        quote_open = False
        for m in ambiguous.finditer(text):
            parts.append(text[last : m.start()].translate(_tcvn3_translation()))
            resolved = _tcvn3_resolve(text, m.start(), quote_open)
            quote_open = resolved in "“‘" or (quote_open and resolved not in "”’")
            parts.append(resolved)
            last = m.end()
        parts.append(text[last:].translate(_tcvn3_translation()))
        converted = "".join(parts)
    else:
        converted = text.translate(_tcvn3_translation())
    return unicodedata.normalize("NFC", converted)


@cache
def _vni_encode_table() -> MappingProxyType[str, str]:
    table: dict[str, str] = {}
    for vowel in _VOWELS:
        for tone, tone_mark in zip(_TONES, _VNI_TONE_MARKS, strict=True):
            letter = unicodedata.normalize("NFC", vowel + tone)
            if vowel == "ă":
                code = "a" + _VNI_BREVE_MARKS[_TONES.index(tone)]
            elif vowel in "âêô":
                code = unicodedata.normalize("NFD", vowel)[0] + _VNI_CIRCUMFLEX_MARKS[_TONES.index(tone)]
            elif vowel == "i":
                code = _VNI_I[_TONES.index(tone)]
            elif vowel in "ơư":
                code = _VNI_SINGLE[vowel] + tone_mark
            elif vowel == "y" and tone == "\u0323":
                code = _VNI_SINGLE["ỵ"]
            else:
                code = vowel + tone_mark
            table[letter] = code
    table["đ"] = _VNI_SINGLE["đ"]
    for letter in list(table):
        table[letter.upper()] = table[letter].upper()
    return MappingProxyType({letter: code for letter, code in table.items() if not letter.isascii()})


@cache
def _vni_decode_table() -> MappingProxyType[str, str]:
    table = {code: letter for letter, code in _vni_encode_table().items()}
    # A capital base with lower-case marks ("Aù") is read as the capital letter too.
    for code, letter in list(table.items()):
        if len(code) == 2 and code[0].isupper():
            table.setdefault(code[0] + code[1].lower(), letter)
    return MappingProxyType(table)


@cache
def _vni_pattern() -> re.Pattern[str]:
    codes = sorted(_vni_decode_table(), key=len, reverse=True)  # longest match first
    return re.compile("|".join(re.escape(c) for c in codes))


@cache
def _c1_as_cp1252() -> MappingProxyType[int, str]:
    """Latin-1 control characters 0x80-0x9F as the Windows-1252 punctuation those bytes are."""
    return MappingProxyType({code: ch for ch, code in _cp1252_codes().items() if code < 0xA0 and ord(ch) != code})


def _vni_to_unicode(text: str) -> str:
    # VNI leaves 0x80-0x9F to Windows-1252 (quotes, dashes, ellipsis).
    text = text.translate(_c1_as_cp1252())
    table = _vni_decode_table()
    return unicodedata.normalize("NFC", _vni_pattern().sub(lambda m: table[m.group(0)], text))


def to_unicode(text: str, encoding: Legacy, *, uppercase: bool = False) -> str:
    """Legacy-encoded text (its bytes read as Windows-1252 or Latin-1) as Unicode NFC.

    ``uppercase``: the text was drawn with an ABC "H" font (capitals).
    """
    converted = _tcvn3_to_unicode(text) if encoding is Legacy.TCVN3 else _vni_to_unicode(text)
    return converted.upper() if uppercase else converted


def decode_bytes(data: bytes, encoding: Legacy) -> str:
    """Legacy-encoded bytes as Unicode NFC."""
    return to_unicode(data.decode("latin-1"), encoding)


def from_unicode(text: str, encoding: Legacy) -> bytes:
    """Unicode text in a legacy encoding (for tests and fixtures).

    Characters that are not Vietnamese letters are written as Windows-1252;
    a character that has no byte there raises ``ValueError``.
    """
    text = unicodedata.normalize("NFC", text)
    out = bytearray()
    if encoding is Legacy.TCVN3:
        table = _tcvn3_encode_table()
        for ch in text:
            out += bytes([table[ch]]) if ch in table else _cp1252_byte(ch)
    else:
        vni = _vni_encode_table()
        for ch in text:
            out += vni[ch].encode("latin-1") if ch in vni else _cp1252_byte(ch)
    return bytes(out)


def _cp1252_byte(ch: str) -> bytes:
    try:
        return ch.encode("cp1252")
    except UnicodeEncodeError:
        raise ValueError(f"{ch!r} (U+{ord(ch):04X}) has no byte in the legacy encodings") from None


def font_encoding(font: str | None) -> FontEncoding | None:
    """The legacy encoding a font name implies (".VnTime" -> TCVN3, "VNI-Times" -> VNI), if any."""
    if not font:
        return None
    name = font.strip()
    lowered = name.lower()
    if lowered.startswith(".vn"):
        return FontEncoding(Legacy.TCVN3, uppercase=name.endswith("H"))
    if lowered.startswith(("vni-", "vni ")):
        return FontEncoding(Legacy.VNI, uppercase=False)
    return None


# --- detection ------------------------------------------------------------------------

_ONSETS = "ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdđghklmnprstvx]"
# The written vowel clusters of Vietnamese syllables (shapes kept, tones removed).
_NUCLEI = (
    "a ă â e ê i o ô ơ u ư y ai ao au ay âu ây eo êu ia iê iu oa oă oe oi oo ôi ơi ua uâ uê ui uô uơ uy "
    "ưa ưi ưu ươ yê iêu yêu oai oao oay oeo uây uôi uya uyê uyu ươi ươu"
).split()
_SYLLABLE = re.compile(rf"(?:{_ONSETS})?(?:{'|'.join(sorted(_NUCLEI, key=len, reverse=True))})(?:ch|nh|ng|[cmnpt])?")
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_SHAPE_MARKS = {"\u0302": "aeo", "\u0306": "a", "\u031b": "ou"}  # circumflex, breve, horn
_TOKEN_SPLIT = re.compile(r"[\s\-–—/]+")
_EDGE_PUNCT = "\"'()[]{}<>.,;:!?“”‘’«»…*•"
# Enough non-ASCII words to judge; below it the text is left as it is.
MIN_WORDS = 3
# Convert when at most this share of the words is Vietnamese as written...
MAX_SHARE_BEFORE = 0.5
# ... and at least this share is once converted.
MIN_SHARE_AFTER = 0.8


def is_vietnamese_syllable(word: str) -> bool:
    """Is ``word`` shaped like one Vietnamese syllable: onset, a vowel cluster, coda, at most one tone?"""
    decomposed = unicodedata.normalize("NFD", word.lower())
    skeleton: list[str] = []
    tones = 0
    for ch in decomposed:
        if ch in _TONE_MARKS:
            tones += 1
            if tones > 1 or not skeleton or skeleton[-1][0] not in "aeiouy":
                return False
        elif ch in _SHAPE_MARKS:
            if not skeleton or skeleton[-1] not in _SHAPE_MARKS[ch]:
                return False
            skeleton[-1] += ch
        elif ch.isascii() or ch == "đ":
            skeleton.append(ch)
        else:
            return False
    return _SYLLABLE.fullmatch(unicodedata.normalize("NFC", "".join(skeleton))) is not None


def vietnamese_share(text: str) -> tuple[int, int]:
    """(Vietnamese syllables, words) among the words of ``text`` that have a non-ASCII character."""
    valid = total = 0
    for token in _TOKEN_SPLIT.split(text):
        word = token.strip(_EDGE_PUNCT)
        if not word or word.isascii() or any(c.isdigit() for c in word):
            continue
        total += 1
        valid += is_vietnamese_syllable(word)
    return valid, total


def _share(text: str) -> float | None:
    valid, total = vietnamese_share(text)
    return valid / total if total >= MIN_WORDS else None


# Characters no Unicode Vietnamese or Western text has inside words, but legacy text does.
_TCVN3_HINT = re.compile(r"[a-zA-Z][\u00a1-\u00bf\u00d7\u00de\u00df]|[\u00a1-\u00bf\u00d7\u00de\u00df][a-z]")
_VNI_HINT = re.compile(r"[aeouyAEOUYôöÔÖ][øùûõïêèéúüëâàáåãäØÙÛÕÏÊÈÉÚÜËÂÀÁÅÃÄ]|[ñÑ]")
# Detection looks at this much text; a whole book is not needed to tell.
DETECT_CHARS = 20_000


def detect(text: str) -> Legacy | None:
    """The legacy encoding ``text`` is in, or None for Unicode (or too little text to tell).

    Converted only when the conversion turns mostly non-Vietnamese words into
    mostly Vietnamese syllables (:data:`MAX_SHARE_BEFORE`, :data:`MIN_SHARE_AFTER`).
    """
    sample = text[:DETECT_CHARS]
    candidates = [enc for enc, hint in ((Legacy.TCVN3, _TCVN3_HINT), (Legacy.VNI, _VNI_HINT)) if hint.search(sample)]
    if not candidates:
        return None
    before = _share(sample)
    if before is None or before > MAX_SHARE_BEFORE:
        return None
    best: tuple[float, Legacy] | None = None
    for enc in candidates:
        after = _share(to_unicode(sample, enc))
        if after is not None and after >= MIN_SHARE_AFTER and (best is None or after > best[0]):
            best = (after, enc)
    return best[1] if best else None


def fix_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` (one document's paragraphs) with legacy-encoded ones converted.

    The encoding is detected on the whole document; each paragraph is then
    converted unless it already reads as Vietnamese (a document can mix a
    Unicode paragraph with legacy ones).
    """
    sample: list[str] = []
    size = 0
    for text in texts:
        if size >= DETECT_CHARS:
            break
        sample.append(text)
        size += len(text) + 1
    encoding = detect("\n".join(sample))
    if encoding is None:
        return list(texts)
    fixed: list[str] = []
    for text in texts:
        share = _share(text)
        keep = share is not None and share > MAX_SHARE_BEFORE
        fixed.append(text if keep else to_unicode(text, encoding))
    return fixed
