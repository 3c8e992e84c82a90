"""Answer types: the kinds recorded per sentence at index time never hide a sentence that
answers a question's kind (retrieval.text.answer_types.sentence_kinds), and folding words."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.text import answer_types as at
from retrieval.text.normalize import fold_diacritics

KINDS = ("number", "date", "place", "name", "person")
RULES = at.TypeRules(
    person_titles=frozenset({"ong", "ba", "dai su", "chu tich", "ngai"}),
    place_titles=frozenset({"thanh pho", "tinh", "quan"}),
    surnames=frozenset({"nguyen", "tran", "le"}),
)

# Words that make every kind of span and miss it narrowly: capitals (one or several,
# all-caps acronyms), numbers as digits and as words, dates, date words before numbers,
# titles and surnames, punctuation.
WORDS = (
    "Ông Bà Đại sứ đại sứ Chủ tịch Nguyễn Trần Lê Văn An Ted Osius Hà Nội Thành phố thành phố "
    "Tỉnh Quận UBND TP.HCM iPhone ông bà năm tháng ngày quý sáng cuối hai ba tư mười triệu Mười "
    "một năm 2023 1999 12/5 1.5 9,2 30% 0 15-20 ² của và là có , . : “ ” ( )"
).split()


def _spans(kind: str, sentence: str, rules: at.TypeRules = RULES) -> list:
    words = at.TOKEN.findall(sentence)
    return list(at.answer_spans(kind, words, at.fold_words(words), rules))


def _assert_kinds_cover(sentence: str, question: str) -> None:
    kinds = at.sentence_kinds(sentence)
    for kind in KINDS:
        bit = at.KIND_BITS[kind]
        if kind == "person":
            # Depends on the titles and surnames: the bit must cover whatever they accept.
            assert not _spans(kind, sentence) or kinds & bit, sentence
        else:
            assert bool(_spans(kind, sentence)) == bool(kinds & bit), (kind, sentence)
        asked = at.AskedFor(kind, at.asked_for(kind, question, RULES).words)
        if at.has_answer_type(asked, sentence, RULES):
            assert kinds & asked.bit, (kind, sentence, question)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=16), st.lists(st.sampled_from(WORDS), max_size=6))
def test_recorded_kinds_cover_every_answer_span(words, question_words):
    _assert_kinds_cover(" ".join(words), " ".join(question_words) + " là ai?")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.text(max_size=20))
def test_recorded_kinds_cover_any_text(sentence, question):
    _assert_kinds_cover(sentence, question)


def test_recorded_kinds_cover_the_seed_sentences(ws_service):
    """Every seed sentence: its recorded kinds are its kinds, and cover the spans the
    configured rules find for every kind and question word."""
    index = ws_service.index
    rules = at.TypeRules.from_config(ws_service.cfg.retrieval)
    counts = dict.fromkeys(KINDS, 0)
    for i in range(len(index.sentences)):
        text = index.text(i)
        kinds = at.sentence_kinds(text)
        assert int(index.sentences.kinds[i]) == kinds
        for kind in KINDS:
            if _spans(kind, text, rules):
                counts[kind] += 1
                assert kinds & at.KIND_BITS[kind], (kind, text)
    assert all(n > 5 for n in counts.values()), counts  # the seeds hold every kind


@pytest.mark.parametrize(
    ("sentence", "kinds"),
    [
        ("Thành phố có 9,2 triệu dân.", at.NUMBER),  # "Thành" starts the sentence: not a name
        ("Dự án hoàn thành năm 2023 tại Hà Nội.", at.NUMBER | at.DATE | at.NAME | at.PERSON),
        ("Ông Ted Osius phát biểu.", at.NAME | at.PERSON),
        ("Hà nội có nhiều hồ.", 0),
        ("Có ba hồ lớn.", at.NUMBER),
        ("Có một hồ lớn.", 0),  # "một" mostly means "a"
        ("Tháng 12/5 sẽ họp.", at.NUMBER | at.DATE),
        ("UBND thành phố họp.", 0),  # an all-capitals acronym is not a name's capital
    ],
)
def test_sentence_kinds_examples(sentence, kinds):
    assert at.sentence_kinds(sentence) == kinds


def test_a_question_reads_no_text_of_a_candidate_without_its_kind(ws_service, monkeypatch):
    """The type bonus reads the text only of candidates whose recorded kinds include the
    asked-for kind (what makes it cheap on a large index)."""
    from retrieval.search import rerank
    from retrieval.search.first_stage import first_stage

    index = ws_service.index
    cfg = ws_service.cfg.retrieval
    question = "Dự án có bao nhiêu camera?"
    query = ws_service.composer.query(question, ws_service.segmenter.terms(question))
    assert query.qtype == "number"
    candidates, _, fused = first_stage(ws_service.backend, index, query, cfg)
    read: list[int] = []
    original = type(index).text
    monkeypatch.setattr(type(index), "text", lambda self, i: read.append(i) or original(self, i))
    asked = at.asked_for(query.qtype, question, at.TypeRules.from_config(cfg))
    rerank._type_bonus(index, candidates, fused, fused.copy(), asked, at.TypeRules.from_config(cfg), cfg, len(fused))
    without = [int(i) for i in candidates if not index.sentences.kinds[i] & at.NUMBER]
    assert without and read, "the question should have candidates with and without numbers"
    assert not set(read) & set(without)


@given(st.lists(st.text(min_size=1, max_size=12).filter(lambda w: " " not in w), max_size=12))
def test_fold_words_is_the_fold_of_each_word(words):
    assert at.fold_words(words) == [fold_diacritics(w).lower() for w in words]


def test_fold_words_on_vietnamese_tokens():
    words = at.TOKEN.findall("Đại sứ Mỹ Ted Osius nói: TP.HCM có 9,2 triệu dân, thuỷ/thủy điện Hoà Bình.")
    assert at.fold_words(words) == [fold_diacritics(w).lower() for w in words]
    assert at.fold_words(words)[:3] == ["dai", "su", "my"]
