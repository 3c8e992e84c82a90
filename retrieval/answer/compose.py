"""Extractive answers: ranked sentences -> quotes with citations, or a refusal.

A quote is always a span of the article's own text: the retrieved sentence,
widened to the sentence before it when it cannot stand alone ("Ông cho biết",
"Theo đó, ..."). The best sentence must be strong enough (BM25 score) and
cover enough of the question's content words (IDF-weighted), or the question
is refused: quoting something unrelated is worse than saying "not found".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from retrieval.answer.confidence import ConfidenceModel, Judgement, evidence, split_slips
from retrieval.config import AnswerConfig, RetrievalConfig
from retrieval.index.bm25 import Bm25
from retrieval.index.select import Hit
from retrieval.index.sentences import SentenceIndex
from retrieval.search.query import Query, analyse
from retrieval.text.lexicon import Lexicon
from retrieval.text.normalize import normalize


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
    # Where in the document the quote is, when the format tells: PDF page, section heading.
    page: int | None = None
    section: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """An article close to a refused question, named so the user can rephrase."""

    doc_id: str
    title: str


class Outcome(StrEnum):
    """How a question ended: answered, or why it was not."""

    ANSWERED = "answered"
    EMPTY = "empty"  # nothing but spaces or punctuation
    NO_CONTENT = "no_content"  # only question and function words ("là gì?")
    NOT_FOUND = "not_found"  # the articles do not answer it
    ERROR = "error"  # answering failed (a bug): the user is told to try again


@dataclass(frozen=True)
class Result:
    """The answer to one question; ``message`` is what a user is shown."""

    question: str
    answers: tuple[Answer, ...]
    message: str
    outcome: Outcome
    # The question was longer than answer.max_question_chars and was cut.
    truncated: bool = False
    # The question's content words (segmented, normalized): what a front end may highlight in quotes.
    highlight: tuple[str, ...] = field(default=(), compare=False)
    # Articles close to a refused question (empty when answered or when nothing is close).
    suggestions: tuple[Suggestion, ...] = ()
    # The probability that the articles answer the question, and the evidence it was judged on
    # (retrieval.answer.confidence; None when it could not be judged): for logs and benchmarks.
    confidence: float | None = field(default=None, compare=False)
    evidence: Mapping[str, float] | None = field(default=None, compare=False, repr=False)

    @property
    def answered(self) -> bool:
        return self.outcome is Outcome.ANSWERED

    def to_dict(self) -> dict:
        """The documented ``--json`` shape."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answers": [asdict(a) | {"score": round(a.score, 4)} for a in self.answers],
            "message": self.message,
            "suggestions": [asdict(s) for s in self.suggestions],
        }


@dataclass(frozen=True)
class Decision:
    """What the composer decided, before any text for the user is written."""

    answers: tuple[Answer, ...]
    outcome: Outcome
    # The evidence and the probability that the articles answer (None when not judged: empty, no content words).
    judgement: Judgement | None = None
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def answered(self) -> bool:
        return self.outcome is Outcome.ANSWERED


def _opener_pattern(openers: Sequence[str]) -> re.Pattern[str] | None:
    if not openers:
        return None
    alts = "|".join(re.escape(normalize(o)) for o in sorted(openers, key=len, reverse=True))
    return re.compile(rf"^[\W_]*(?:{alts})(?=[\s,.:;!?]|$)")


class Composer:
    """Turns BM25 hits into answers according to :class:`AnswerConfig`."""

    def __init__(
        self,
        cfg: AnswerConfig,
        retrieval: RetrievalConfig | None = None,
        abbreviations: Mapping[str, tuple[str, ...]] | None = None,
        *,
        lexicon: Lexicon | None = None,
        model: ConfidenceModel | None = None,
    ) -> None:
        self.cfg = cfg
        self.retrieval = retrieval or RetrievalConfig()
        self.lexicon = lexicon if lexicon is not None else Lexicon(frozenset())
        self.model = model if model is not None else ConfidenceModel.load()
        self.abbreviations = dict(abbreviations or {})
        self.stopwords = frozenset(normalize(w).replace(" ", "_") for w in cfg.stopwords)
        self.question_words = (
            frozenset(normalize(w).replace(" ", "_") for w in self.retrieval.question_words)
            if self.retrieval.question_words
            else None
        )
        self._dependent = _opener_pattern(cfg.dependent_openers)
        self._pronoun = _opener_pattern(cfg.pronoun_openers)
        # The demonstratives as one alternation, normalized once (see _reference_pattern).
        self._pointers = "|".join(re.escape(normalize(d)) for d in cfg.demonstratives)

    def query(self, text: str, words: Sequence[str]) -> Query:
        return analyse(
            text,
            words,
            self.stopwords,
            self.abbreviations,
            expand_compounds=self.retrieval.expand_compounds,
            drop_question_words=self.retrieval.drop_question_words,
            question_words=self.question_words,
        )

    def content_terms(self, terms: Sequence[str]) -> list[str]:
        """The question's words that are not question or function words."""
        return list(dict.fromkeys(t for t in terms if t not in self.stopwords))

    def coverage(self, index: SentenceIndex, query: Query, sentence: int) -> float:
        """IDF-weighted share of the question's content words found in the sentence's article.

        An answer's article must be about what the question asks: a question
        whose key words the article never uses is not answered by it, however
        well one phrase matches. A word the article uses counts fully; a word
        found there only as a syllable of another compound ("dân" in "dân số",
        but also "pháp" in "giải pháp") counts ``syllable_credit``. Accentless
        questions are compared on folded syllables. A word the corpus never
        uses weighs ``unknown_word_weight`` times the rarest possible word: it
        is the clearest sign the articles are not about the question.
        """
        article = index.sentences[sentence].article
        wanted: Sequence[str]
        if query.accentless:
            wanted, field, exact = query.folded, index.article_fold, None
        else:
            wanted, field, exact = query.content, index.article_bm25, index.article_words
        if not wanted:
            return 0.0
        unknown = field.max_idf() * self.cfg.unknown_word_weight
        if exact is not None:
            wanted = split_slips(wanted, field, exact)
        total = have = 0.0
        for term in dict.fromkeys(wanted):
            idf = field.idf_of(term)
            weight = unknown if idf is None else max(idf, 1e-6)
            total += weight
            if exact is not None and exact.holds(term, article):
                have += weight
            elif field.holds(term, article):
                have += weight * (1.0 if exact is None else self.cfg.syllable_credit)
        return have / total

    def needs_context(self, sentence: str) -> bool:
        norm = normalize(sentence)
        if self._dependent and self._dependent.match(norm):
            return True
        if self._pronoun and (m := self._pronoun.match(norm)):
            # normalize() keeps NFC lengths, so the match's end indexes the NFC text.
            rest = unicodedata.normalize("NFC", sentence)[m.end() :].lstrip(" ,")
            # "Ông David Wong ..." names someone; "Ông cho rằng ..." does not.
            return not (rest[:1].isupper())
        return False

    def _leans_on(self, index: SentenceIndex, dependent: int, other: int) -> bool:
        """Does sentence ``dependent`` need sentence ``other``, which stands next to it in its paragraph?"""
        return index.sentences.same_paragraph(dependent, other) and self.needs_context(index.text(dependent))

    def unit(self, index: SentenceIndex, i: int) -> tuple[int, int]:
        """First and last sentence of the quote for sentence ``i``: the sentence before
        it when ``i`` cannot stand alone, the one after when that one depends on ``i``
        (``answer.widen_forward``), always within the same paragraph."""
        first = i - 1 if i > 0 and self._leans_on(index, i, i - 1) else i
        forward = self.cfg.widen_forward and i + 1 < len(index.sentences)
        last = i + 1 if forward and self._leans_on(index, i + 1, i) else i
        return first, last

    def _content_weights(self, index: SentenceIndex, query: Query) -> tuple[Bm25, dict[str, float]]:
        """The sentence field the question is matched in, and the question's content words
        that field holds, with their IDF."""
        wanted, field = (query.folded, index.fold) if query.accentless else (query.content, index.bm25)
        weights = {}
        for term in dict.fromkeys(wanted):
            idf = field.idf_of(term)
            if idf is not None:
                weights[term] = max(idf, 1e-6)
        return field, weights

    def _covering(
        self, index: SentenceIndex, field: Bm25, weights: Mapping[str, float], first: int, last: int
    ) -> tuple[int, int]:
        """``first, last`` widened by the neighbouring sentence (same paragraph) that holds
        the largest share, at least ``widen_to_cover``, of the question's content words
        (IDF-weighted) the quote lacks: a setup sentence that repeats the question's
        words and the sentence after it that answers ("... thuốc chống viêm ...",
        "Glucocorticoids là thuốc mạnh nhất ...") are quoted together. A sentence
        holds a word when ``field`` indexes it there (a word, or a syllable of one)."""
        total = sum(weights.values())
        if not total or self.cfg.widen_to_cover <= 0:
            return first, last
        missing = {t: w for t, w in weights.items() if not any(field.holds(t, k) for k in range(first, last + 1))}
        best, best_gain = (first, last), 0.0
        for k, span in ((last + 1, (first, last + 1)), (first - 1, (first - 1, last))):
            if not (0 <= k < len(index.sentences) and index.sentences.same_paragraph(k, first)):
                continue
            gain = sum(w for t, w in missing.items() if field.holds(t, k)) / total
            if gain >= self.cfg.widen_to_cover and gain > best_gain:
                best, best_gain = span, gain
        return best

    def _reference_pattern(self, query: Query) -> re.Pattern[str] | None:
        """One of the question's content words followed by a demonstrative ("thiết bị này"),
        on normalized text; None for a question typed without diacritics (folded, "do"
        and "ay" are other words too) or when ``answer.demonstratives`` is empty."""
        words = [w.replace("_", " ") for w in query.content if w.replace("_", "").isalnum()]
        if query.accentless or not words or not self._pointers:
            return None
        nouns = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        return re.compile(rf"(?<!\w)(?:{nouns})\s+(?:{self._pointers})(?!\w)")

    def _spans(
        self,
        index: SentenceIndex,
        field: Bm25,
        weights: Mapping[str, float],
        i: int,
        refers: re.Pattern[str] | None = None,
    ) -> list[tuple[int, int, int, int]]:
        """(article, paragraph, start, end) of the quote for sentence ``i``, best first:
        widened to cover the question, then without that widening. A quote whose first
        sentence refers back to what the question asks about (``refers``: "các thiết bị
        này") always starts with the sentence before it, in the same paragraph."""
        first, last = self.unit(index, i)
        if (
            refers is not None
            and first > 0
            and index.sentences.same_paragraph(first - 1, first)
            and refers.search(normalize(index.text(first)))
        ):
            first -= 1
        units = dict.fromkeys([self._covering(index, field, weights, first, last), (first, last)])
        spans = []
        for lo, hi in units:
            ref = index.sentences[lo]
            spans.append((ref.article, ref.paragraph, ref.start, index.sentences[hi].end))
        return spans

    def window(self, index: SentenceIndex, i: int) -> list[int]:
        """The sentences of sentence ``i``'s quote and one neighbour on each side, same paragraph."""
        first, last = self.unit(index, i)
        return [
            k
            for k in range(max(first - 1, 0), min(last + 2, len(index.sentences)))
            if index.sentences.same_paragraph(k, i)
        ]

    def judge(self, index: SentenceIndex, query: Query, hits: Sequence[Hit], question: str) -> Judgement:
        """The evidence that the best hit answers ``question``, and the model's probability."""
        found = evidence(
            index,
            query,
            hits,
            question,
            self.window(index, hits[0].sentence),
            self.lexicon,
            self.cfg.syllable_credit,
            self.retrieval.k1,
        )
        return Judgement(found, self.model.probability(found, query.accentless))

    def suggestions(self, index: SentenceIndex, query: Query, hits: Sequence[Hit]) -> tuple[Suggestion, ...]:
        """Up to ``answer.max_suggestions`` articles of the hits, best first, that hold at least
        ``answer.suggest_coverage`` of the question's content words: close enough to name after a
        refusal. None for a question on a topic the articles never touch."""
        out: list[Suggestion] = []
        seen: set[int] = set()
        for hit in hits:
            if len(out) >= self.cfg.max_suggestions:
                break
            art = index.sentences[hit.sentence].article
            if art in seen:
                continue
            seen.add(art)
            if self.coverage(index, query, hit.sentence) >= self.cfg.suggest_coverage:
                article = index.articles[art]
                out.append(Suggestion(article.doc_id, article.title))
        return tuple(out)

    def decide(
        self,
        index: SentenceIndex,
        query: Query,
        hits: Sequence[Hit],
        question: str = "",
        max_answers: int | None = None,
    ) -> Decision:
        """Refuse, or pick up to ``max_answers`` (default: the config's) non-overlapping quotes."""
        limit = max_answers or self.cfg.max_answers
        if query.empty:
            return Decision((), Outcome.EMPTY)
        if not query.content:
            return Decision((), Outcome.NO_CONTENT)
        if not hits:
            return Decision((), Outcome.NOT_FOUND)
        best = hits[0]
        judgement = self.judge(index, query, hits, question)
        if judgement.probability < self.cfg.strictness:
            return Decision((), Outcome.NOT_FOUND, judgement, self.suggestions(index, query, hits))

        answers: list[Answer] = []
        used: list[tuple[int, int, int, int]] = []
        seen_text: set[str] = set()
        field, weights = self._content_weights(index, query)
        refers = self._reference_pattern(query)
        for hit in hits:
            if len(answers) >= limit:
                break
            if hit.score < self.cfg.min_relative_score * best.score:
                break
            if answers and self.coverage(index, query, hit.sentence) < self.cfg.min_coverage:
                continue
            # The widened quote, or the sentence's own when that overlaps a quote already given.
            free = [
                (art, par, start, end)
                for art, par, start, end in self._spans(index, field, weights, hit.sentence, refers)
                if not any(a == art and p == par and start < e and s < end for a, p, s, e in used)
            ]
            if not free:
                continue  # overlaps a quote already given
            art, par, start, end = free[0]
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
                    page=article.page(par),
                    section=article.section(par),
                )
            )
        return Decision(tuple(answers), Outcome.ANSWERED, judgement)
