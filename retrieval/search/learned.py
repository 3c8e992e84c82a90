"""The optional learned re-ranker's features: one row of :data:`FEATURES` per first-stage candidate.

Off by default (``retrieval.ranker_weights`` empty). ``bench/train_ranker.py`` fits a weight per
feature on XQuAD half A and writes them into config.yaml; :func:`retrieval.search.rerank.rank`
then scores each candidate by ``exp(weights · features)`` instead of the hand-set type bonus
and attribute focus. The features need every sentence's first-stage scores
(:func:`retrieval.search.first_stage.candidates_for`), not only the candidates'.
"""

from __future__ import annotations

import numpy as np

from retrieval.index.sentences import SentenceIndex
from retrieval.search.first_stage import neighbour_scores
from retrieval.search.query import Query
from retrieval.text.answer_types import TypeRules, asked_for, has_answer_type
from retrieval.text.terms import expand, fold_terms

FEATURES = (
    "bm25",  # log(1 + fused BM25 score of the sentence)
    "bm25_rel",  # fused BM25 / best fused BM25 among the candidates
    "fused",  # log(1 + score with article and neighbour evidence)
    "stage_rank",  # log(rank after the first stage)
    "article",  # article score / best article score
    "neighbor",  # better neighbour's fused score / best fused score
    "coverage",  # IDF-weighted share of the question's content words in the sentence
    "proximity",  # matched question words / width of the window holding them
    "novelty",  # share of the sentence's words that are not in the question
    "length",  # log(number of words)
    "first",  # 1 for an article's first sentence
    "type_person",
    "type_number",
    "type_date",
    "type_place",
    "type_name",  # answer-type match by kind
)


def features(
    index: SentenceIndex,
    query: Query,
    question: str,
    candidates: np.ndarray,
    base: np.ndarray,
    fused: np.ndarray,
    art_rel: np.ndarray,
    rules: TypeRules,
    window: int,
) -> np.ndarray:
    """One row of :data:`FEATURES` per candidate sentence; ``base``, ``fused`` and ``art_rel``
    per sentence, as :func:`~retrieval.search.first_stage.candidates_for` returns them."""
    field = index.fold if query.accentless else index.bm25
    q_terms = set(query.folded if query.accentless else query.terms)
    idf = {t: field.idf_of(t) or 0.0 for t in q_terms}
    idf_total = sum(idf.values()) or 1.0
    top = float(base[candidates].max()) or 1.0
    neigh = neighbour_scores(index, base)
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
