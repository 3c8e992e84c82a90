"""Plain text files: encodings detected (UTF-8/16, Windows-1258, TCVN3, VNI), paragraphs, Markdown sections."""

from __future__ import annotations

import unicodedata

import pytest

from formats_support import DOCS, fixture_source, seed_paragraph
from retrieval.ingest.formats.base import UnreadableDocument
from retrieval.ingest.formats.legacy import Legacy, from_unicode
from retrieval.ingest.formats.text import decode_text, markdown_heading, paragraphs, read_text

SAMPLE = seed_paragraph("000", 7)


def _plan_text() -> str:
    source = fixture_source()
    return "\n\n".join(text for _, text in source.WARD_PLAN_BODY[:6]).replace("|", "") + "\n"


@pytest.mark.parametrize(
    "data",
    [
        SAMPLE.encode("utf-8"),
        b"\xef\xbb\xbf" + SAMPLE.encode("utf-8"),
        SAMPLE.encode("utf-16"),  # with its BOM
        b"\xfe\xff" + SAMPLE.encode("utf-16-be"),
        unicodedata.normalize("NFD", SAMPLE).encode("utf-8"),  # decomposed tones (macOS)
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "utf-8-nfd"],
)
def test_unicode_encodings(data: bytes) -> None:
    assert decode_text(data) == SAMPLE


def test_windows_1258_with_combining_tones_is_nfc() -> None:
    data = (DOCS / "text/ke_hoach_cp1258.txt").read_bytes()
    assert b"\xcc" in data or b"\xec" in data or b"\xf2" in data  # combining tone marks are there
    text = decode_text(data)
    assert text == _plan_text()
    assert unicodedata.is_normalized("NFC", text)


def test_utf16_fixture() -> None:
    assert decode_text((DOCS / "text/ke_hoach_utf16.txt").read_bytes()) == _plan_text()


def test_tcvn3_file() -> None:
    text = decode_text((DOCS / "text/bai_bao_tcvn3.txt").read_bytes())
    assert text.rstrip("\n").split("\n\n") == [seed_paragraph("000", n) for n in (1, 5, 7, 9)]


def test_vni_file_with_windows_line_ends() -> None:
    text = decode_text((DOCS / "text/thong_bao_vni.txt").read_bytes())
    assert "\r" not in text
    assert text.split("\n\n")[0] == "THÔNG BÁO LỊCH TIẾP CÔNG DÂN"
    assert text.rstrip("\n").split("\n\n")[1:] == fixture_source().TCVN3_NOTICE


def test_tcvn3_text_already_saved_as_utf8() -> None:
    """Text copied out of a .VnTime document into a UTF-8 editor: "Hµ Néi" in valid UTF-8."""
    mangled = from_unicode(SAMPLE, Legacy.TCVN3).decode("cp1252", errors="replace")
    assert decode_text(mangled.encode("utf-8")) == SAMPLE


@pytest.mark.parametrize(
    "text",
    [
        "Où est la bibliothèque? Déjà vu, ça va être très intéressant près de là.",
        "Grüße aus München, die Straße ist schön.",
    ],
)
def test_western_8bit_text_stays_as_written(text: str) -> None:
    assert decode_text(text.encode("cp1252")) == text


def test_binary_data_is_refused() -> None:
    with pytest.raises(UnreadableDocument, match="binary"):
        decode_text(b"abc\x00\x01\x02def")


def test_a_broken_byte_order_mark_names_the_encoding() -> None:
    with pytest.raises(UnreadableDocument, match="UTF-8 byte-order mark"):
        decode_text(b"\xef\xbb\xbfH\xe0 N\xe9i")


def test_paragraphs_are_separated_by_blank_lines_and_keep_their_lines() -> None:
    text = "Tiêu đề\n\nDòng một\ndòng hai  \n \t \nĐoạn ba\n\n\n"
    assert paragraphs(text) == ["Tiêu đề", "Dòng một\ndòng hai", "Đoạn ba"]


def test_markdown_headings_are_sections() -> None:
    doc = read_text(
        "# Kế hoạch\n\nMở đầu.\n\n## Mục tiêu\n\nĐạt 80%.\n\n## Giải pháp\n\nSố hóa.".encode(), markdown=True
    )
    assert [(b.text, b.section) for b in doc.blocks] == [
        ("# Kế hoạch", None),
        ("Mở đầu.", "Kế hoạch"),
        ("## Mục tiêu", "Kế hoạch"),
        ("Đạt 80%.", "Mục tiêu"),
        ("## Giải pháp", "Kế hoạch"),
        ("Số hóa.", "Giải pháp"),
    ]


@pytest.mark.parametrize(
    "line, expected",
    [
        ("# Kế hoạch", (1, "Kế hoạch")),
        ("### Mục 3 ###", (3, "Mục 3")),
        ("#Không cách", None),
        ("Một dòng thường", None),
        ("####### Bảy dấu", None),
    ],
)
def test_markdown_heading(line: str, expected: tuple[int, str] | None) -> None:
    assert markdown_heading(line) == expected


def test_plain_text_has_no_sections_and_no_metadata() -> None:
    doc = read_text("# not a heading in .txt\n\nĐoạn.".encode())
    assert [b.section for b in doc.blocks] == [None, None]
    assert (doc.title, doc.date, doc.kind) == (None, None, "text")


def test_blank_text_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="no text"):
        read_text(b" \n\n \t\n")
