"""Question analysis: the same term functions as indexing, plus what the question asks for.

A :class:`Query` carries the terms for each index field, which of them are
content words (question and function words are left out of scoring), whether
the question was typed without diacritics, and the kind of answer it asks
for (a person, a number, a date, a place), which the ranker uses to prefer
sentences that contain such a thing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrieval.text.normalize import fold_diacritics, normalize
from retrieval.text.terms import bigrams, expand, fold_terms, has_diacritics

# Answer types, recognised on the normalized question (after word segmentation
# the phrases may be joined by "_", so both forms are matched).
_TYPE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (
            "date",
            r"\b(khi[ _]nào|bao[ _]giờ|năm[ _]nào|ngày[ _]nào|tháng[ _]nào|thời[ _]gian[ _]nào|"
            r"từ[ _]khi[ _]nào|lúc[ _]nào|năm[ _]bao[ _]nhiêu)\b",
        ),
        ("number", r"\b(bao[ _]nhiêu|mấy|số[ _]lượng|bao[ _]lâu|bao[ _]xa)\b"),
        ("person", r"\b(là[ _]ai|ai[ _]là|ai|người[ _]nào|nhân[ _]vật[ _]nào|ông[ _]nào|bà[ _]nào)\b"),
        (
            "place",
            r"\b(ở[ _]đâu|tại[ _]đâu|từ[ _]đâu|đến[ _]đâu|nơi[ _]nào|chỗ[ _]nào|đâu|"
            r"(thành[ _]phố|nước|quốc[ _]gia|tỉnh|bang|sông|núi|hồ|biển|vùng|khu[ _]vực|địa[ _]điểm|"
            r"châu[ _]lục|lục[ _]địa|thị[ _]trấn|làng|đảo)[ _]nào)\b",
        ),
        ("name", r"\b(tên[ _]là[ _]gì|tên[ _]gì|tên[ _]là|tên[ _]gọi|gọi[ _]là[ _]gì|được[ _]gọi[ _]là)\b"),
    )
)


_FOLDED_TYPE_PATTERNS = tuple((kind, re.compile(fold_diacritics(p.pattern))) for kind, p in _TYPE_PATTERNS)

# "... là gì?" at the end of a question, chat particles after it allowed ("là gì vậy ạ?").
_ASKS_WHAT = re.compile(r"(?<!\w)là[ _]gì(?:\s+(?:vậy|thế|ạ|nhỉ|hả|nhé|ơi))*[\W_]*$")
# The attribute's noun stands at most this many words before "của".
_FOCUS_SPAN = 3


def question_type(text: str) -> str | None:
    """The kind of answer asked for; accentless questions use folded patterns."""
    norm = normalize(text)
    patterns = _TYPE_PATTERNS if has_diacritics(norm) else _FOLDED_TYPE_PATTERNS
    for kind, pattern in patterns:
        if pattern.search(norm):
            return kind
    return None


def question_focus(text: str, words: Sequence[str], stopwords: frozenset[str], qtype: str | None = None) -> str | None:
    """The noun of the attribute an "X của Y là gì?" question asks for: ``chủ_đề`` in
    "Chủ đề của Hội nghị ... là gì?", ``mục_tiêu`` in "Mục tiêu của đề án là gì?".

    Vietnamese noun phrases open with their head, so X is the question's first word.
    It must be a compound (the attribute nouns people ask about are: "chủ đề", "mục
    tiêu", "vai trò", "nguyên nhân"...; a single syllable before "của" is more often
    a preposition, "Vào thời của ..."), not a question or function word ("Tên của
    ... là gì" asks for a name, which is not given next to the word "tên"), and
    "của" must follow within three words. None for any other question, for a
    question with an answer type (``qtype``), and for one typed without diacritics
    (segmented without them, compounds are unreliable).
    """
    if qtype or not words or not has_diacritics(text):
        return None
    head = words[0]
    if "_" not in head or head in stopwords or "của" not in words[1 : 1 + _FOCUS_SPAN]:
        return None
    return head if _ASKS_WHAT.search(normalize(text)) else None


@dataclass(frozen=True)
class Query:
    """One analysed question."""

    words: tuple[str, ...]  # all segmented, normalized words
    content: tuple[str, ...]  # words that are not question/function words (unique, in order)
    terms: tuple[str, ...]  # word-field scoring terms (content words expanded)
    folded: tuple[str, ...]  # fold-field scoring terms
    pairs: tuple[str, ...]  # phrase-field scoring terms (syllable bigrams)
    fold_pairs: tuple[str, ...]  # the same without diacritics
    accentless: bool  # typed without any diacritic
    qtype: str | None  # "person", "number", "date", "place" or None
    # The attribute noun an "X của Y là gì?" question asks for (:func:`question_focus`), or None.
    focus: str | None = None

    @property
    def empty(self) -> bool:
        return not self.words


def analyse(
    text: str,
    words: Sequence[str],
    stopwords: frozenset[str],
    abbreviations: Mapping[str, tuple[str, ...]] | None = None,
    *,
    expand_compounds: bool = True,
    drop_question_words: bool = True,
    question_words: frozenset[str] | None = None,
) -> Query:
    """Build the :class:`Query` for ``text`` whose segmented words are ``words``.

    ``content`` leaves out every stopword (it measures what the question is
    about); the scoring terms leave out only ``question_words`` ("gì", "nào",
    "bao_nhiêu"...) when given, else every stopword: function words carry a low
    IDF and still help to rank. ``abbreviations`` maps a normalized
    abbreviation ("hn") to the words of its expansion ("hà_nội"); both stay in
    the query, since articles use both.
    """
    if abbreviations:
        words = [x for w in words for x in (w, *abbreviations.get(w, ()))]
    content = tuple(dict.fromkeys(w for w in words if w not in stopwords))
    dropped = stopwords if question_words is None else question_words
    scored = tuple(dict.fromkeys(w for w in words if not (drop_question_words and w in dropped)))
    stop_syllables = frozenset(s for w in stopwords for s in w.split("_"))
    folded_stop = frozenset(fold_diacritics(s) for w in stopwords for s in w.split("_"))
    accentless = bool(words) and not has_diacritics(text)
    folded = fold_terms(words)
    content_folded = tuple(t for t in folded if t not in folded_stop)
    qtype = question_type(text)
    return Query(
        words=tuple(words),
        content=content,
        terms=expand(scored) if expand_compounds else scored,
        folded=content_folded,
        pairs=tuple(p for p in bigrams(words) if not set(p.split("+")) <= stop_syllables),
        fold_pairs=tuple(p for p in bigrams(fold_terms(words)) if not set(p.split("+")) <= folded_stop),
        accentless=accentless,
        qtype=qtype,
        focus=question_focus(text, words, stopwords, qtype),
    )
