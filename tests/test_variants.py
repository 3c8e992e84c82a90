"""One spelling per meaning (retrieval.text.variants), in articles and questions alike."""

from __future__ import annotations

import pytest

from qa_support import good_article, open_ws, write_article
from retrieval import vietnamese as vn
from retrieval.text.normalize import normalize
from retrieval.text.variants import Variants

V = Variants(vn.EQUIVALENTS)


def rewrite(text: str) -> str:
    return " ".join(V(normalize(text)).split())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("đạt 19,3%", "đạt 19.3 phần trăm"),
        ("nhiệt độ 30°C", "nhiệt độ 30 độ c"),
        ("dài 100km và 5 km", "dài 100 ki-lô-mét và 5 ki-lô-mét"),
        ("giá 5 USD", "giá 5 đô la"),
        ("tại TP.HCM", "tại thành phố hồ chí minh"),
        ("tại TP. HCM", "tại thành phố hồ chí minh"),
        ("ở Sài Gòn", "ở thành phố hồ chí minh"),
        ("ở sai gon", "ở thành phố hồ chí minh"),
        ("HN và ĐN", "hà nội và đà nẵng"),
        ("1.200 MW", "1200 mw"),
        ("3.000.000 đồng", "3000000 đồng"),
        ("1,5 triệu", "1.5 triệu"),
        ("ngày 15.10.2018", "ngày 15.10.2018"),  # a date, not a number with thousands
        ("12/2015", "12/2015"),
    ],
)
def test_forms_are_rewritten_to_the_canonical_one(text, expected):
    assert rewrite(text) == expected


@pytest.mark.parametrize("text", ["HNX tăng điểm", "kmt", "số học", "usdt", "Hà Nội"])
def test_a_form_inside_another_word_is_left_alone(text):
    assert "hà nội" not in rewrite(text) or text == "Hà Nội"
    if text != "Hà Nội":
        assert rewrite(text) == " ".join(normalize(text).split())


def test_the_digest_changes_with_the_table():
    assert V.digest == Variants(vn.EQUIVALENTS).digest
    assert V.digest != Variants((("phần trăm", "%"),)).digest


def test_a_group_needs_two_forms():
    with pytest.raises(ValueError, match="at least one other"):
        Variants((("phần trăm",),))


@pytest.mark.parametrize(
    "body, question",
    [
        (
            "Tỷ lệ hộ gia đình có internet đạt 19,3% trong năm nay.",
            "Tỷ lệ hộ gia đình có internet là bao nhiêu phần trăm?",
        ),
        ("Nhà máy có công suất 1.200 MW khi hoàn thành.", "Nhà máy nào có công suất 1200 MW?"),
        ("Dự án đường sắt ở HN dài 13 km.", "Dự án đường sắt ở Hà Nội dài bao nhiêu ki-lô-mét?"),
        ("Nhiệt độ ở Sài Gòn lên tới 38°C vào tháng tư.", "Nhiệt độ ở TPHCM lên tới bao nhiêu độ C?"),
    ],
)
def test_a_question_finds_the_article_whatever_the_spelling(cfg, tmp_path, body, question):
    corpus = tmp_path / "corpus"
    write_article(corpus, "a.txt", good_article("Bài một", body))
    write_article(
        corpus, "b.txt", good_article("Bài hai", "Người dân thường đi dạo quanh hồ vào buổi sáng. Phở là món ăn.")
    )
    service = open_ws(cfg, corpus)
    result = service.answer(question)
    assert result.answered, result.message
    assert result.answers[0].quote == body
