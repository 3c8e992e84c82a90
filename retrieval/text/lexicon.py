"""Common Vietnamese words: which words of a question are ordinary language.

A question word the articles never use says they are not about the question,
but how strongly depends on the word: "Broncos", "Lindisfarne" or a product
code name a specific thing the articles would have to mention, while "thương
vong", "mình", "hỏi" are everyday words that articles may simply phrase
otherwise. The answer-or-refuse decision weighs the two apart
(:mod:`retrieval.answer.confidence`), and needs a list of ordinary words to tell
them: the general Vietnamese dictionary that underthesea ships (Viet74K, about
74,000 words and phrases), read from the installed package, never downloaded.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from retrieval.index.vocabulary import Vocabulary
from retrieval.text.normalize import fold_diacritics, normalize

log = logging.getLogger(__name__)

# Inside the underthesea package.
DICTIONARY = Path("corpus") / "data" / "Viet74K.txt"


def _dictionary_file() -> Path | None:
    spec = importlib.util.find_spec("underthesea")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / DICTIONARY
    return path if path.is_file() else None


class Lexicon:
    """Index terms (``thương_vong``) and folded syllables (``thuong``) of ordinary Vietnamese words."""

    def __init__(self, words: Iterable[str]):
        words = words if isinstance(words, (set, frozenset)) else set(words)
        # The words in a Vocabulary (one UTF-8 buffer and sorted 64-bit keys, exact lookups):
        # about 2 MB where a frozenset of underthesea's 72,000 words held 10 MB for the
        # service's lifetime; a question looks up a handful, a few microseconds each.
        self._words = Vocabulary.from_terms(words)
        # Each distinct syllable folded once (the words repeat them: 150,000 -> 7,000).
        self._syllables = frozenset(map(fold_diacritics, {s for w in words for s in w.split("_")}))

    @property
    def syllables(self) -> frozenset[str]:
        return self._syllables

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        """The words (index terms), in no particular order."""
        return iter(self._words)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Lexicon:
        terms = set()
        for line in lines:
            for entry in line.split(","):  # "ă,Ă"
                entry = normalize(entry.strip())
                if entry and not entry.isdigit():
                    terms.add("_".join(entry.replace("-", " ").split()))
        return cls(terms)

    @classmethod
    def load(cls) -> Lexicon:
        """underthesea's dictionary; an empty lexicon (every unknown word counts as specific)
        with a warning when the package does not ship it."""
        path = _dictionary_file()
        if path is None:
            log.warning(
                "underthesea's word list (%s) not found: every word the articles lack counts as "
                "a specific one, so more questions are refused",
                DICTIONARY,
            )
            return cls(())
        with path.open(encoding="utf-8") as lines:  # line by line: the whole file's lines at once
            return cls.from_lines(lines)  # would stay in the heap as garbage (8 MB)

    def common(self, term: str) -> bool:
        """Is ``term`` (a word, syllables joined by '_') an ordinary Vietnamese word?"""
        return term.replace("-", "_") in self._words

    def common_folded(self, syllable: str) -> bool:
        """Is ``syllable`` (without diacritics) a syllable of ordinary Vietnamese words?"""
        return syllable in self.syllables


class DeferredLexicon(Lexicon):
    """:meth:`Lexicon.load` in a background thread, started now: a service opens (the index's
    check, the segmentation model) while the dictionary is read (about 0.3 s), and the first
    question that needs it waits only for what is left."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._loaded: Lexicon | None = None
        threading.Thread(target=self._load, name="load-lexicon", daemon=True).start()

    def _load(self) -> None:
        try:
            self._loaded = Lexicon.load()
        except Exception:  # without the dictionary every unknown word counts as specific
            log.exception("could not read underthesea's word list")
        finally:
            self._done.set()

    def _lexicon(self) -> Lexicon:
        self._done.wait()
        return self._loaded if self._loaded is not None else Lexicon(())

    def __len__(self) -> int:
        return len(self._lexicon())

    def __iter__(self) -> Iterator[str]:
        return iter(self._lexicon())

    def common(self, term: str) -> bool:
        return self._lexicon().common(term)

    def common_folded(self, syllable: str) -> bool:
        return self._lexicon().common_folded(syllable)

    @property
    def syllables(self) -> frozenset[str]:
        return self._lexicon().syllables
