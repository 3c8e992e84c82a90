"""PDF text layers: paragraphs rebuilt from lines, running headers/footers removed, pages kept, bad PDFs refused."""

from __future__ import annotations

import pytest

from formats_support import DOCS, all_text, fixture_source
from retrieval.ingest.formats.base import UnreadableDocument
from retrieval.ingest.formats.pdf import SCANNED, _drop_running_lines, _join, _Line, _measure, _paragraphs, read_pdf


def _read(rel: str):
    return read_pdf((DOCS / rel).read_bytes())


NEWS = "pdf/tin_phuong_hai_dong_tieu_de.pdf"
PLAN = "pdf/ke_hoach_chuyen_doi_so.pdf"


def test_a_two_line_title_is_joined_and_the_date_comes_from_the_first_page() -> None:
    doc = _read(NEWS)
    assert doc.kind == "pdf"
    assert doc.title == (
        "Phường Phúc Xá ra mắt mô hình Tổ công nghệ số cộng đồng hỗ trợ người dân sử dụng dịch vụ công trực tuyến"
    )
    assert doc.date == "2024-03-15"  # the dateline, not the file's creation date (2024-03-16)
    assert doc.author == "UBND phường Phúc Xá"
    assert doc.title not in [b.text for b in doc.blocks]


def test_paragraphs_separated_by_gaps_come_out_whole_with_their_start_page() -> None:
    doc = _read(NEWS)
    paragraphs = fixture_source().WARD_NEWS
    blocks = [(b.text, b.page) for b in doc.blocks]
    assert blocks[0] == ("Hà Nội, ngày 15 tháng 3 năm 2024", 1)
    assert [text for text, _ in blocks[1:]] == paragraphs
    # The sixth paragraph runs from page 1 onto page 2: it keeps page 1.
    assert [page for _, page in blocks[1:]] == [1, 1, 1, 1, 1, 1, 2]


def test_the_plan_keeps_its_metadata_title_and_dated_header() -> None:
    doc = _read(PLAN)
    assert doc.title == "Kế hoạch chuyển đổi số phường Phúc Xá năm 2024"
    assert doc.date == "2024-02-20"  # "Phúc Xá, ngày 20 tháng 02 năm 2024"
    assert {b.page for b in doc.blocks} == {1, 2, 3}


def test_indented_paragraphs_without_gaps_mid_sentence_breaks_and_a_hyphen() -> None:
    texts = [b.text for b in _read(PLAN).blocks]
    for _, text in fixture_source().WARD_PLAN_BODY:
        assert text.replace("|", "") in texts, text  # every heading and paragraph is exactly one block
    assert any("điện toán đám mây (cloud computing) do thành phố" in t for t in texts)


def test_a_paragraph_across_a_page_break_starts_on_its_first_page() -> None:
    doc = _read(PLAN)
    crossing = next(b for b in doc.blocks if b.text.startswith("Tuyên truyền, hướng dẫn người dân"))
    assert "ứng dụng VNeID, Cổng dịch vụ công quốc gia" in crossing.text  # page 2 starts with "VNeID"
    assert crossing.page == 1


def test_running_header_footer_and_page_numbers_are_removed() -> None:
    text = all_text(_read(PLAN))
    assert "Kế hoạch số 45/KH-UBND ngày 20/02/2024" not in text
    assert "Trang" not in text


def test_the_signature_block_is_apart_from_the_last_paragraph() -> None:
    texts = [b.text for b in _read(PLAN).blocks]
    assert texts[-3:] == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Nguyễn Văn An"]


def test_a_scan_without_text_layer_is_refused() -> None:
    with pytest.raises(UnreadableDocument) as info:
        _read("pdf/ban_scan_khong_chu.pdf")
    assert info.value.reason == SCANNED == "no text layer (scanned PDF?); OCR is not supported"


def test_an_encrypted_pdf_is_refused_with_the_reason() -> None:
    with pytest.raises(UnreadableDocument, match=r"encrypted PDF.*password"):
        _read("broken/mat_khau.pdf")


def test_a_truncated_pdf_is_refused_with_the_reason() -> None:
    with pytest.raises(UnreadableDocument, match="corrupt or truncated PDF"):
        _read("broken/cut_short.pdf")


def test_bytes_that_are_no_pdf_are_refused() -> None:
    with pytest.raises(UnreadableDocument, match="corrupt or truncated PDF"):
        read_pdf("Đây không phải PDF".encode())


# --- the line rules, on made-up lines ----------------------------------------------------


def _line(text: str, page: int, y: float, x0: float = 72, x1: float = 520, size: float = 12) -> _Line:
    return _Line(text, page, x0, x1, y, size)


@pytest.mark.parametrize("number", ["3", "- 3 -", "– 3 –", "Trang 3", "trang 3/10", "3/10", "Page 3 of 10"])
def test_page_number_styles_at_the_page_foot_are_removed(number: str) -> None:
    pages = [
        [
            _line("Nội dung đầu trang.", 1, 700),
            _line("Câu tiếp theo của văn bản.", 1, 680),
            _line(number, 1, 40, x0=280, x1=300),
        ],
        [_line("Một đoạn khác ở trang hai.", 2, 700), _line("Kết thúc.", 2, 680)],
    ]
    kept = _drop_running_lines(pages)
    assert [ln.text for ln in kept[0]] == ["Nội dung đầu trang.", "Câu tiếp theo của văn bản."]


def test_a_header_repeated_with_different_numbers_is_removed_but_body_lines_stay() -> None:
    bodies = [
        ["Căn cứ Luật Tổ chức chính quyền địa phương;", "Xét đề nghị của Văn phòng."],
        ["Điều 1. Thành lập Tổ công nghệ số.", "Điều 2. Nhiệm vụ của Tổ."],
        ["Điều 3. Hiệu lực thi hành.", "Quyết định có hiệu lực từ ngày ký."],
    ]
    pages = [
        [_line(f"Quyết định số {n}12/QĐ-UBND - Phường Phúc Xá", n, 800)]
        + [_line(text, n, 700 - 20 * i) for i, text in enumerate(body)]
        for n, body in enumerate(bodies, start=1)
    ]
    kept = _drop_running_lines(pages)
    assert [[ln.text for ln in page] for page in kept] == bodies


def test_a_line_repeated_at_other_heights_is_not_a_running_line() -> None:
    openings = ["Căn cứ Luật Tổ chức chính quyền địa phương;", "Điều 1. Thành lập Tổ.", "Điều 3. Hiệu lực."]
    pages = [[_line(text, n, 700), _line("Nơi nhận:", n, 700 - 40 * n)] for n, text in enumerate(openings, start=1)]
    kept = _drop_running_lines(pages)
    assert [[ln.text for ln in page] for page in kept] == [[text, "Nơi nhận:"] for text in openings]


@pytest.mark.parametrize(
    ("paragraph", "line", "joined"),
    [
        ("nền tảng điện toán (cloud com-", "puting) do thành phố", "nền tảng điện toán (cloud computing) do thành phố"),
        ("phát triển kinh tế -", "xã hội", "phát triển kinh tế - xã hội"),  # a dash, not a hyphen
        ("hợp tác Hà Nội-", "Milan", "hợp tác Hà Nội- Milan"),  # a capital follows: kept
        ("chia sẻ những", "kinh nghiệm", "chia sẻ những kinh nghiệm"),
    ],
)
def test_joining_lines(paragraph: str, line: str, joined: str) -> None:
    assert _join(paragraph, line) == joined


def test_a_sentence_end_followed_by_a_capital_in_a_full_line_continues_the_paragraph() -> None:
    lines = [
        _line("Hà Nội đang nỗ lực hướng đến TP thông minh, tiện dụng cho người dân.", 1, 700),
        _line("TP đã ký kết văn bản ghi nhớ với Tập đoàn Microsoft để xây dựng khung", 1, 685),
        _line("chính phủ điện tử.", 1, 670, x1=200),
        _line("Đại sứ Mỹ cũng tin tưởng vào quyết tâm của chính quyền TP.", 1, 655),
    ]
    layout = {1: _measure(lines)}
    assert [p[0] for p in _paragraphs(lines, layout)] == [
        "Hà Nội đang nỗ lực hướng đến TP thông minh, tiện dụng cho người dân. TP đã ký kết văn bản ghi nhớ "
        "với Tập đoàn Microsoft để xây dựng khung chính phủ điện tử.",
        "Đại sứ Mỹ cũng tin tưởng vào quyết tâm của chính quyền TP.",
    ]
