"""Word documents: headings as sections, table rows, legacy-font runs, and the zip checks."""

from __future__ import annotations

import io
import zipfile

import pytest

from formats_support import DOCS, fixture_source
from retrieval.ingest.formats.base import UnreadableDocument
from retrieval.ingest.formats.docx import MAX_RATIO, read_docx

DECISION = "docx/quyet_dinh_thanh_lap_to.docx"
REPORT = "docx/bao_cao_so_ket.docx"
VNTIME = "docx/thong_bao_font_vntime.docx"


def _read(rel: str):
    return read_docx((DOCS / rel).read_bytes())


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_decision_metadata_title_from_core_properties_date_from_the_dateline() -> None:
    doc = _read(DECISION)
    assert doc.kind == "docx"
    assert doc.title == "Quyết định thành lập Tổ công nghệ số cộng đồng phường Phúc Xá"
    assert doc.date == "2024-03-01"  # "Phúc Xá, ngày 01 tháng 3 năm 2024", not created (2024-03-04)
    assert doc.author == "UBND phường Phúc Xá"


def test_table_rows_are_blocks_under_their_heading_and_empty_rows_are_skipped() -> None:
    doc = _read(DECISION)
    rows = [b for b in doc.blocks if " | " in b.text]
    assert [b.text for b in rows] == [
        "STT | Họ và tên | Chức vụ | Nhiệm vụ trong Tổ",  # the header: a heading
        "Họ và tên: Nguyễn Văn An | Chức vụ: Chủ tịch UBND phường | Nhiệm vụ trong Tổ: Tổ trưởng",
        "Họ và tên: Trần Thị Bình | Chức vụ: Công chức Văn phòng - Thống kê | Nhiệm vụ trong Tổ: Tổ phó thường trực",
        "Họ và tên: Lê Minh Cường | Chức vụ: Phó Trưởng Công an phường | Nhiệm vụ trong Tổ: Thành viên",
        "Họ và tên: Phạm Thu Hà | Chức vụ: Bí thư Đoàn phường | Nhiệm vụ trong Tổ: Thành viên",
    ]
    assert {b.section for b in rows} == {"Điều 1. Thành lập Tổ công nghệ số cộng đồng phường Phúc Xá"}
    assert rows[0].heading and not rows[0].row and all(b.row and not b.heading for b in rows[1:])
    assert not any(b.row for b in doc.blocks if " | " not in b.text)


@pytest.mark.parametrize(
    "rows, texts, headings",
    [
        (
            [["STT", "Họ và tên"], ["1", "An"], ["2", "Bình", "thừa"]],  # a row of another width stays bare
            ["STT | Họ và tên", "Họ và tên: An", "2 | Bình | thừa"],
            [True, False, False],
        ),
        ([["Năm", "2023"], ["Hồ sơ", "1.245"]], ["Năm | 2023", "Hồ sơ | 1.245"], [False, False]),  # a number
        ([["Ngày", "Người tiếp"]], ["Ngày | Người tiếp"], [False]),  # one row: no header
        ([["Chỉ một ô"], ["Một ô nữa"]], ["Chỉ một ô", "Một ô nữa"], [False, False]),
    ],
)
def test_a_header_row_names_the_cells_of_the_rows_below(rows, texts, headings) -> None:
    from retrieval.ingest.formats.base import table_blocks

    blocks = table_blocks(rows, "Mục")
    assert [b.text for b in blocks] == texts and {b.section for b in blocks} == {"Mục"}
    assert [b.heading for b in blocks] == headings and [b.row for b in blocks] == [not h for h in headings]


def test_each_block_sits_under_the_latest_heading() -> None:
    doc = _read(DECISION)
    by_text = {b.text: b.section for b in doc.blocks}
    assert by_text["Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;"] is None
    assert by_text["Tổng hợp phản ánh của người dân, báo cáo UBND phường trước ngày 25 hằng tháng."] == (
        "Điều 2. Nhiệm vụ của Tổ"
    )
    assert by_text["Điều 3. Hiệu lực thi hành"] is None  # a heading sits under the one above it (none here)
    assert by_text["QUYẾT ĐỊNH"] is None  # a Title paragraph that is not the title stays a block


def test_report_title_from_its_first_heading_date_from_core_properties_nested_sections() -> None:
    doc = _read(REPORT)
    assert doc.title == "Báo cáo sơ kết công tác cải cách hành chính 6 tháng đầu năm 2024"
    assert doc.date == "2024-07-05"
    sections = {b.text: b.section for b in doc.blocks}
    assert sections["1. Công tác chỉ đạo, điều hành"] == "I. Kết quả đạt được"
    assert sections["Lĩnh vực: Hộ tịch | Hồ sơ tiếp nhận: 512 | Trực tuyến: 401 | Tỷ lệ (%): 78,3"] == (
        "2. Cải cách thủ tục hành chính"
    )
    assert sections["II. Phương hướng, nhiệm vụ 6 tháng cuối năm"] is None
    assert sections[doc.blocks[-1].text] == "II. Phương hướng, nhiệm vụ 6 tháng cuối năm"


def test_legacy_font_runs_are_converted_by_their_font() -> None:
    doc = _read(VNTIME)
    notice = fixture_source().TCVN3_NOTICE
    assert doc.title == "THÔNG BÁO LỊCH TIẾP CÔNG DÂN THÁNG 4 NĂM 2024"  # a .VnTimeH heading: capitals
    texts = [b.text for b in doc.blocks]
    assert texts[1:4] == notice  # .VnTime runs, and a paragraph whose style sets .VnTime
    assert "Địa chỉ liên hệ: Số 2 phố Phúc Xá, quận Ba Đình, Hà Nội (điện thoại 024 3829 0000)." in texts
    assert "Ngày: Thứ Năm 11/4/2024 | Người tiếp: Chủ tịch UBND phường" in texts
    assert doc.date == "2024-03-28"  # created: a date in the table is not the document's


def test_a_file_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(UnreadableDocument, match="not a zip archive"):
        _read("broken/not_a_zip.docx")


def test_a_zip_bomb_is_refused_before_inflating() -> None:
    with pytest.raises(UnreadableDocument, match="zip bomb guard: the archive inflates to 120 MB"):
        _read("broken/zip_bomb.docx")


def test_an_entry_inflating_too_many_times_is_refused() -> None:
    data = _zip({"word/document.xml": b"<w:document/>" + b"\0" * (5 * 1024 * 1024)})
    with pytest.raises(UnreadableDocument, match=f"word/document.xml inflates .* times \\(limit {MAX_RATIO}\\)"):
        read_docx(data)


def test_a_zip_without_a_word_document_is_refused() -> None:
    with pytest.raises(UnreadableDocument, match=r"without word/document.xml"):
        read_docx(_zip({"xl/workbook.xml": b"<workbook/>"}))


def test_a_docx_with_broken_parts_is_refused() -> None:
    original = (DOCS / REPORT).read_bytes()
    with zipfile.ZipFile(io.BytesIO(original)) as source:
        files = {name: source.read(name) for name in source.namelist()}
    files["word/document.xml"] = files["word/document.xml"][:500]  # cut mid-element
    with pytest.raises(UnreadableDocument, match="broken DOCX file"):
        read_docx(_zip(files))


def test_page_headers_and_footers_are_not_read() -> None:
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "UBND phường Phúc Xá - Lưu hành nội bộ"
    document.sections[0].footer.paragraphs[0].text = "Trang 1"
    document.add_paragraph("Nội dung thông báo.")
    buffer = io.BytesIO()
    document.save(buffer)
    assert [b.text for b in read_docx(buffer.getvalue()).blocks] == ["Nội dung thông báo."]
