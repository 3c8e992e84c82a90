"""Words written differently that mean the same, made one term on both sides.

An article writes "19,3%", "30°C", "1.200 MW", "TP.HCM"; a question asks for
"phần trăm", "độ C", "1200", "Sài Gòn". Left alone, such a question word is
unknown to the index: it cannot match, and it counts as evidence that the
articles are not about the question. :class:`Variants` rewrites every form of a
meaning into one canonical spelling before words are segmented, in articles
(when the index is built) and in questions alike, so both sides hold the same
term. Quotes are untouched: only the terms come from the rewritten text.

What the index must store and what a question could only expand: symbols and
units ("%", "°C", "km", "$") are no terms at all until rewritten (the tokenizer
drops punctuation), numbers are one term per spelling ("1.200" is not "1200"),
and an article may use the short form of a place ("HN") that a question spells
out: all of these are rewritten at index time too. Abbreviations that articles
spell out as often as they shorten ("UBND", "CNTT") stay a question-side
expansion (``retrieval.abbreviations``), which keeps both forms.

Number formats follow Vietnamese usage: "." groups thousands ("1.200" and
"3.000.000" become "1200", "3000000"), "," marks decimals ("1,5" becomes
"1.5", which is also how "1.5" is written in translated text).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache

from retrieval.text.normalize import fold_diacritics, normalize

# "1.200", "3.000.000": a thousands separator is a dot followed by exactly three digits.
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})+(?![\d]|[.,]\d)")
# "1,5", "19,3": a decimal comma between digits.
_DECIMAL = re.compile(r"(?<=\d),(?=\d)")


def _edge(form: str) -> tuple[str, str]:
    """Look-arounds for ``form``: it must not continue a word on a side where it starts or
    ends with a letter ("km" in "100km" is a unit, in "kmt" it is not); a symbol has no edge."""
    before = r"(?<![^\W\d_])" if form[0].isalpha() else ""
    after = r"(?![^\W\d_])" if form[-1].isalpha() else ""
    return before, after


class Variants:
    """Rewrites text so that each group of equivalent forms reads as the group's first form.

    ``groups``: each a canonical form followed by its other spellings (matched case- and
    tone-placement-insensitively; a form's spelling without diacritics matches too, for
    questions typed without them).
    """

    def __init__(self, groups: Sequence[Sequence[str]]):
        self.groups = tuple(tuple(g) for g in groups)
        canonical: dict[str, str] = {}
        for group in self.groups:
            if len(group) < 2:
                raise ValueError(f"an equivalence group needs a canonical form and at least one other: {group!r}")
            target = normalize(group[0])
            for form in group[1:]:
                for spelling in {normalize(form), fold_diacritics(normalize(form))}:
                    if spelling.strip() and spelling != target:
                        canonical.setdefault(spelling.strip(), target)
        self._canonical = canonical
        alternatives = []
        for form in sorted(canonical, key=len, reverse=True):  # longest first: "tp.hcm" before "hcm"
            before, after = _edge(form)
            alternatives.append(before + re.escape(form).replace(r"\ ", r"\s+") + after)
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    @property
    def digest(self) -> str:
        """What the rewriting depends on: part of the index's identity."""
        h = hashlib.sha256(b"numbers-v1")
        for form, target in sorted(self._canonical.items()):
            h.update(f"\0{form}\1{target}".encode())
        return h.hexdigest()[:16]

    def _replace(self, match: re.Match[str]) -> str:
        key = " ".join(match.group(0).split())
        return f" {self._canonical.get(key, key)} "

    def __call__(self, text: str) -> str:
        """``text`` (already :func:`~retrieval.text.normalize.normalize`-d) with every form rewritten."""
        if any(ch.isdigit() for ch in text):
            text = _THOUSANDS.sub(lambda m: m.group(0).replace(".", ""), text)
            text = _DECIMAL.sub(".", text)
        if self._pattern is not None:
            text = self._pattern.sub(self._replace, text)
        return text


@lru_cache(maxsize=8)
def variants_for(groups: tuple[tuple[str, ...], ...]) -> Variants:
    """The :class:`Variants` of a configured table, one object per table: a segmenter built
    with it is recognised as already rewriting, and the patterns are compiled once."""
    return Variants(groups)
