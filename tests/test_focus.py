"""Attribute questions, "X của Y là gì?", with real underthesea on a small corpus of their own:
the sentence that names X and states its value is quoted first, not the sentences that
only repeat Y's long name (retrieval.focus_factor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_support import replace_section, with_cache, write_article
from retrieval.service import AnswerService

pytestmark = pytest.mark.slow

FORUM = """---
title: Khai mạc Diễn đàn Kinh tế số Đông Nam Á 2024
source: Báo Thử nghiệm
date: 2024-03-12
---
Sáng 12/3, tại Trung tâm Hội nghị tỉnh, Sở Công Thương phối hợp với Hiệp hội Thương mại điện tử tổ chức Diễn đàn Kinh tế số Đông Nam Á 2024 với sự tham dự của hơn 500 đại biểu trong nước và quốc tế.

Phát biểu khai mạc Diễn đàn Kinh tế số Đông Nam Á 2024, Giám đốc Sở Công Thương cho biết kinh tế số của tỉnh tăng trưởng bình quân 20% mỗi năm.

Theo ban tổ chức, Diễn đàn Kinh tế số Đông Nam Á 2024 là sự kiện thường niên được tổ chức lần thứ năm, thu hút nhiều doanh nghiệp công nghệ trong khu vực.

Năm nay, ban tổ chức lựa chọn chủ đề “Kết nối dữ liệu, mở rộng thị trường” cho Diễn đàn nhằm thúc đẩy hợp tác giữa các doanh nghiệp.

Các đại biểu cũng thảo luận về thanh toán điện tử, logistics và bảo vệ dữ liệu cá nhân.
"""

FARMING = """---
title: Nông nghiệp công nghệ cao
source: Báo Thử nghiệm
date: 2024-02-01
---
Tỉnh đặt mục tiêu đến năm 2030 có 30% diện tích canh tác ứng dụng công nghệ cao.

Mục tiêu của đề án là nâng cao thu nhập cho nông dân và giảm phát thải trong sản xuất lúa.

Nhiều hợp tác xã đã lắp đặt cảm biến đo độ ẩm đất và hệ thống tưới nhỏ giọt.
"""

THEME_QUESTION = "Chủ đề của Diễn đàn Kinh tế số Đông Nam Á 2024 là gì?"
THEME = "Kết nối dữ liệu, mở rộng thị trường"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("focus-corpus")
    write_article(folder, "dien_dan.txt", FORUM)
    write_article(folder, "nong_nghiep.txt", FARMING)
    return folder


@pytest.fixture(scope="module")
def services(repo_config, corpus, tmp_path_factory) -> dict[str, AnswerService]:
    cache = tmp_path_factory.mktemp("focus-cache")
    shipped = with_cache(repo_config, cache)
    off = replace_section(shipped, "retrieval", focus_factor=1.0)
    # The second service loads the index the first one saved (the factor is a question-time setting).
    return {"shipped": AnswerService.open(shipped, corpus), "off": AnswerService.open(off, corpus)}


def test_shipped_config_uses_the_rule(repo_config):
    assert repo_config.retrieval.focus_factor < 1


def test_the_sentence_stating_the_attribute_is_quoted_first(services):
    result = services["shipped"].answer(THEME_QUESTION)
    assert result.answered
    first = result.answers[0]
    assert THEME in first.quote and first.doc_id == "dien_dan"
    assert first.quote in FORUM


def test_without_the_rule_the_sentences_repeating_the_name_win(services):
    # What the rule is for: each of three sentences repeats the forum's seven-word name
    # and outscores the one sentence that gives the theme.
    result = services["off"].answer(THEME_QUESTION)
    assert result.answered
    assert THEME not in result.answers[0].quote


def test_a_sentence_that_repeats_the_question_still_answers(services):
    # "Mục tiêu của đề án là ..." names the attribute and states it: first either way.
    for name in ("shipped", "off"):
        first = services[name].answer("Mục tiêu của đề án là gì?").answers[0]
        assert "nâng cao thu nhập cho nông dân" in first.quote, name


def test_the_rule_does_not_answer_what_the_articles_do_not_cover(services):
    result = services["shipped"].answer("Chủ đề của Thế vận hội mùa hè Paris là gì?")
    assert not result.answered and result.answers == ()
