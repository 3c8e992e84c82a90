"""Selecting the best sentences: a retrieved sentence (:class:`Hit`) and the ids that can be
among the k best of a score array (:func:`best_candidates`), for the BM25 fields and the first stage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
