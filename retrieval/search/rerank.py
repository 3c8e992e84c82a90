"""Second stage: the first stage's candidates re-scored by what the question asks for, best first.

Among the ``rerank_depth`` best candidates (:mod:`retrieval.search.first_stage`), a sentence
that contains the kind of thing the question asks for (a name for "ai", a number for
"bao nhiêu", a date for "khi nào", a place for "ở đâu") and that the question itself does
not already contain is multiplied by ``1 + retrieval.type_bonus``; for a question asking
for an attribute ("Chủ đề của Hội nghị ... là gì?"), a sentence without the attribute's
noun by ``retrieval.focus_factor`` and one stating its value by ``1 + retrieval.type_bonus``
(:func:`_focus`). With ``retrieval.ranker_weights`` set, the learned ranker
(:mod:`retrieval.search.learned`) scores the candidates instead.
"""

from __future__ import annotations

import re

import numpy as np

from retrieval.config import RetrievalConfig
from retrieval.index.select import Hit
from retrieval.index.sentences import SentenceIndex
from retrieval.search import learned
from retrieval.search.backend import SearchBackend
from retrieval.search.first_stage import candidates_for, first_stage
from retrieval.search.query import Query
from retrieval.text.answer_types import AskedFor, TypeRules, asked_for, has_answer_type
from retrieval.text.normalize import normalize


def rank(
    backend: SearchBackend,
    index: SentenceIndex,
    query: Query,
    question: str,
    cfg: RetrievalConfig,
    k: int,
    rules: TypeRules | None = None,
) -> list[Hit]:
    """The ``k`` best sentences of ``index`` for ``query`` (``question``: its text), best first;
    ``backend`` runs the first stage (:func:`retrieval.search.first_stage.first_stage`).
    ``rules``: ``TypeRules.from_config(cfg)`` when not given."""
    rules = rules or TypeRules.from_config(cfg)
    if cfg.ranker_weights:
        found = candidates_for(index, query, cfg)
        if found is None:
            return []
        candidates, base, fused, art_rel = found
        rows = learned.features(index, query, question, candidates, base, fused, art_rel, rules, cfg.type_window)
        weights = np.array([cfg.ranker_weights.get(name, 0.0) for name in learned.FEATURES])
        final = np.exp(rows @ weights)
        base_c = base[candidates]
    else:
        stage = first_stage(backend, index, query, cfg)
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


def _type_bonus(
    index: SentenceIndex,
    candidates: np.ndarray,
    fused: np.ndarray,
    final: np.ndarray,
    asked: AskedFor,
    rules: TypeRules,
    cfg: RetrievalConfig,
    k: int,
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


def _focus(index: SentenceIndex, candidates: np.ndarray, final: np.ndarray, focus: str, cfg: RetrievalConfig) -> None:
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
