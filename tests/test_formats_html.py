"""Saved news pages: the article and its metadata come out, the site around it does not."""

from __future__ import annotations

import pytest

from formats_support import DOCS, all_text, seed_paragraph
from retrieval.ingest.formats.base import UnreadableDocument, clean_block
from retrieval.ingest.formats.html import _fallback_blocks, read_html

# file: (title, date, source, author, url, seed paragraphs (prefix, line numbers))
PAGES = {
    "congluan_ha_noi_phan_lan.html": (
        "Hà Nội - Phần Lan trao đổi, hợp tác về xây dựng thành phố thông minh",
        "2018-10-15",
        "Báo Công luận",
        "Phóng viên Công luận",
        "https://congluan.example.vn/ha-noi-phan-lan-trao-doi-hop-tac-post12345.html",
        ("000", [5, 7, 9, 14, 16, 18, 20]),
    ),
    "kinhtedothi_dai_su_my.html": (
        "Chủ tịch UBND TP Hà Nội và Đại sứ Mỹ chia sẻ tầm nhìn về TP thông minh",
        "2017-03-22",
        "Kinh tế & Đô thị",
        None,
        "https://kinhtedothi.example.vn/chu-tich-ubnd-tp-ha-noi-va-dai-su-my-279466.html",
        ("001", [4, 9, 11, 13, 15, 17, 19]),
    ),
    "hanoi_asocio.html": (
        "Tăng cường phối hợp với Tổ chức Công nghiệp Điện toán Châu Á Thái Bình Dương xây dựng thành phố thông minh",
        "2017-11-24",
        "Cổng thông tin điện tử Hà Nội",
        "Quỳnh Anh",
        "https://hanoi.example.gov.vn/tin-tuc/tang-cuong-phoi-hop-asocio.html",
        ("002", [3, 4, 5, 6]),
    ),
}

# Site furniture of the fixtures: header, menus, breadcrumbs, teasers, comment form, footer, captions.
BOILERPLATE = [
    "Trang chủ",
    "Liên hệ",
    "Tìm kiếm",
    "Thời sự",
    "Thể thao",
    "Pháp luật",
    "Video",
    "Tin khác",
    "Tin liên quan",
    "Có thể bạn quan tâm",
    "Đọc nhiều",
    "Các bài mới đăng",
    "Đồng Nai",
    "Chùa Ba Vàng",
    "Cà Mau",
    "thu gom rác",
    "Tết sớm",
    "Royal City",
    "108,91%",
    "Tây Hồ toả sáng",
    "Hai Bà Trưng",
    "giải phóng mặt bằng",
    "Thiên Quang",
    "Giá vàng",
    "Viết bình luận",
    "Họ tên",
    "Email",
    "Số điện thoại",
    "Mã xác nhận",
    "Gửi bình luận",
    "biên tập trước",
    "Bản quyền",
    "©",
    "Giấy phép",
    "Hai Bà Trưng, quận Hoàn Kiếm",
    "Điều khoản",
    "quảng cáo",
    "Ghi rõ nguồn",
    "Ảnh:",
    "Hai bên chụp ảnh lưu niệm",
    "trao đổi với Chủ tịch ASOCIO David Wong",
    "chia sẻ tầm nhìn về TP thông minh",
    "Chia sẻ:",
    "Facebook",
    "Zalo",
    "Từ khóa",
    "0 Trả lời",
    "dataLayer",
    "background",
]


def _read(name: str):
    return read_html((DOCS / "html" / name).read_bytes())


@pytest.mark.parametrize("name", list(PAGES))
def test_metadata(name: str) -> None:
    title, date, source, author, url, _ = PAGES[name]
    doc = _read(name)
    found = (doc.kind, doc.title, doc.date, doc.source, doc.author, doc.url)
    assert found == ("html", title, date, source, author, url)


@pytest.mark.parametrize("name", list(PAGES))
def test_body_paragraphs_come_out_whole_and_in_order(name: str) -> None:
    prefix, lines = PAGES[name][5]
    texts = [b.text for b in _read(name).blocks]
    expected = [clean_block(seed_paragraph(prefix, n)) for n in lines]  # no-break spaces become spaces
    found = [texts.index(p) for p in expected]  # each paragraph is one block, exactly
    assert found == sorted(found)


@pytest.mark.parametrize("name", list(PAGES))
def test_no_boilerplate(name: str) -> None:
    text = all_text(_read(name))
    leaked = [b for b in BOILERPLATE if b in text]
    assert leaked == []


@pytest.mark.parametrize("name", list(PAGES))
def test_the_title_heading_is_not_a_block(name: str) -> None:
    doc = _read(name)
    assert doc.title not in [b.text for b in doc.blocks]


def test_headings_are_sections() -> None:
    doc = _read("congluan_ha_noi_phan_lan.html")
    heading = "Hà Nội sẵn sàng hợp tác với doanh nghiệp Phần Lan"
    sections = [(b.text[:20], b.section) for b in doc.blocks]
    at = [b.text for b in doc.blocks].index(heading)
    assert all(section is None for _, section in sections[: at + 1])
    assert all(section == heading for _, section in sections[at + 1 :])
    assert len(sections) - at - 1 == 4


@pytest.mark.parametrize("name", list(PAGES))
def test_the_fallback_extraction_also_leaves_the_site_out(name: str) -> None:
    prefix, lines = PAGES[name][5]
    blocks = _fallback_blocks((DOCS / "html" / name).read_bytes(), PAGES[name][0])
    text = "\n".join(b.text for b in blocks)
    assert all(clean_block(seed_paragraph(prefix, n)) in text for n in lines)
    assert [b for b in BOILERPLATE if b in text] == []


def test_a_short_notice_is_read_by_the_fallback_and_gets_no_date_from_the_copyright_line() -> None:
    page = """<html><head><title>Thông báo</title></head><body>
    <nav><a href="/">Trang chủ</a> <a href="/tin">Tin tức</a></nav>
    <div><p>Phường thông báo lịch tiếp dân ngày 5/3.</p></div>
    <footer>© 2024 UBND phường</footer></body></html>"""
    doc = read_html(page.encode())
    assert [b.text for b in doc.blocks] == ["Phường thông báo lịch tiếp dân ngày 5/3."]
    assert (doc.title, doc.date) == ("Thông báo", None)


def test_lists_and_tables_in_the_article_are_blocks() -> None:
    rows = "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in [("Hộ tịch", "512"), ("Chứng thực", "468")])
    page = f"""<html><head><title>Báo cáo</title></head><body><article><h1>Báo cáo</h1>
    <p>{seed_paragraph("000", 7)}</p><p>{seed_paragraph("000", 9)}</p>
    <ul><li>Số hóa hồ sơ hộ tịch từ năm 2015.</li><li>Thanh toán không dùng tiền mặt.</li></ul>
    <table>{rows}</table></article></body></html>"""
    blocks = {b.text: b for b in read_html(page.encode()).blocks}
    assert "Số hóa hồ sơ hộ tịch từ năm 2015." in blocks
    assert blocks["Hộ tịch | 512"].row and not blocks["Số hóa hồ sơ hộ tịch từ năm 2015."].row  # no header


def test_a_table_with_a_header_names_its_cells() -> None:
    rows = "".join(
        f"<tr><td>{a}</td><td>{b}</td></tr>"
        for a, b in [("Lĩnh vực", "Hồ sơ"), ("Hộ tịch", "512"), ("Chứng thực", "468")]
    )
    page = f"""<html><head><title>Báo cáo</title></head><body><article><h1>Báo cáo</h1>
    <p>{seed_paragraph("000", 7)}</p><p>{seed_paragraph("000", 9)}</p><table>{rows}</table></article></body></html>"""
    blocks = {b.text: b for b in read_html(page.encode()).blocks}
    assert blocks["Lĩnh vực | Hồ sơ"].heading
    assert blocks["Lĩnh vực: Hộ tịch | Hồ sơ: 512"].row and "Lĩnh vực: Chứng thực | Hồ sơ: 468" in blocks


def test_a_page_without_text_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="no text in the page"):
        _read("empty_page.html")
