"""Answer types: does a sentence hold the kind of thing a question asks for?

A question asking "ai" wants a person's name, "bao nhiêu" a number, "khi nào" a
date, "ở đâu" a place; :func:`retrieval.search.query.analyse` names the kind. A
sentence answers such a question when it holds a thing of that kind which the
question does not already name, next to the question's own words
(:func:`has_answer_type`); :mod:`retrieval.search.rerank` lifts those sentences.

Part of the check does not depend on the question: a sentence without any number
cannot answer "bao nhiêu". :func:`sentence_kinds` records, at index time, which
kinds a sentence could answer at all (one byte per sentence, ``KIND_BITS``), so
that a question reads and tokenizes only the candidates that might. This module
is part of the index's code digest (:mod:`retrieval.index.store`): a change here
rebuilds saved indexes, whose recorded kinds it decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from retrieval.config import RetrievalConfig
from retrieval.text.normalize import fold_diacritics

TOKEN = re.compile(r"\d+(?:[.,/:-]\d+)*%?|[^\W\d_]+")
_DATE = re.compile(r"\d{1,2}[/.-]\d{1,2}([/.-]\d{2,4})?|(1[5-9]|20)\d{2}")
# Numbers written as words ("chín quốc gia"); "một" and "năm" are left out:
# they mostly mean "a" and "year".
_NUMBER_WORDS = frozenset("hai ba bốn tư sáu bảy tám chín mười mươi chục trăm nghìn ngàn triệu tỷ tỉ nửa".split())
_DATE_WORDS = frozenset({"nam", "thang", "ngay", "quy", "sang", "chieu", "toi", "dau", "cuoi"})

# What a sentence could answer (:func:`sentence_kinds`), one bit per kind of question.
NUMBER, DATE, NAME, PERSON = 1, 2, 4, 8
KIND_BITS = {"number": NUMBER, "date": DATE, "place": NAME, "name": NAME, "person": PERSON}


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


@lru_cache(maxsize=1 << 16)
def _fold_word(word: str) -> str:
    return fold_diacritics(word).lower()


def fold_words(words: list[str]) -> list[str]:
    """Each of ``words`` folded and lower-cased, remembered per word: sentences are made of
    a few thousand syllables, and looking them up costs about 3 microseconds a sentence, folding it
    about 10."""
    return [_fold_word(w) for w in words]


def _is_number(word: str) -> bool:
    """A token that answers "bao nhiêu": digits, or a number written as a word."""
    return word[0].isdigit() or word.lower() in _NUMBER_WORDS


def _is_date(word: str, before: str) -> bool:
    """A token that answers "khi nào": digits shaped like a date or a year, or any digits
    after a date word (``before``: the previous token, folded and lower-cased; "" for none)."""
    return word[0].isdigit() and (bool(_DATE.fullmatch(word)) or before in _DATE_WORDS)


def _capital_runs(words: Sequence[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of capitalised words, in order; a sentence's first word
    is left out of a run it starts (its capital says nothing). A run may be empty then."""
    i = 0
    while i < len(words):
        if not (words[i][0].isalpha() and _is_cap(words[i])):
            i += 1
            continue
        j = i
        while j < len(words) and words[j][0].isalpha() and _is_cap(words[j]):
            j += 1
        yield (i + 1 if i == 0 else i), j
        i = j


def answer_spans(
    kind: str, words: Sequence[str], folded: Sequence[str], rules: TypeRules
) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """Token spans (start, end, folded words) of a sentence that could answer a ``kind``
    question, in order (lazily: the caller stops at the first that does).

    ``words`` are the sentence's tokens (``TOKEN``), ``folded`` the same tokens
    folded and lower-cased.
    """
    if kind in ("number", "date"):
        for i, w in enumerate(words):
            if (kind == "number" and _is_number(w)) or (kind == "date" and _is_date(w, folded[i - 1] if i else "")):
                yield i, i + 1, (folded[i],)
        return
    for start, j in _capital_runs(words):
        if kind in ("place", "name") and j - start >= 1:
            yield start, j, tuple(folded[start:j])
        elif kind == "person" and j - start >= 2:
            before = folded[max(0, start - 2) : start]
            after = folded[j : j + 2]
            # Titles are one or two syllables: "ông", "ngài", "đại sứ", "chủ tịch".
            near_before = {" ".join(before[-n:]) for n in (1, 2) if len(before) >= n}
            near_after = {" ".join(after[:n]) for n in (1, 2) if len(after) >= n}
            if not near_before & rules.place_titles and (
                (near_before | near_after) & rules.person_titles or folded[start] in rules.surnames
            ):
                yield start, j, tuple(folded[start:j])


def sentence_kinds(sentence: str) -> int:
    """The kinds of question ``sentence`` could answer (``KIND_BITS``), whatever the question:
    NUMBER, DATE and NAME when :func:`answer_spans` finds a span of that kind; PERSON when
    a run of two or more capitalised words could be a person's name (whether it is
    depends on the configured titles and surnames, which the index does not record). A
    sentence without a kind's bit has no span of that kind, so :func:`has_answer_type`
    is False for it."""
    words = TOKEN.findall(sentence)
    kinds = 0
    for i, w in enumerate(words):
        if _is_number(w):
            kinds |= NUMBER
            # Only digits can be a date: the previous word is folded for those alone.
            if w[0].isdigit() and _is_date(w, _fold_word(words[i - 1]) if i else ""):
                kinds |= DATE
    for start, end in _capital_runs(words):
        if end - start >= 1:
            kinds |= NAME
        if end - start >= 2:
            kinds |= PERSON
            break
    return kinds


@dataclass(frozen=True)
class AskedFor:
    """What a question asks for, worked out once per question."""

    kind: str
    words: frozenset[str]  # the question's words, folded and lower-cased

    @property
    def bit(self) -> int:
        """The bit of :func:`sentence_kinds` that a sentence answering it has."""
        return KIND_BITS[self.kind]


def asked_for(kind: str, question: str, rules: TypeRules) -> AskedFor:
    """The question's answer kind and folded words ("tên là gì" after a title asks for a person)."""
    q_folded = [fold_diacritics(w).lower() for w in TOKEN.findall(question)]
    if kind == "name":
        # "Đại sứ Mỹ tên là gì": the name of someone with a title is a person's.
        pairs = {" ".join(q_folded[i : i + 2]) for i in range(len(q_folded) - 1)}
        if (set(q_folded) | pairs) & rules.person_titles:
            kind = "person"
    return AskedFor(kind, frozenset(fold_diacritics(question).lower().split()) | frozenset(q_folded))


def has_answer_type(asked: AskedFor, sentence: str, rules: TypeRules, window: int = 4) -> bool:
    """Does ``sentence`` hold the asked-for kind of thing, absent from the question, next to its words?"""
    words = TOKEN.findall(sentence)
    folded = fold_words(words)
    anchors = [i for i, w in enumerate(folded) if w in asked.words and len(w) > 1]
    if not anchors:
        return False
    for start, end, span in answer_spans(asked.kind, words, folded, rules):
        if all(w in asked.words for w in span):
            continue  # the question already names it
        if any(start - window <= a < end + window for a in anchors if not start <= a < end):
            return True
    return False
