"""Matching normalization (NFC, case folding, tone placement) and its use on questions."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa_support import ws_segmenter
from retrieval.answer import messages
from retrieval.answer.compose import Outcome
from retrieval.text.normalize import fold_diacritics, normalize, normalize_tone_placement

NFC = lambda s: unicodedata.normalize("NFC", s)  # noqa: E731
NFD = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731

VIETNAMESE = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"
vietnamese_text = st.text(alphabet=st.sampled_from(list(VIETNAMESE + VIETNAMESE.upper() + " ,.?!-")), max_size=60)


@pytest.mark.parametrize(
    "text",
    ["Hà Nội có bao nhiêu dân?", "Thủ đô Hà Nội", "Nguyễn Đức Chung", "Ủy ban nhân dân", "khoẻ mạnh, hoà bình"],
)
def test_nfc_and_nfd_input_give_the_same_terms(text):
    assert NFD(text) != NFC(text)  # the two encodings really differ
    seg = ws_segmenter()
    assert seg.terms(NFD(text)) == seg.terms(NFC(text))
    assert normalize(NFD(text)) == normalize(NFC(text))


@pytest.mark.parametrize(
    "new_style, old_style",
    [
        ("hoà", "hòa"),
        ("hoá", "hóa"),
        ("hoạ", "họa"),
        ("toả", "tỏa"),
        ("thuỷ", "thủy"),
        ("khoẻ", "khỏe"),
        ("xoè", "xòe"),
        ("tuỳ", "tùy"),
        ("uỷ", "ủy"),
        ("Hoà", "Hòa"),
        ("HOÀ", "HÒA"),
        ("Thuỷ", "Thủy"),
        ("KHOẺ", "KHỎE"),
        ("Uỷ ban", "Ủy ban"),
    ],
)
def test_tone_placement_pairs_match(new_style, old_style):
    assert normalize(new_style) == normalize(old_style)
    assert normalize(NFD(new_style)) == normalize(old_style)
    assert normalize(old_style) == NFC(old_style).casefold()


@pytest.mark.parametrize(
    "new_style, old_style",
    [
        ("hoà", "hòa"),
        ("toả", "tỏa"),
        ("thuỷ", "thủy"),
        ("khoẻ", "khỏe"),
        ("Hoà", "Hòa"),
        ("Thuỷ", "Thủy"),
        ("Uỷ ban", "Ủy ban"),
        ("Thanh Hoá", "Thanh Hóa"),
    ],
)
def test_tone_placement_keeps_casing(new_style, old_style):
    assert normalize_tone_placement(new_style) == NFC(old_style)
    assert normalize_tone_placement(NFD(new_style)) == NFC(old_style)
    assert normalize_tone_placement(old_style) == NFC(old_style)


@pytest.mark.parametrize("new_style, old_style", [("HOÀ", "HÒA"), ("KHOẺ", "KHỎE"), ("THUỶ", "THỦY")])
def test_tone_placement_keeps_all_caps(new_style, old_style):
    assert normalize_tone_placement(new_style) == NFC(old_style)


@pytest.mark.parametrize(
    "word",
    ["quý", "Quý", "quỷ", "hoàng", "khuỷu", "Khuỷu", "hòa", "thủy", "của", "mùa", "người", "khuyến", "hoành"],
)
def test_words_that_must_not_change(word):
    assert normalize_tone_placement(word) == NFC(word)
    assert normalize(word) == NFC(word).casefold()


def test_tone_placement_in_running_text():
    text = "Hoà bình, khoẻ mạnh và thuỷ lợi ở Thanh Hoá; quý khách, hoàng hôn."
    assert normalize(text) == "hòa bình, khỏe mạnh và thủy lợi ở thanh hóa; quý khách, hoàng hôn."


def test_normalize_folds_case():
    assert normalize("HÀ NỘI") == normalize("hà nội") == "hà nội"
    assert normalize("ĐƯỜNG") == "đường"


@pytest.mark.parametrize(
    "text, folded",
    [
        ("Hà Nội", "Ha Noi"),
        ("đường", "duong"),
        ("Đà Nẵng", "Da Nang"),
        ("Nguyễn Thị Thuỷ", "Nguyen Thi Thuy"),
        ("khoẻ", "khoe"),
        ("Ủy ban", "Uy ban"),
        ("abc 123", "abc 123"),
    ],
)
def test_fold_diacritics(text, folded):
    assert fold_diacritics(text) == folded
    assert fold_diacritics(NFD(text)) == folded


@settings(max_examples=300, deadline=None)
@given(vietnamese_text)
def test_normalize_is_idempotent_and_encoding_independent(text):
    once = normalize(text)
    assert normalize(once) == once
    assert normalize(NFD(text)) == once
    assert unicodedata.is_normalized("NFC", once)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_normalize_never_raises_on_any_text(text):
    normalize(text)
    normalize_tone_placement(text)
    fold_diacritics(text)


# --- the service on degenerate questions -------------------------------------------------

EMPTY_LIKE = {
    "empty": "",
    "whitespace": " \t\n  \u3000 ",
    "emoji": "😀🤔🇻🇳",
    "punctuation": "?!... ,;:- «»“”",
    "nul-and-controls": "\x00\x01\x1f",
}


@pytest.mark.parametrize("question", EMPTY_LIKE.values(), ids=EMPTY_LIKE.keys())
def test_empty_like_questions_are_not_answered(ws_service, question):
    result = ws_service.answer(question)
    assert result.answered is False
    assert result.answers == ()
    assert result.message == messages.EMPTY
    assert result.outcome is Outcome.EMPTY
    assert result.to_dict()["answers"] == []


@pytest.mark.parametrize("question", [None, 42])
def test_non_string_question_does_not_raise(ws_service, question):
    result = ws_service.answer(question)
    assert result.answered is False
    assert result.message in (messages.EMPTY, messages.NO_CONTENT, messages.REFUSAL)


def test_only_question_words_asks_for_a_clearer_question(ws_service):
    result = ws_service.answer("Là gì vậy?")
    assert result.answered is False
    assert result.message == messages.NO_CONTENT
    assert result.outcome is Outcome.NO_CONTENT


def test_ten_thousand_character_question_is_truncated_not_fatal(ws_service):
    question = ("xyzzy " * 2000)[:10_000]
    assert len(question) == 10_000
    result = ws_service.answer(question)
    assert result.answered is False
    assert result.truncated
    limit = ws_service.cfg.answer.max_question_chars
    assert result.message.startswith(messages.TRUNCATED.format(limit=limit))
    assert result.question == question  # the user's text is reported as asked


def test_long_question_keeps_its_answerable_beginning(ws_service):
    question = "Tập đoàn Microsoft ký kết văn bản ghi nhớ với Hà Nội để xây dựng gì? " + "a" * 10_000
    result = ws_service.answer(question)
    assert result.truncated
    assert result.answered is True
    assert result.answers
    assert result.message.startswith("(Câu hỏi quá dài")


def test_long_emoji_question_is_empty_and_truncated(ws_service):
    result = ws_service.answer("😀" * 10_000)
    assert result.answered is False
    assert result.truncated and result.outcome is Outcome.EMPTY
    assert result.message == messages.EMPTY


def test_nfd_question_gets_the_same_answer(ws_service):
    question = "Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng khung gì?"
    nfc = ws_service.answer(NFC(question))
    nfd = ws_service.answer(NFD(question))
    assert nfc.answered and nfd.answered
    assert [a.quote for a in nfc.answers] == [a.quote for a in nfd.answers]


def test_new_style_tone_question_gets_the_same_answer(ws_service):
    # The corpus writes "hóa"; a user typing "hoá" must match it.
    old = ws_service.answer("Hà Nội thực hiện số hóa các dữ liệu như thế nào?")
    new = ws_service.answer("Hà Nội thực hiện số hoá các dữ liệu như thế nào?")
    assert old.answered
    assert [a.quote for a in new.answers] == [a.quote for a in old.answers]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FFF), max_size=40))
def test_fast_folding_equals_its_definition(text):
    """The translation-table fold gives exactly NFD + strip combining marks + đ->d."""
    from retrieval.text.normalize import _fold_slow

    assert fold_diacritics(text) == _fold_slow(text)


# Vietnamese letters in both encodings, the tone marks alone, q, and word/non-word neighbours.
tone_placement_text = st.text(
    alphabet=st.sampled_from(
        list(VIETNAMESE + VIETNAMESE.upper() + NFD(VIETNAMESE) + "\u0300\u0301\u0309\u0303\u0323qQ _1.-\n")
    ),
    max_size=40,
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(tone_placement_text, st.text(max_size=40)))
def test_tone_placement_fast_path_agrees_with_its_definition(text):
    from retrieval.text.normalize import _tone_placement_slow

    assert normalize_tone_placement(text) == _tone_placement_slow(text)
    folded = unicodedata.normalize("NFC", text).casefold()
    assert normalize(text) == _tone_placement_slow(folded)
