"""One BM25 field after an update (:mod:`retrieval.index.update`, whose docstring gives the
arithmetic): the base's postings kept, the added documents' own postings (the delta), the removed
ones' tombstones, and the document frequencies, IDFs and bounds that make its scores a rebuild's.
A module of its own because it is the numeric core of an update, apart from the index-level
bookkeeping (articles, sentences, saving, merging) that update.py does."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from retrieval.index.bm25 import Bm25, frozen
from retrieval.index.columns import token_columns
from retrieval.index.vocabulary import ExtendedVocabulary, Vocabulary

# Relative slack on the base's bounds after an update (far above the rounding of the product).
BOUND_SLACK = 1e-9


class _LiveCounts:
    """Each column's document frequency in an updated field, worked out when asked: the base's,
    less the removed documents', plus the added ones' (no array as long as the vocabulary)."""

    def __init__(self, base: np.ndarray, removed: dict[int, int], added: np.ndarray, n: int):
        self._base, self._removed, self._added, self._n = base, removed, added, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, col: int) -> int:
        col = int(col)
        own = int(self._base[col + 1] - self._base[col]) if col < len(self._base) - 1 else 0
        return own - self._removed.get(col, 0) + int(self._added[col + 1] - self._added[col])


class _Bounds:
    """``max_weight`` of an updated field, worked out when asked: the IDF times the larger of
    the base's largest part (times ``ratio``: an upper bound at the new average length) and
    the added documents' own; 0 for a column no live document holds."""

    def __init__(
        self, idf: np.ndarray, base_part: np.ndarray, ratio: float, added_part: np.ndarray, counts: _LiveCounts
    ):
        self._idf, self._base_part, self._ratio, self._added_part = idf, base_part, ratio, added_part
        self._counts = counts

    def __len__(self) -> int:
        return len(self._idf)

    def __getitem__(self, col: int) -> float:
        col = int(col)
        if not self._counts[col]:
            return 0.0
        part = float(self._base_part[col]) * self._ratio if col < len(self._base_part) else 0.0
        return float(self._idf[col] * max(part, float(self._added_part[col])))


def _first_docs(field: Bm25, cols: np.ndarray) -> np.ndarray:
    """The first document of each of ``cols`` in ``field``'s own postings (each must have some)."""
    cols = np.asarray(cols, dtype=np.int64)
    docs = field.indices[field.indptr[cols].astype(np.int64)].astype(np.int64)
    segments = field.segment_runs()
    if segments is not None:
        seg_ptr, seg_of, _ = segments
        docs += seg_of[seg_ptr[cols].astype(np.int64)].astype(np.int64) * field.segment
    return docs


def _base_column(vocab: Vocabulary, term: str) -> int:
    """The column of a removed document's term (the base's vocabulary holds every one)."""
    col = vocab.get(term)
    if col is None:
        raise ValueError(f"a removed document's term {term!r} is not in its field's vocabulary")
    return col


def _first_live(field: Bm25, col: int, dead: np.ndarray) -> int | None:
    """The first document of column ``col`` in ``field``'s own postings that is not ``dead``
    (read run by run, a common term's postings no further than needed)."""
    for segment, start, end in zip(*field.runs(col)):
        docs = field.indices[start:end].astype(np.int64) + segment * field.segment
        live = np.flatnonzero(~dead[docs])
        if live.size:
            return int(docs[live[0]])
    return None


def _updated_field(
    base: Bm25,
    vocab_of: str | None,
    vocabularies: dict[str, Vocabulary],
    name: str,
    dead: np.ndarray,
    dead_tokens: list[list[str]],
    new_tokens: list[list[str]],
    ins: np.ndarray,
    doc_tokens: Callable[[int], list[str]],
    dead_mask: np.ndarray,
) -> Bm25:
    """``base`` without the documents ``dead`` (ids; ``dead_tokens``: their tokens) and with
    the documents ``new_tokens`` (``ins[j]``: how many base documents come before new
    document ``j`` in corpus order). ``doc_tokens(d)``: a base document's tokens;
    ``dead_mask``: True for each removed document, then False for each new one (shared by
    the fields over the same documents)."""
    terms, ids, lengths = token_columns(new_tokens)
    if vocab_of is None:
        known = [base.vocab.get(t) for t in terms]
        vocab: Vocabulary = ExtendedVocabulary(base.vocab, [t for t, c in zip(terms, known) if c is None])
        vocabularies[name] = vocab
    else:
        vocab = vocabularies[vocab_of]
    remap = np.fromiter((vocab.get(t) for t in terms), dtype=np.int64, count=len(terms))
    v, v_base = len(vocab), len(base.indptr) - 1
    n_base, n_new = base.n_docs, len(new_tokens)
    n_live = n_base - len(dead) + n_new
    total = base.total - sum(map(len, dead_tokens)) + int(lengths.sum())
    avgdl = total / n_live if n_live else 0.0

    delta = Bm25.__new__(Bm25)
    delta.k1, delta.b, delta.epsilon, delta.n_docs, delta.vocab = base.k1, base.b, base.epsilon, n_new, vocab
    delta._postings(ids, lengths, remap, avgdl=avgdl, idf=np.zeros(v))
    delta.order = None
    if delta.codes.dtype != base.codes.dtype and delta.codes.dtype.itemsize < base.codes.dtype.itemsize:
        delta.codes = frozen(delta.codes.astype(base.codes.dtype))  # one compiled variant of the kernels

    base_df = np.zeros(v, dtype=np.int32)
    base_df[:v_base] = np.diff(base.indptr)
    removed: dict[int, int] = {}
    for tokens in dead_tokens:
        for col in {_base_column(base.vocab, t) for t in tokens}:
            removed[col] = removed.get(col, 0) + 1
    live_df = base_df + np.diff(delta.indptr).astype(np.int32)
    if removed:
        cols = np.fromiter(removed, dtype=np.int64, count=len(removed))
        live_df[cols] -= np.fromiter(removed.values(), dtype=np.int32, count=len(removed))

    order = _first_seen_order(
        base, vocab, base_df, live_df, dead_mask[:n_base], dead_tokens, ids, lengths, remap, ins, doc_tokens
    )
    del base_df
    idf = frozen(_idf(live_df, order, n_live, base.epsilon))
    delta.idf = idf
    counts = _LiveCounts(base.indptr, removed, delta.indptr, v)
    ratio = (max(1.0, avgdl / base.avgdl) if base.avgdl else 1.0) * (1 + BOUND_SLACK)
    bounds = _Bounds(idf, base.max_part, ratio, delta.max_part, counts)
    delta.max_weight = bounds

    field = Bm25.__new__(Bm25)
    for attr in (
        "k1",
        "b",
        "epsilon",
        "segment",
        "indptr",
        "indices",
        "codes",
        "pair_tf",
        "pair_dl",
        "seg_ptr",
        "seg_of",
        "seg_end",
        "max_part",
    ):
        setattr(field, attr, getattr(base, attr))
    field.vocab, field.order = vocab, None
    field.n_docs, field.n_base, field.total, field.avgdl = n_base + n_new, n_base, total, avgdl
    field.table = base.parts(avgdl)
    field.idf, field.max_weight = idf, bounds
    field.delta, field.live_df, field.live_terms = delta, counts, int(order.size)
    field.dead, field.dead_ids = dead_mask, (frozen(np.asarray(dead, dtype=np.int64)) if len(dead) else None)
    return field


def _first_seen_order(
    base: Bm25,
    vocab: Vocabulary,
    base_df: np.ndarray,
    live_df: np.ndarray,
    dead: np.ndarray,
    dead_tokens: list[list[str]],
    new_ids: np.ndarray,
    new_lengths: np.ndarray,
    remap: np.ndarray,
    ins: np.ndarray,
    doc_tokens: Callable[[int], list[str]],
) -> np.ndarray:
    """The live terms (columns) in the order a rebuild's BM25Okapi first meets them: walking
    the live documents in corpus order, each document's tokens in order.

    The base's order (``base.order``, or its columns in order) is sorted by (first base
    document, position in it). A term keeps its place unless its first live occurrence
    moved: its first base document was removed (it moves to its first live base document,
    at its position there), or an added document before that one holds it (it moves to
    the first such, at its position there; so do terms the base lacks). Those terms are
    taken out and put back where their new (document, position) falls."""
    s_base = np.arange(len(base.indptr) - 1) if base.order is None else np.asarray(base.order, dtype=np.int64)
    v_base = len(base.indptr) - 1
    # (column, sort key) of every term that moves. A key: (document's place, 0 for an added
    # document / 1 for a base one, added document's number, position in the document); an
    # added document j comes before base document ins[j].
    moved: dict[int, tuple[int, int, int, int]] = {}
    first_live: dict[int, int | None] = {}

    def live_first(col: int) -> int | None:
        if col not in first_live:
            if col >= v_base or base_df[col] == 0:
                first_live[col] = None
            else:
                fd = int(_first_docs(base, np.array([col]))[0])
                first_live[col] = fd if not dead[fd] else _first_live(base, col, dead)
        return first_live[col]

    if new_ids.size:
        local, first = np.unique(new_ids, return_index=True)
        doc_starts = np.concatenate([[0], np.cumsum(new_lengths)])
        docs = np.searchsorted(doc_starts, first, side="right") - 1
        positions = first - doc_starts[docs]
        cols = remap[local]
        # The first base document of every added term the base holds, at once; removed ones checked one by one.
        in_base = cols < v_base
        in_base[in_base] = base_df[cols[in_base]] > 0
        fds = np.full(cols.size, -1, dtype=np.int64)
        fds[in_base] = _first_docs(base, cols[in_base])
        for col, j, pos, fd in zip(cols.tolist(), docs.tolist(), positions.tolist(), fds.tolist()):
            if fd >= 0 and not dead[fd]:
                first_live[col] = fd
            fl = live_first(col)
            if fl is None or ins[j] <= fl:
                moved[col] = (int(ins[j]), 0, j, pos)
    if dead_tokens:
        gone_cols = {_base_column(base.vocab, t) for tokens in dead_tokens for t in tokens}
        gone = np.array(sorted(c for c in gone_cols if c not in moved and live_df[c] > 0), dtype=np.int64)
        if gone.size:
            fds = _first_docs(base, gone)
            at_doc: dict[int, list[int]] = {}
            for col, fd in zip(gone.tolist(), fds.tolist()):
                if dead[fd]:
                    fl = _first_live(base, col, dead)
                    if fl is not None:
                        at_doc.setdefault(fl, []).append(col)
            for d, cols in at_doc.items():
                where = _first_positions(doc_tokens(d))
                for col in cols:
                    moved[col] = (d, 1, 0, where[vocab.term(col)])
    keep = live_df[s_base] > 0
    if not moved:
        return s_base[keep]
    is_moved = np.zeros(live_df.size, dtype=bool)
    is_moved[np.fromiter(moved, dtype=np.int64, count=len(moved))] = True
    keep &= ~is_moved[s_base]
    # Where each moved term goes among the base's order: before the first term whose first
    # base document comes after its new place (within a base document, by position).
    places = np.array([k[0] for k in moved.values()], dtype=np.int64)
    lower = _lower_bounds(base, s_base, places)
    # A term moved into base document d goes among the terms d's block (those first met in d)
    # by its position in d: the block's positions, once per document.
    inside = sorted({k[0] for k in moved.values() if k[1] == 1})
    ends = dict(zip(inside, _lower_bounds(base, s_base, np.array(inside, dtype=np.int64) + 1).tolist()))
    blocks: dict[int, np.ndarray] = {}
    slots: list[tuple[int, int, int, int, int, int]] = []
    for (col, k), at in zip(moved.items(), lower.tolist()):
        if k[1] == 1:
            if k[0] not in blocks:
                where = _first_positions(doc_tokens(k[0]))
                blocks[k[0]] = np.array(
                    [where[vocab.term(c)] for c in s_base[at : ends[k[0]]].tolist()], dtype=np.int64
                )
            at += int(np.searchsorted(blocks[k[0]], k[3]))
        slots.append((at, *k, col))
    slots.sort()
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    at = kept_before[np.array([s[0] for s in slots], dtype=np.int64)]
    return np.insert(s_base[keep], at, np.array([s[-1] for s in slots], dtype=np.int64))


def _first_positions(tokens: Sequence[str]) -> dict[str, int]:
    """Each token's first position in ``tokens``."""
    where: dict[str, int] = {}
    for i, t in enumerate(tokens):
        where.setdefault(t, i)
    return where


def _lower_bounds(base: Bm25, s_base: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each target document, the first position in ``s_base`` (sorted by first base
    document) whose first document is at least the target: binary searches, all at once."""
    lo = np.zeros(targets.size, dtype=np.int64)
    hi = np.full(targets.size, s_base.size, dtype=np.int64)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        first = np.full(targets.size, -1, dtype=np.int64)
        first[active] = _first_docs(base, s_base[mid[active]])
        below = active & (first < targets)
        lo = np.where(below, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)


def _idf(live_df: np.ndarray, order: np.ndarray, n: int, epsilon: float) -> np.ndarray:
    """BM25Okapi's IDFs of the live terms (``order``: in first-seen order), 0 elsewhere:
    ``math.log`` per distinct document frequency, the mean summed left to right in
    ``order`` (``np.cumsum`` adds one after the other, as rank-bm25's running sum does)."""
    idf = np.zeros(live_df.size, dtype=np.float64)
    if order.size == 0:
        return idf
    dfs = live_df[order]
    by_df = np.zeros(int(dfs.max()) + 1, dtype=np.float64)
    distinct = np.flatnonzero(np.bincount(dfs))  # without sorting a vocabulary's worth of numbers
    by_df[distinct] = [math.log(n - f + 0.5) - math.log(f + 0.5) for f in distinct.tolist()]
    in_order = by_df[dfs]
    average = np.cumsum(in_order)[-1] / len(in_order)
    in_order[in_order < 0] = epsilon * average
    idf[order] = in_order
    return idf
