"""clean_text and parse_date on small inline articles (the seeds are in test_ingest.py)."""

from __future__ import annotations

import pytest

from retrieval.ingest.clean import clean_text, has_terminal_punctuation, is_mojibake, parse_date


@pytest.mark.parametrize(
    "text, iso",
    [
        ("15/10/2018", "2018-10-15"),
        ("22/03/2017", "2017-03-22"),
        ("2018-10-15", "2018-10-15"),
        ("ngày 5 tháng 3 năm 2020", "2020-03-05"),
        ("Ngày 5 Tháng 3 Năm 2020", "2020-03-05"),
        ("5/3/2020", "2020-03-05"),
        ("15.10.2018", "2018-10-15"),
        ("15-10-2018", "2018-10-15"),
        ("Thứ hai, 15/10/2018 19:30 PM", "2018-10-15"),
        ("(11:09 22/03/2017)", "2017-03-22"),
        # The first valid date wins; an impossible one is passed over.
        ("31/02/2020 hoặc 01/03/2020", "2020-03-01"),
        ("15/10/2018 và 2019-01-01", "2018-10-15"),
    ],
)
def test_parse_date_complete_dates(text, iso):
    assert parse_date(text) == iso


@pytest.mark.parametrize(
    "text",
    [
        "29/11",
        "13-6",
        "12/2015",
        "31/02/2020",
        "2020",
        "",
        "Ngày 13-6, Chủ tịch",
        "15/13/2018",
        "15/10-2018",
        "115/10/20189",
    ],
)
def test_parse_date_incomplete_or_invalid_is_none(text):
    assert parse_date(text) is None


@pytest.mark.parametrize(
    "line, terminal",
    [
        ("Câu kết thúc.", True),
        ("Hỏi gì?", True),
        ("Trích “dẫn.”", True),
        ("Họ tên:", True),
        ("Tiêu đề không dấu", False),
        ("PV", False),
        ("Liệt kê…", True),
    ],
)
def test_has_terminal_punctuation(line, terminal):
    assert has_terminal_punctuation(line) is terminal


@pytest.mark.parametrize(
    "line, bad",
    [
        ("Mã xác nhận: L?y l?i m� b?o m?t", True),
        ("HÃ  Ná»™i", True),
        ("Hà Nội có gần 10 triệu người.", False),
        ("Bạn có khỏe không? Tôi khỏe.", False),
        ("L?y l?i m?t kh?u", True),  # "?" inside words, twice, with no other sign
        ("Chỉ m?t chỗ hỏng thôi.", False),  # once is not enough
        ("x?y?z", False),  # non-overlapping: the second "?" has no letter of its own before it
    ],
)
def test_is_mojibake(line, bad):
    assert is_mojibake(line) is bad


def test_clean_text_basic(repo_config):
    text = (
        "Tiêu đề của bài\n"
        "Thứ hai, 15/10/2018 19:30 PM\n"
        "\n"
        "(CLO) Hà Nội có gần 10 triệu người.\n"
        "\n"
        "Một đoạn văn dài bị ngắt dòng giữa chừng vì\n"
        "trình soạn thảo tự xuống dòng.\n"
        "\n"
        "PV\n"
        "Ảnh: Minh họa\n"
        "Chú thích ảnh bên dưới |\n"
        "Tin khác\n"
        "Tin tức về Cà Mau hôm nay.\n"
    )
    cleaned = clean_text(text, repo_config.ingest)
    assert cleaned.title == "Tiêu đề của bài"
    assert cleaned.date == "2018-10-15"
    assert cleaned.source == "Báo Công luận"  # from the (CLO) agency tag
    assert cleaned.paragraphs == (
        "Hà Nội có gần 10 triệu người.",
        "Một đoạn văn dài bị ngắt dòng giữa chừng vì\ntrình soạn thảo tự xuống dòng.",
    )


def test_clean_text_caller_fields_win(repo_config):
    text = "Tiêu đề trong văn bản\nNgày 1/1/2019\n\nNội dung bài viết có một câu đầy đủ.\n"
    cleaned = clean_text(text, repo_config.ingest, title="Tiêu đề khác", source="Nguồn X", date="2018-10-15")
    assert (cleaned.title, cleaned.source, cleaned.date) == ("Tiêu đề khác", "Nguồn X", "2018-10-15")
    assert cleaned.paragraphs == ("Nội dung bài viết có một câu đầy đủ.",)


def test_clean_text_date_only_from_header(repo_config):
    body = "\n".join(f"Câu số {i} của bài viết này." for i in range(10))
    text = f"Tiêu đề\n\n{body}\nNgày 15/10/2018 mới là ngày trong thân bài.\n"
    assert clean_text(text, repo_config.ingest).date is None


@pytest.mark.parametrize("marker", ["Tin khác", "TIN LIÊN QUAN", "Bài viết liên quan:", "  Xem thêm  "])
def test_cut_marker_drops_the_rest(repo_config, marker):
    text = f"Tiêu đề\n\nCâu của bài viết.\n{marker}\nCâu của tin khác không được giữ.\n"
    assert clean_text(text, repo_config.ingest).paragraphs == ("Câu của bài viết.",)


def test_source_credit_line(repo_config):
    text = "Tiêu đề\n\nCâu của bài viết.\nTheo Quỳnh Anh/Cổng thông tin điện tử Hà Nội\n"
    cleaned = clean_text(text, repo_config.ingest)
    assert cleaned.source == "Cổng thông tin điện tử Hà Nội"
    assert cleaned.paragraphs == ("Câu của bài viết.",)


def test_list_items_are_kept_even_without_punctuation(repo_config):
    text = "Tiêu đề\n\nCác mục tiêu chính:\n- Xây dựng dữ liệu dân cư\n- Xây dựng hồ sơ điện tử\n"
    paragraphs = clean_text(text, repo_config.ingest).paragraphs
    assert "- Xây dựng dữ liệu dân cư" in paragraphs
    assert "- Xây dựng hồ sơ điện tử" in paragraphs


def test_empty_text(repo_config):
    cleaned = clean_text("", repo_config.ingest)
    assert cleaned.paragraphs == ()
    assert cleaned.title == ""


def test_each_paragraph_knows_the_line_it_starts_on(repo_config):
    text = (
        "Tiêu đề\n"  # 0: the title
        "\n"
        "Câu thứ nhất của bài\n"  # 2: wrapped onto line 3
        "viết này.\n"
        "Mục hai\n"  # 4: a heading, dropped
        "Câu thứ hai.\n"  # 5
        "(CLO) Không phải đoạn đầu.\n"
    )  # 6
    cleaned = clean_text(text, repo_config.ingest)
    assert cleaned.paragraphs == ("Câu thứ nhất của bài\nviết này.", "Câu thứ hai.", "(CLO) Không phải đoạn đầu.")
    assert cleaned.lines == (2, 5, 6)
    # A given title that is not the first line: the body starts at line 0.
    given = clean_text("Câu mở đầu.\n\nCâu sau.\n", repo_config.ingest, title="Tiêu đề khác")
    assert given.paragraphs == ("Câu mở đầu.", "Câu sau.") and given.lines == (0, 2)


def test_text_lines_are_kept_though_they_look_like_headings(repo_config):
    text = "Tiêu đề\n\nSTT | Họ và tên | Chức vụ\n\n1 | Nguyễn Văn An | Tổ trưởng\n\nMục lục\n"
    assert clean_text(text, repo_config.ingest).paragraphs == ()
    cleaned = clean_text(text, repo_config.ingest, text_lines=frozenset({2, 4}))
    assert cleaned.paragraphs == ("STT | Họ và tên | Chức vụ", "1 | Nguyễn Văn An | Tổ trưởng")
    assert cleaned.lines == (2, 4)


def test_heading_lines_are_never_paragraphs(repo_config):
    text = "Tiêu đề\n\n1. Mục đích\n\nCâu nội dung.\n\nVì sao phải làm?\n\nCâu khác.\n"
    assert clean_text(text, repo_config.ingest).paragraphs == (
        "1. Mục đích",
        "Câu nội dung.",
        "Vì sao phải làm?",
        "Câu khác.",
    )
    cleaned = clean_text(text, repo_config.ingest, heading_lines=frozenset({2, 6}))
    assert cleaned.paragraphs == ("Câu nội dung.", "Câu khác.") and cleaned.lines == (4, 8)
