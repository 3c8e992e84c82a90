"""Term functions shared by indexing and questions: the same words become the same terms on both sides."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain, pairwise

from retrieval.text.normalize import fold_diacritics


def has_diacritics(text: str) -> bool:
    """True when the text has any Vietnamese diacritic (or đ)."""
    return any(unicodedata.combining(ch) for ch in unicodedata.normalize("NFD", text)) or "đ" in text.lower()


def expand(words: Iterable[str]) -> tuple[str, ...]:
    """Index terms of the word field: each word, plus the syllables of compound words.

    ``dân_số`` also yields ``dân`` and ``số``, so a question that says "dân"
    finds a sentence that says "dân số", while an exact compound match counts more.
    """
    out: list[str] = []
    for w in words:
        out.append(w)
        if "_" in w:
            out.extend(s for s in w.split("_") if s)
    return tuple(out)


# Indexing folds every sentence's words (and every article's) more than once,
# and a corpus repeats a small vocabulary millions of times: each word is folded
# once (a bounded cache that keeps the most used words).
@lru_cache(maxsize=1 << 16)
def _folded_syllables(word: str) -> tuple[str, ...]:
    return tuple(fold_diacritics(s) for s in word.split("_") if s)


def fold_terms(words: Iterable[str]) -> tuple[str, ...]:
    """Terms of the diacritic-free field: folded syllables."""
    return tuple(chain.from_iterable(map(_folded_syllables, words)))


def bigrams(words: Iterable[str]) -> tuple[str, ...]:
    """Terms of the phrase field: pairs of consecutive syllables ("lưu vực sông" ->
    "lưu+vực", "vực+sông"), which match phrases whatever the word segmentation."""
    syl = [s for w in words for s in w.split("_") if s]
    return tuple(map("+".join, pairwise(syl)))
