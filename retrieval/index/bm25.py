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
from collections.abc import Iterable, Iterator, Sequence
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

class _Columns(dict):
    """term -> column, numbered in order of first appearance (a new term gets the next number)."""

    def __missing__(self, term: str) -> int:
        self[term] = column = len(self)
        return column


# Tokens encoded at a time: they are in memory as strings only for the chunk.
_CHUNK_TOKENS = 1 << 20


def _token_columns(docs: Iterable[Sequence[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(terms in order of first appearance, every token's column among them, each doc's length).

    ``docs`` is read once, about a million tokens at a time (it may be a generator that
    makes each document's tokens as it goes): what stays is one int32 per token, not the
    tokens.
    """
    columns = _Columns()
    ids: list[np.ndarray] = []
    lengths: list[int] = []
    chunk: list[Sequence[str]] = []
    held = 0

    def encode() -> None:
        ids.append(np.fromiter(map(columns.__getitem__, chain.from_iterable(chunk)), dtype=np.int32, count=held))
        chunk.clear()

    for doc in docs:
        chunk.append(doc)
        lengths.append(len(doc))
        held += lengths[-1]
        if held >= _CHUNK_TOKENS:
            encode()
            held = 0
    encode()
    if len(columns) >= 1 << 31:  # pragma: no cover - two billion distinct terms
        raise ValueError("more than 2**31 distinct terms in one field")
    return list(columns), np.concatenate(ids), np.array(lengths, dtype=np.int64)


def _unique_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_counts=True)``, sorting ``keys`` in place (no copy of it)."""
    keys.sort()
    if keys.size == 0:
        return keys, np.zeros(0, dtype=np.int64)
    first = np.empty(keys.size, dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    del first
    counts = np.diff(starts, append=keys.size)
    return keys[starts], counts


# A field with at most this many distinct term-frequency parts stores its codes in 2 bytes.
SHORT_CODES = 1 << 16
# Documents are numbered within segments of this many (at most 65,536): a posting stores its
# document's number within its segment, in 2 bytes, and a field of more documents records,
# per term, in which segments its postings lie (Bm25.seg_ptr / seg_of / seg_end).
SEGMENT = 1 << 16
# A field's postings are built a block of documents at a time: at most this many tokens.
BLOCK_TOKENS = 1 << 21


@dataclass(frozen=True)
class _Block:
    """Documents ``start:stop`` (all in segment ``segment``), tokens ``first:last``."""

    start: int
    stop: int
    first: int
    last: int
    segment: int
    lengths: np.ndarray


def _blocks(lengths: np.ndarray) -> Iterator[_Block]:
    """The documents in blocks of at most BLOCK_TOKENS tokens (one document at least) that never
    cross a segment's boundary."""
    ends = np.cumsum(lengths)
    n = len(lengths)
    start = 0
    while start < n:
        first = int(ends[start - 1]) if start else 0
        stop = int(np.searchsorted(ends, first + BLOCK_TOKENS, side="right"))
        stop = max(start + 1, min(stop, (start // SEGMENT + 1) * SEGMENT, n))
        yield _Block(start, stop, first, int(ends[stop - 1]), start // SEGMENT, lengths[start:stop])
        start = stop


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

    def __init__(self, docs: Iterable[Sequence[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25,
                 shared: tuple[Vocabulary, dict[str, int]] | None = None):
        """``docs``: each document's tokens; read once (a generator will do)."""
        if k1 < 0 or not 0 <= b <= 1 or epsilon < 0:
            raise ValueError("BM25 needs k1 >= 0, 0 <= b <= 1 and epsilon >= 0")
        self.k1, self.b, self.epsilon = k1, b, epsilon
        terms, ids, lengths = _token_columns(docs)
        self.n_docs = n = len(lengths)
        remap = None  # each of the field's own columns (first-seen order) in the shared vocabulary
        if shared is None:
            self.vocab = Vocabulary.from_terms(terms)
        else:
            self.vocab, column = shared
            try:
                remap = np.fromiter(map(column.__getitem__, terms), dtype=np.int64, count=len(terms))
            except KeyError as exc:
                raise ValueError(f"the shared vocabulary lacks the term {exc.args[0]!r}") from None
        del terms
        self._postings(ids, lengths, remap)

    def _postings(self, ids: np.ndarray, lengths: np.ndarray, remap: np.ndarray | None) -> None:
        """The CSC postings, IDFs, weight table and bounds, built a block of documents at a time.

        A block lies within one segment and holds at most BLOCK_TOKENS tokens, so what is
        built whole is only the result (2 + 2 bytes a posting), never an array of the
        field's every token or posting (at tens of millions of them, each such array was
        hundreds of MB). Two passes over the blocks: the document frequencies (hence the
        IDFs and where each term's postings go) and the distinct term-frequency parts (the
        table), then the postings themselves. The arrays are those of one pass over all
        the tokens, bit for bit.
        """
        n, v = self.n_docs, len(self.vocab)
        doc_len = lengths.astype(np.float64)
        self.avgdl = float(doc_len.sum() / n) if n else 0.0
        self.segment = SEGMENT
        if not 0 < SEGMENT <= 1 << 16:
            raise ValueError("SEGMENT must be between 1 and 65,536")
        segmented = n > SEGMENT
        blocks = list(_blocks(lengths))
        df = np.zeros(v, dtype=np.int64)
        runs = np.zeros(v, dtype=np.int64)  # per term, the segments its postings lie in
        last_seg = np.full(v, -1, dtype=np.int64)
        parts = []
        for block in blocks:
            cols, docs, counts = self._block_postings(ids, remap, block)
            parts.append(np.unique(self._parts(doc_len, docs, counts)))
            starts = np.flatnonzero(np.diff(cols, prepend=-1))
            present = cols[starts]
            df[present] += np.diff(starts, append=cols.size)
            new_run = last_seg[present] != block.segment
            runs[present[new_run]] += 1
            last_seg[present] = block.segment
        self.table = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.float64)
        del parts
        indptr = np.zeros(v + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(df)
        total = int(indptr[-1])
        if remap is None:
            self.idf = self._idf(df.astype(np.float64))
        else:
            # The IDFs (and their mean, for the floor) over the field's own terms, in its own order.
            self.idf = np.zeros(v, dtype=np.float64)
            self.idf[remap] = self._idf(df[remap].astype(np.float64))
        self.indices = np.zeros(total, dtype=np.uint16)
        self.codes = np.zeros(total, dtype=np.uint16 if self.table.size <= SHORT_CODES else np.uint32)
        self.max_weight = np.full(v, -np.inf)
        filled = np.zeros(v, dtype=np.int64)
        if segmented:
            seg_ptr = np.zeros(v + 1, dtype=np.int64)
            seg_ptr[1:] = np.cumsum(runs)
            seg_of = np.zeros(int(seg_ptr[-1]), dtype=np.uint16 if n <= SEGMENT << 16 else np.int32)
            seg_end = np.zeros(int(seg_ptr[-1]), dtype=np.int64)
            runs_made = np.zeros(v, dtype=np.int64)
            run_of = np.zeros(v, dtype=np.int64)
            last_seg.fill(-1)
        for block in blocks:
            cols, docs, counts = self._block_postings(ids, remap, block)
            part = self._parts(doc_len, docs, counts)
            # Postings are sorted by term within the block: each term's group goes after the
            # term's postings from the blocks before.
            starts = np.flatnonzero(np.diff(cols, prepend=-1))
            group_cols = cols[starts]
            sizes = np.diff(starts, append=cols.size)
            base = indptr[group_cols] + filled[group_cols]
            at = np.repeat(base - starts, sizes) + np.arange(cols.size)
            self.indices[at] = docs % SEGMENT
            self.codes[at] = np.searchsorted(self.table, part)
            weights = self.idf[cols]
            weights *= part
            self.max_weight[group_cols] = np.maximum(self.max_weight[group_cols],
                                                     np.maximum.reduceat(weights, starts))
            filled[group_cols] += sizes
            if segmented:
                new_run = last_seg[group_cols] != block.segment
                fresh = group_cols[new_run]
                run_of[fresh] = seg_ptr[fresh] + runs_made[fresh]
                runs_made[fresh] += 1
                seg_of[run_of[fresh]] = block.segment
                last_seg[group_cols] = block.segment
                seg_end[run_of[group_cols]] = base + sizes
        self.max_weight[df == 0] = 0.0
        self.indptr = narrow(indptr)
        self.seg_ptr = self.seg_of = self.seg_end = None
        if segmented:
            self.seg_ptr, self.seg_of, self.seg_end = narrow(seg_ptr), seg_of, narrow(seg_end)
        for name in self._ARRAYS + self._SEGMENT_ARRAYS:
            if getattr(self, name) is not None:
                frozen(getattr(self, name))

    def _block_postings(self, ids: np.ndarray, remap: np.ndarray | None,
                        block: _Block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(column, document, term frequency) of each distinct term of each document in ``block``,
        sorted by column, then document."""
        width = block.stop - block.start
        keys = ids[block.first:block.last]
        keys = remap[keys] if remap is not None else keys.astype(np.int64)
        keys *= width
        keys += np.repeat(np.arange(width, dtype=np.int64), block.lengths)
        keys, counts = _unique_counts(keys)
        cols = keys // width
        keys -= cols * width
        keys += block.start
        return cols, keys, counts

    def _parts(self, doc_len: np.ndarray, docs: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """The term-frequency part of each posting's weight: the operations of BM25Okapi.get_scores'
        tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)), in its order (bit for bit)."""
        avgdl = self.avgdl or 1.0
        norm = doc_len[docs]
        norm *= self.b
        norm /= avgdl
        norm += 1 - self.b
        norm *= self.k1
        tf = counts.astype(np.float64)
        norm += tf
        tf *= self.k1 + 1
        tf /= norm
        return tf

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
        segment, local = divmod(doc, self.segment)
        if self.seg_ptr is None:
            start, end = self.postings(col)
        else:
            segments, starts, ends = self.runs(col)
            r = bisect_left(segments, segment)
            if r == len(segments) or segments[r] != segment:
                return False
            start, end = starts[r], ends[r]
        # The array's own method, not np.searchsorted: the answer's composer asks about a hundred
        # times a question, and the module function's dispatch doubled the cost of each.
        docs = self.indices[start:end]
        pos = int(docs.searchsorted(local))
        return pos < docs.size and int(docs[pos]) == local

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
