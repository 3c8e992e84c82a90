"""read_document and sniffing: kinds by content, non-documents classified, every fixture's outcome."""

from __future__ import annotations

import io
import os
import socket
import zipfile
from pathlib import Path

import pytest

from formats_support import DOCS, fixture_source
from retrieval.ingest.formats import (
    Kind,
    NotADocument,
    SkipKind,
    UnreadableDocument,
    classify,
    read_document,
    skip_kind,
    sniff,
)
from retrieval.ingest.formats.legacy import Legacy, from_unicode


def _zip(names: list[str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, b"<x/>")
    return out.getvalue()


PDF = (DOCS / "pdf/tin_phuong_hai_dong_tieu_de.pdf").read_bytes()
PNG = (DOCS / "misc/image_named_as.html").read_bytes()
DOCX = (DOCS / "docx/bao_cao_so_ket.docx").read_bytes()


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("bao_cao.txt", PDF, Kind.PDF),  # a PDF named .txt
        ("trang.html", PNG, SkipKind.IMAGE),  # a PNG named .html
        ("anh.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF", SkipKind.IMAGE),
        ("so_do.svg", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">', SkipKind.IMAGE),
        ("anh.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 ", SkipKind.IMAGE),
        ("tai_lieu.zip", DOCX, Kind.DOCX),  # a .docx named .zip
        ("luu_tru.zip", _zip(["a.txt", "b.txt"]), SkipKind.ARCHIVE),
        ("bang.xlsx", _zip(["[Content_Types].xml", "xl/workbook.xml"]), SkipKind.OFFICE),
        ("cu.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 40, SkipKind.OFFICE),
        ("van_ban.rtf", b"{\\rtf1\\ansi", SkipKind.OFFICE),
        ("nen.gz", b"\x1f\x8b\x08\x00", SkipKind.ARCHIVE),
        ("chuong_trinh.exe", b"MZ\x90\x00\x03", SkipKind.EXECUTABLE),
        ("lib.so", b"\x7fELF\x02\x01\x01", SkipKind.EXECUTABLE),
        ("nhac.mp3", b"ID3\x04\x00", SkipKind.AUDIO_VIDEO),
        ("phim.mp4", b"\x00\x00\x00\x18ftypmp42", SkipKind.AUDIO_VIDEO),
        ("du_lieu.bin", b"abc\x00def", SkipKind.BINARY),
        ("rong.txt", b"", SkipKind.EMPTY),
        ("trang.txt", b"<!DOCTYPE html><html><body><p>x</p></body></html>", Kind.HTML),  # HTML named .txt
        ("luu.htm", b"<!-- saved from url=(0040)https://example.vn/ -->\n<html>", Kind.HTML),
        ("utf16.html", "<html><body>Xin chào</body></html>".encode("utf-16"), Kind.HTML),
        ("ghi_chu.md", "# Kế hoạch\n\nNội dung".encode(), Kind.TEXT),
        ("ghi_chu", "Không có đuôi tệp".encode(), Kind.TEXT),
        ("ghi_chu.md", "Văn bản nói về thẻ <html> trong trang".encode(), Kind.TEXT),
        ("bang.csv", b"a,b\n1,2\n", SkipKind.OTHER),
        ("hong.pdf", "Không phải PDF".encode(), Kind.PDF),  # its reader says what is wrong
        ("hong.docx", "Không phải DOCX".encode(), Kind.DOCX),
    ],
)
def test_classify(name: str, head: bytes, expected: Kind | SkipKind) -> None:
    assert classify(Path(name), head).kind == expected
    assert sniff(name, head) == (expected if isinstance(expected, Kind) else None)
    assert skip_kind(name, head) == (expected if isinstance(expected, SkipKind) else None)


@pytest.mark.parametrize(
    "kind, n, words",
    [
        (SkipKind.IMAGE, 1, "1 image"),
        (SkipKind.ARCHIVE, 3, "3 archives"),
        (SkipKind.AUDIO_VIDEO, 2, "2 audio/video files"),
    ],
)
def test_skip_kinds_count_in_words(kind: SkipKind, n: int, words: str) -> None:
    assert kind.in_words(n) == words
    assert all(k.in_words(2) for k in SkipKind)  # every kind has its plural


def test_the_reader_id_names_the_version_and_the_libraries() -> None:
    from retrieval.ingest.formats import READER_VERSION, reader_id

    assert reader_id().startswith(f"readers-{READER_VERSION}+") and "pypdfium2-" in reader_id()


def test_a_zip_is_sniffed_from_the_file_when_only_its_head_is_given(tmp_path: Path) -> None:
    path = tmp_path / "tai_lieu.bin"
    path.write_bytes(DOCX)
    assert sniff(path, DOCX[:64]) == Kind.DOCX


# Every fixture: (kind, title, date, pages, sections) or the error it raises.
EXPECTED = {
    "html/congluan_ha_noi_phan_lan.html": (
        "html",
        "Hà Nội - Phần Lan trao đổi, hợp tác về xây dựng thành phố thông minh",
        "2018-10-15",
    ),
    "html/kinhtedothi_dai_su_my.html": (
        "html",
        "Chủ tịch UBND TP Hà Nội và Đại sứ Mỹ chia sẻ tầm nhìn về TP thông minh",
        "2017-03-22",
    ),
    "html/hanoi_asocio.html": (
        "html",
        "Tăng cường phối hợp với Tổ chức Công nghiệp Điện toán Châu Á Thái Bình Dương xây dựng thành phố thông minh",
        "2017-11-24",
    ),
    "pdf/tin_phuong_hai_dong_tieu_de.pdf": (
        "pdf",
        "Phường Phúc Xá ra mắt mô hình Tổ công nghệ số cộng đồng hỗ trợ người dân sử dụng dịch vụ công trực tuyến",
        "2024-03-15",
    ),
    "pdf/ke_hoach_chuyen_doi_so.pdf": ("pdf", "Kế hoạch chuyển đổi số phường Phúc Xá năm 2024", "2024-02-20"),
    "pdf/thong_bao_tcvn3.pdf": ("pdf", "Thông báo lịch tiếp công dân tháng 4", "2024-01-02"),
    "docx/quyet_dinh_thanh_lap_to.docx": (
        "docx",
        "Quyết định thành lập Tổ công nghệ số cộng đồng phường Phúc Xá",
        "2024-03-01",
    ),
    "docx/bao_cao_so_ket.docx": (
        "docx",
        "Báo cáo sơ kết công tác cải cách hành chính 6 tháng đầu năm 2024",
        "2024-07-05",
    ),
    "docx/thong_bao_font_vntime.docx": ("docx", "THÔNG BÁO LỊCH TIẾP CÔNG DÂN THÁNG 4 NĂM 2024", "2024-03-28"),
    "text/bai_bao_tcvn3.txt": ("text", None, None),
    "text/thong_bao_vni.txt": ("text", None, None),
    "text/ke_hoach_cp1258.txt": ("text", None, None),
    "text/ke_hoach_utf16.txt": ("text", None, None),
    "text/hoi_nghi_tcvn3.txt": ("text", None, None),
    "text/tiem_chung_vni.txt": ("text", None, None),
    "text/sot_xuat_huyet_cp1258.txt": ("text", None, None),
    "misc/pdf_named_as.txt": (
        "pdf",
        "Phường Phúc Xá ra mắt mô hình Tổ công nghệ số cộng đồng hỗ trợ người dân sử dụng dịch vụ công trực tuyến",
        "2024-03-15",
    ),
}
REFUSED = {
    "pdf/ban_scan_khong_chu.pdf": "no text layer (scanned PDF?); OCR is not supported",
    "broken/mat_khau.pdf": "encrypted PDF",
    "broken/cut_short.pdf": "corrupt or truncated PDF",
    "broken/not_a_zip.docx": "not a DOCX file: not a zip archive",
    "broken/zip_bomb.docx": "zip bomb guard",
    "html/empty_page.html": "no text in the page",
    "misc/empty.txt": "not a document: empty file (0 bytes)",
    "misc/image_named_as.html": "not a document: image (PNG)",
}


def test_every_fixture_is_listed_here() -> None:
    files = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*") if p.is_file() and p.suffix != ".py"}
    assert files == set(EXPECTED) | set(REFUSED)


def test_fixtures_are_small() -> None:
    sizes = {p.name: p.stat().st_size for p in DOCS.rglob("*") if p.is_file()}
    assert max(sizes.values()) < 300 * 1024, sizes


@pytest.mark.parametrize("rel", list(EXPECTED))
def test_read_document(rel: str) -> None:
    kind, title, date = EXPECTED[rel]
    doc = read_document(DOCS / rel)
    assert (doc.kind, doc.title, doc.date) == (kind, title, date)
    assert doc.blocks and all(b.text.strip() == b.text and b.text for b in doc.blocks)


@pytest.mark.parametrize("rel", list(REFUSED))
def test_unusable_files_are_refused_with_a_reason(rel: str) -> None:
    with pytest.raises(UnreadableDocument) as info:
        read_document(DOCS / rel)
    assert REFUSED[rel] in info.value.reason
    assert isinstance(info.value, ValueError)  # what retrieval.ingest already skips files on


def test_reading_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a reader tried to reach the network")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for rel in EXPECTED:
        read_document(DOCS / rel)


def test_not_a_document_says_which_kind() -> None:
    with pytest.raises(NotADocument) as info:
        read_document(DOCS / "misc/image_named_as.html")
    assert info.value.skip_kind == SkipKind.IMAGE


def test_a_legacy_encoded_pdf_is_converted() -> None:
    doc = read_document(DOCS / "pdf/thong_bao_tcvn3.pdf")
    assert [b.text for b in doc.blocks] == fixture_source().WARD_NEWS[:3]


def test_old_web_pages_in_windows_1258_or_vntime_fonts() -> None:
    source = fixture_source()
    paragraphs = source.WARD_NEWS[:3]
    head = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1258">'
    page = (
        f"{head}<title>Tin phường</title></head><body><article><h1>Tin phường</h1>"
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + "</article></body></html>"
    )
    doc = read_document("tin.html", data=source.cp1258(page))
    assert (doc.title, [b.text for b in doc.blocks]) == ("Tin phường", paragraphs)

    tcvn3 = [from_unicode(p, Legacy.TCVN3) for p in paragraphs]
    page_bytes = (
        b'<html><head><meta charset="windows-1252"><title>x</title></head><body><article>'
        b'<font face=".VnTime">' + b"".join(b"<p>" + p + b"</p>" for p in tcvn3) + b"</font></article></body></html>"
    )
    assert [b.text for b in read_document("cu.htm", data=page_bytes).blocks] == paragraphs


def test_data_already_read_is_used_and_the_name_is_only_a_hint() -> None:
    doc = read_document("khong_ton_tai.txt", data=PDF)
    assert doc.kind == "pdf" and doc.blocks[0].page == 1


def test_size_limit(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDocument, match="larger than"):
        read_document(DOCS / "pdf/ke_hoach_chuyen_doi_so.pdf", max_bytes=1024)
    with pytest.raises(UnreadableDocument, match="larger than"):
        read_document("x.pdf", data=PDF, max_bytes=1024)
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        read_document("x.pdf", data=PDF, max_bytes=0)


def test_missing_files_folders_and_dangling_links(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDocument, match="cannot read the file"):
        read_document(tmp_path / "khong_co.pdf")
    with pytest.raises(UnreadableDocument, match="not a regular file"):
        read_document(tmp_path)
    link = tmp_path / "gay.pdf"
    os.symlink(tmp_path / "dich_khong_co.pdf", link)
    with pytest.raises(UnreadableDocument, match="cannot read the file"):
        read_document(link)
