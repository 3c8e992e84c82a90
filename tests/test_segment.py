"""Sentence spans over original text, and index terms."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa_support import simple_sentences, ws_segmenter
from retrieval.text.segment import Segmenter, to_term


def assert_spans_valid(paragraph: str, spans: list[tuple[int, int]], stripped: bool = True) -> None:
    """In order, non-overlapping, non-empty, (stripped,) and covering every non-space character."""
    pos = 0
    covered = [False] * len(paragraph)
    for start, end in spans:
        assert pos <= start < end <= len(paragraph), spans
        text = paragraph[start:end]
        assert text.strip()
        if stripped:
            assert text == text.strip(), (start, end)
        for i in range(start, end):
            covered[i] = True
        pos = end
    lost = "".join(ch for ch, c in zip(paragraph, covered) if not c and not ch.isspace())
    assert lost == "", f"text not in any sentence: {lost!r}"


PARAGRAPHS = [
    "Một câu. Hai câu! Ba câu?",
    "Câu duy nhất không có dấu chấm",
    "  Có khoảng trắng ở đầu.   Và ở giữa.  ",
    "Ông cho biết: Hà Nội có 584 phường, xã. TP đã thiết lập mạng dùng chung…  Hết.",
    "“Trích dẫn có ngoặc kép.” Sau đó là câu thường.",
    "Câu một.\nCâu hai nằm ở dòng sau.",
    "Số liệu 1.200 MW. Tỷ lệ 40%.",
]


@pytest.mark.parametrize("paragraph", PARAGRAPHS)
def test_sentence_spans_are_original_text_in_order(paragraph):
    seg = ws_segmenter()
    spans = seg.sentence_spans(paragraph)
    assert spans
    assert_spans_valid(paragraph, spans)
    expected = [s.strip() for s in simple_sentences(paragraph) if s.strip()]
    assert [paragraph[a:b] for a, b in spans] == expected


def test_sentence_spans_of_blank_paragraph_is_empty():
    assert ws_segmenter().sentence_spans("   \n ") == []
    assert ws_segmenter().sentence_spans("") == []


def test_sentence_spans_when_splitter_returns_nothing_covers_the_paragraph():
    seg = Segmenter(word_tokenize=str.split, sent_tokenize=lambda t: [])
    paragraph = "  Cả đoạn là một câu.  "
    assert seg.sentence_spans(paragraph) == [(2, 2 + len("Cả đoạn là một câu."))]


def test_text_dropped_by_the_splitter_is_attached_not_lost():
    # A splitter that forgets a middle piece and the tail.
    paragraph = "Câu một. Mảnh bị bỏ qua. Câu ba. Đuôi"
    seg = Segmenter(word_tokenize=str.split, sent_tokenize=lambda t: ["Câu một.", "Câu ba."])
    spans = seg.sentence_spans(paragraph)
    assert_spans_valid(paragraph, spans, stripped=False)
    assert [paragraph[a:b].strip() for a, b in spans] == ["Câu một. Mảnh bị bỏ qua.", "Câu ba. Đuôi"]


def _collapse_spaces(text: str) -> list[str]:
    """A splitter that also rewrites runs of spaces (as some tokenizers do)."""
    return [" ".join(s.split()) for s in simple_sentences(text)]


def test_altered_later_sentence_is_attached_to_the_previous_one():
    paragraph = "Câu đầu tiên. Câu  có hai  khoảng trắng."
    seg = Segmenter(word_tokenize=str.split, sent_tokenize=_collapse_spaces)
    spans = seg.sentence_spans(paragraph)
    assert_spans_valid(paragraph, spans, stripped=False)


def test_altered_first_sentence_is_not_lost():
    paragraph = "Câu  đầu  có khoảng trắng kép. Câu hai bình thường."
    seg = Segmenter(word_tokenize=str.split, sent_tokenize=_collapse_spaces)
    spans = seg.sentence_spans(paragraph)
    assert_spans_valid(paragraph, spans, stripped=False)


sentence_text = st.lists(
    st.tuples(
        st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàáạảãHNĐ0123456789,;", min_size=1, max_size=15),
        st.sampled_from([".", "!", "?", "…", ""]),
        st.sampled_from([" ", "  ", "\n", " \t "]),
    ),
    min_size=1,
    max_size=8,
).map(lambda parts: "".join(w + p + s for w, p, s in parts))


@settings(max_examples=200, deadline=None)
@given(sentence_text)
def test_sentence_spans_property(paragraph):
    spans = ws_segmenter().sentence_spans(paragraph)
    if paragraph.strip():
        assert spans
    assert_spans_valid(paragraph, spans)


@pytest.mark.parametrize(
    "token, term",
    [
        ("hà nội", "hà_nội"),
        ("thành phố thông minh", "thành_phố_thông_minh"),
        ("(hà nội)", "hà_nội"),
        ("“hà", "hà"),
        ("tp.", "tp"),
        ("nội,", "nội"),
        ("18-nq/tu", "18-nq/tu"),
        ("1.200", "1.200"),
        ("40%", "40"),
        ("_x_", "x"),
        ("...", ""),
        ("«»", ""),
        ("", ""),
    ],
)
def test_to_term(token, term):
    assert to_term(token) == term


def test_terms_are_normalized_and_drop_punctuation_tokens():
    seg = ws_segmenter()
    assert seg.terms("Hà Nội , ... có gần 10 triệu người ! « »") == (
        "hà",
        "nội",
        "có",
        "gần",
        "10",
        "triệu",
        "người",
    )
    assert seg.terms("Hoà bình") == seg.terms("hòa bình") == ("hòa", "bình")


def test_terms_join_multi_syllable_words_from_the_tokenizer():
    seg = Segmenter(word_tokenize=lambda t: ["hà nội", "có", "dân số", "?"])
    assert seg.terms("Hà Nội có dân số?") == ("hà_nội", "có", "dân_số")


@pytest.mark.parametrize("text", ["", "   ", "?!.", "😀😀", "— … —"])
def test_terms_of_text_without_letters_or_digits_is_empty(text):
    called = []
    seg = Segmenter(word_tokenize=lambda t: called.append(t) or t.split())
    assert seg.terms(text) == ()
    assert called == []  # the tokenizer is not even asked


@pytest.mark.slow
def test_real_underthesea_spans_cover_every_seed_paragraph(real_service):
    seg = real_service.segmenter
    for article in real_service.articles:
        for paragraph in article.paragraphs:
            assert_spans_valid(paragraph, seg.sentence_spans(paragraph))


@pytest.mark.slow
def test_real_underthesea_terms_join_words():
    seg = Segmenter()
    terms = seg.terms("Thành phố Hà Nội xây dựng thành phố thông minh.")
    assert "hà_nội" in terms
    assert all(re.fullmatch(r"[\w\-./%]+", t) for t in terms), terms


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=st.sampled_from(list("aàđ1_ -.,“”…?!\u0301\u00a0")), max_size=12),
        st.text(max_size=12),
    )
)
def test_to_term_fast_path_agrees_with_its_definition(token):
    from retrieval.text.segment import _to_term_slow

    assert to_term(token) == _to_term_slow(token)
