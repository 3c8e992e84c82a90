"""Term functions of the index fields, and the attribute an "X của Y là gì?" question asks for
(the rest of the question analysis is tested with the composer)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.search.query import question_focus, question_type
from retrieval.text.normalize import fold_diacritics
from retrieval.text.terms import fold_terms

words = st.lists(st.text(alphabet=st.sampled_from(list("hànộiĐđ_ y1")), max_size=8), max_size=6)


@settings(max_examples=300, deadline=None)
@given(words)
def test_fold_terms_is_each_syllable_folded_in_order(ws):
    # The definition; fold_terms caches each word's result, which must not change it.
    expected = tuple(fold_diacritics(s) for w in ws for s in w.split("_") if s)
    assert fold_terms(ws) == expected
    assert fold_terms(ws) == expected  # again, from the cache


def test_fold_terms_examples():
    assert fold_terms(["hà_nội", "_đà__nẵng_", "", "_"]) == ("ha", "noi", "da", "nang")


STOPWORDS = frozenset({"là", "gì", "của", "tên", "nào", "ai", "ở", "đâu", "vào", "có"})


def _focus(question: str, words: str) -> str | None:
    """question_focus of ``question`` segmented as ``words`` (space-separated, compounds joined by _)."""
    return question_focus(question, words.split(), STOPWORDS, question_type(question))


@pytest.mark.parametrize(
    "question, words, focus",
    [
        (
            "Chủ đề của Hội nghị Thành phố thông minh 2023 là gì?",
            "chủ_đề của hội_nghị thành_phố thông_minh 2023 là gì",
            "chủ_đề",
        ),
        ("Mục tiêu của đề án là gì vậy ạ?", "mục_tiêu của đề_án là gì vậy ạ", "mục_tiêu"),
        ("Nguyên nhân chính của vụ cháy là gì", "nguyên_nhân chính của vụ cháy là gì", "nguyên_nhân"),
        # Not an attribute question, or not one the rule can trust:
        ("Tên của sê-ri đầu tiên là gì?", "tên của sê-ri đầu_tiên là gì", None),  # a name: not next to "tên"
        ("Vào thời của Luther, nhu cầu là gì?", "vào thời của luther nhu_cầu là gì", None),  # no compound head
        ("Chủ đề của hội nghị năm nay có gì mới?", "chủ_đề của hội_nghị năm_nay có gì mới", None),
        ("Chủ tịch của hiệp hội là ai?", "chủ_tịch của hiệp_hội là ai", None),  # asks for a person
        ("Trụ sở của hiệp hội ở đâu?", "trụ_sở của hiệp_hội ở đâu", None),  # asks for a place
        (
            "Chủ đề năm nay được nhiều đại biểu hưởng ứng của hội nghị là gì?",
            "chủ_đề năm_nay được nhiều đại_biểu hưởng_ứng của hội_nghị là gì",
            None,
        ),  # "của" too far
        ("Hội nghị chọn chủ đề gì?", "hội_nghị chọn chủ_đề gì", None),
        ("chu de cua hoi nghi la gi", "chu_de cua hoi_nghi la gi", None),  # typed without diacritics
        ("", "", None),
    ],
)
def test_question_focus(question, words, focus):
    assert _focus(question, words) == focus
