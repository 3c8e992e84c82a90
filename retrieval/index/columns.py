"""Documents' tokens as integer columns, the first step of building a BM25 field
(:class:`retrieval.index.bm25.Bm25`) or an update's delta: each distinct term numbered in order of
first appearance, every token one int32, and counting the distinct keys of an array in place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain

import numpy as np


class _Columns(dict):
    """term -> column, numbered in order of first appearance (a new term gets the next number)."""

    def __missing__(self, term: str) -> int:
        self[term] = column = len(self)
        return column


# Tokens encoded at a time: they are in memory as strings only for the chunk.
_CHUNK_TOKENS = 1 << 20


def token_columns(docs: Iterable[Sequence[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
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


def unique_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
