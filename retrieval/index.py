"""The sentence index: BM25 over segmented sentences, plus the articles they quote.

Scores follow rank-bm25's ``BM25Okapi`` exactly (same formula, same IDF floor
``epsilon * mean_idf`` for terms in more than half of the sentences, same
order of floating-point operations), but every term's weight per sentence is
precomputed into a sparse matrix, so a query costs one column slice per query
term instead of a pass over every sentence per term. ``tests/test_index.py``
checks the scores against ``BM25Okapi`` on the same tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .ingest import Article
from .query import bigrams, expand, fold_terms
from .segcache import Segmented, segment_article


@dataclass(frozen=True)
class Hit:
    """One retrieved sentence: its position in the index and its score.

    ``score`` orders the hits; ``bm25`` is the fused BM25 score before any
    re-ranking (the refusal floor is on it). They are equal without re-ranking.
    """

    sentence: int
    score: float
    bm25: float = -1.0

    def __post_init__(self) -> None:
        if self.bm25 < 0:
            object.__setattr__(self, "bm25", self.score)


@dataclass(frozen=True)
class SentenceRef:
    """Where a sentence lives: article, paragraph and character span."""

    article: int
    paragraph: int
    start: int
    end: int


def best_candidates(score: np.ndarray, k: int) -> np.ndarray:
    """Ids with a positive score that can be among the ``k`` best: the top k
    plus every id tied with the k-th, so a stable sort can break ties by id."""
    candidates = np.flatnonzero(score > 0)
    if candidates.size > k:
        kth = np.partition(score[candidates], candidates.size - k)[candidates.size - k]
        candidates = candidates[score[candidates] >= kth]
    return candidates


class Bm25:
    """BM25Okapi over a fixed collection of token lists."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25):
        if k1 < 0 or not 0 <= b <= 1 or epsilon < 0:
            raise ValueError("BM25 needs k1 >= 0, 0 <= b <= 1 and epsilon >= 0")
        self.k1, self.b, self.epsilon = k1, b, epsilon
        self.n_docs = len(docs)
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        doc_len = np.zeros(self.n_docs, dtype=np.float64)
        for d, doc in enumerate(docs):
            doc_len[d] = len(doc)
            counts: dict[int, int] = {}
            for term in doc:
                col = vocab.setdefault(term, len(vocab))
                counts[col] = counts.get(col, 0) + 1
            rows.extend([d] * len(counts))
            cols.extend(counts.keys())
            tfs.extend(counts.values())
        self.vocab = vocab
        self.doc_len = doc_len
        self.avgdl = float(doc_len.sum() / self.n_docs) if self.n_docs else 0.0
        rows_a = np.asarray(rows, dtype=np.int64)
        cols_a = np.asarray(cols, dtype=np.int64)
        tf = np.asarray(tfs, dtype=np.float64)
        df = np.bincount(cols_a, minlength=len(vocab)).astype(np.float64)
        self.df = df
        self.idf = self._idf(df)
        # Same expression, same evaluation order as BM25Okapi.get_scores.
        avgdl = self.avgdl or 1.0
        norm = self.k1 * (1 - self.b + self.b * doc_len[rows_a] / avgdl)
        weights = self.idf[cols_a] * (tf * (self.k1 + 1) / (tf + norm))
        self.weights = sparse.csc_matrix(
            (weights, (rows_a, cols_a)), shape=(self.n_docs, len(vocab)), dtype=np.float64
        )
        self.weights.sort_indices()  # docs_with() relies on sorted row ids

    def _idf(self, df: np.ndarray) -> np.ndarray:
        if df.size == 0:
            return df.copy()
        n = self.n_docs
        # math.log per term, in vocabulary order, as rank-bm25 does.
        idf = np.array([math.log(n - f + 0.5) - math.log(f + 0.5) for f in df], dtype=np.float64)
        # Plain left-to-right sum, like rank-bm25's running idf_sum.
        average_idf = sum(idf.tolist()) / len(idf)
        idf[idf < 0] = self.epsilon * average_idf
        return idf

    def idf_of(self, term: str) -> float | None:
        col = self.vocab.get(term)
        return None if col is None else float(self.idf[col])

    def docs_with(self, term: str) -> np.ndarray:
        """Ids of the documents that contain ``term`` (sorted)."""
        col = self.vocab.get(term)
        if col is None:
            return np.empty(0, dtype=np.int32)
        w = self.weights
        return w.indices[w.indptr[col]:w.indptr[col + 1]]

    def max_idf(self) -> float:
        """IDF of a term seen in no sentence, by the same formula (for unknown words)."""
        n = self.n_docs
        return math.log(n + 0.5) - math.log(0.5)

    def scores(self, query: Iterable[str]) -> np.ndarray:
        """BM25 score of every document for ``query`` (terms in order, repeats count)."""
        score = np.zeros(self.n_docs, dtype=np.float64)
        w = self.weights
        for term in query:
            col = self.vocab.get(term)
            if col is None:
                continue
            lo, hi = w.indptr[col], w.indptr[col + 1]
            score[w.indices[lo:hi]] += w.data[lo:hi]
        return score

    def top_k(self, query: Sequence[str], k: int) -> list[Hit]:
        """The ``k`` best documents with a positive score, best first (ties: lower id first)."""
        if k < 1:
            raise ValueError("k must be >= 1")
        score = self.scores(query)
        candidates = best_candidates(score, k)
        order = np.lexsort((candidates, -score[candidates]))[:k]
        return [Hit(int(candidates[i]), float(score[candidates[i]])) for i in order]


@dataclass
class SentenceIndex:
    """Articles, their sentences (as spans of original text) and BM25 fields over them.

    ``terms`` holds each sentence's segmented words; ``bm25`` scores the word
    field (words plus the syllables of compounds, see :func:`query.expand`)
    and ``fold`` the diacritic-free syllable field (:func:`query.fold_terms`).
    """

    articles: tuple[Article, ...]
    sentences: list[SentenceRef]
    terms: list[tuple[str, ...]]
    bm25: Bm25
    fold: Bm25
    # The same two fields over whole articles (title + body), for article-level evidence.
    article_bm25: Bm25
    article_fold: Bm25
    # Articles' exact words (no syllable expansion): which word an article really uses.
    article_words: Bm25
    # Article number of each sentence, as an array for vectorised scoring.
    sentence_article_ids: np.ndarray
    # Syllable-bigram (phrase) field; None when retrieval.bigram_weight is 0.
    pairs: Bm25 | None = None
    # The same without diacritics; None when retrieval.accentless_bigram_weight is 0.
    fold_pairs: Bm25 | None = None

    def text(self, i: int) -> str:
        ref = self.sentences[i]
        return self.articles[ref.article].paragraphs[ref.paragraph][ref.start:ref.end]

    def sentence_article(self, i: int) -> Article:
        return self.articles[self.sentences[i].article]


@dataclass(frozen=True)
class _Callables:
    """Adapts a pair of functions to the segmenter interface segment_article uses."""

    sentence_spans: Callable[[str], list[tuple[int, int]]]
    terms: Callable[[str], tuple[str, ...]]


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

    ``segmented`` (from :func:`retrieval.segcache.segment_corpus`) gives each
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
    refs: list[SentenceRef] = []
    toks: list[tuple[str, ...]] = []
    article_words: list[list[str]] = []
    for a, seg in enumerate(segmented):
        words = list(seg.title_terms)
        for p, start, end, sentence_terms in seg.sentences:
            refs.append(SentenceRef(a, p, start, end))
            toks.append(sentence_terms)
            words.extend(sentence_terms)
        article_words.append(words)
    params = {"k1": k1, "b": b, "epsilon": epsilon}
    return SentenceIndex(
        articles=tuple(articles),
        sentences=refs,
        terms=toks,
        bm25=Bm25([expand(t) if expand_compounds else t for t in toks], **params),
        fold=Bm25([fold_terms(t) for t in toks], **params),
        article_bm25=Bm25([expand(w) for w in article_words], **params),
        article_fold=Bm25([fold_terms(w) for w in article_words], **params),
        article_words=Bm25(article_words, **params),
        sentence_article_ids=np.fromiter((r.article for r in refs), dtype=np.int32, count=len(refs)),
        pairs=Bm25([bigrams(t) for t in toks], **params) if with_pairs else None,
        fold_pairs=Bm25([bigrams(fold_terms(t)) for t in toks], **params) if with_fold_pairs else None,
    )
