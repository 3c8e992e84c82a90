"""Extractive answers: ranked sentences -> quotes with citations, or a refusal.

A quote is always a span of the article's own text: the retrieved sentence,
widened to the sentence before it when it cannot stand alone ("Ông cho biết",
"Theo đó, ..."). The best sentence must be strong enough (BM25 score) and
cover enough of the question's content words (IDF-weighted), or the question
is refused: quoting something unrelated is worse than saying "not found".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from dataclasses import asdict, dataclass, field

from .config import AnswerConfig
from .index import Hit, SentenceIndex
from .normalize import normalize
from .query import Query, analyse, expand, fold_terms


@dataclass(frozen=True)
class Answer:
    """One quote and the article it comes from."""

    quote: str
    doc_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None
    score: float


@dataclass(frozen=True)
class Result:
    """The answer to one question; ``message`` is what a user is shown."""

    question: str
    answered: bool
    answers: tuple[Answer, ...]
    message: str
    # Why a question was refused or changed ("empty", "weak", "truncated"...): for logs and tests.
    notes: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict:
        """The documented ``--json`` shape."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answers": [asdict(a) | {"score": round(a.score, 4)} for a in self.answers],
            "message": self.message,
        }


@dataclass(frozen=True)
class Decision:
    """What the composer decided, before any text for the user is written."""

    answered: bool
    answers: tuple[Answer, ...]
    reason: str  # "ok", "empty", "no_content", "weak"


def _opener_pattern(openers: Sequence[str]) -> re.Pattern[str] | None:
    if not openers:
        return None
    alts = "|".join(re.escape(normalize(o)) for o in sorted(openers, key=len, reverse=True))
    return re.compile(rf"^[\W_]*(?:{alts})(?=[\s,.:;!?]|$)")


class Composer:
    """Turns BM25 hits into answers according to :class:`AnswerConfig`."""

    def __init__(self, cfg: AnswerConfig) -> None:
        self.cfg = cfg
        self.stopwords = frozenset(normalize(w).replace(" ", "_") for w in cfg.stopwords)
        self._dependent = _opener_pattern(cfg.dependent_openers)
        self._pronoun = _opener_pattern(cfg.pronoun_openers)

    def query(self, text: str, words: Sequence[str]) -> Query:
        return analyse(text, words, self.stopwords)

    def content_terms(self, terms: Sequence[str]) -> list[str]:
        """The question's words that are not question or function words."""
        return list(dict.fromkeys(t for t in terms if t not in self.stopwords))

    def coverage(self, index: SentenceIndex, query: Query, sentence: int) -> float:
        """IDF-weighted share of the question's content words found in the sentence's article.

        An answer's article must be about what the question asks: a question
        whose key words the article never uses is not answered by it, however
        well one phrase matches. Accentless questions are compared on folded
        syllables, others on words (a word also counts when it is a syllable of
        a compound there). A word the corpus never uses weighs
        ``unknown_word_weight`` times the rarest possible word: it is the
        strongest sign that the articles are not about the question.
        """
        if query.accentless:
            field, wanted = index.article_fold, query.folded
        else:
            field, wanted = index.article_bm25, query.content
        if not wanted:
            return 0.0
        article = index.sentences[sentence].article
        unknown = field.max_idf() * self.cfg.unknown_word_weight
        # A compound the corpus never uses, made of syllables it does use, is
        # likely a segmentation slip ("mỹ_muốn" for "Mỹ muốn"): judge it by its
        # syllables. One with an unknown syllable ("thanh_xuân") stays unknown.
        terms: list[str] = []
        for term in wanted:
            parts = [s for s in term.split("_") if s]
            if len(parts) > 1 and field.idf_of(term) is None and all(field.idf_of(s) is not None for s in parts):
                terms.extend(parts)
            else:
                terms.append(term)
        total = have = 0.0
        for term in dict.fromkeys(terms):
            idf = field.idf_of(term)
            weight = unknown if idf is None else max(idf, 1e-6)
            total += weight
            docs = field.docs_with(term)
            pos = int(np.searchsorted(docs, article))
            if pos < docs.size and docs[pos] == article:
                have += weight
        return have / total

    def needs_context(self, sentence: str) -> bool:
        norm = normalize(sentence)
        if self._dependent and self._dependent.match(norm):
            return True
        if self._pronoun and (m := self._pronoun.match(norm)):
            rest = sentence.lstrip()[m.end():].lstrip(" ,")
            # "Ông David Wong ..." names someone; "Ông cho rằng ..." does not.
            return not (rest[:1].isupper())
        return False

    def _span(self, index: SentenceIndex, i: int) -> tuple[int, int, int, int]:
        """(article, paragraph, start, end) of the quote for sentence ``i``."""
        ref = index.sentences[i]
        start = ref.start
        if i > 0 and self.needs_context(index.text(i)):
            prev = index.sentences[i - 1]
            if prev.article == ref.article and prev.paragraph == ref.paragraph:
                start = prev.start
        return ref.article, ref.paragraph, start, ref.end

    def decide(
        self, index: SentenceIndex, query: Query, hits: Sequence[Hit], max_answers: int | None = None
    ) -> Decision:
        """Refuse, or pick up to ``max_answers`` (default: the config's) non-overlapping quotes."""
        limit = max_answers or self.cfg.max_answers
        if query.empty:
            return Decision(False, (), "empty")
        if not query.content:
            return Decision(False, (), "no_content")
        if not hits:
            return Decision(False, (), "weak")
        best = hits[0]
        if best.score < self.cfg.min_score or self.coverage(index, query, best.sentence) < self.cfg.min_coverage:
            return Decision(False, (), "weak")

        answers: list[Answer] = []
        used: list[tuple[int, int, int, int]] = []
        seen_text: set[str] = set()
        for hit in hits:
            if len(answers) >= limit:
                break
            if hit.score < self.cfg.min_relative_score * best.score:
                break
            if answers and self.coverage(index, query, hit.sentence) < self.cfg.min_coverage:
                continue
            art, par, start, end = self._span(index, hit.sentence)
            if any(a == art and p == par and start < e and s < end for a, p, s, e in used):
                continue  # overlaps a quote already given
            article = index.articles[art]
            quote = article.paragraphs[par][start:end].strip()
            key = " ".join(normalize(quote).split())
            if key in seen_text:
                continue  # the same text in another article
            used.append((art, par, start, end))
            seen_text.add(key)
            answers.append(
                Answer(
                    quote=quote,
                    doc_id=article.doc_id,
                    title=article.title,
                    source=article.source,
                    date=article.date,
                    url=article.url,
                    score=hit.score,
                )
            )
        return Decision(True, tuple(answers), "ok")
