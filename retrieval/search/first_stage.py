"""First stage: the ``rerank_depth`` best sentences by fused BM25 score, times article evidence.

base(s)  = BM25_words(q, s) + w_fold * BM25_fold(q, s) [+ w_pairs * BM25_pairs(q, s)]
fused(s) = base(s) * (1 + article_weight * article(s) / best article)

where ``w_fold`` is ``retrieval.fold_weight`` for a question with diacritics (exact-accent
matches stay ahead, since folding merges different words) and
``retrieval.accentless_fold_weight`` for a question typed without any, and the pairs field
is the syllable-bigram field of the question's kind (:func:`_fields`). The article score
uses the same two word fields over whole articles.

Three passes give the same candidates and the same scores, bit for bit:

* :func:`candidates_for`, numpy over every sentence: the reference, and what the learned
  ranker's features need (it also knows ``neighbor_weight``);
* the dense pass (:func:`_dense_stage`), the same operations in reused buffers: small
  indexes, and large ones until the compiled kernels are loaded;
* the MaxScore driver (:func:`_maxscore`) around :func:`retrieval.search.kernels.maxscore`,
  which scores only the sentences that can still make the cut: large indexes.

:func:`first_stage` picks one; the :class:`~retrieval.search.backend.SearchBackend` it is
given says whether the kernels are loaded and lends the second core and the buffers.

Past 400 lines because the three ways of scoring share the candidate selection and must give
the same result; they are kept side by side so that stays visible.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from retrieval.config import RetrievalConfig
from retrieval.index.bm25 import Bm25
from retrieval.index.select import best_candidates
from retrieval.index.sentences import SentenceIndex
from retrieval.search.kernel_args import (
    Evidence,
    FieldPostings,
    Fields,
    Occurrences,
    PostingRuns,
    Search,
    Segments,
    Terms,
)
from retrieval.search.query import Query

if TYPE_CHECKING:
    from retrieval.search.backend import SearchBackend

Field = tuple[Bm25, Sequence[str], float]  # a sentence field, its query terms, its weight

# MaxScore's settings (the defaults of SearchBackend). Sentences per window (the essential
# terms' postings in a window are added up before its sentences are checked): the fastest at 1M.
WINDOW = 4096
# Sentences of the rarest terms scored first for a starting cut-off (0: none): enough to prune
# from the first window on, few enough that their lookups of every term do not show.
SEED = 32
# A term is left out of the windows' additions (looked up only for sentences that may still make
# the cut) only while such terms' bounds add up to less than this share of the cut-off: a lookup
# per passing sentence costs more than adding the postings unless those terms can add little.
SHARE = 0.3


def _fold_weight(query: Query, cfg: RetrievalConfig) -> float:
    """The folded fields' weight for ``query`` (higher for a question typed without diacritics)."""
    return cfg.accentless_fold_weight if query.accentless else cfg.fold_weight


def _fields(index: SentenceIndex, query: Query, cfg: RetrievalConfig) -> list[Field]:
    """The sentence fields that score ``query``: (field, its query terms, its weight), the word field first."""
    fold_weight = _fold_weight(query, cfg)
    fields: list[Field] = [(index.bm25, query.terms, 1.0)]
    if fold_weight:
        fields.append((index.fold, query.folded, fold_weight))
    if cfg.bigram_weight and index.pairs is not None and not query.accentless:
        fields.append((index.pairs, query.pairs, cfg.bigram_weight))
    if cfg.accentless_bigram_weight and index.fold_pairs is not None and query.accentless:
        fields.append((index.fold_pairs, query.fold_pairs, cfg.accentless_bigram_weight))
    return fields


def _fuse(parts: Sequence[np.ndarray], fields: Sequence[Field]) -> np.ndarray:
    """The fused BM25 score: the word field plus each other field times its weight, in that order."""
    base = parts[0]
    for part, (_, _, weight) in zip(parts[1:], fields[1:]):
        base = base + weight * part
    return base


def neighbour_scores(index: SentenceIndex, scores: np.ndarray) -> np.ndarray:
    """For each sentence, the higher score of its two neighbours in the same article."""
    ids = index.sentence_article_ids
    same_prev = np.zeros(scores.size, dtype=bool)
    same_prev[1:] = ids[1:] == ids[:-1]
    prev = np.where(same_prev, np.concatenate(([0.0], scores[:-1])), 0.0)
    same_next = np.zeros(scores.size, dtype=bool)
    same_next[:-1] = same_prev[1:]
    nxt = np.where(same_next, np.concatenate((scores[1:], [0.0])), 0.0)
    return np.maximum(prev, nxt)


def _article_relative(index: SentenceIndex, query: Query, cfg: RetrievalConfig) -> np.ndarray | None:
    """Each article's score over the best article's (None when no article scores)."""
    fold_weight = _fold_weight(query, cfg)
    art = index.article_bm25.scores(query.terms)
    if fold_weight:
        art = art + fold_weight * index.article_fold.scores(query.folded)
    top = art.max() if art.size else 0.0
    return art / top if top > 0 else None


def candidates_for(
    index: SentenceIndex, query: Query, cfg: RetrievalConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """First stage over every sentence: (candidate ids, fused BM25 per sentence, score with
    article and neighbour evidence per sentence, relative article score per sentence).

    The reference for :func:`first_stage`, and what the learned ranker's features need."""
    if not query.terms and not query.folded:
        return None
    fields = _fields(index, query, cfg)
    base = _fuse([field.scores(terms) for field, terms, _ in fields], fields)
    rel = _article_relative(index, query, cfg)
    art_rel = np.zeros(index.sentence_article_ids.size) if rel is None else rel[index.sentence_article_ids]
    fused = base * (1 + cfg.article_weight * art_rel)
    if cfg.neighbor_weight:
        # An answer often sits next to the sentence that matches the question
        # best: each sentence gets a share of its better neighbour's score.
        fused = fused + cfg.neighbor_weight * neighbour_scores(index, fused)
    candidates = best_candidates(fused, cfg.rerank_depth)
    if candidates.size == 0:
        return None
    return candidates, base, fused, art_rel


def first_stage(
    backend: SearchBackend, index: SentenceIndex, query: Query, cfg: RetrievalConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(candidate ids, their fused BM25, their score with article evidence): exactly the
    candidates of :func:`candidates_for` and the same scores, bit for bit, but without
    scoring every sentence when ``backend`` has the compiled kernels for ``index``.

    :func:`retrieval.search.kernels.maxscore` visits only the sentences that hold a query term
    whose bound can still lift a sentence into the ``rerank_depth`` best, and scores
    exactly only those whose bound reaches the current cut-off (MaxScore). On a small
    index, until the kernels are loaded (:meth:`SearchBackend.compiled`), and with a
    neighbour weight, negative weights or more fields than the kernel takes, it is the
    same pass in numpy (:func:`_dense_stage`).
    """
    if not query.terms and not query.folded:
        return None
    fields = _fields(index, query, cfg)
    if (
        not backend.compiled(index)
        or len(fields) > 3
        or cfg.neighbor_weight
        or (cfg.article_weight < 0 or any(w < 0 or not field.nonnegative for field, _, w in fields))
    ):
        return _dense_stage(backend, index, query, cfg, fields)
    backend.release_dense_buffers()  # 16 MB at 1M sentences: the numpy pass will not run again
    occurrences: list[tuple[int, int]] = []  # (field, column) of every known query term, in order
    for f, (field, terms, _) in enumerate(fields):
        for term in terms:
            col = field.column(term)
            if col is not None:
                occurrences.append((f, col))
    if not occurrences:
        return None
    evidence = _article_factor(backend, index, query, cfg)
    docs, base, fused = _maxscore(backend, index, fields, occurrences, evidence, cfg.rerank_depth)
    if docs.size == 0:
        return None
    return docs, base, fused


def _dense_stage(
    backend: SearchBackend, index: SentenceIndex, query: Query, cfg: RetrievalConfig, fields: list[Field]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`candidates_for` in numpy in ``backend``'s reused buffers: the same operations in the
    same order (some in place, the evidence factor per article); ``fields``: :func:`_fields`
    of the query."""
    if cfg.neighbor_weight:
        found = candidates_for(index, query, cfg)
        if found is None:
            return None
        candidates, base, fused, _ = found
        return candidates, base[candidates], fused[candidates]
    first, other = backend.dense_buffers(index.sentence_article_ids.size)
    base = fields[0][0].scores(fields[0][1], out=first)
    for field, terms, weight in fields[1:]:
        part = field.scores(terms, out=other)
        part *= weight
        base += part
    rel = _article_relative(index, query, cfg)
    if rel is None:
        fused = base  # base * (1 + article_weight * 0) is base, bit for bit
    else:
        fused = np.take(1 + cfg.article_weight * rel, index.sentence_article_ids, out=other)
        fused *= base
    candidates = best_candidates(fused, cfg.rerank_depth)
    if candidates.size == 0:
        return None
    return candidates, base[candidates], fused[candidates]


def _parts(field: Bm25) -> list[tuple[Bm25, int]]:
    """(postings, id of their first document) of ``field``: its own, and those of the documents an
    update added (``Bm25.delta``, numbered from ``n_base``)."""
    if field.delta is None:
        return [(field, 0)]
    delta, n_base, _ = field._changes()
    return [(field, 0), (delta, n_base)]


def _columns(field: Bm25, terms: Sequence[str]) -> np.ndarray:
    """The columns of ``terms`` that ``field`` holds, in order."""
    return np.array([col for col in map(field.column, terms) if col is not None], dtype=np.int64)


def _runs(part: Bm25, cols: np.ndarray, idf: np.ndarray) -> tuple[PostingRuns, int]:
    """(:class:`PostingRuns` of ``part``'s postings of the columns ``cols``, how many postings they
    hold), for :func:`retrieval.search.kernels.accumulate`; ``idf``: the field's IDFs."""
    cols = cols[cols < len(part.indptr) - 1]  # a column added by an update has no postings before it
    postings = int((part.indptr[cols + 1] - part.indptr[cols]).sum())
    segments = part.segment_runs()
    if segments is not None:
        seg_ptr, seg_of, seg_end = segments
        runs = (seg_ptr[cols], seg_ptr[cols + 1], seg_of, seg_end)
    else:  # one run per term, in segment 0
        runs = (
            np.arange(cols.size),
            np.arange(1, cols.size + 1),
            np.zeros(cols.size, dtype=np.uint16),
            part.indptr[cols + 1],
        )
    lo, hi, seg_of, seg_end = runs
    # The per-term arrays as int64 whatever the part (a segmented field's pointers may be int32):
    # one compiled variant of the kernel for a field's own postings and an update's.
    return PostingRuns(
        start=part.indptr[cols].astype(np.int64),
        idf=idf[cols],
        lo=lo.astype(np.int64),
        hi=hi.astype(np.int64),
        seg_of=seg_of,
        seg_end=seg_end,
    ), postings


def _postings(part: Bm25) -> FieldPostings:
    """``part``'s :class:`FieldPostings`."""
    return FieldPostings(indices=part.indices, codes=part.codes, table=part.table)


def _accumulate(field: Bm25, cols: np.ndarray, out: np.ndarray) -> None:
    """:meth:`Bm25.scores` of the columns ``cols`` in compiled code, into ``out`` (overwritten):
    each part's postings into its documents' scores, then the removed documents' set to 0."""
    from retrieval.search import kernels

    for part, first in _parts(field):
        kernels.accumulate(
            _postings(part),
            _runs(part, cols, field.idf)[0],
            part.segment,
            out[first : first + part.n_docs] if first else out,
        )
    if field.dead_ids is not None:
        out[field.dead_ids] = 0.0


def compiled_scores(field: Bm25, terms: Sequence[str], out: np.ndarray | None = None) -> np.ndarray:
    """:meth:`Bm25.scores` in compiled code (the same additions in the same order), in ``out``
    (``n_docs`` float64, overwritten) when given."""
    score = np.empty(field.n_docs) if out is None else out
    _accumulate(field, _columns(field, terms), score)
    return score


def _article_factor(
    backend: SearchBackend, index: SentenceIndex, query: Query, cfg: RetrievalConfig
) -> tuple[np.ndarray, float] | None:
    """(each article's evidence factor, 1 + ``article_weight`` x :func:`_article_relative`,
    and the largest) in compiled code, the same operations in the same order; in this
    thread's buffers, valid until its next question. None when no article scores."""
    from retrieval.search import kernels

    fold_weight = _fold_weight(query, cfg)
    art, fold, factor = backend.article_buffers(len(index.articles))
    fields = [(index.article_bm25, query.terms, art)]
    if fold_weight:
        fields.append((index.article_fold, query.folded, fold))
    sums = []  # (accumulate's arguments, how many postings it adds) per field
    for field, terms, out in fields:
        cols = _columns(field, terms)
        postings = sum(_runs(part, cols, field.idf)[1] for part, _ in _parts(field))
        sums.append(((field, cols, out), postings))
    if len(sums) == 2 and backend.splits(index):
        # The two fields are summed at once, one per core: this thread the one with more
        # postings (the other thread starts later). The kernel runs without the interpreter
        # lock, and its arguments are ready: the other thread needs the lock only briefly.
        (mine, _), (theirs, _) = sorted(sums, key=lambda s: s[1], reverse=True)
        other = backend.submit(_accumulate, *theirs)
        _accumulate(*mine)
        other.result()
    else:
        for args, _ in sums:
            _accumulate(*args)
    top = kernels.article_factor(art, fold, float(fold_weight), bool(fold_weight), float(cfg.article_weight), factor)
    if top > 0 and index.changes is not None:
        factor[index.changes.removed] = 0.0  # a removed article's sentences fuse to 0
    # The largest factor is the top article's (article_weight >= 0 here: see first_stage).
    return (factor, 1 + cfg.article_weight * 1.0) if top > 0 else None


def _segment_ranges(field: Bm25, cols: Sequence[int], js: Sequence[int], lo: np.ndarray, hi: np.ndarray) -> None:
    """Each column ``cols[t]``'s postings in each segment of ``field``, into column ``js[t]`` of
    ``lo`` / ``hi`` (one row per segment; a segment without postings keeps an empty range)."""
    known = [(col, j) for col, j in zip(cols, js) if col < len(field.indptr) - 1]  # not added by an update
    cols, js = [col for col, _ in known], [j for _, j in known]
    if not field.segmented:
        for col, j in zip(cols, js):
            lo[0, j], hi[0, j] = field.postings(col)
        return
    from retrieval.search import kernels

    kernels.segment_ranges(
        field.indptr,
        field.seg_ptr,
        field.seg_of,
        field.seg_end,
        np.asarray(cols, dtype=np.int64),
        np.asarray(js, dtype=np.int64),
        lo,
        hi,
    )


def _maxscore(
    backend: SearchBackend,
    index: SentenceIndex,
    fields: Sequence[Field],
    occurrences: list[tuple[int, int]],
    evidence: tuple[np.ndarray, float] | None,
    depth: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`retrieval.search.kernels.maxscore` for the query terms ``occurrences`` ((field, column),
    in query order) and the articles' ``evidence`` (:func:`_article_factor`): the
    candidates, their base and fused scores.

    The kernel visits the index segment by segment (:data:`retrieval.index.bm25.SEGMENT`
    sentences). When ``backend`` splits ``index`` (:meth:`SearchBackend.splits`), two runs of
    segments holding about half of the question's postings each are searched at once (the
    kernel releases the interpreter lock), each for its own ``depth`` best, and merged:
    the ``depth`` best of the whole are among them, and each sentence's scores are
    computed the same way, so the result is the one-pass result. The sentences an update
    added (``Bm25.delta``) are searched the same way, by one more call on their own postings;
    the sentences of removed articles get an evidence factor of 0, so they never fuse above
    0 and are neither sampled nor kept."""
    from retrieval.search import kernels

    times = Counter(occurrences)
    scale = {key: fields[key[0]][2] * n for key, n in times.items()}
    bound = {key: scale[key] * float(fields[key[0]][0].max_weight[key[1]]) for key in times}
    terms = sorted(times, key=lambda key: (bound[key], key))  # smallest bound first
    position = {key: i for i, key in enumerate(terms)}
    t_field = np.array([f for f, _ in terms], dtype=np.int64)
    t_idf = np.array([float(fields[f][0].idf[col]) for f, col in terms], dtype=np.float64)
    t_scale = np.array([scale[key] for key in terms], dtype=np.float64)
    t_bound = np.array([bound[key] for key in terms], dtype=np.float64)
    in_query_order = Occurrences(
        field=np.array([f for f, _ in occurrences], dtype=np.int64),
        term=np.array([position[key] for key in occurrences], dtype=np.int64),
    )
    weights = np.array([w for _, _, w in fields] + [0.0] * (3 - len(fields)))
    if evidence is not None:
        factor, max_factor, used = evidence[0], evidence[1], True
    elif index.changes is not None:  # no article evidence, but removed articles' sentences fuse to 0
        factor, max_factor, used = index.changes.live_factor, 1.0, True
    else:
        factor, max_factor, used = np.ones(1), 1.0, False
    article_evidence = Evidence(article_ids=index.sentence_article_ids, factor=factor, used=used, largest=max_factor)
    seed = max(backend.seed, depth + depth // 2) if backend.seed else 0  # the sample must be able to fill
    search = Search(k=depth, window=backend.window, seed=seed, share=backend.share)
    shared = np.zeros(1)  # the calls' common k-th best so far

    def ranges(part_of: int) -> tuple[Fields, np.ndarray, np.ndarray, int, int, int]:
        """The fields' postings of part ``part_of`` (0: their own, 1: an update's added
        sentences), each term's postings per segment, the part's segment size, first
        sentence and number of sentences."""
        parts = [_parts(field)[part_of][0] for field, _, _ in fields]
        first = _parts(fields[0][0])[part_of][1]
        size = parts[0].segment
        n = parts[0].n_base if part_of == 0 and parts[0].n_base is not None else parts[0].n_docs
        n_segs = -(-n // size)
        lo = np.zeros((n_segs, len(terms)), dtype=np.int64)
        hi = np.zeros((n_segs, len(terms)), dtype=np.int64)
        for f, part in enumerate(parts):
            js = [j for j, key in enumerate(terms) if key[0] == f]
            _segment_ranges(part, [terms[j][1] for j in js], js, lo, hi)
        postings = [_postings(part) for part in parts]
        postings += [postings[0]] * (3 - len(postings))
        bundle = Fields(postings=(postings[0], postings[1], postings[2]), n_fields=len(fields), weights=weights)
        return bundle, lo, hi, size, first, n

    def call(
        part: tuple, first: int, last: int
    ) -> tuple[Fields, Terms, Occurrences, Segments, Evidence, Search, np.ndarray]:
        """The kernel's arguments for segments ``first`` to ``last - 1`` of ``part`` (:func:`ranges`)."""
        field_bundle, lo, hi, size, offset, n = part
        bundle = Terms(field=t_field, lo=lo[first:last], hi=hi[first:last], idf=t_idf, scale=t_scale, bound=t_bound)
        segments = Segments(first=first, size=size, n_docs=offset + n, offset=offset)
        return field_bundle, bundle, in_query_order, segments, article_evidence, search, shared

    own = ranges(0)
    n_segs = own[1].shape[0]
    added = ranges(1) if index.changes is not None else None
    halves = []
    if not backend.splits(index) or n_segs < 2:
        halves.append(kernels.maxscore(*call(own, 0, n_segs)))
    else:
        # Two runs of segments, one per core, with about as many of the question's postings each.
        lo, hi = own[1], own[2]
        work = np.cumsum((hi - lo).sum(axis=1))
        split = min(max(int(np.searchsorted(work, work[-1] / 2)) + 1, 1), n_segs - 1)
        # Both calls' arguments are made first: the other thread then needs the interpreter lock
        # only to enter the kernel.
        mine, theirs = call(own, 0, split), call(own, split, n_segs)
        second = backend.submit(kernels.maxscore, *theirs)
        halves.append(kernels.maxscore(*mine))
        halves.append(second.result())
    if added is not None and added[5]:
        halves.append(kernels.maxscore(*call(added, 0, added[1].shape[0])))
    if len(halves) == 1:
        docs, base, fused, _ = halves[0]
        return docs, base, fused
    docs = np.concatenate([h[0] for h in halves])
    base = np.concatenate([h[1] for h in halves])
    fused = np.concatenate([h[2] for h in halves])
    # What one pass keeps: the depth best of all (ties kept), still in sentence order.
    keep = best_candidates(fused, depth)
    return docs[keep], base[keep], fused[keep]


def warm_kernels(backend: SearchBackend, index: SentenceIndex) -> None:
    """Call every kernel once with ``index``'s array types, for each combination of fields a
    question can bring: numba loads (or compiles) their machine code. Each call has no term
    and scores nothing."""
    from retrieval.search import kernels

    for field in (index.article_bm25, index.article_fold):
        compiled_scores(field, ())
    art, fold, factor = backend.article_buffers(len(index.articles))
    kernels.article_factor(art, fold, 1.0, True, 1.0, factor)
    evidence = (np.ones(len(index.articles)), 1.0)
    combos = [(index.bm25, index.fold)] + [(index.bm25, index.fold, f) for f in (index.pairs, index.fold_pairs) if f]
    for combo in combos:  # each also loads the segment ranges for its fields' arrays
        _maxscore(backend, index, [(field, (), 1.0) for field in combo], [], evidence, 1)
