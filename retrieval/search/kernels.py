"""Compiled inner loops of retrieval's first stage (numba), for large indexes
(:data:`retrieval.search.backend.KERNEL_MIN_SENTENCES`): an exact MaxScore top-k over the
sentence fields (:func:`maxscore`) and the posting-list additions of the article
evidence (:func:`accumulate`). Postings hold a document's number within its
segment (:data:`retrieval.index.bm25.SEGMENT`); both visit the segments in order.

A posting's weight is ``idf[term] * table[code]`` (:class:`retrieval.index.bm25.Bm25`
stores each posting's term-frequency part as a code into the field's table of
distinct values). :func:`maxscore` adds the same float64 numbers in the same order
as the numpy reference (``score[docs] += weights`` per query term, in query order;
then the fields fused and multiplied by the article evidence factor), so its
scores are bit for bit those of :func:`retrieval.search.first_stage.candidates_for`,
which ``tests/test_rank.py`` checks.

:func:`maxscore` and :func:`accumulate` take their arrays in named bundles
(:mod:`retrieval.search.kernel_args`), which :mod:`retrieval.search.first_stage` builds.
They hand them to their compiled cores (:func:`_maxscore`, :func:`_accumulate`) as plain
tuples: numba types a plain tuple's items in C, a named tuple in Python, which costs
about 6 µs a call (1% of a question at 1M sentences).

numba compiles each function on its first call (seconds) and keeps the machine code
in its on-disk cache (``cache=True``: next to this file, or under the user's cache
folder when that is read-only), so a later process only loads it (about a second
with numba's own start-up; :meth:`retrieval.search.backend.SearchBackend.warm_up_after_first_answer`
does it in the background).

The arrays are trusted: the index file's hash is checked before they are used
(:mod:`retrieval.index.store`), and the loops do not check bounds.

One module past 400 lines because the kernels are one compiled unit: they inline one another
(``inline="always"``) and read the same argument bundles, so they are read and changed together.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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

# Relative slack on the pruning bounds, far above any floating-point rounding of the sums.
SLACK = 1e-9


def accumulate(postings: FieldPostings, runs: PostingRuns, segment: int, out: np.ndarray) -> None:
    """``out[doc] = 0``, then ``out[doc] += idf[t] * table[codes[p]]`` for every posting ``p``
    of each term ``t``, term after term: :meth:`Bm25.scores`. A posting's document is
    ``seg_of[r] * segment + indices[p]`` for its run ``r``."""
    _accumulate(tuple(postings), tuple(runs), segment, out)


@njit(cache=True, nogil=True)
def _accumulate(postings, runs, segment, out):  # pragma: no cover - compiled
    """:func:`accumulate` on plain tuples."""
    indices, codes, table = postings
    starts, idfs, r_lo, r_hi, seg_of, seg_end = runs
    out[:] = 0.0
    for t in range(starts.size):
        idf = idfs[t]
        p = starts[t]
        for r in range(r_lo[t], r_hi[t]):
            base = seg_of[r] * segment
            end = seg_end[r]
            while p < end:
                out[base + indices[p]] += idf * table[codes[p]]
                p += 1


@njit(cache=True, nogil=True, inline="always")
def _largest(values):  # pragma: no cover - compiled
    """The largest of ``values`` and 0.0: four running maxima (one is a chain of dependent
    comparisons, four times slower)."""
    m0 = m1 = m2 = m3 = 0.0
    n4 = values.size - values.size % 4
    for a in range(0, n4, 4):
        m0 = max(m0, values[a])
        m1 = max(m1, values[a + 1])
        m2 = max(m2, values[a + 2])
        m3 = max(m3, values[a + 3])
    for a in range(n4, values.size):
        m0 = max(m0, values[a])
    return max(max(m0, m1), max(m2, m3))


@njit(cache=True, nogil=True)
def article_factor(art, fold, fold_weight, use_fold, article_weight, out):  # pragma: no cover - compiled
    """The article evidence factor of every article, as :func:`retrieval.search.first_stage.candidates_for`
    computes it (the same operations on the same float64 numbers): ``art`` (overwritten) plus
    ``fold_weight`` x ``fold`` when ``use_fold``, over its largest value ``top``; ``out`` =
    1 + ``article_weight`` x that. Returns ``top``; when it is not positive no article
    scores, and ``out`` is left as it was. For an ``article_weight`` of 0 or more the
    largest factor is the top article's, ``1 + article_weight`` (the map is non-decreasing)."""
    if use_fold:
        for a in range(art.size):
            art[a] = art[a] + fold_weight * fold[a]
    top = _largest(art)
    if top > 0:
        for a in range(art.size):
            out[a] = 1 + article_weight * (art[a] / top)
    return top


@njit(cache=True, nogil=True)
def segment_ranges(indptr, seg_ptr, seg_of, seg_end, cols, js, lo, hi):  # pragma: no cover - compiled
    """Each column ``cols[t]``'s postings in each segment of a segmented field, into column
    ``js[t]`` of ``lo`` / ``hi`` (one row per segment; a segment without postings keeps
    what it had): :meth:`retrieval.index.bm25.Bm25.runs`."""
    for t in range(cols.size):
        col = cols[t]
        j = js[t]
        start = indptr[col]
        for r in range(seg_ptr[col], seg_ptr[col + 1]):
            s = seg_of[r]
            lo[s, j] = start
            hi[s, j] = seg_end[r]
            start = seg_end[r]


@njit(cache=True, nogil=True, inline="always")
def _in_field(fields, f, visit, args):  # pragma: no cover - compiled
    """``visit(fields[f], args)``: the one place where a field's number picks its arrays.
    The fields' codes may differ in width (uint16, uint32), so the three cannot be one
    array indexed at run time: each branch is compiled for its own field's types."""
    if f == 0:
        return visit(fields[0], args)
    if f == 1:
        return visit(fields[1], args)
    return visit(fields[2], args)


@njit(cache=True, nogil=True, inline="always")
def _doc(postings, args):  # pragma: no cover - compiled
    """The sentence (within its segment) of posting ``p``; ``args``: ``(p,)``."""
    indices, _, _ = postings
    (p,) = args
    return indices[p]


@njit(cache=True, nogil=True, inline="always")
def _value(postings, args):  # pragma: no cover - compiled
    """(weight of ``doc`` in the sorted postings ``cursor:hi``, or 0.0; the new cursor);
    ``args``: ``(idf, hi, cursor, doc)``. Cursors only move forward: the documents are
    looked up in increasing order."""
    indices, codes, table = postings
    idf, hi, cursor, doc = args
    p = cursor
    if p >= hi or indices[p] >= doc:
        if p < hi and indices[p] == doc:
            return idf * table[codes[p]], p
        return 0.0, p
    # Gallop, then binary search in (p, p + step].
    step = 1
    while p + step < hi and indices[p + step] < doc:
        p += step
        step *= 2
    a = p + 1
    b = min(p + step, hi - 1)
    while a < b:
        m = (a + b) >> 1
        if indices[m] < doc:
            a = m + 1
        else:
            b = m
    if a < hi and indices[a] == doc:
        return idf * table[codes[a]], a
    return 0.0, a


@njit(cache=True, nogil=True, inline="always")
def _add_window(postings, args):  # pragma: no cover
    """Add ``scale`` x the weights of the postings ``p:hi`` below ``we`` into the window's
    ``acc``; note each newly reached sentence in ``touched``. Returns (cursor, count);
    ``args``: ``(idf, scale, p, hi, ws, we, acc, seen, touched, n_touched)``."""
    indices, codes, table = postings
    idf, scale, p, hi, ws, we, acc, seen, touched, n_touched = args
    while p < hi and indices[p] < we:
        d = indices[p] - ws
        acc[d] += scale * (idf * table[codes[p]])
        touched[n_touched] = d  # kept only the first time (no branch: it is mispredicted half the time)
        n_touched += 1 - seen[d]
        seen[d] = 1
        p += 1
    return p, n_touched


@njit(cache=True, nogil=True, inline="always")
def _base(values, o_field, o_term, weights, n_fields, sums):  # pragma: no cover - compiled
    """The base score from each term's weight in a sentence (``values``): every occurrence
    in query order, field by field, then field 0 plus each other field times its weight."""
    sums[0] = 0.0
    sums[1] = 0.0
    sums[2] = 0.0
    for o in range(o_term.size):
        sums[o_field[o]] += values[o_term[o]]
    base = sums[0]
    for f in range(1, n_fields):
        base = base + weights[f] * sums[f]
    return base


@njit(cache=True, nogil=True, inline="always")
def _sift_down(heap, size, i):  # pragma: no cover - compiled
    while True:
        small = i
        left = 2 * i + 1
        if left < size and heap[left] < heap[small]:
            small = left
        if left + 1 < size and heap[left + 1] < heap[small]:
            small = left + 1
        if small == i:
            return
        heap[i], heap[small] = heap[small], heap[i]
        i = small


@njit(cache=True, nogil=True, inline="always")
def _push(heap, filled, value):  # pragma: no cover - compiled
    """Keep the ``heap.size`` largest values seen in ``heap`` (a min-heap once full, its
    smallest at 0); ``filled``: how many it holds. Returns the new count."""
    k = heap.size
    if filled < k:
        heap[filled] = value
        filled += 1
        if filled == k:
            for i in range(k // 2 - 1, -1, -1):
                _sift_down(heap, k, i)
    elif value > heap[0]:
        heap[0] = value
        _sift_down(heap, k, 0)
    return filled


@njit(cache=True, nogil=True, inline="always")
def _non_essential(prefix, ne, limit):  # pragma: no cover - compiled
    """How many of the smallest-bound terms (``prefix``: their bounds' running sums) can be
    left out of the windows: those whose bounds together stay under ``limit``."""
    while ne < prefix.size and prefix[ne] * (1 + SLACK) < limit:
        ne += 1
    return ne


def maxscore(
    fields: Fields,
    terms: Terms,
    occurrences: Occurrences,
    segments: Segments,
    evidence: Evidence,
    search: Search,
    shared: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The sentences that can be among the ``search.k`` best by fused score, with (base, fused).

    ``terms`` are searched in ``segments`` (row ``s`` of ``terms.lo`` / ``terms.hi`` holds
    each term's postings in segment ``segments.first + s``, whose ids are numbers within
    the segment). :func:`retrieval.search.first_stage.first_stage` runs two runs of
    segments of a large index at once, one per core, and merges them. ``shared[0]`` is a
    k-th best score the calls share: each raises it to its own k-th best and takes it as
    its cut-off when it is higher (any value either writes is at most the k-th best of
    the whole, so a stale or lost update only prunes less).

    MaxScore: the terms whose bounds add up to less than ``search.share`` of the current
    k-th best fused score (over the largest evidence factor) are "non-essential"; only
    sentences that hold an essential term are visited, window by window
    (``search.window`` sentences); their bounds are tightened with the non-essential
    terms' weights, largest first, and only those that still reach the k-th best are
    scored exactly, every occurrence in query order. Returns the sentences with a
    positive fused score at least the final k-th best (ties kept), in increasing order,
    their base and fused scores: exactly what a full pass and ``best_candidates``
    select; and how many sentences were scored exactly.

    The cut-off starts from a sample: up to ``search.seed`` sentences, those of the term
    with the largest bound (the rarest, most telling word), then of the next, and so on,
    are scored exactly first (each sentence once), and the k-th best of them is a lower
    bound of the final k-th best, so the pruning bites from the first window on instead
    of after k arbitrary sentences.
    """
    postings, count, weights = fields
    return _maxscore(
        (tuple(map(tuple, postings)), count, weights),
        tuple(terms),
        tuple(occurrences),
        tuple(segments),
        tuple(evidence),
        tuple(search),
        shared,
    )


@njit(cache=True, nogil=True)
def _maxscore(fields, terms, occurrences, segments, evidence, search, shared):  # pragma: no cover - compiled
    """:func:`maxscore` on plain tuples, unpacked in the bundles' order."""
    postings, n_fields, weights = fields
    t_field, t_lo, t_hi, t_idf, t_scale, t_bound = terms
    o_field, o_term = occurrences
    seg_first, segment, n_docs, offset = segments
    article_ids, factor, use_factor, max_factor = evidence
    k, window, seed, share = search
    n_segs = t_lo.shape[0]
    n_terms = t_lo.shape[1]
    prefix = np.empty(n_terms)
    total = 0.0
    for t in range(n_terms):
        total += t_bound[t]
        prefix[t] = total
    acc = np.zeros(window)
    seen = np.zeros(window, dtype=np.uint8)
    touched = np.empty(window + 1, dtype=np.int64)
    passed = np.empty(window, dtype=np.int64)
    bounds = np.empty(window)
    scored = 0
    cursor = np.empty(n_terms, dtype=np.int64)  # accumulation cursors of the essential terms
    lookup = np.empty(n_terms, dtype=np.int64)  # lookup cursors, every term
    values = np.zeros(n_terms)
    sums = np.zeros(3)
    heap = np.empty(k)
    filled = 0
    theta = 0.0
    cap = 1024
    c_doc = np.empty(cap, dtype=np.int64)
    c_base = np.empty(cap)
    c_fused = np.empty(cap)
    found = 0
    ne = 0  # terms [0, ne) are non-essential
    cut = 0.0  # sentences whose bound is below it cannot be among the k best
    if seed > 0 and n_terms > 0:
        sample = np.empty(k)
        n_sample = 0
        left = seed
        top = n_terms - 1  # the term being sampled: largest bound first
        while top >= 0 and left > 0:
            for s in range(n_segs):
                first = t_lo[s, top]
                last = min(t_hi[s, top], first + left)
                if first >= last:
                    continue
                left -= last - first
                base_doc = offset + (seg_first + s) * segment
                for t in range(n_terms):
                    lookup[t] = t_lo[s, t]
                for p in range(first, last):
                    rel = _in_field(postings, t_field[top], _doc, (p,))
                    # A sentence that holds a term sampled before (all its postings were) is in the
                    # sample already: counted twice, it could lift the k-th best above the true one.
                    sampled = False
                    for t in range(top + 1, n_terms):
                        values[t], lookup[t] = _in_field(
                            postings, t_field[t], _value, (t_idf[t], t_hi[s, t], lookup[t], rel)
                        )
                        if lookup[t] < t_hi[s, t] and _in_field(postings, t_field[t], _doc, (lookup[t],)) == rel:
                            sampled = True
                            break
                    if sampled:
                        continue
                    for t in range(top + 1):
                        values[t], lookup[t] = _in_field(
                            postings, t_field[t], _value, (t_idf[t], t_hi[s, t], lookup[t], rel)
                        )
                    base = _base(values, o_field, o_term, weights, n_fields, sums)
                    fused = base * factor[article_ids[base_doc + rel]] if use_factor else base
                    if not fused > 0:
                        continue
                    n_sample = _push(sample, n_sample, fused)
                if left == 0:
                    break
            top -= 1
        if n_sample == k:
            cut = sample[0]
            ne = _non_essential(prefix, ne, cut * share / max_factor)
    done = False
    for s in range(n_segs):
        if done:
            break
        base_doc = offset + (seg_first + s) * segment
        stop = min(base_doc + segment, n_docs)
        for t in range(n_terms):
            cursor[t] = t_lo[s, t]
            lookup[t] = t_lo[s, t]
        for ws in range(base_doc, stop, window):
            if shared[0] > cut:  # the other calls' k-th best so far
                cut = shared[0]
                ne = _non_essential(prefix, ne, cut * share / max_factor)
            if ne >= n_terms:
                done = True  # even every term's bound together cannot reach the k-th best any more
                break
            we = min(ws + window, stop)
            # Window bounds within the segment (the postings' ids are).
            ws_rel = ws - base_doc
            we_rel = we - base_doc
            n_touched = 0
            for t in range(ne, n_terms):
                cursor[t], n_touched = _in_field(
                    postings,
                    t_field[t],
                    _add_window,
                    (t_idf[t], t_scale[t], cursor[t], t_hi[s, t], ws_rel, we_rel, acc, seen, touched, n_touched),
                )
            if n_touched == 0:
                continue
            ne_w = ne  # the non-essential terms of this window (``ne`` may grow inside it)
            rest = prefix[ne_w - 1] if ne_w > 0 else 0.0
            # Bounds from the essential terms, in the order the sentences were reached; the few
            # that can still make the cut are then taken in increasing order (for the cursors).
            n_pass = 0
            for j in range(n_touched):
                d = touched[j]
                bound = acc[d] + rest
                acc[d] = 0.0
                seen[d] = 0
                # First against the largest factor, which needs no lookup (most sentences fail
                # it); a product with a smaller factor is no larger, so none is let through.
                if bound * max_factor * (1 + SLACK) < cut:
                    continue
                if use_factor and bound * factor[article_ids[ws + d]] * (1 + SLACK) < cut:
                    continue
                passed[n_pass] = d
                bounds[n_pass] = bound
                n_pass += 1
            order = np.argsort(passed[:n_pass]) if n_pass > 1 else np.zeros(n_pass, dtype=np.int64)
            for j in order:
                doc = ws + passed[j]
                rel = ws_rel + passed[j]
                bound = bounds[j]
                f_doc = factor[article_ids[doc]] if use_factor else 1.0
                if bound * f_doc * (1 + SLACK) < cut:
                    continue
                # The non-essential terms, largest bound first: each replaces its bound by its weight.
                t = ne_w - 1
                while t >= 0:
                    values[t], lookup[t] = _in_field(
                        postings, t_field[t], _value, (t_idf[t], t_hi[s, t], lookup[t], rel)
                    )
                    bound += t_scale[t] * values[t] - t_bound[t]
                    if bound * f_doc * (1 + SLACK) < cut:
                        break
                    t -= 1
                if t >= 0:
                    continue
                scored += 1
                for t in range(ne_w, n_terms):
                    values[t], lookup[t] = _in_field(
                        postings, t_field[t], _value, (t_idf[t], t_hi[s, t], lookup[t], rel)
                    )
                base = _base(values, o_field, o_term, weights, n_fields, sums)
                fused = base * f_doc if use_factor else base
                if not fused > 0:
                    continue
                if fused < cut:
                    continue
                if found == cap:
                    cap *= 2
                    c_doc2 = np.empty(cap, dtype=np.int64)
                    c_base2 = np.empty(cap)
                    c_fused2 = np.empty(cap)
                    c_doc2[:found] = c_doc[:found]
                    c_base2[:found] = c_base[:found]
                    c_fused2[:found] = c_fused[:found]
                    c_doc, c_base, c_fused = c_doc2, c_base2, c_fused2
                c_doc[found] = doc
                c_base[found] = base
                c_fused[found] = fused
                found += 1
                filled = _push(heap, filled, fused)
                if filled == k:
                    theta = heap[0]
                    if theta > cut:
                        cut = theta
                        ne = _non_essential(prefix, ne, cut * share / max_factor)
                        if cut > shared[0]:
                            shared[0] = cut
    keep = 0
    for i in range(found):
        if filled < k or c_fused[i] >= theta:
            c_doc[keep] = c_doc[i]
            c_base[keep] = c_base[i]
            c_fused[keep] = c_fused[i]
            keep += 1
    return c_doc[:keep].copy(), c_base[:keep].copy(), c_fused[:keep].copy(), scored
