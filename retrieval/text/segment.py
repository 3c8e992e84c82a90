"""Sentence splitting and word segmentation (underthesea), with offsets kept.

Sentences are returned as character spans of the original paragraph, so a
quote is always the article's own text. Terms are the normalized, segmented
words of a text (``"hà_nội"``), which is what the index and the queries use.
The word tokenizer is injected so tests can pass a whitespace splitter.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import lru_cache
from sys import intern

from retrieval.text.normalize import normalize

WordTokenizer = Callable[[str], list[str]]
SentenceSplitter = Callable[[str], list[str]]

_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


def _underthesea_words(text: str) -> list[str]:
    from underthesea import word_tokenize

    return word_tokenize(text)


_fast_lock = threading.Lock()
_fast: WordTokenizer | None = None


def _fast_underthesea_words() -> WordTokenizer:
    """underthesea's word segmentation, same words, about twice as fast (:mod:`retrieval.text.wordseg`).

    Loading it takes about 0.2 s more than underthesea's model alone, so only
    bulk segmentation (building an index) asks for it.
    """
    global _fast
    if _fast is None:
        with _fast_lock:
            if _fast is None:
                from retrieval.text import wordseg

                _fast = wordseg.load()
    return _fast


def _underthesea_sentences(text: str) -> list[str]:
    from underthesea import sent_tokenize

    return sent_tokenize(text)


def underthesea_version() -> str:
    """The installed underthesea's version, read from its metadata (importing it takes 0.7 s)."""
    from importlib import metadata

    try:
        return metadata.version("underthesea")
    except metadata.PackageNotFoundError:
        return "unknown"


def _to_term_slow(token: str) -> str:
    """The definition :func:`to_term` must agree with (the tests compare them)."""
    syllables = (_EDGE_PUNCT.sub("", s) for s in token.split())
    return "_".join(s for s in syllables if s)


def to_term(token: str) -> str:
    """One segmented word -> one index term: syllables joined by '_', edge punctuation cut."""
    # ``[\W_]`` is exactly "not str.isalnum()", so a syllable that is all
    # letters and digits has no edge to cut: most words take this path.
    if token.isalnum():
        return token
    syllables = token.split()
    if all(s.isalnum() for s in syllables):
        return "_".join(syllables)
    return _to_term_slow(token)


class Segmenter:
    """Splits paragraphs into sentence spans and texts into index terms."""

    def __init__(
        self,
        word_tokenize: WordTokenizer | None = None,
        sent_tokenize: SentenceSplitter | None = None,
        rewrite: Callable[[str], str] | None = None,
    ) -> None:
        self._words = word_tokenize or _underthesea_words
        self._sents = sent_tokenize or _underthesea_sentences
        # Applied to the normalized text before its words are segmented
        # (:class:`retrieval.text.variants.Variants`: one spelling per meaning).
        self.rewrite = rewrite
        self.terms = lru_cache(maxsize=4096)(self._terms)

    def rewriting(self, rewrite: Callable[[str], str] | None) -> Segmenter:
        """This segmenter (same tokenizers, already loaded) with ``rewrite`` applied before
        words are segmented."""
        return self if rewrite is self.rewrite else Segmenter(self._words, self._sents, rewrite)

    def prepare_bulk(self) -> None:
        """Before segmenting many texts: switch underthesea to :mod:`retrieval.text.wordseg`'s faster path."""
        if self._words is _underthesea_words:
            self._words = _fast_underthesea_words()

    def warm_up(self) -> None:
        """Load the segmentation model now (underthesea: about 1 s, import included)."""
        self._words("Hà Nội")

    def _terms(self, text: str) -> tuple[str, ...]:
        norm = normalize(text)
        if self.rewrite is not None:
            norm = self.rewrite(norm)
        if not any(ch.isalnum() for ch in norm):
            return ()
        # Terms are interned: a corpus uses the same words millions of times, so
        # one string per word saves memory, and a worker process's results
        # pickle each word once per batch instead of once per use.
        terms = []
        for token in self._words(norm):
            term = token if token.isalnum() else to_term(token)
            if term:
                terms.append(intern(term))
        return tuple(terms)

    def sentence_spans(self, paragraph: str) -> list[tuple[int, int]]:
        """Character spans of the sentences of ``paragraph``, in order.

        underthesea returns sentence strings; each is located in the paragraph
        so the span covers the original characters. Text the splitter dropped
        or changed is attached to the sentence around it, never lost.
        """
        spans: list[tuple[int, int]] = []
        pos = 0
        for sent in self._sents(paragraph):
            sent = sent.strip()
            if not sent:
                continue
            start = paragraph.find(sent, pos)
            if start < 0:
                # The splitter altered the text: fall back to the first few
                # characters to re-synchronise, or give up on this boundary.
                start = paragraph.find(sent[:20], pos)
                if start < 0:
                    continue
                end = min(len(paragraph), start + len(sent))
            else:
                end = start + len(sent)
            if start > pos and paragraph[pos:start].strip():
                if spans:
                    # Skipped text: extend the previous sentence over it.
                    spans[-1] = (spans[-1][0], start)
                else:
                    # Text before the first sentence found: it opens that sentence.
                    start = len(paragraph) - len(paragraph.lstrip())
            spans.append((start, end))
            pos = end
        if not spans:
            stripped = paragraph.strip()
            if stripped:
                start = paragraph.find(stripped)
                spans.append((start, start + len(stripped)))
        elif paragraph[pos:].strip():
            tail = paragraph[pos:].rstrip()
            spans[-1] = (spans[-1][0], pos + len(tail))
        return spans
