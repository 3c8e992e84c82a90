"""Text normalization for matching (never for quoting).

Index terms and queries pass through exactly the same function:
Unicode NFC (so NFD input matches), case folding, and one tone-mark
placement (``hoà`` -> ``hòa``, ``toả`` -> ``tỏa``, ``thuỷ`` -> ``thủy``,
``khoẻ`` -> ``khỏe``).
"""

from __future__ import annotations

import re
import unicodedata

# The five Vietnamese tone marks as combining characters.
_TONES = "\u0300\u0301\u0309\u0303\u0323"  # grave, acute, hook above, tilde, dot below

# In an open syllable ending in "oa", "oe" or "uy", the "new" style puts the
# tone on the last vowel (hoà, khoẻ, thuỷ) and the "old" one on the first
# (hòa, khỏe, thủy). We keep the old style, which most Vietnamese text and
# underthesea's own normalizer use. "qu" + "y" is an onset plus a vowel
# (quý), so it is left alone.
_NEW_STYLE = re.compile(
    rf"(?<![q\w])(?P<pre>\w*?)(?<!q)(?P<v1>[ou])(?P<v2>[aey])(?P<tone>[{_TONES}])(?!\w)", re.IGNORECASE
)
_CLUSTERS = {("o", "a"), ("o", "e"), ("u", "y")}
# What every match of _NEW_STYLE contains: a cheap search that rules out most
# texts (most words have no such syllable) before the costly substitution.
_CANDIDATE = re.compile(rf"[ou][aey][{_TONES}](?!\w)", re.IGNORECASE)


def _move_tone(match: re.Match[str]) -> str:
    v1, v2 = match["v1"], match["v2"]
    if (v1.lower(), v2.lower()) not in _CLUSTERS:
        return match.group(0)
    return f"{match['pre']}{v1}{match['tone']}{v2}"


def normalize_tone_placement(text: str) -> str:
    """Put tone marks of open ``oa``/``oe``/``uy`` syllables on the first vowel.

    Works on any casing; returns NFC text.
    """
    # Under NFD, a vowel with its own shape mark (â, ê, ơ...) carries that mark
    # right after it, so "oa" + tone only matches plain o/u followed by a/e/y.
    # The substitution moves characters with their own case.
    decomposed = unicodedata.normalize("NFD", text)
    if _CANDIDATE.search(decomposed) is None:
        # Nothing to move: NFC of the decomposed text is NFC of the text.
        return unicodedata.normalize("NFC", text)
    return unicodedata.normalize("NFC", _NEW_STYLE.sub(_move_tone, decomposed))


def _tone_placement_slow(text: str) -> str:
    """The definition :func:`normalize_tone_placement` must agree with (the tests compare them)."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", _NEW_STYLE.sub(_move_tone, decomposed))


def normalize(text: str) -> str:
    """NFC, case folding and one tone-mark placement: the matching form."""
    text = unicodedata.normalize("NFC", text).casefold()
    return normalize_tone_placement(text)


def _fold_slow(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("đ", "d").replace("Đ", "D")


def _fold_table() -> dict[int, str | None]:
    """Precomposed Latin letters (Vietnamese included) -> their base letters;
    combining marks -> nothing. Built from the slow definition, so it agrees."""
    table: dict[int, str | None] = {}
    for start, end in ((0x00C0, 0x0250), (0x1E00, 0x1F00)):
        for code in range(start, end):
            folded = _fold_slow(chr(code))
            if folded != chr(code):
                table[code] = folded
    for code in range(0x0300, 0x0370):  # combining diacritical marks (not the grapheme joiner)
        if unicodedata.combining(chr(code)):
            table[code] = None
    return table


_FOLD = _fold_table()


def fold_diacritics(text: str) -> str:
    """Drop every Vietnamese diacritic: NFD, strip combining marks, đ -> d.

    A translation table does it in one pass for Latin text; anything it does
    not cover (other scripts' accents) goes through the full NFD path, so the
    result is always that of the definition.
    """
    out = text.translate(_FOLD)
    return out if out.isascii() else _fold_slow(out)
