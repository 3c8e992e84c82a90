"""TCVN3 and VNI to Unicode: the tables, known strings, round trips, and detection that leaves Unicode alone."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata

import pytest

from formats_support import SEEDS, seed_paragraph
from retrieval.ingest.formats import legacy
from retrieval.ingest.formats.legacy import (
    Legacy,
    decode_bytes,
    detect,
    fix_texts,
    font_encoding,
    from_unicode,
    to_unicode,
)


def _in_word(letter: str) -> str:
    """A capital inside an upper-case word ("TẶN"), where TCVN3's 0x80-0x9F capitals are letters."""
    return f"T{letter}N" if letter.isupper() else letter


def test_the_alphabet_has_134_precomposed_letters() -> None:
    assert len(legacy.LETTERS) == len(set(legacy.LETTERS)) == 134
    assert all(unicodedata.is_normalized("NFC", c) and len(c) == 1 for c in legacy.LETTERS)
    assert {"đ", "Đ", "ặ", "Ặ", "ỵ", "Ỵ", "ữ", "Ữ"} <= set(legacy.LETTERS)


@pytest.mark.parametrize("encoding", list(Legacy))
@pytest.mark.parametrize("letter", legacy.LETTERS)
def test_every_letter_round_trips(encoding: Legacy, letter: str) -> None:
    word = _in_word(letter)
    assert decode_bytes(from_unicode(word, encoding), encoding) == word


@pytest.mark.parametrize("encoding", list(Legacy))
def test_the_whole_alphabet_round_trips_in_one_text(encoding: Legacy) -> None:
    text = " ".join(_in_word(c) for c in legacy.LETTERS)
    assert decode_bytes(from_unicode(text, encoding), encoding) == text


@pytest.mark.skipif(shutil.which("iconv") is None, reason="no iconv")
def test_tcvn3_table_matches_the_standard_as_glibc_implements_it() -> None:
    """glibc's TCVN5712-1 converter is an independent copy of TCVN 5712:1993 (VN1)."""
    listed = subprocess.run(["iconv", "-l"], capture_output=True, text=True, check=False).stdout
    if "TCVN5712-1" not in listed:
        pytest.skip("iconv has no TCVN5712-1")
    encoded = b" ".join(from_unicode(c, Legacy.TCVN3) for c in legacy.LETTERS)
    result = subprocess.run(
        ["iconv", "-f", "TCVN5712-1", "-t", "UTF-8"], input=encoded, capture_output=True, check=True
    )
    assert unicodedata.normalize("NFC", result.stdout.decode()).split(" ") == list(legacy.LETTERS)


@pytest.mark.parametrize(
    ("legacy_text", "unicode_text"),
    [
        ("Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam", "Cộng hòa xã hội chủ nghĩa Việt Nam"),
        ("COÄNG HOØA XAÕ HOÄI CHUÛ NGHÓA VIEÄT NAM", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
        ("Ñoäc laäp - Töï do - Haïnh phuùc", "Độc lập - Tự do - Hạnh phúc"),
        ("ngöôøi daân ñöôïc höôûng", "người dân được hưởng"),
    ],
)
def test_known_vni_strings(legacy_text: str, unicode_text: str) -> None:
    assert to_unicode(legacy_text, Legacy.VNI) == unicode_text


@pytest.mark.parametrize(
    ("legacy_text", "unicode_text"),
    [
        ("Hµ Néi", "Hà Nội"),
        ("®­îc ng­êi d©n", "được người dân"),
        ("Uû ban nh©n d©n ph­êng", "Uỷ ban nhân dân phường"),
        ("quyÕt ®Þnh", "quyết định"),
    ],
)
def test_known_tcvn3_strings(legacy_text: str, unicode_text: str) -> None:
    assert to_unicode(legacy_text, Legacy.TCVN3) == unicode_text


def test_tcvn3_upper_case_font_draws_capitals() -> None:
    assert to_unicode("quyÕt ®Þnh", Legacy.TCVN3, uppercase=True) == "QUYẾT ĐỊNH"


@pytest.mark.parametrize(
    "text",
    [
        "cơ chế “một cửa” liên thông",  # quotes around lower-case words
        "Với khẩu hiệu “Định hình lại kỷ nguyên mới”, ASOCIO",  # an opening quote before a capital
        "kinh tế – xã hội … và “Ở” đây",  # dashes, an ellipsis, a one-letter word in quotes
        "khẩu hiệu “KHÔNG ĐỂ AI BỊ BỎ LẠI PHÍA SAU” được",  # a closing quote after a capital
        "QUYẾT ĐỊNH VỀ VIỆC TẶNG GIẤY KHEN",  # capitals in 0x80-0x9F inside upper-case words
        "Ủy ban, Ý kiến, Ở đâu, Ứng dụng",  # capitals opening title-case words
    ],
)
def test_tcvn3_tells_windows_punctuation_from_capitals(text: str) -> None:
    assert decode_bytes(from_unicode(text, Legacy.TCVN3), Legacy.TCVN3) == text
    # As Word stores a .VnTime run: the bytes read as Windows-1252.
    as_cp1252 = from_unicode(text, Legacy.TCVN3).decode("cp1252", errors="ignore")
    if len(as_cp1252) == len(from_unicode(text, Legacy.TCVN3)):
        assert to_unicode(as_cp1252, Legacy.TCVN3) == text


@pytest.mark.parametrize("encoding", list(Legacy))
@pytest.mark.parametrize(("seed", "line"), [("000", 5), ("000", 16), ("002", 5), ("004", 2)])
def test_a_full_seed_paragraph_round_trips(encoding: Legacy, seed: str, line: int) -> None:
    paragraph = seed_paragraph(seed, line)
    encoded = from_unicode(paragraph, encoding)
    assert decode_bytes(encoded, encoding) == paragraph
    assert detect(encoded.decode("latin-1")) is encoding


UNICODE_TEXTS = {
    "vietnamese": (SEEDS / "003_9c61b11236651481.txt").read_text(encoding="utf-8"),
    "vietnamese old tone placement": "Hoà bình, khoá học, thuý, uỷ ban, tuỳ ý, hoạ sĩ, thuở, toạ đàm, xoá bỏ.",
    "english": "The quick brown fox jumps over the lazy dog. “Quotes” and – dashes… everywhere.",
    "french": "Où est la bibliothèque? Déjà vu, ça va être très intéressant. Les élèves étudient à l'école "
    "près de là. Noël, où êtes-vous? Août, maïs, aïeul, naïf, cœur, garçon, façade.",
    "german": "Grüße aus München! Die Straße ist schön, für alle Bürger gibt es Übungen. Äpfel, Öl, süß.",
    "spanish": "El niño comió piña en la montaña. ¿Dónde está? ¡Señor! Canción, corazón, línea, último.",
    "portuguese": "São Paulo, informação, coração, não, açúcar, você, três, avô, avó, órgão.",
}


@pytest.mark.parametrize("name", list(UNICODE_TEXTS))
def test_unicode_and_western_text_is_never_converted(name: str) -> None:
    text = UNICODE_TEXTS[name]
    assert detect(text) is None
    assert fix_texts([text]) == [text]
    assert detect(text.encode("utf-8").decode("latin-1")) is None  # nor UTF-8 read as Latin-1


def test_too_few_words_to_judge_are_left_alone() -> None:
    assert detect("Hµ Néi") is None  # two words: below MIN_WORDS


def test_fix_texts_converts_legacy_paragraphs_and_keeps_unicode_ones() -> None:
    unicode_para = seed_paragraph("000", 7)
    legacy_paras = [from_unicode(seed_paragraph("000", n), Legacy.TCVN3).decode("latin-1") for n in (5, 9)]
    fixed = fix_texts([legacy_paras[0], unicode_para, legacy_paras[1], "Trang 3"])
    assert fixed == [seed_paragraph("000", 5), unicode_para, seed_paragraph("000", 9), "Trang 3"]


@pytest.mark.parametrize(
    ("font", "expected"),
    [
        (".VnTime", (Legacy.TCVN3, False)),
        (".VnTimeH", (Legacy.TCVN3, True)),
        (".VnArial Narrow", (Legacy.TCVN3, False)),
        ("VNI-Times", (Legacy.VNI, False)),
        ("VNI-Helve-Condense", (Legacy.VNI, False)),
        ("Times New Roman", None),
        ("Vni", None),
        (None, None),
    ],
)
def test_font_encoding(font: str | None, expected: tuple[Legacy, bool] | None) -> None:
    assert font_encoding(font) == expected


def test_from_unicode_refuses_what_no_legacy_byte_holds() -> None:
    with pytest.raises(ValueError, match="U\\+4E2D"):
        from_unicode("Hà Nội 中", Legacy.TCVN3)


@pytest.mark.parametrize(
    ("word", "valid"),
    [
        ("người", True),
        ("nguyễn", True),
        ("khuỷu", True),
        ("quyết", True),
        ("gì", True),
        ("xoong", True),
        ("coâng", False),
        ("baùo", False),
        ("néi", False),
        ("®­îc", False),
        ("école", False),
        ("schön", False),
    ],
)
def test_is_vietnamese_syllable(word: str, valid: bool) -> None:
    assert legacy.is_vietnamese_syllable(word) is valid
