"""The sentence index: BM25 over segmented sentences, plus the articles they quote.

Scores follow rank-bm25's ``BM25Okapi`` exactly (same formula, same IDF floor
``epsilon * mean_idf`` for terms in more than half of the sentences, same
order of floating-point operations), but every term's weight per sentence is
precomputed into per-term posting lists (a CSC matrix's ``indptr`` /
``indices`` / ``data``), so a query costs one posting-list slice per query
term instead of a pass over every sentence per term. ``tests/test_index.py``
checks the scores against ``BM25Okapi`` on the same tokens.

Everything is held in flat numpy arrays (vocabularies as one UTF-8 buffer
plus offsets and a hash table, sentence references and terms as integer
arrays, article texts as zstd-compressed blocks: :mod:`retrieval.index.texts`), so
that :mod:`retrieval.index.store` saves them as they are and maps them back into
memory without building millions of Python objects (:meth:`SentenceIndex.arrays`).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from typing import Any

import numpy as np

from retrieval.index.vocabulary import Vocabulary, narrow


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



# best_candidates looks at blocks of this many scores first.
_BLOCK = 1024


def best_candidates(score: np.ndarray, k: int) -> np.ndarray:
    """Ids with a positive score that can be among the ``k`` best: the top k
    plus every id tied with the k-th, so a stable sort can break ties by id.
    Sorted."""
    if score.size >= 8 * _BLOCK and score.size // _BLOCK > k:
        # The k-th largest block maximum t is at most the k-th largest score (k blocks hold a
        # score >= t), so when t > 0 the answer lies in the blocks whose maximum reaches t.
        full = score.size - score.size % _BLOCK
        maxima = score[:full].reshape(-1, _BLOCK).max(axis=1)
        if full < score.size:
            maxima = np.append(maxima, score[full:].max())
        t = np.partition(maxima, maxima.size - k)[maxima.size - k]
        if t > 0:
            ids = (np.flatnonzero(maxima >= t)[:, None] * _BLOCK + np.arange(_BLOCK)).ravel()
            ids = ids[ids < score.size]
            return _best(ids[score[ids] >= t], score, k)
    return _best(np.flatnonzero(score > 0), score, k)


def _best(candidates: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best of ``candidates`` (sorted ids) by ``score``, plus those tied with the k-th."""
    if candidates.size > k:
        kth = np.partition(score[candidates], candidates.size - k)[candidates.size - k]
        candidates = candidates[score[candidates] >= kth]
    return candidates


def frozen(array: np.ndarray) -> np.ndarray:
    """``array``, made read-only: a built index is used exactly like a loaded one, whose
    arrays are read-only views of the file (one compiled variant of the first stage)."""
    array.flags.writeable = False
    return array

def _token_columns(docs: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(terms in order of first appearance, every token's column among them, each doc's length)."""
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    total = int(lengths.sum())
    # One C-level pass, each token touched once (at a million sentences the
    # tokens' memory, not the interpreter, is the cost): every term maps to the
    # position of its first occurrence, and those positions, in order, are the
    # columns.
    first_seen: dict[str, int] = {}
    first = np.fromiter(map(first_seen.setdefault, chain.from_iterable(docs), range(total)), dtype=np.int64,
                        count=total)
    column = np.zeros(total, dtype=np.int64)
    column[np.fromiter(first_seen.values(), dtype=np.int64, count=len(first_seen))] = np.arange(len(first_seen))
    return list(first_seen), column[first], lengths


# A field with at most this many distinct term-frequency parts stores its codes in 2 bytes.
SHORT_CODES = 1 << 16
# Documents are numbered within segments of this many (at most 65,536): a posting stores its
# document's number within its segment, in 2 bytes, and a field of more documents records,
# per term, in which segments its postings lie (Bm25.seg_ptr / seg_of / seg_end).
SEGMENT = 1 << 16


class Bm25:
    """BM25Okapi over a fixed collection of token lists.

    Per term (column): ``indptr`` delimits its postings, ``indices`` holds the
    documents that contain it (sorted) and ``codes`` the term-frequency part of its
    weight in each, as a position in ``table`` (the field's distinct values): a
    posting weighs ``idf[col] * table[code]``, the very product BM25Okapi computes,
    in 2 bytes instead of 8 (4 when a field has more than 65,536 distinct values).
    ``max_weight`` is the largest weight of each term in any document (bounds
    for pruning).

    Document ids take 2 bytes: ``indices`` holds each document's number within its
    segment of ``segment`` documents (:data:`SEGMENT`). A field of more documents
    than one segment lists, per term, the runs of its postings that share a segment:
    runs ``seg_ptr[col]:seg_ptr[col + 1]``, run ``r`` in segment ``seg_of[r]`` and
    ending at posting ``seg_end[r]`` (each starts where the previous one ends, the
    first at ``indptr[col]``). At 1M sentences this takes the sentence fields'
    postings from 6 bytes to 4 (:meth:`docs` gives the documents' own ids).

    Fields over the same words (sentences and whole articles) can share one
    :class:`Vocabulary` (``shared``: it and its :meth:`Vocabulary.column_of`): a
    field then has columns, with no postings, for the terms it never saw, and
    :meth:`column` answers None for them as for unknown terms. IDFs are computed
    over the field's own terms in the order it first saw them, so the scores are
    the same bit for bit.
    """

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25,
                 shared: tuple[Vocabulary, dict[str, int]] | None = None):
        if k1 < 0 or not 0 <= b <= 1 or epsilon < 0:
            raise ValueError("BM25 needs k1 >= 0, 0 <= b <= 1 and epsilon >= 0")
        self.k1, self.b, self.epsilon = k1, b, epsilon
        self.n_docs = n = len(docs)
        terms, ids, lengths = _token_columns(docs)
        remap = None  # each of the field's own columns (first-seen order) in the shared vocabulary
        if shared is None:
            self.vocab = Vocabulary.from_terms(terms)
        else:
            self.vocab, column = shared
            try:
                remap = np.fromiter(map(column.__getitem__, terms), dtype=np.int64, count=len(terms))
            except KeyError as exc:
                raise ValueError(f"the shared vocabulary lacks the term {exc.args[0]!r}") from None
            ids = remap[ids]
        v = len(self.vocab)
        doc_len = lengths.astype(np.float64)
        self.avgdl = float(doc_len.sum() / self.n_docs) if self.n_docs else 0.0
        # One (column, document) key per token; unique keys, sorted, are the CSC postings.
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        keys, counts = np.unique(ids * max(n, 1) + rows, return_counts=True)
        cols = keys // max(n, 1)
        rows = keys - cols * max(n, 1)
        indptr = np.zeros(v + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(np.bincount(cols, minlength=v))
        self.indptr = narrow(indptr)
        self.segment = SEGMENT
        if not 0 < SEGMENT <= 1 << 16:
            raise ValueError("SEGMENT must be between 1 and 65,536")
        self.indices = (rows % SEGMENT).astype(np.uint16)
        self.seg_ptr = self.seg_of = self.seg_end = None
        if n > SEGMENT:
            seg = rows // SEGMENT
            # The postings are sorted by (column, document): a run starts where either changes.
            first = np.flatnonzero(np.diff(cols, prepend=-1) | np.diff(seg, prepend=-1))
            self.seg_of = seg[first].astype(np.uint16 if n <= SEGMENT << 16 else np.int32)
            self.seg_end = narrow(np.append(first[1:], rows.size))
            seg_ptr = np.zeros(v + 1, dtype=np.int64)
            seg_ptr[1:] = np.cumsum(np.bincount(cols[first], minlength=v))
            self.seg_ptr = narrow(seg_ptr)
        df = np.diff(indptr)
        if remap is None:
            self.idf = self._idf(df.astype(np.float64))
        else:
            # The IDFs (and their mean, for the floor) over the field's own terms, in its own order.
            self.idf = np.zeros(v, dtype=np.float64)
            self.idf[remap] = self._idf(df[remap].astype(np.float64))
        # Same expression, same evaluation order as BM25Okapi.get_scores.
        avgdl = self.avgdl or 1.0
        norm = self.k1 * (1 - self.b + self.b * doc_len[rows] / avgdl)
        tf = counts.astype(np.float64)
        part = tf * (self.k1 + 1) / (tf + norm)
        self.table, codes = np.unique(part, return_inverse=True)
        self.codes = codes.astype(np.uint16 if self.table.size <= SHORT_CODES else np.uint32)
        weights = self.idf[cols] * part
        self.max_weight = np.zeros(v, dtype=np.float64)
        if weights.size:
            held = np.flatnonzero(df)
            self.max_weight[held] = np.maximum.reduceat(weights, indptr[held])
        for name in self._ARRAYS + self._SEGMENT_ARRAYS:
            if getattr(self, name) is not None:
                frozen(getattr(self, name))

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

    _PARAMS = ("k1", "b", "epsilon", "n_docs", "avgdl", "segment")
    _ARRAYS = ("indptr", "indices", "codes", "table", "idf", "max_weight")
    # Present only in a field of more than one segment.
    _SEGMENT_ARRAYS = ("seg_ptr", "seg_of", "seg_end")

    @property
    def segmented(self) -> bool:
        return self.seg_ptr is not None

    def arrays(self, prefix: str, vocab_of: str | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(parameters, arrays) that :meth:`from_arrays` turns back into this field.
        ``vocab_of``: the field whose arrays already hold this field's (shared) vocabulary."""
        arrays = {f"{prefix}.{name}": getattr(self, name) for name in self._ARRAYS + self._SEGMENT_ARRAYS
                  if getattr(self, name) is not None}
        params = {name: getattr(self, name) for name in self._PARAMS}
        if vocab_of is not None:
            return params | {"vocab": vocab_of}, arrays
        return params, arrays | self.vocab.arrays(f"{prefix}.vocab")

    @classmethod
    def from_arrays(cls, prefix: str, params: dict[str, Any], arrays: dict[str, np.ndarray],
                    vocabularies: dict[str, Vocabulary] | None = None) -> Bm25:
        """The field :meth:`arrays` described; fields that share a vocabulary get the same
        object from ``vocabularies`` (by the name of the field that saved it)."""
        self = cls.__new__(cls)
        for name in cls._PARAMS:
            setattr(self, name, params[name])
        for name in cls._ARRAYS:
            setattr(self, name, arrays[f"{prefix}.{name}"])
        for name in cls._SEGMENT_ARRAYS:
            setattr(self, name, arrays.get(f"{prefix}.{name}"))
        owner = params.get("vocab", prefix)
        vocabularies = {} if vocabularies is None else vocabularies
        if owner not in vocabularies:
            vocabularies[owner] = Vocabulary.from_arrays(f"{owner}.vocab", arrays)
        self.vocab = vocabularies[owner]
        return self

    @cached_property
    def nonnegative(self) -> bool:
        """True when no term weighs less than 0 (always, unless the mean IDF is negative).
        Worked out once: the IDF array is as long as the vocabulary (0.4 ms a field at 1M
        sentences, for every question before)."""
        return not self.idf.size or float(self.idf.min()) >= 0

    def column(self, term: str) -> int | None:
        """The column of ``term`` in this field, or None when the field never saw it (a
        term of a shared vocabulary that this field does not hold has no postings)."""
        col = self.vocab.get(term)
        if col is None or self.indptr[col] == self.indptr[col + 1]:
            return None
        return col

    @cached_property
    def n_terms(self) -> int:
        """How many distinct terms the field holds."""
        return int(np.count_nonzero(np.diff(self.indptr)))

    def postings(self, col: int) -> tuple[int, int]:
        """Where column ``col``'s postings start and end in ``indices``."""
        return int(self.indptr[col]), int(self.indptr[col + 1])

    def runs(self, col: int) -> tuple[list[int], list[int], list[int]]:
        """Column ``col``'s postings by segment: (segments, starts, ends), one run per segment
        that holds any; in a field of one segment, one run from ``indptr[col]``."""
        lo, hi = self.postings(col)
        if self.seg_ptr is None:
            return [0], [lo], [hi]
        r0, r1 = int(self.seg_ptr[col]), int(self.seg_ptr[col + 1])
        ends = self.seg_end[r0:r1].tolist()
        return self.seg_of[r0:r1].tolist(), [lo] + ends[:-1], ends

    def docs(self, col: int) -> np.ndarray:
        """The ids of column ``col``'s documents, in order (int64 when the field is segmented)."""
        lo, hi = self.postings(col)
        if self.seg_ptr is None:
            return self.indices[lo:hi]
        segments, starts, ends = self.runs(col)
        base = np.repeat(np.asarray(segments, dtype=np.int64) * self.segment, np.subtract(ends, starts))
        return base + self.indices[lo:hi]

    def weights(self, col: int) -> np.ndarray:
        """Column ``col``'s weight in each of its documents (:meth:`docs`)."""
        lo, hi = self.postings(col)
        return self.idf[col] * self.table[self.codes[lo:hi]]

    def idf_of(self, term: str) -> float | None:
        col = self.column(term)
        return None if col is None else float(self.idf[col])

    def docs_with(self, term: str) -> np.ndarray:
        """Ids of the documents that contain ``term`` (sorted)."""
        col = self.column(term)
        if col is None:
            return np.empty(0, dtype=self.indices.dtype)
        return self.docs(col)

    def holds(self, term: str, doc: int) -> bool:
        """Does document ``doc`` contain ``term``? (Binary searches: the term's run in the
        document's segment, then the document in it.)"""
        col = self.column(term)
        if col is None or not 0 <= doc < self.n_docs:
            return False
        segments, starts, ends = self.runs(col)
        r = bisect_left(segments, doc // self.segment)
        if r == len(segments) or segments[r] != doc // self.segment:
            return False
        docs = self.indices[starts[r]:ends[r]]
        pos = int(np.searchsorted(docs, doc % self.segment))
        return pos < docs.size and int(docs[pos]) == doc % self.segment

    def max_idf(self) -> float:
        """IDF of a term seen in no sentence, by the same formula (for unknown words)."""
        n = self.n_docs
        return math.log(n + 0.5) - math.log(0.5)

    def scores(self, query: Iterable[str], out: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every document for ``query`` (terms in order, repeats count), in
        ``out`` (``n_docs`` float64, overwritten) when given."""
        if out is None:
            score = np.zeros(self.n_docs, dtype=np.float64)
        else:
            score = out
            score.fill(0.0)
        for term in query:
            col = self.column(term)
            if col is None:
                continue
            lo = int(self.indptr[col])
            weights = self.weights(col)
            # Run by run, into the run's segment of the scores (no array of whole document ids).
            for segment, start, end in zip(*self.runs(col)):
                first = segment * self.segment
                score[first:first + self.segment][self.indices[start:end]] += weights[start - lo:end - lo]
        return score

    def top_k(self, query: Sequence[str], k: int) -> list[Hit]:
        """The ``k`` best documents with a positive score, best first (ties: lower id first)."""
        if k < 1:
            raise ValueError("k must be >= 1")
        score = self.scores(query)
        candidates = best_candidates(score, k)
        order = np.lexsort((candidates, -score[candidates]))[:k]
        return [Hit(int(candidates[i]), float(score[candidates[i]])) for i in order]
