"""The arguments of the compiled first stage (:mod:`retrieval.search.kernels`), in named bundles.

:func:`retrieval.search.kernels.maxscore` and :func:`~retrieval.search.kernels.accumulate`
take a few of these instead of thirty positional arrays; :mod:`retrieval.search.first_stage`
builds them from the index and the question. They live apart from the kernels so that
building them does not import numba.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class FieldPostings(NamedTuple):
    """One field's postings (:class:`retrieval.index.bm25.Bm25`): posting ``p`` is sentence
    ``indices[p]`` of its segment and weighs ``idf[term] * table[codes[p]]``."""

    indices: np.ndarray  # uint16: the sentence within its segment, increasing within a term's run
    codes: np.ndarray  # uint16 or uint32: the posting's term-frequency part, a position in ``table``
    table: np.ndarray  # float64: the field's distinct term-frequency parts


class PostingRuns(NamedTuple):
    """Where :func:`~retrieval.search.kernels.accumulate` finds each term's postings: term ``t``'s start at ``start[t]``
    and come in runs ``lo[t]:hi[t]``, run ``r`` ending at posting ``seg_end[r]`` in segment
    ``seg_of[r]`` (:meth:`retrieval.index.bm25.Bm25.runs`)."""

    start: np.ndarray  # int64 per term
    idf: np.ndarray  # float64 per term
    lo: np.ndarray  # int64 per term
    hi: np.ndarray  # int64 per term
    seg_of: np.ndarray  # per run
    seg_end: np.ndarray  # per run


class Fields(NamedTuple):
    """The sentence fields a question is scored on. A sentence's base score is field 0's
    sum plus ``weights[f]`` times each other field's sum."""

    postings: tuple[FieldPostings, FieldPostings, FieldPostings]  # fewer fields: the unused repeat field 0
    n_fields: int  # how many fields the question uses (1-3); not ``count``, which would shadow tuple.count
    weights: np.ndarray  # float64[3]: each field's weight (field 0's is not used)


class Terms(NamedTuple):
    """The question's distinct (field, term) pairs, sorted by ``bound``, smallest first."""

    field: np.ndarray  # int64: the term's field, a position in Fields.postings
    lo: np.ndarray  # int64[segments, terms]: the term's first posting in each segment searched
    hi: np.ndarray  # int64[segments, terms]: one past its last (lo == hi: none in that segment)
    idf: np.ndarray  # float64
    scale: np.ndarray  # float64: the field's weight times the term's occurrences in the question
    bound: np.ndarray  # float64: scale x the term's largest weight, the most it adds to a base score


class Occurrences(NamedTuple):
    """The question's terms in question order, as often as they occur: a sentence's
    exact base score adds their weights in this order, as the numpy reference does."""

    field: np.ndarray  # int64
    term: np.ndarray  # int64: a position in Terms


class Segments(NamedTuple):
    """The segments a call searches: ``first`` to ``first + Terms.lo.shape[0] - 1``."""

    first: int
    size: int  # sentences per segment (:data:`retrieval.index.bm25.SEGMENT`)
    n_docs: int  # one past the last sentence these segments can hold
    # The id of the first sentence of segment 0: 0 for a field's own postings, the number of
    # sentences before them for the postings of sentences added by an update (Bm25.delta).
    offset: int = 0


class Evidence(NamedTuple):
    """The article evidence: a sentence's fused score is its base score times
    ``factor[article_ids[sentence]]`` (its base score when not ``used``)."""

    article_ids: np.ndarray  # each sentence's article
    factor: np.ndarray  # float64 per article
    used: bool
    largest: float  # the largest factor


class Search(NamedTuple):
    """How :func:`~retrieval.search.kernels.maxscore` searches (the values' reasons:
    :mod:`retrieval.search.first_stage`)."""

    k: int  # how many best fused scores to keep (ties kept)
    window: int  # sentences per window of the essential terms' additions
    seed: int  # sentences of the rarest terms scored first, for a starting cut-off (0: none)
    share: float  # terms are left out while their bounds add up to less than this share of the cut-off
