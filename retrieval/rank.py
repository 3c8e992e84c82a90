"""Ranking: BM25 fields fused into one score, then answer-type preference.

score(s) = BM25_words(q, s) + w_fold * BM25_fold(q, s)

where ``w_fold`` is ``retrieval.fold_weight`` for a question with diacritics
(exact-accent matches stay ahead, since folding merges different words) and
``retrieval.accentless_fold_weight`` for a question typed without any. Among
the best candidates, a sentence that contains the kind of thing the question
asks for (a name for "ai", a number for "bao nhiêu", a date for "khi nào",
a place for "ở đâu") and that the question itself does not already contain is
multiplied by ``1 + retrieval.type_bonus``.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import RetrievalConfig
from .index import Bm25, Hit, SentenceIndex, best_candidates
from .normalize import fold_diacritics
from .query import Query, expand, fold_terms

_TOKEN = re.compile(r"\d+(?:[.,/:-]\d+)*%?|[^\W\d_]+")
_DATE = re.compile(r"\d{1,2}[/.-]\d{1,2}([/.-]\d{2,4})?|(1[5-9]|20)\d{2}")
# Numbers written as words ("chín quốc gia"); "một" and "năm" are left out:
# they mostly mean "a" and "year".
_NUMBER_WORDS = frozenset(
    "hai ba bốn tư sáu bảy tám chín mười mươi chục trăm nghìn ngàn triệu tỷ tỉ nửa".split()
)
_DATE_WORDS = frozenset({"nam", "thang", "ngay", "quy", "sang", "chieu", "toi", "dau", "cuoi"})


@dataclass(frozen=True)
class TypeRules:
    """Word lists for recognising people (folded, lower-case syllables)."""

    person_titles: frozenset[str]
    place_titles: frozenset[str]
    surnames: frozenset[str]

    @classmethod
    def from_config(cls, cfg: RetrievalConfig) -> TypeRules:
        def fold_all(words):
            return frozenset(fold_diacritics(w).lower() for w in words)

        return cls(fold_all(cfg.person_titles), fold_all(cfg.place_titles), fold_all(cfg.surnames))


def _is_cap(word: str) -> bool:
    return word[0].isupper() and not (word.isupper() and len(word) > 1)


def answer_spans(
    kind: str, words: Sequence[str], folded: Sequence[str], rules: TypeRules
) -> list[tuple[int, int, tuple[str, ...]]]:
    """Token spans (start, end, folded words) of a sentence that could answer a ``kind`` question.

    ``words`` are the sentence's tokens (``_TOKEN``), ``folded`` the same tokens
    folded and lower-cased.
    """
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    if kind in ("number", "date"):
        for i, w in enumerate(words):
            if not (w[0].isdigit() or (kind == "number" and w.lower() in _NUMBER_WORDS)):
                continue
            is_date = bool(_DATE.fullmatch(w)) or (i > 0 and folded[i - 1] in _DATE_WORDS)
            if kind == "number" or is_date:
                spans.append((i, i + 1, (folded[i],)))
        return spans
    i = 0
    while i < len(words):
        if not (words[i][0].isalpha() and _is_cap(words[i])):
            i += 1
            continue
        j = i
        while j < len(words) and words[j][0].isalpha() and _is_cap(words[j]):
            j += 1
        start = i + 1 if i == 0 else i  # a sentence's first capital says nothing
        if kind in ("place", "name") and j - start >= 1:
            spans.append((start, j, tuple(folded[start:j])))
        elif kind == "person" and j - start >= 2:
            before = folded[max(0, start - 2):start]
            after = folded[j:j + 2]
            # Titles are one or two syllables: "ông", "ngài", "đại sứ", "chủ tịch".
            near_before = {" ".join(before[-n:]) for n in (1, 2) if len(before) >= n}
            near_after = {" ".join(after[:n]) for n in (1, 2) if len(after) >= n}
            if not near_before & rules.place_titles and (
                (near_before | near_after) & rules.person_titles or folded[start] in rules.surnames
            ):
                spans.append((start, j, tuple(folded[start:j])))
        i = j
    return spans


@dataclass(frozen=True)
class AskedFor:
    """What a question asks for, worked out once per question."""

    kind: str
    words: frozenset[str]  # the question's words, folded and lower-cased


def asked_for(kind: str, question: str, rules: TypeRules) -> AskedFor:
    """The question's answer kind and folded words ("tên là gì" after a title asks for a person)."""
    q_folded = [fold_diacritics(w).lower() for w in _TOKEN.findall(question)]
    if kind == "name":
        # "Đại sứ Mỹ tên là gì": the name of someone with a title is a person's.
        pairs = {" ".join(q_folded[i:i + 2]) for i in range(len(q_folded) - 1)}
        if (set(q_folded) | pairs) & rules.person_titles:
            kind = "person"
    return AskedFor(kind, frozenset(fold_diacritics(question).lower().split()) | frozenset(q_folded))


def has_answer_type(asked: AskedFor, sentence: str, rules: TypeRules, window: int = 4) -> bool:
    """Does ``sentence`` hold the asked-for kind of thing, absent from the question, next to its words?"""
    words = _TOKEN.findall(sentence)
    folded = [fold_diacritics(w).lower() for w in words]
    anchors = [i for i, w in enumerate(folded) if w in asked.words and len(w) > 1]
    for start, end, span in answer_spans(asked.kind, words, folded, rules):
        if all(w in asked.words for w in span):
            continue  # the question already names it
        if any(start - window <= a < end + window for a in anchors if not start <= a < end):
            return True
    return False


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
                has_answer_type(asked, index.text(i), rules, window)
            )
        rows[j] = row + kinds
    return rows


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
            asked = asked_for(query.qtype, question, rules)
            for j, i in enumerate(candidates):
                if has_answer_type(asked, index.text(int(i)), rules, cfg.type_window):
                    final[j] *= 1 + cfg.type_bonus
    order = np.lexsort((candidates, -final))[:k]
    return [Hit(int(candidates[j]), float(final[j]), float(base_c[j])) for j in order]


def _fields(index: SentenceIndex, query: Query, cfg: RetrievalConfig) -> list[tuple[Bm25, Sequence[str], float]]:
    """The sentence fields that score ``query``: (field, its query terms, its weight), the word field first."""
    fold_weight = cfg.accentless_fold_weight if query.accentless else cfg.fold_weight
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


def _article_relative(index: SentenceIndex, query: Query, cfg: RetrievalConfig) -> np.ndarray | None:
    """Each article's score over the best article's (None when no article scores)."""
    fold_weight = cfg.accentless_fold_weight if query.accentless else cfg.fold_weight
    art = index.article_bm25.scores(query.terms)
    if fold_weight:
        art = art + fold_weight * index.article_fold.scores(query.folded)
    top = art.max() if art.size else 0.0
    return art / top if top > 0 else None


def _evidence(index: SentenceIndex, rel: np.ndarray | None, sentences: np.ndarray) -> np.ndarray:
    """The relative article score of each of ``sentences``."""
    if rel is None:
        return np.zeros(sentences.size)
    return rel[index.sentence_article_ids[sentences]]


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


# A posting list longer than this share of the sentences is "common": first_stage adds its
# weights only to the sentences that can still make the cut.
COMMON_SHARE = 1 / 32
# When the rare terms' postings exceed this share of the sentences, or the common terms hold
# less than PRUNE_SHARE of the query's postings, the full pass is cheaper than the pruned one.
DENSE_SHARE = 1 / 64
PRUNE_SHARE = 0.75
# Pruning attempts before the full pass takes over.
ATTEMPTS = 2
# Relative slack on the pruning bounds, far above any floating-point rounding of the sums.
_SLACK = 1e-9


def first_stage(
    index: SentenceIndex, query: Query, cfg: RetrievalConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(candidate ids, their fused BM25, their score with article evidence): exactly the
    candidates of :func:`candidates_for` and the same scores, bit for bit, but without
    scoring every sentence.

    MaxScore pruning: the query terms with short posting lists ("rare") are scored
    over their postings; the sentences they reach get lower bounds (rare terms only)
    and upper bounds (plus every common term's largest weight), times their article
    evidence. Those whose upper bound reaches the ``rerank_depth``-th best lower bound
    are scored exactly, every term in query order as :meth:`Bm25.scores` adds them
    (common terms looked up by binary search in their postings). That is exact when
    the ``rerank_depth``-th best exact score exceeds what a sentence without any rare
    term can reach (the common terms' largest weights times the largest article
    evidence); otherwise common terms become rare, shortest first, and it tries again
    (at most ``ATTEMPTS`` times).
    When pruning would skip little (the common terms hold less than ``PRUNE_SHARE``
    of the query's postings, or the rest more than ``DENSE_SHARE`` of the sentences),
    and with a neighbour weight or negative weights, it adds up every posting into
    one score per sentence instead (:func:`_dense_stage`, :func:`candidates_for`).
    """
    if not query.terms and not query.folded:
        return None
    fields = _fields(index, query, cfg)
    if cfg.neighbor_weight or cfg.article_weight < 0 or any(
        w < 0 or not field.nonnegative for field, _, w in fields
    ):
        return _dense_stage(index, query, cfg)
    # Every occurrence of a known term, per field, in query order: (column, postings start, end).
    occurrences: list[list[tuple[int, int, int]]] = []
    for field, terms, _ in fields:
        found = []
        for term in terms:
            col = field.vocab.get(term)
            if col is not None:
                found.append((col, *field.postings(col)))
        occurrences.append(found)
    distinct = sorted({(f, col, lo, hi) for f, occ in enumerate(occurrences) for col, lo, hi in occ},
                      key=lambda t: (t[2] - t[3], t[0], t[1]))  # longest postings first
    if not distinct:
        return None
    n = index.bm25.n_docs
    times = Counter((f, col) for f, occ in enumerate(occurrences) for col, _, _ in occ)
    n_common = sum(1 for _, _, lo, hi in distinct if hi - lo > n * COMMON_SHARE)
    postings = sum(hi - lo for occ in occurrences for _, lo, hi in occ)
    skipped = sum(times[f, col] * (hi - lo) for f, col, lo, hi in distinct[:n_common])
    rel = _article_relative(index, query, cfg)
    if skipped < PRUNE_SHARE * postings:
        return _dense_stage(index, query, cfg, rel)
    weight = {f: w for f, (_, _, w) in enumerate(fields)}
    most = 1 + cfg.article_weight * (1.0 if rel is not None else 0.0)  # the largest evidence factor
    for _ in range(ATTEMPTS):
        common = {(f, col) for f, col, _, _ in distinct[:n_common]}
        if sum(hi - lo for _, _, lo, hi in distinct[n_common:]) > n * DENSE_SHARE:
            return _dense_stage(index, query, cfg, rel)
        found = _pruned(index, fields, occurrences, common, rel, cfg)
        if isinstance(found, tuple):
            return found if found[0].size else None
        # Not proven. ``found`` is a lower bound of the best scores' cut-off (0: unknown): make
        # common terms rare, shortest first, until the rest cannot reach it on their own.
        n_common -= 1
        while found > 0 and n_common > 0 and most * sum(
            weight[f] * times[f, col] * float(fields[f][0].max_weight[col]) for f, col, _, _ in distinct[:n_common]
        ) * (1 + _SLACK) >= found:
            n_common -= 1
    return _dense_stage(index, query, cfg, rel)


_scratch = threading.local()


def _buffers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two float64 arrays of ``n`` for this thread, reused from question to question (a new
    array's pages are faulted in and zeroed by the kernel on every use: slower than a fill)."""
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None or buffers[0].size != n:
        buffers = _scratch.buffers = (np.empty(n), np.empty(n))
    return buffers


_UNSET = object()


def _dense_stage(index: SentenceIndex, query: Query, cfg: RetrievalConfig, rel: Any = _UNSET):
    """:func:`candidates_for` without the neighbour weight, in reused buffers, the same
    operations in the same order (some in place, the evidence factor per article);
    ``rel``: :func:`_article_relative`, when already known."""
    if cfg.neighbor_weight:
        found = candidates_for(index, query, cfg)
        if found is None:
            return None
        candidates, base, fused, _ = found
        return candidates, base[candidates], fused[candidates]
    fields = _fields(index, query, cfg)
    first, other = _buffers(index.sentence_article_ids.size)
    base = fields[0][0].scores(fields[0][1], out=first)
    for field, terms, weight in fields[1:]:
        part = field.scores(terms, out=other)
        part *= weight
        base += part
    if rel is _UNSET:
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


def _exact(fields, occurrences, docs: np.ndarray) -> np.ndarray:
    """Fused BM25 of the sorted sentence ids ``docs``: every occurrence in query order, looked up."""
    parts = []
    for (field, _, _), occ in zip(fields, occurrences):
        score = np.zeros(docs.size)
        for col, lo, hi in occ:
            postings = field.indices[lo:hi]
            pos = np.minimum(np.searchsorted(postings, docs), hi - lo - 1)
            hit = postings[pos] == docs
            score[hit] += field.data[lo + pos[hit]]
        parts.append(score)
    return _fuse(parts, fields)


def _pruned(index, fields, occurrences, common, rel, cfg):
    """One MaxScore attempt with ``common`` as the common (field, column) pairs: (candidates,
    fused BM25, with evidence), or when the bounds cannot prove that exact, a lower bound of
    the ``rerank_depth``-th best score (0.0 when there is none)."""
    k = cfg.rerank_depth
    rare = [field.indices[lo:hi] for f, ((field, _, _), occ) in enumerate(zip(fields, occurrences))
            for col, lo, hi in occ if (f, col) not in common]
    if not rare:
        return 0.0
    reached = rare[0] if len(rare) == 1 else np.unique(np.concatenate(rare))
    parts = []
    bounds = []
    for f, ((field, _, _), occ) in enumerate(zip(fields, occurrences)):
        score = np.zeros(reached.size)
        bound = 0.0
        for col, lo, hi in occ:
            if (f, col) in common:
                bound += float(field.max_weight[col])
            else:
                docs = field.indices[lo:hi]
                score[np.searchsorted(reached, docs)] += field.data[lo:hi]
        parts.append(score)
        bounds.append(bound)
    factor = 1 + cfg.article_weight * _evidence(index, rel, reached)
    lower = _fuse(parts, fields) * factor
    if not common:  # every term was scored over its postings: ``lower`` is exact
        keep = best_candidates(lower, k)
        return reached[keep], _fuse(parts, fields)[keep], lower[keep]
    if reached.size < k:
        return 0.0
    slack = sum(b * w for b, (_, _, w) in zip(bounds, fields))
    upper = (_fuse(parts, fields) + slack) * factor * (1 + _SLACK)
    floor = np.partition(lower, reached.size - k)[reached.size - k]
    docs = reached[upper >= floor]
    base = _exact(fields, occurrences, docs)
    fused = base * (1 + cfg.article_weight * _evidence(index, rel, docs))
    positive = fused[fused > 0]
    if positive.size < k:
        return 0.0
    kth = np.partition(positive, positive.size - k)[positive.size - k]
    outside = slack * (1 + cfg.article_weight * (1.0 if rel is not None else 0.0)) * (1 + _SLACK)
    if not kth > outside:
        return float(kth)
    keep = fused >= kth
    return docs[keep], base[keep], fused[keep]
