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
arrays, article texts as zstd-compressed blocks: :mod:`retrieval.texts`), so
that :mod:`retrieval.store` saves them as they are and maps them back into
memory without building millions of Python objects (:meth:`SentenceIndex.arrays`).
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import chain
from typing import Any, overload

import numpy as np

from .answer_types import sentence_kinds
from .ingest import Article
from .query import bigrams, expand, fold_terms
from .segcache import Segmented, segment_article
from .texts import PackedTexts, offsets, pack as pack_texts


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


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array``, made read-only: a built index is used exactly like a loaded one, whose
    arrays are read-only views of the file (one compiled variant of the first stage)."""
    array.flags.writeable = False
    return array


def _narrow(positions: np.ndarray) -> np.ndarray:
    """``positions`` (non-decreasing, non-negative) as int32 when the last fits, else int64:
    the per-term pointer arrays are read at random, a page per term, and half as many
    pages stay resident."""
    return positions.astype(np.int32 if positions.size == 0 or positions[-1] < 1 << 31 else np.int64)


def _term_hash(encoded: bytes) -> int:
    """A term's 64-bit lookup key (stable across processes, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest(), "little")


def _encode(term: str) -> bytes:
    return term.encode("utf-8", "surrogatepass")


class Vocabulary:
    """A field's terms and their column numbers, in flat arrays.

    ``text`` holds the terms' UTF-8 bytes in column order, ``offsets`` where each
    one starts and ends; ``hashes`` are the terms' 64-bit keys, sorted, and
    ``columns`` the column of each. A lookup hashes the term, binary-searches
    the keys and compares the stored bytes, so it is exact whatever collides.
    """

    # Terms looked up recently (questions repeat words), at most this many.
    CACHE_SIZE = 50_000

    def __init__(self, text: np.ndarray, offsets: np.ndarray, hashes: np.ndarray, columns: np.ndarray):
        self.text, self.offsets, self.hashes, self.columns = text, offsets, hashes, columns
        self._cache: dict[str, int | None] = {}

    @classmethod
    def from_terms(cls, terms: Iterable[str]) -> Vocabulary:
        """The vocabulary whose column ``i`` is the ``i``-th of ``terms`` (distinct)."""
        encoded = [_encode(t) for t in terms]
        text = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        hashes = np.fromiter(map(_term_hash, encoded), dtype=np.uint64, count=len(encoded))
        columns = np.argsort(hashes, kind="stable").astype(np.int32)
        return cls(text, _narrow(offsets(encoded)), hashes[columns], columns)

    def __len__(self) -> int:
        return len(self.columns)

    def _bytes(self, col: int) -> bytes:
        return self.text[self.offsets[col]:self.offsets[col + 1]].tobytes()

    def get(self, term: str) -> int | None:
        """The column of ``term``, or None when the field never saw it."""
        try:
            return self._cache[term]
        except KeyError:
            pass
        col = self._find(term)
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[term] = col
        return col

    def _find(self, term: str) -> int | None:
        encoded = _encode(term)
        key = np.uint64(_term_hash(encoded))
        i = int(np.searchsorted(self.hashes, key))
        while i < len(self.hashes) and self.hashes[i] == key:
            col = int(self.columns[i])
            if self._bytes(col) == encoded:
                return col
            i += 1
        return None

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def term(self, col: int) -> str:
        return self._bytes(col).decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        """The terms in column order."""
        return (self.term(c) for c in range(len(self)))

    def column_of(self) -> dict[str, int]:
        """Every term's column, as a dict (for encoding many tokens at once)."""
        return {term: col for col, term in enumerate(self)}

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.text": self.text, f"{prefix}.offsets": self.offsets,
                f"{prefix}.hashes": self.hashes, f"{prefix}.columns": self.columns}

    @classmethod
    def from_arrays(cls, prefix: str, arrays: dict[str, np.ndarray]) -> Vocabulary:
        return cls(arrays[f"{prefix}.text"], arrays[f"{prefix}.offsets"], arrays[f"{prefix}.hashes"],
                   arrays[f"{prefix}.columns"])


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
        self.indptr = _narrow(indptr)
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
            self.seg_end = _narrow(np.append(first[1:], rows.size))
            seg_ptr = np.zeros(v + 1, dtype=np.int64)
            seg_ptr[1:] = np.cumsum(np.bincount(cols[first], minlength=v))
            self.seg_ptr = _narrow(seg_ptr)
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
                _frozen(getattr(self, name))

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


def _item(seq: Sequence[Any], i: int | slice, row: Callable[[int], Any], what: str) -> Any:
    """``seq[i]`` for the array-backed sequences below: slices, negative indices and
    bounds as for a tuple; ``row(j)`` builds item ``j`` (0 <= j < len(seq))."""
    if isinstance(i, slice):
        return tuple(row(j) for j in range(*i.indices(len(seq))))
    if not -len(seq) <= i < len(seq):
        raise IndexError(f"{what} index out of range")
    return row(i % len(seq))


class SentenceRefs(Sequence[SentenceRef]):
    """Every sentence's :class:`SentenceRef`, as four integer arrays, and ``kinds``: the kinds
    of question each could answer (:func:`retrieval.answer_types.sentence_kinds`, uint8)."""

    def __init__(self, article: np.ndarray, paragraph: np.ndarray, start: np.ndarray, end: np.ndarray,
                 kinds: np.ndarray):
        self.article, self.paragraph, self.start, self.end = article, paragraph, start, end
        self.kinds = kinds

    def __len__(self) -> int:
        return len(self.article)

    @overload
    def __getitem__(self, i: int) -> SentenceRef: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[SentenceRef, ...]: ...
    def __getitem__(self, i):
        return _item(self, i, self._row, "sentence")

    def _row(self, i: int) -> SentenceRef:
        return SentenceRef(int(self.article[i]), int(self.paragraph[i]), int(self.start[i]), int(self.end[i]))

    def __iter__(self) -> Iterator[SentenceRef]:
        return (self[i] for i in range(len(self)))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"sentences.article": self.article, "sentences.paragraph": self.paragraph,
                "sentences.start": self.start, "sentences.end": self.end, "sentences.kinds": self.kinds}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SentenceRefs:
        return cls(arrays["sentences.article"], arrays["sentences.paragraph"], arrays["sentences.start"],
                   arrays["sentences.end"], arrays["sentences.kinds"])


class Terms(Sequence[tuple[str, ...]]):
    """Each sentence's segmented words, as columns of a vocabulary (CSR), decoded on demand."""

    def __init__(self, indptr: np.ndarray, ids: np.ndarray, vocab: Vocabulary):
        self.indptr, self.ids, self.vocab = indptr, ids, vocab

    @classmethod
    def encode(cls, sentences: Sequence[Sequence[str]], vocab: Vocabulary,
               column: dict[str, int] | None = None) -> Terms:
        """``sentences`` as columns of ``vocab``, which must hold every word (``column``:
        :meth:`Vocabulary.column_of`, when the caller has it)."""
        column = vocab.column_of() if column is None else column
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        indptr = np.zeros(len(sentences) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(lengths)
        ids = np.fromiter(map(column.__getitem__, chain.from_iterable(sentences)), dtype=np.int32,
                          count=int(indptr[-1]))
        return cls(indptr, ids, vocab)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @overload
    def __getitem__(self, i: int) -> tuple[str, ...]: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[tuple[str, ...], ...]: ...
    def __getitem__(self, i):
        return _item(self, i, self._row, "sentence")

    def _row(self, i: int) -> tuple[str, ...]:
        term = self.vocab.term
        return tuple(term(int(c)) for c in self.ids[self.indptr[i]:self.indptr[i + 1]])

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return (self[i] for i in range(len(self)))


class Articles(Sequence[Article]):
    """The indexed articles; ``paragraph(a, p)`` reads one paragraph without building the article."""

    def paragraph(self, article: int, paragraph: int) -> str:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Article]:
        return (self[i] for i in range(len(self)))

    def arrays(self) -> dict[str, np.ndarray]:
        """Citation fields (one JSON list per article, as a UTF-8 buffer plus offsets) and
        paragraphs (compressed: :func:`retrieval.texts.pack`)."""
        meta: list[bytes] = []
        texts: list[bytes] = []
        first = [0]
        for a in self:
            meta.append(json.dumps([a.doc_id, a.title, a.source, a.date, a.url, a.origin],
                                   ensure_ascii=False).encode("utf-8", "surrogatepass"))
            texts.extend(p.encode("utf-8", "surrogatepass") for p in a.paragraphs)
            first.append(len(texts))
        return {
            "articles.meta": np.frombuffer(b"".join(meta), dtype=np.uint8), "articles.meta_offsets": offsets(meta),
            "articles.first_paragraph": np.asarray(first, dtype=np.int64),
        } | pack_texts(texts, "articles.text")


class ArticleList(Articles):
    """Articles held as objects (a freshly built index)."""

    def __init__(self, articles: Iterable[Article]):
        self._articles = tuple(articles)

    def __len__(self) -> int:
        return len(self._articles)

    def __getitem__(self, i):
        return self._articles[i]

    def paragraph(self, article: int, paragraph: int) -> str:
        return self._articles[article].paragraphs[paragraph]


# Decoded paragraphs kept per loaded index (StoredArticles).
PARAGRAPHS_KEPT = 1024


class StoredArticles(Articles):
    """Articles read from :meth:`Articles.arrays` (a loaded index): each is built when asked for."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self._arrays = {k: v for k, v in arrays.items() if k.startswith("articles.")}
        self._meta, self._meta_offsets = arrays["articles.meta"], arrays["articles.meta_offsets"]
        self._text = PackedTexts(arrays, "articles.text")
        self._first = arrays["articles.first_paragraph"]
        if len(self._meta_offsets) != len(self._first) or int(self._first[-1]) != len(self._text):
            raise ValueError("the article arrays disagree on the number of articles or paragraphs")
        # A question reads the same sentences several times (answer-type checks, quotes, their
        # neighbours): the paragraphs read last are kept decoded.
        self._paragraph = lru_cache(maxsize=PARAGRAPHS_KEPT)(self._decode)

    def __len__(self) -> int:
        return len(self._first) - 1

    def _decode(self, j: int) -> str:
        return self._text[j].decode("utf-8", "surrogatepass")

    def paragraph(self, article: int, paragraph: int) -> str:
        first, last = int(self._first[article]), int(self._first[article + 1])
        if not 0 <= paragraph < last - first:
            raise IndexError("paragraph index out of range")
        return self._paragraph(first + paragraph)

    def __getitem__(self, i):
        return _item(self, i, self._row, "article")

    def _row(self, i: int) -> Article:
        raw = self._meta[self._meta_offsets[i]:self._meta_offsets[i + 1]].tobytes().decode("utf-8", "surrogatepass")
        doc_id, title, source, date, url, origin = json.loads(raw)
        paragraphs = tuple(self._paragraph(j) for j in range(int(self._first[i]), int(self._first[i + 1])))
        return Article(doc_id=doc_id, title=title, source=source, date=date, url=url,
                       paragraphs=paragraphs, origin=origin)

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(self._arrays)


# The BM25 fields of a SentenceIndex, in the order they are saved.
FIELDS = ("bm25", "fold", "article_bm25", "article_fold", "article_words", "pairs", "fold_pairs")


@dataclass
class SentenceIndex:
    """Articles, their sentences (as spans of original text) and BM25 fields over them.

    ``terms`` holds each sentence's segmented words; ``bm25`` scores the word
    field (words plus the syllables of compounds, see :func:`query.expand`)
    and ``fold`` the diacritic-free syllable field (:func:`query.fold_terms`).
    """

    articles: Articles
    sentences: SentenceRefs
    terms: Terms
    bm25: Bm25
    fold: Bm25
    # The same two fields over whole articles (title + body), for article-level evidence.
    article_bm25: Bm25
    article_fold: Bm25
    # Articles' exact words (no syllable expansion): which word an article really uses.
    # Its vocabulary also encodes ``terms``.
    article_words: Bm25
    # Syllable-bigram (phrase) field; None when retrieval.bigram_weight is 0.
    pairs: Bm25 | None = None
    # The same without diacritics; None when retrieval.accentless_bigram_weight is 0.
    fold_pairs: Bm25 | None = None

    @property
    def sentence_article_ids(self) -> np.ndarray:
        """Article number of each sentence, as an array for vectorised scoring."""
        return self.sentences.article

    def text(self, i: int) -> str:
        s = self.sentences
        return self.articles.paragraph(int(s.article[i]), int(s.paragraph[i]))[int(s.start[i]):int(s.end[i])]

    def sentence_article(self, i: int) -> Article:
        return self.articles[int(self.sentences.article[i])]

    def arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(metadata for JSON, named flat arrays): everything :meth:`from_arrays` needs."""
        meta: dict[str, Any] = {"fields": {}}
        arrays = self.articles.arrays() | self.sentences.arrays()
        arrays |= {"terms.indptr": self.terms.indptr, "terms.ids": self.terms.ids}
        saved: dict[int, str] = {}  # id of each vocabulary saved so far -> the field that saved it
        for name in FIELDS:
            field = getattr(self, name)
            if field is not None:
                meta["fields"][name], field_arrays = field.arrays(name, saved.get(id(field.vocab)))
                saved.setdefault(id(field.vocab), name)
                arrays |= field_arrays
        return meta, arrays

    @classmethod
    def from_arrays(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> SentenceIndex:
        """The index :meth:`arrays` described (arrays may be read-only memory maps).
        Raises KeyError or ValueError when something is missing or inconsistent."""
        vocabularies: dict[str, Vocabulary] = {}
        fields = {name: Bm25.from_arrays(name, params, arrays, vocabularies)
                  for name, params in meta["fields"].items()}
        if set(fields) - set(FIELDS) or not set(FIELDS[:5]) <= set(fields):
            raise ValueError(f"unexpected fields: {sorted(fields)}")
        index = cls(articles=StoredArticles(arrays), sentences=SentenceRefs.from_arrays(arrays),
                    terms=Terms(arrays["terms.indptr"], arrays["terms.ids"], fields["article_words"].vocab),
                    **fields)
        index.check()
        return index

    def check(self) -> None:
        """Cheap consistency checks of the arrays' shapes (raises ValueError)."""
        n = len(self.sentences)
        sizes = {len(self.sentences.paragraph), len(self.sentences.start), len(self.sentences.end),
                 len(self.sentences.kinds), len(self.terms), self.bm25.n_docs, self.fold.n_docs}
        sizes |= {f.n_docs for f in (self.pairs, self.fold_pairs) if f is not None}
        if sizes != {n}:
            raise ValueError("the sentence arrays disagree on the number of sentences")
        if {self.article_bm25.n_docs, self.article_fold.n_docs, self.article_words.n_docs} != {len(self.articles)}:
            raise ValueError("the article arrays disagree on the number of articles")
        for name in FIELDS:
            f = getattr(self, name)
            if f is None:
                continue
            v = len(f.vocab)
            if not (len(f.indptr) == v + 1 == len(f.idf) + 1 == len(f.max_weight) + 1
                    and len(f.indices) == len(f.codes) == int(f.indptr[-1])
                    and len(f.vocab.offsets) == v + 1 and len(f.vocab.hashes) == v):
                raise ValueError(f"field {name}: inconsistent arrays")
            if not 0 < f.segment <= 1 << 16 or f.indices.dtype != np.uint16 or (f.n_docs > f.segment) != f.segmented:
                raise ValueError(f"field {name}: inconsistent segments")
            if f.segmented and not (len(f.seg_ptr) == v + 1 and len(f.seg_of) == len(f.seg_end) == int(f.seg_ptr[-1])):
                raise ValueError(f"field {name}: inconsistent segment runs")


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
        sentences=SentenceRefs(*(_frozen(np.asarray(x, dtype=np.int32)) for x in (art, par, starts, ends)),
                               _frozen(np.asarray(kinds, dtype=np.uint8))),
        terms=terms,
        bm25=bm25,
        fold=fold,
        article_bm25=article_bm25,
        article_fold=article_fold,
        article_words=exact_words,
        pairs=Bm25([bigrams(t) for t in toks], **params) if with_pairs else None,
        fold_pairs=fold_pairs,
    )
