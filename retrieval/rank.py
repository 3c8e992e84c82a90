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
from dataclasses import dataclass

import numpy as np

from .config import RetrievalConfig
from .index import Hit, SentenceIndex, best_candidates
from .normalize import fold_diacritics
from .query import Query

_TOKEN = re.compile(r"\d+(?:[.,/:-]\d+)*%?|[^\W\d_]+")
_DATE = re.compile(r"\d{1,2}[/.-]\d{1,2}([/.-]\d{2,4})?|(1[5-9]|20)\d{2}")
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


def answer_spans(kind: str, sentence: str, rules: TypeRules) -> list[tuple[int, int, tuple[str, ...]]]:
    """Token spans (start, end, folded words) in ``sentence`` that could answer a ``kind`` question."""
    words = _TOKEN.findall(sentence)
    folded = [fold_diacritics(w).lower() for w in words]
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    if kind in ("number", "date"):
        for i, w in enumerate(words):
            if not w[0].isdigit():
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
        if kind == "place" and j - start >= 1:
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


def has_answer_type(kind: str, sentence: str, question: str, rules: TypeRules, window: int = 4) -> bool:
    """Does ``sentence`` hold a ``kind`` thing the question lacks, next to the question's words?"""
    q_words = set(fold_diacritics(question).lower().split()) | {
        fold_diacritics(w).lower() for w in _TOKEN.findall(question)
    }
    words = [fold_diacritics(w).lower() for w in _TOKEN.findall(sentence)]
    anchors = [i for i, w in enumerate(words) if w in q_words and len(w) > 1]
    for start, end, span in answer_spans(kind, sentence, rules):
        if all(w in q_words for w in span):
            continue  # the question already names it
        if any(start - window <= a < end + window for a in anchors if not start <= a < end):
            return True
    return False


def rank(
    index: SentenceIndex, query: Query, question: str, cfg: RetrievalConfig, k: int, rules: TypeRules | None = None
) -> list[Hit]:
    """The ``k`` best sentences for ``query``, best first."""
    if not query.terms and not query.folded:
        return []
    fold_weight = cfg.accentless_fold_weight if query.accentless else cfg.fold_weight
    scores = index.bm25.scores(query.terms)
    if fold_weight:
        scores = scores + fold_weight * index.fold.scores(query.folded)
    if cfg.article_weight:
        art = index.article_bm25.scores(query.terms)
        if fold_weight:
            art = art + fold_weight * index.article_fold.scores(query.folded)
        top = art.max() if art.size else 0.0
        if top > 0:
            scores = scores * (1 + cfg.article_weight * (art / top)[index.sentence_article_ids])
    candidates = best_candidates(scores, max(k, cfg.rerank_depth))
    if candidates.size == 0:
        return []
    final = scores[candidates].copy()
    if query.qtype and cfg.type_bonus:
        rules = rules or TypeRules.from_config(cfg)
        for j, i in enumerate(candidates):
            if has_answer_type(query.qtype, index.text(int(i)), question, rules, cfg.type_window):
                final[j] *= 1 + cfg.type_bonus
    order = np.lexsort((candidates, -final))[:k]
    return [Hit(int(candidates[j]), float(final[j])) for j in order]
