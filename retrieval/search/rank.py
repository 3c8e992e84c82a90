"""Ranking: BM25 fields fused into one score, then answer-type preference.

score(s) = BM25_words(q, s) + w_fold * BM25_fold(q, s)

where ``w_fold`` is ``retrieval.fold_weight`` for a question with diacritics
(exact-accent matches stay ahead, since folding merges different words) and
``retrieval.accentless_fold_weight`` for a question typed without any. Among
the best candidates, a sentence that contains the kind of thing the question
asks for (a name for "ai", a number for "bao nhiêu", a date for "khi nào",
a place for "ở đâu") and that the question itself does not already contain is
multiplied by ``1 + retrieval.type_bonus``; for a question asking for an
attribute ("Chủ đề của Hội nghị ... là gì?"), a sentence without the
attribute's noun by ``retrieval.focus_factor`` and one stating its value by
``1 + retrieval.type_bonus`` (:func:`_focus`).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from retrieval.text.answer_types import asked_for, AskedFor, has_answer_type, TypeRules
from retrieval.config import RetrievalConfig
from retrieval.index.bm25 import best_candidates, Bm25, Hit
from retrieval.index.sentences import SentenceIndex
from retrieval.text.normalize import normalize
from retrieval.search.query import Query
from retrieval.text.terms import expand, fold_terms

log = logging.getLogger(__name__)

FEATURES = (
    "bm25",        # log(1 + fused BM25 score of the sentence)
    "bm25_rel",    # fused BM25 / best fused BM25 among the candidates
    "fused",       # log(1 + score with article and neighbour evidence)
    "stage_rank",  # log(rank after the first stage)
    "article",     # article score / best article score
    "neighbor",    # better neighbour's fused score / best fused score
    "coverage",    # IDF-weighted share of the question's content words in the sentence
    "proximity",   # matched question words / width of the window holding them
    "novelty",     # share of the sentence's words that are not in the question
    "length",      # log(number of words)
    "first",       # 1 for an article's first sentence
    "type_person", "type_number", "type_date", "type_place", "type_name",  # answer-type match by kind
)


def _neighbour_scores(index: SentenceIndex, scores: np.ndarray) -> np.ndarray:
    """For each sentence, the higher score of its two neighbours in the same article."""
    ids = index.sentence_article_ids
    same_prev = np.zeros(scores.size, dtype=bool)
    same_prev[1:] = ids[1:] == ids[:-1]
    prev = np.where(same_prev, np.concatenate(([0.0], scores[:-1])), 0.0)
    same_next = np.zeros(scores.size, dtype=bool)
    same_next[:-1] = same_prev[1:]
    nxt = np.where(same_next, np.concatenate((scores[1:], [0.0])), 0.0)
    return np.maximum(prev, nxt)


def features(
    index: SentenceIndex, query: Query, question: str, candidates: np.ndarray, base: np.ndarray,
    fused: np.ndarray, art_rel: np.ndarray, rules: TypeRules, window: int,
) -> np.ndarray:
    """One row of :data:`FEATURES` per candidate sentence."""
    field = index.fold if query.accentless else index.bm25
    q_terms = set(query.folded if query.accentless else query.terms)
    idf = {t: field.idf_of(t) or 0.0 for t in q_terms}
    idf_total = sum(idf.values()) or 1.0
    top = float(base[candidates].max()) or 1.0
    neigh = _neighbour_scores(index, base)
    art_first = np.ones(len(index.sentences) + 1, dtype=bool)
    art_first[1:-1] = index.sentence_article_ids[1:] != index.sentence_article_ids[:-1]
    asked = asked_for(query.qtype, question, rules) if query.qtype else None
    rows = np.zeros((candidates.size, len(FEATURES)), dtype=np.float64)
    stage_rank = np.empty(candidates.size)
    stage_rank[np.lexsort((candidates, -fused[candidates]))] = np.arange(1, candidates.size + 1)
    for j, i in enumerate(candidates):
        i = int(i)
        words = index.terms[i]
        terms = fold_terms(words) if query.accentless else expand(words)
        matched = [p for p, t in enumerate(terms) if t in q_terms]
        present = set(terms) & q_terms
        width = (matched[-1] - matched[0] + 1) if matched else 1
        novel = sum(1 for w in words if w not in query.words) / (len(words) or 1)
        row = [
            np.log1p(base[i]),
            base[i] / top,
            np.log1p(fused[i]),
            np.log(stage_rank[j]),
            art_rel[i],
            neigh[i] / top,
            sum(idf[t] for t in present) / idf_total,
            len(set(terms[p] for p in matched)) / width if matched else 0.0,
            novel,
            np.log1p(len(words)),
            float(art_first[i]),
        ]
        kinds = [0.0] * 5
        if asked is not None:
            kinds[("person", "number", "date", "place", "name").index(query.qtype)] = float(
                bool(index.sentences.kinds[i] & asked.bit) and has_answer_type(asked, index.text(i), rules, window)
            )
        rows[j] = row + kinds
    return rows


def _type_bonus(
    index: SentenceIndex, candidates: np.ndarray, fused: np.ndarray, final: np.ndarray, asked: AskedFor,
    rules: TypeRules, cfg: RetrievalConfig, k: int,
) -> None:
    """Multiply ``final`` by ``1 + type_bonus`` where the candidate holds the asked-for thing.

    A candidate whose recorded kinds (:func:`retrieval.text.answer_types.sentence_kinds`) lack
    the asked-for kind cannot hold it, and its text is not read. A positive bonus only
    lifts, so each candidate's final score is at least its first-stage score, and the
    k-th best of the scores known so far is a floor under the final k-th best.
    Candidates are examined best first; once even the bonus cannot lift one to the floor,
    neither it nor any after it can be among the k best, and they are not examined."""
    bonus = 1 + cfg.type_bonus
    ids = candidates.tolist()
    maybe = (index.sentences.kinds[candidates] & asked.bit).tolist()
    if cfg.type_bonus <= 0 or fused.size <= k:
        for j, i in enumerate(ids):
            if maybe[j] and has_answer_type(asked, index.text(i), rules, cfg.type_window):
                final[j] *= bonus
        return
    # In Python floats: numpy's scalar operations cost about a microsecond each.
    first = fused.tolist()
    scores = final.tolist()
    floor = sorted(scores)[-k]
    for j in np.argsort(-fused, kind="stable").tolist():
        if first[j] * bonus < floor:
            break
        if maybe[j] and has_answer_type(asked, index.text(ids[j]), rules, cfg.type_window):
            scores[j] *= bonus
            final[j] = scores[j]
            floor = sorted(scores)[-k]


def _states_pattern(focus: str) -> re.Pattern[str]:
    """The attribute noun followed by what states its value: a quotation ("chủ đề “Khai
    thác dữ liệu ...”"), a colon, or the copula ("mục tiêu là ..."), on normalized text."""
    noun = re.escape(focus.replace("_", " "))
    return re.compile(rf"(?<!\w){noun}\s*(?:[“\"«‘:]|là(?!\w))")


def _focus(
    index: SentenceIndex, candidates: np.ndarray, final: np.ndarray, focus: str, cfg: RetrievalConfig
) -> None:
    """For an "X của Y là gì?" question (``focus`` = X), multiply ``final`` by
    ``focus_factor`` where the candidate lacks the word X, and by ``1 + type_bonus``
    where it states X's value (:func:`_states_pattern`). Every candidate is examined
    (at most ``rerank_depth``): a factor below 1 lowers, so no bound prunes them."""
    states = _states_pattern(focus)
    for j, i in enumerate(candidates):
        i = int(i)
        if not index.bm25.holds(focus, i):
            final[j] *= cfg.focus_factor
        elif states.search(normalize(index.text(i))):
            final[j] *= 1 + cfg.type_bonus


def rank(
    index: SentenceIndex, query: Query, question: str, cfg: RetrievalConfig, k: int, rules: TypeRules | None = None
) -> list[Hit]:
    """The ``k`` best sentences for ``query``, best first."""
    rules = rules or TypeRules.from_config(cfg)
    if cfg.ranker_weights:
        found = candidates_for(index, query, cfg)
        if found is None:
            return []
        candidates, base, fused, art_rel = found
        rows = features(index, query, question, candidates, base, fused, art_rel, rules, cfg.type_window)
        weights = np.array([cfg.ranker_weights.get(name, 0.0) for name in FEATURES])
        final = np.exp(rows @ weights)
        base_c = base[candidates]
    else:
        stage = first_stage(index, query, cfg)
        if stage is None:
            return []
        candidates, base_c, fused_c = stage
        final = fused_c.copy()
        if query.qtype and cfg.type_bonus:
            _type_bonus(index, candidates, fused_c, final, asked_for(query.qtype, question, rules), rules, cfg, k)
        if query.focus and cfg.focus_factor != 1:
            # Never together with the type bonus above: a question with a focus has no answer type.
            _focus(index, candidates, final, query.focus, cfg)
    order = np.lexsort((candidates, -final))[:k]
    return [Hit(int(candidates[j]), float(final[j]), float(base_c[j])) for j in order]


def _fold_weight(query: Query, cfg: RetrievalConfig) -> float:
    """The folded fields' weight for ``query`` (higher for a question typed without diacritics)."""
    return cfg.accentless_fold_weight if query.accentless else cfg.fold_weight


def _fields(index: SentenceIndex, query: Query, cfg: RetrievalConfig) -> list[tuple[Bm25, Sequence[str], float]]:
    """The sentence fields that score ``query``: (field, its query terms, its weight), the word field first."""
    fold_weight = _fold_weight(query, cfg)
    fields: list[tuple[Bm25, Sequence[str], float]] = [(index.bm25, query.terms, 1.0)]
    if fold_weight:
        fields.append((index.fold, query.folded, fold_weight))
    if cfg.bigram_weight and index.pairs is not None and not query.accentless:
        fields.append((index.pairs, query.pairs, cfg.bigram_weight))
    if cfg.accentless_bigram_weight and index.fold_pairs is not None and query.accentless:
        fields.append((index.fold_pairs, query.fold_pairs, cfg.accentless_bigram_weight))
    return fields


def _fuse(parts: Sequence[np.ndarray], fields: Sequence[tuple[Bm25, Sequence[str], float]]) -> np.ndarray:
    """The fused BM25 score: the word field plus each other field times its weight, in that order."""
    base = parts[0]
    for part, (_, _, weight) in zip(parts[1:], fields[1:]):
        base = base + weight * part
    return base


def _compiled_scores(field: Bm25, terms: Sequence[str], out: np.ndarray | None = None) -> np.ndarray:
    """:meth:`Bm25.scores` in compiled code (the same additions in the same order), in ``out``
    (``n_docs`` float64, overwritten) when given."""
    from retrieval.search import kernels

    score = np.empty(field.n_docs) if out is None else out
    kernels.accumulate(*_sums(field, terms, score)[0])
    return score


def _sums(field: Bm25, terms: Sequence[str], out: np.ndarray) -> tuple[tuple, int]:
    """(the arguments of :func:`retrieval.search.kernels.accumulate` that put ``field``'s scores
    for ``terms`` in ``out``, how many postings it adds)."""
    cols = np.array([col for col in map(field.column, terms) if col is not None], dtype=np.int64)
    postings = int((field.indptr[cols + 1] - field.indptr[cols]).sum())
    if field.segmented:
        runs = (field.seg_ptr[cols], field.seg_ptr[cols + 1], field.seg_of, field.seg_end)
    else:  # one run per term, in segment 0
        runs = (np.arange(cols.size), np.arange(1, cols.size + 1), np.zeros(cols.size, dtype=np.uint16),
                field.indptr[cols + 1])
    return (field.indices, field.codes, field.table, field.indptr[cols], field.idf[cols], *runs, field.segment,
            out), postings


def _segment_ranges(field: Bm25, cols: Sequence[int], js: Sequence[int], lo: np.ndarray, hi: np.ndarray) -> None:
    """Each column ``cols[t]``'s postings in each segment of ``field``, into column ``js[t]`` of
    ``lo`` / ``hi`` (one row per segment; a segment without postings keeps an empty range)."""
    if not field.segmented:
        for col, j in zip(cols, js):
            lo[0, j], hi[0, j] = field.postings(col)
        return
    from retrieval.search import kernels

    kernels.segment_ranges(field.indptr, field.seg_ptr, field.seg_of, field.seg_end,
                           np.asarray(cols, dtype=np.int64), np.asarray(js, dtype=np.int64), lo, hi)


def _article_relative(index: SentenceIndex, query: Query, cfg: RetrievalConfig) -> np.ndarray | None:
    """Each article's score over the best article's (None when no article scores)."""
    fold_weight = _fold_weight(query, cfg)
    art = index.article_bm25.scores(query.terms)
    if fold_weight:
        art = art + fold_weight * index.article_fold.scores(query.folded)
    top = art.max() if art.size else 0.0
    return art / top if top > 0 else None


def _article_factor(index: SentenceIndex, query: Query, cfg: RetrievalConfig) -> tuple[np.ndarray, float] | None:
    """(each article's evidence factor, 1 + ``article_weight`` x :func:`_article_relative`,
    and the largest) in compiled code, the same operations in the same order; in this
    thread's buffers, valid until its next question. None when no article scores."""
    from retrieval.search import kernels

    fold_weight = _fold_weight(query, cfg)
    art, fold, factor = _article_buffers(len(index.articles))
    sums = [_sums(index.article_bm25, query.terms, art)]
    if fold_weight:
        sums.append(_sums(index.article_fold, query.folded, fold))
    if len(sums) == 2 and _parallel(index):
        # The two fields are summed at once, one per core: this thread the one with more
        # postings (the other thread starts later). The kernel runs without the interpreter
        # lock, and its arguments are ready: the other thread needs the lock only briefly.
        (mine, _), (theirs, _) = sorted(sums, key=lambda s: s[1], reverse=True)
        other = _pool().submit(kernels.accumulate, *theirs)
        kernels.accumulate(*mine)
        other.result()
    else:
        for args, _ in sums:
            kernels.accumulate(*args)
    top = kernels.article_factor(art, fold, float(fold_weight), bool(fold_weight), float(cfg.article_weight), factor)
    # The largest factor is the top article's (article_weight >= 0 here: see first_stage).
    return (factor, 1 + cfg.article_weight * 1.0) if top > 0 else None


def _article_buffers(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three float64 arrays of ``n`` for this thread's questions (the other core writes into
    one of them for the question that passed it), reused from question to question."""
    buffers = getattr(_scratch, "articles", None)
    if buffers is None or buffers[0].size != n:
        buffers = _scratch.articles = (np.empty(n), np.empty(n), np.empty(n))
    return buffers


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
        fused = fused + cfg.neighbor_weight * _neighbour_scores(index, fused)
    candidates = best_candidates(fused, cfg.rerank_depth)
    if candidates.size == 0:
        return None
    return candidates, base, fused, art_rel


# From this many sentences on, the first stage runs in compiled code (retrieval.search.kernels, numba).
# Below it the numpy pass takes at most a few milliseconds more (100k sentences: retrieval p50
# 5.9 ms in numpy, 4.6 ms compiled), and the process is spared numba's start-up time and
# memory (about 1 s and 100-170 MB of RSS).
KERNEL_MIN_SENTENCES = 200_000

# Seconds between the first answer and the start of the kernels' loading.
LOAD_DELAY = 0.2

_kernels_ready = threading.Event()
_kernels_lock = threading.Lock()
_kernels_started = False


def uses_kernels(index: SentenceIndex) -> bool:
    return index.bm25.n_docs >= KERNEL_MIN_SENTENCES


def load_kernels(index: SentenceIndex) -> None:
    """Import the compiled kernels and load their machine code for ``index``'s arrays
    (numba's cache; compiled once when the cache is cold), then let :func:`first_stage`
    use them. Each call with no term scores nothing but has the argument types of a
    real question, for each combination of fields a question can bring."""
    from retrieval.search import kernels  # numba loads here, not at import time

    for field in (index.article_bm25, index.article_fold):
        _compiled_scores(field, ())
    art, fold, factor = _article_buffers(len(index.articles))
    kernels.article_factor(art, fold, 1.0, True, 1.0, factor)
    evidence = (np.ones(len(index.articles)), 1.0)
    combos = [(index.bm25, index.fold)] + [(index.bm25, index.fold, f) for f in (index.pairs, index.fold_pairs) if f]
    for combo in combos:  # each also loads the segment ranges for its fields' arrays
        _maxscore(index, [(field, (), 1.0) for field in combo], [], evidence, 1)
    _kernels_ready.set()


def wait_for_kernels(timeout: float | None = None) -> bool:
    """Block until the kernels are loaded (True) or ``timeout`` seconds have passed (False)."""
    return _kernels_ready.wait(timeout)


def start_loading_kernels(index: SentenceIndex) -> None:
    """:func:`load_kernels` in a background thread, once per process; until it is done,
    :func:`first_stage` answers with the numpy pass (the same results, slower).
    :class:`retrieval.service.AnswerService` starts it after its first answer, which
    the loader (numba's imports hold the interpreter lock) would otherwise slow down."""
    global _kernels_started
    with _kernels_lock:
        if _kernels_started:
            return
        _kernels_started = True

    def run() -> None:
        started = time.perf_counter()
        try:
            load_kernels(index)
        except Exception:  # noqa: BLE001 - without the kernels the numpy pass answers
            log.exception("could not load the compiled first stage; every question uses the numpy pass")
            return
        log.info("compiled first stage ready in %.2fs", time.perf_counter() - started)

    # A moment later: the answer that asked for the kernels goes out first (numba's imports
    # hold the interpreter lock, and a thread that starts importing delays even its starter).
    loader = threading.Timer(LOAD_DELAY, run)
    loader.name, loader.daemon = "load-kernels", True
    loader.start()


def first_stage(
    index: SentenceIndex, query: Query, cfg: RetrievalConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(candidate ids, their fused BM25, their score with article evidence): exactly the
    candidates of :func:`candidates_for` and the same scores, bit for bit, but without
    scoring every sentence.

    :func:`retrieval.search.kernels.maxscore` visits only the sentences that hold a query term
    whose bound can still lift a sentence into the ``rerank_depth`` best, and scores
    exactly only those whose bound reaches the current cut-off (MaxScore). Below
    ``KERNEL_MIN_SENTENCES`` sentences, until the kernels are loaded
    (:func:`start_loading_kernels`, :func:`load_kernels`), and with a neighbour weight, negative weights
    or more fields than the kernel takes, it is the same pass in numpy (:func:`_dense_stage`).
    """
    if not query.terms and not query.folded:
        return None
    fields = _fields(index, query, cfg)
    compiled = uses_kernels(index) and _kernels_ready.is_set()
    if not compiled or len(fields) > 3 or cfg.neighbor_weight or (
        cfg.article_weight < 0 or any(w < 0 or not field.nonnegative for field, _, w in fields)
    ):
        return _dense_stage(index, query, cfg, fields)
    if hasattr(_scratch, "buffers"):
        del _scratch.buffers  # the numpy pass's (16 MB at 1M sentences): not needed any more
    occurrences: list[tuple[int, int]] = []  # (field, column) of every known query term, in order
    for f, (field, terms, _) in enumerate(fields):
        for term in terms:
            col = field.column(term)
            if col is not None:
                occurrences.append((f, col))
    if not occurrences:
        return None
    docs, base, fused = _maxscore(index, fields, occurrences, _article_factor(index, query, cfg), cfg.rerank_depth)
    if docs.size == 0:
        return None
    return docs, base, fused


_scratch = threading.local()


def _buffers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two float64 arrays of ``n`` for this thread, reused from question to question (a new
    array's pages are faulted in and zeroed by the kernel on every use: slower than a fill)."""
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None or buffers[0].size != n:
        buffers = _scratch.buffers = (np.empty(n), np.empty(n))
    return buffers


def _dense_stage(
    index: SentenceIndex, query: Query, cfg: RetrievalConfig, fields: list[tuple[Bm25, Sequence[str], float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`candidates_for` in numpy without the neighbour weight, in reused buffers: the
    same operations in the same order (some in place, the evidence factor per article);
    ``fields``: :func:`_fields` of the query."""
    if cfg.neighbor_weight:
        found = candidates_for(index, query, cfg)
        if found is None:
            return None
        candidates, base, fused, _ = found
        return candidates, base[candidates], fused[candidates]
    first, other = _buffers(index.sentence_article_ids.size)
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


def _maxscore(
    index: SentenceIndex, fields: Sequence[tuple[Bm25, Sequence[str], float]], occurrences: list[tuple[int, int]],
    evidence: tuple[np.ndarray, float] | None, depth: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`retrieval.search.kernels.maxscore` for the query terms ``occurrences`` ((field, column),
    in query order) and the articles' ``evidence`` (:func:`_article_factor`): the
    candidates, their base and fused scores.

    The kernel visits the index segment by segment (:data:`retrieval.index.bm25.SEGMENT`
    sentences). From ``PARALLEL_MIN_SENTENCES`` sentences on, with two cores or more, two
    runs of segments holding about half of the question's postings each are searched at
    once (the kernel releases the interpreter lock), each for its own ``depth`` best, and
    merged: the ``depth`` best of the whole are among them, and each sentence's scores are
    computed the same way, so the result is the one-pass result."""
    from retrieval.search import kernels

    times = Counter(occurrences)
    scale = {key: fields[key[0]][2] * n for key, n in times.items()}
    bound = {key: scale[key] * float(fields[key[0]][0].max_weight[key[1]]) for key in times}
    terms = sorted(times, key=lambda key: (bound[key], key))  # smallest bound first
    position = {key: i for i, key in enumerate(terms)}
    n_docs = index.bm25.n_docs
    segment = index.bm25.segment
    n_segs = -(-n_docs // segment)
    lo = np.zeros((n_segs, len(terms)), dtype=np.int64)
    hi = np.zeros((n_segs, len(terms)), dtype=np.int64)
    for f, (field, _, _) in enumerate(fields):
        js = [j for j, key in enumerate(terms) if key[0] == f]
        _segment_ranges(field, [terms[j][1] for j in js], js, lo, hi)
    factor, max_factor = (np.ones(1), 1.0) if evidence is None else evidence
    arrays = [(field.indices, field.codes, field.table) for field, _, _ in fields]
    arrays += [arrays[0]] * (3 - len(arrays))
    t_field = np.array([f for f, _ in terms], dtype=np.int64)
    field_args = (*arrays[0], *arrays[1], *arrays[2], len(fields),
                  np.array([w for _, _, w in fields] + [0.0] * (3 - len(fields))), t_field)
    term_args = (
        np.array([float(fields[f][0].idf[col]) for f, col in terms], dtype=np.float64),
        np.array([scale[key] for key in terms], dtype=np.float64),
        np.array([bound[key] for key in terms], dtype=np.float64),
        np.array([f for f, _ in occurrences], dtype=np.int64),
        np.array([position[key] for key in occurrences], dtype=np.int64),
    )
    shared = np.zeros(1)  # the calls' common k-th best so far
    seed = max(kernels.SEED, depth + depth // 2) if kernels.SEED else 0
    search_args = (n_docs, index.sentence_article_ids, factor, evidence is not None, max_factor,
                   depth, kernels.WINDOW, seed, kernels.SHARE, shared)

    def search(first: int, last: int) -> tuple:
        """The kernel's arguments for segments ``first`` to ``last - 1``."""
        return (*field_args, lo[first:last], hi[first:last], *term_args, first, segment, *search_args)

    if not _parallel(index) or n_segs < 2:
        docs, base, fused, _ = kernels.maxscore(*search(0, n_segs))
        return docs, base, fused
    # Two runs of segments, one per core, with about as many of the question's postings each.
    work = np.cumsum((hi - lo).sum(axis=1))
    split = min(max(int(np.searchsorted(work, work[-1] / 2)) + 1, 1), n_segs - 1)
    # Both calls' arguments are made first: the other thread then needs the interpreter lock
    # only to enter the kernel.
    mine, theirs = search(0, split), search(split, n_segs)
    second = _pool().submit(kernels.maxscore, *theirs)
    halves = (kernels.maxscore(*mine), second.result())
    docs = np.concatenate([h[0] for h in halves])
    base = np.concatenate([h[1] for h in halves])
    fused = np.concatenate([h[2] for h in halves])
    # What one pass keeps: the depth best of both (ties kept), still in sentence order.
    keep = best_candidates(fused, depth)
    return docs[keep], base[keep], fused[keep]


# From this many sentences on, the compiled first stage searches two halves of the index
# (runs of segments) at once, one per core (measured at 1M sentences: p50 4.75 -> 3.94 ms in one process, same run).
PARALLEL_MIN_SENTENCES = 400_000

_pool_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def _parallel(index: SentenceIndex) -> bool:
    """Does the compiled first stage split its work between two cores on ``index``?"""
    return index.bm25.n_docs >= PARALLEL_MIN_SENTENCES and _cores() >= 2


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _pool() -> ThreadPoolExecutor:
    """The one thread that searches the second half (made on first use, after any fork)."""
    global _executor
    with _pool_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="first-stage")
        return _executor
