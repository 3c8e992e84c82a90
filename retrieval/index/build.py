"""Building a :class:`~retrieval.index.sentences.SentenceIndex` from segmented articles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from retrieval.index.bm25 import Bm25, frozen
from retrieval.index.segcache import Segmented, segment_article
from retrieval.index.sentences import ArticleList, SentenceIndex, SentenceRefs, Terms
from retrieval.ingest.corpus import Article
from retrieval.text.answer_types import sentence_kinds
from retrieval.text.terms import bigrams, expand, fold_terms


@dataclass(frozen=True)
class _Callables:
    """Adapts a pair of functions to the segmenter interface segment_article uses."""

    sentence_spans: Callable[[str], list[tuple[int, int]]]
    terms: Callable[[str], tuple[str, ...]]


def _per_article(titles: Sequence[tuple[str, ...]], sentences: Sequence[tuple[str, ...]],
                 counts: Sequence[int]) -> list[list[str]]:
    """Each article's terms: its title's, then its ``counts[a]`` sentences' in order."""
    out = []
    pos = 0
    for title, n in zip(titles, counts):
        words = list(title)
        words.extend(chain.from_iterable(sentences[pos:pos + n]))
        pos += n
        out.append(words)
    return out


def build_index(
    articles: Sequence[Article],
    spans: Callable[[str], list[tuple[int, int]]] | None = None,
    terms: Callable[[str], tuple[str, ...]] | None = None,
    *,
    segmented: Sequence[Segmented] | None = None,
    k1: float,
    b: float,
    epsilon: float,
    progress: bool | None = None,
    with_pairs: bool = False,
    with_fold_pairs: bool = False,
    expand_compounds: bool = True,
) -> SentenceIndex:
    """Index the articles' sentences.

    ``segmented`` (from :func:`retrieval.index.segcache.segment_corpus`) gives each
    article's sentences and terms; without it, ``spans`` and ``terms`` segment
    them here, in this process. ``progress``: True shows a progress bar,
    False hides it, None shows it when stderr is a terminal.
    """
    from tqdm import tqdm

    if segmented is None:
        if spans is None or terms is None:
            raise ValueError("build_index needs either segmented articles or the spans and terms functions")
        splitter = _Callables(spans, terms)
        segmented = [
            segment_article(splitter, a.title, a.paragraphs)
            for a in tqdm(articles, desc="segmenting", unit="article",
                          disable=None if progress is None else not progress, leave=False)
        ]
    if len(segmented) != len(articles):
        raise ValueError("segmented must hold one entry per article")
    art: list[int] = []
    par: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    kinds: list[int] = []
    toks: list[tuple[str, ...]] = []
    titles: list[tuple[str, ...]] = []
    counts: list[int] = []
    for a, (article, seg) in enumerate(zip(articles, segmented)):
        titles.append(seg.title_terms)
        counts.append(len(seg.sentences))
        for p, start, end, sentence_terms in seg.sentences:
            art.append(a)
            par.append(p)
            starts.append(start)
            ends.append(end)
            kinds.append(sentence_kinds(article.paragraphs[p][start:end]))
            toks.append(sentence_terms)
    params = {"k1": k1, "b": b, "epsilon": epsilon}
    # Each sentence is expanded and folded once; an article's terms are its
    # title's then its sentences', so its fields are the same pieces joined
    # (both functions work word by word). One of the two lists is alive at a
    # time: at a million sentences each holds tens of millions of references.
    expanded = [expand(t) for t in toks]
    article_bm25 = Bm25(_per_article([expand(t) for t in titles], expanded, counts), **params)
    # The word fields share the articles' vocabulary, which holds every word and syllable of
    # the sentences and titles: one copy of the terms instead of three (at 1M sentences,
    # about 30 MB each), and one lookup per query term.
    shared = (article_bm25.vocab, article_bm25.vocab.column_of())
    bm25 = Bm25(expanded if expand_compounds else toks, **params, shared=shared)
    del expanded
    exact_words = Bm25(_per_article(titles, toks, counts), **params, shared=shared)
    terms = Terms.encode(toks, shared[0], shared[1])
    folded = [fold_terms(t) for t in toks]
    fold = Bm25(folded, **params)
    article_fold = Bm25(_per_article([fold_terms(t) for t in titles], folded, counts), **params)
    fold_pairs = Bm25([bigrams(f) for f in folded], **params) if with_fold_pairs else None
    del folded
    return SentenceIndex(
        articles=ArticleList(articles),
        sentences=SentenceRefs(*(frozen(np.asarray(x, dtype=np.int32)) for x in (art, par, starts, ends)),
                               frozen(np.asarray(kinds, dtype=np.uint8))),
        terms=terms,
        bm25=bm25,
        fold=fold,
        article_bm25=article_bm25,
        article_fold=article_fold,
        article_words=exact_words,
        pairs=Bm25([bigrams(t) for t in toks], **params) if with_pairs else None,
        fold_pairs=fold_pairs,
    )
