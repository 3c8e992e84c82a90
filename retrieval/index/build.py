"""Building a :class:`~retrieval.index.sentences.SentenceIndex` from segmented articles."""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.index.bm25 import Bm25, frozen
from retrieval.index.segcache import Segmented, segment_article
from retrieval.index.sentences import ArticleList, SentenceIndex, SentenceRefs, Terms
from retrieval.index.vocabulary import Vocabulary
from retrieval.ingest.corpus import Article
from retrieval.text.answer_types import sentence_kinds
from retrieval.text.terms import bigrams, expand, fold_terms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Callables:
    """Adapts a pair of functions to the segmenter interface segment_article uses."""

    sentence_spans: Callable[[str], list[tuple[int, int]]]
    terms: Callable[[str], tuple[str, ...]]


def _per_article(
    titles: Sequence[tuple[str, ...]],
    sentences: Sequence[tuple[str, ...]],
    counts: Sequence[int],
    terms: Callable[[tuple[str, ...]], Sequence[str]] | None = None,
) -> Iterator[list[str]]:
    """Each article's terms, made one article at a time: its title's, then its ``counts[a]``
    sentences' in order (each piece through ``terms`` when given)."""
    pos = 0
    for title, n in zip(titles, counts):
        piece = terms or tuple
        words = list(piece(title))
        for sentence in sentences[pos : pos + n]:
            words.extend(piece(sentence))
        pos += n
        yield words


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
            for a in tqdm(
                articles,
                desc="segmenting",
                unit="article",
                disable=None if progress is None else not progress,
                leave=False,
            )
        ]
    if len(segmented) != len(articles):
        raise ValueError("segmented must hold one entry per article")
    art, par, starts, ends = array("i"), array("i"), array("i"), array("i")
    kinds = array("B")
    toks: list[tuple[str, ...]] = []  # each sentence's terms (the segmentation's own tuples)
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
    log.info("indexing %d sentences of %d articles", len(toks), len(articles))
    bar = tqdm(
        total=6 + with_pairs + with_fold_pairs,
        desc="indexing",
        unit="field",
        delay=2,
        postfix=f"{len(articles):,} articles, {len(toks):,} sentences",
        disable=None if progress is None else not progress,
        leave=False,
    )

    def field(docs: Iterable[Sequence[str]], shared: tuple[Vocabulary, dict[str, int]] | None = None) -> Bm25:
        made = Bm25(docs, k1=k1, b=b, epsilon=epsilon, shared=shared)
        bar.update(1)
        return made

    # Every field reads the sentences' terms through a generator: each sentence is expanded,
    # folded or paired as the field takes it in, and only the field's integer columns stay
    # (at a million sentences a list of expanded terms alone held tens of millions of strings).
    # An article's terms are its title's then its sentences', so its fields are the same pieces
    # joined (the functions work word by word).
    article_bm25 = field(_per_article(titles, toks, counts, expand))
    # The word fields share the articles' vocabulary, which holds every word and syllable of
    # the sentences and titles: one copy of the terms instead of three (at 1M sentences,
    # about 30 MB each), and one lookup per query term.
    shared = (article_bm25.vocab, article_bm25.vocab.column_of())
    bm25 = field(map(expand, toks) if expand_compounds else toks, shared=shared)
    exact_words = field(_per_article(titles, toks, counts), shared=shared)
    encoded_terms = Terms.encode(toks, shared[0], shared[1])
    title_words = Terms.encode(titles, shared[0], shared[1])
    del shared
    bar.update(1)
    fold = field(map(fold_terms, toks))
    article_fold = field(_per_article(titles, toks, counts, fold_terms))
    fold_pairs = field(bigrams(fold_terms(t)) for t in toks) if with_fold_pairs else None
    pairs = field(map(bigrams, toks)) if with_pairs else None
    bar.close()
    ref_article, ref_paragraph, ref_start, ref_end = (
        frozen(np.array(x, dtype=np.int32)) for x in (art, par, starts, ends)
    )
    return SentenceIndex(
        articles=ArticleList(articles),
        sentences=SentenceRefs(ref_article, ref_paragraph, ref_start, ref_end, frozen(np.array(kinds, dtype=np.uint8))),
        terms=encoded_terms,
        bm25=bm25,
        fold=fold,
        article_bm25=article_bm25,
        article_fold=article_fold,
        article_words=exact_words,
        pairs=pairs,
        fold_pairs=fold_pairs,
        titles=title_words,
        expand_compounds=expand_compounds,
    )
