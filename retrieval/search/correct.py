"""Typing slips in a question, corrected against the index's own vocabulary.

People type fast: "chugn" for "chung", "truyen thog", "Ghandi", "Bedigo". A
word the index has never seen can neither match nor, worse, be told from a
word that shows the articles are not about the question. A syllable that is
unknown but one edit away (a letter dropped, added, changed or two swapped)
from a syllable the index holds is read as that syllable; among several, the
one in the most sentences wins (Norvig's spelling corrector, with the index
as the dictionary).

Only syllables without diacritics are corrected, in the index's diacritic-free
syllable field: a question typed without diacritics is matched there anyway,
and in a question typed with them, the words without any are names and
foreign words, spelled the same in both fields. Short syllables (under
:data:`MIN_LETTERS`) are left alone: one edit away from a three-letter syllable
lies almost every other one.

The lookups are in the index's hash table, a few microseconds each: about a
millisecond for an unknown syllable, nothing for a question whose words are known.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Sequence

from retrieval.index.bm25 import Bm25
from retrieval.text.normalize import fold_diacritics

# Syllables shorter than this are never corrected.
MIN_LETTERS = 4
_LETTERS = string.ascii_lowercase + string.digits


def edits1(word: str) -> Iterator[str]:
    """Every string one deletion, transposition, substitution or insertion away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    for left, right in splits:
        if right:
            yield left + right[1:]
        if len(right) > 1:
            yield left + right[1] + right[0] + right[2:]
        for c in _LETTERS:
            if right:
                yield left + c + right[1:]
            yield left + c + right


class Corrector:
    """Corrects unknown syllables against one field of syllables without diacritics."""

    def __init__(self, field: Bm25):
        self.field = field

    def _known(self, syllable: str) -> bool:
        return self.field.column(syllable) is not None

    def _df(self, syllable: str) -> int:
        col = self.field.column(syllable)
        return 0 if col is None else self.field.doc_freq(col)

    def syllable(self, syllable: str) -> str:
        """``syllable`` itself when it is known, too short, not plain ASCII letters and digits,
        or has no known neighbour; else its most frequent known neighbour one edit away."""
        if len(syllable) < MIN_LETTERS or not syllable.isascii() or not syllable.isalnum() or self._known(syllable):
            return syllable
        best, best_df = syllable, 0
        for candidate in set(edits1(syllable)):
            df = self._df(candidate)
            if df > best_df or (df == best_df and df and candidate < best):
                best, best_df = candidate, df
        return best

    def words(self, words: Sequence[str]) -> tuple[str, ...]:
        """The segmented words of a question with their unknown syllables corrected. Only words
        without diacritics are looked at (a word with them is spelled as the writer meant it)."""
        out = []
        for word in words:
            if fold_diacritics(word) != word:
                out.append(word)
                continue
            parts = word.split("_")
            fixed = [self.syllable(p) for p in parts]
            out.append("_".join(fixed) if fixed != parts else word)
        return tuple(out)
