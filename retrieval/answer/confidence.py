"""Answer or refuse: how likely it is that the articles answer the question.

The bot's promise is that it quotes only when its articles answer. Whether
they do is judged from evidence about the best sentence and its article
(:func:`evidence`), combined by a logistic model (:class:`ConfidenceModel`)
whose few weights ``bench/train_confidence.py`` fits on XQuAD half A (questions
asked with and without their own article) and writes to ``confidence.json``
beside this module. The question is answered when the probability reaches
``answer.strictness``; the curve of refusals against false refusals for every
strictness is in docs/quality.md.

The evidence (each a number, most between 0 and 1):

- ``coverage``: the share of the question's content words (IDF-weighted) that
  the best sentence's article holds; a word found there only as a syllable of
  another compound counts ``answer.syllable_credit``;
- ``window``: the same share held by the quoted sentence and its neighbours;
- ``unknown``: the share of the question's weight in words the articles never
  use that are not ordinary Vietnamese (names, foreign and technical words:
  the articles would have to mention them to answer);
- ``unknown_common``: the same for ordinary words (:class:`~retrieval.text.lexicon.Lexicon`),
  which articles may just phrase otherwise;
- ``bm25``: the best sentence's BM25 score over the most its question words could score;
- ``margin``: how far the best sentence leads the best one of another article;
- ``names``: the share of the question's names (capitalised words) the quote
  and its neighbours do not write;
- ``numbers``: the share of the question's numbers (a year, an amount) they do not write.

A word the articles never use weighs as much as the rarest word they could
(``max_idf``); questions typed without diacritics are measured on syllables
without them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.index.bm25 import Bm25
from retrieval.index.select import Hit
from retrieval.index.sentences import SentenceIndex
from retrieval.search.query import Query
from retrieval.text.answer_types import TOKEN
from retrieval.text.lexicon import Lexicon
from retrieval.text.normalize import fold_diacritics, normalize

FEATURES = ("coverage", "window", "unknown", "unknown_common", "bm25", "margin", "names", "numbers")
# The fitted weights, versioned with the code (bench/train_confidence.py writes it).
MODEL_FILE = Path(__file__).with_name("confidence.json")


def split_slips(words: Sequence[str], field: Bm25, exact: Bm25) -> list[str]:
    """Replace segmentation slips by the known words they are made of.

    A compound the corpus never uses whose syllables make up words the corpus
    does use ("trung_học_tư_thục" from "trung học tư thục", "mỹ_muốn" from "Mỹ
    muốn") is a slip of the word segmenter: it becomes the longest known words,
    left to right. A real unknown compound ("tổng_thống" where only "hệ thống"
    exists) is kept.
    """
    out: list[str] = []
    for word in words:
        parts = [p for p in word.split("_") if p]
        if len(parts) < 2 or field.idf_of(word) is not None:
            out.append(word)
            continue
        pieces: list[str] = []
        i = 0
        while i < len(parts):
            for j in range(len(parts), i, -1):
                piece = "_".join(parts[i:j])
                if (j - i < len(parts)) and exact.idf_of(piece) is not None:
                    pieces.append(piece)
                    i = j
                    break
            else:
                pieces = []
                break
        out.extend(pieces or [word])
    return out


def question_names(question: str, lexicon: Lexicon) -> list[str]:
    """The capitalised words of ``question``, folded and lower-cased; its first word only when
    it is not an ordinary word, capitalised because it opens the question ("Các", "Ai")."""
    tokens = TOKEN.findall(question)
    return [
        fold_diacritics(t).lower()
        for i, t in enumerate(tokens)
        if t[0].isupper() and (i > 0 or not lexicon.common(normalize(t)))
    ]


@dataclass(frozen=True)
class Judgement:
    """The evidence for one question's best sentence and the probability it answers."""

    evidence: Mapping[str, float]
    probability: float


class ConfidenceModel:
    """Logistic weights per feature, one set for questions with diacritics, one without."""

    def __init__(self, weights: Mapping[str, Mapping[str, float]]):
        for kind in ("accented", "accentless"):
            unknown = set(weights[kind]) - set(FEATURES) - {"bias"}
            if unknown:
                raise ValueError(f"confidence weights for {kind} name unknown features: {sorted(unknown)}")
        self.weights = {kind: dict(weights[kind]) for kind in ("accented", "accentless")}

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> ConfidenceModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["weights"])

    def probability(self, evidence: Mapping[str, float], accentless: bool) -> float:
        w = self.weights["accentless" if accentless else "accented"]
        z = w.get("bias", 0.0) + sum(w.get(name, 0.0) * value for name, value in evidence.items())
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def _holds(field: Bm25, exact: Bm25 | None, term: str, article: int, syllable_credit: float) -> float:
    if exact is not None and exact.holds(term, article):
        return 1.0
    if field.holds(term, article):
        return 1.0 if exact is None else syllable_credit
    return 0.0


def evidence(
    index: SentenceIndex,
    query: Query,
    hits: Sequence[Hit],
    question: str,
    window: Sequence[int],
    lexicon: Lexicon,
    syllable_credit: float,
    k1: float,
) -> dict[str, float]:
    """The features of :data:`FEATURES` for the best hit; ``window``: the sentences of its quote and
    their neighbours (same paragraph)."""
    best = hits[0]
    article = index.sentences[best.sentence].article
    if query.accentless:
        wanted, art_field, exact, field = list(query.folded), index.article_fold, None, index.fold
        scoring = query.folded
    else:
        art_field, exact, field = index.article_bm25, index.article_words, index.bm25
        wanted = split_slips(query.content, art_field, exact)
        scoring = query.terms
    unknown_idf = art_field.max_idf()
    total = have = in_window = unknown = unknown_common = 0.0
    for term in dict.fromkeys(wanted):
        idf = art_field.idf_of(term)
        weight = unknown_idf if idf is None else max(idf, 1e-6)
        total += weight
        if idf is None:
            common = lexicon.common_folded(term) if query.accentless else lexicon.common(term)
            if common:
                unknown_common += weight
            else:
                unknown += weight
            continue
        have += weight * _holds(art_field, exact, term, article, syllable_credit)
        if any(field.holds(term, k) for k in window):
            in_window += weight
    best_possible = sum((field.idf_of(t) or field.max_idf()) * (k1 + 1) for t in dict.fromkeys(scoring))
    other = next((h.score for h in hits[1:] if index.sentences[h.sentence].article != article), 0.0)
    quoted = " ".join(index.text(k) for k in window)
    folded = fold_diacritics(quoted).lower()
    names = question_names(question, lexicon)
    numbers = [w for w in TOKEN.findall(question) if w[0].isdigit()]
    quoted_numbers = set(TOKEN.findall(quoted))
    total = total or 1.0
    return {
        "coverage": have / total,
        "window": in_window / total,
        "unknown": unknown / total,
        "unknown_common": unknown_common / total,
        "bm25": min(best.bm25 / best_possible, 3.0) if best_possible else 0.0,
        "margin": 1.0 - other / best.score if best.score > 0 else 0.0,
        "names": sum(n not in folded for n in names) / len(names) if names else 0.0,
        "numbers": sum(n not in quoted_numbers for n in numbers) / len(numbers) if numbers else 0.0,
    }
