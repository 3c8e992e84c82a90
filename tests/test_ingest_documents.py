"""Folders of documents: every kind read into articles with their citation fields and where each
paragraph comes from; non-documents counted; the document cache; reading in worker processes."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest

from formats_support import DOCS
from qa_support import good_article, write_article
from retrieval.errors import CorpusError
from retrieval.ingest import corpus as ingest
from retrieval.ingest import doccache, files
from retrieval.ingest.corpus import Article, load_corpus
from retrieval.ingest.formats import Block, Document, Kind

READABLE = {  # fixture -> (title, source, date)
    "html/congluan_ha_noi_phan_lan.html": (
        "Hà Nội - Phần Lan trao đổi, hợp tác về xây dựng thành phố thông minh",
        "Báo Công luận",
        "2018-10-15",
    ),
    "html/kinhtedothi_dai_su_my.html": (
        "Chủ tịch UBND TP Hà Nội và Đại sứ Mỹ chia sẻ tầm nhìn về TP thông minh",
        "Kinh tế & Đô thị",
        "2017-03-22",
    ),
    "pdf/tin_phuong_hai_dong_tieu_de.pdf": (
        "Phường Phúc Xá ra mắt mô hình Tổ công nghệ số cộng đồng hỗ trợ người dân sử dụng dịch vụ công trực tuyến",
        "UBND phường Phúc Xá",
        "2024-03-15",
    ),
    "pdf/ke_hoach_chuyen_doi_so.pdf": (
        "Kế hoạch chuyển đổi số phường Phúc Xá năm 2024",
        "UBND phường Phúc Xá",
        "2024-02-20",
    ),
    "docx/quyet_dinh_thanh_lap_to.docx": (
        "Quyết định thành lập Tổ công nghệ số cộng đồng phường Phúc Xá",
        "UBND phường Phúc Xá",
        "2024-03-01",
    ),
    "docx/bao_cao_so_ket.docx": (
        "Báo cáo sơ kết công tác cải cách hành chính 6 tháng đầu năm 2024",
        "Văn phòng HĐND - UBND phường",
        "2024-07-05",
    ),
    "text/hoi_nghi_tcvn3.txt": (
        "Hà Nội hướng tới xây dựng thành phố phát triển với mọi tiện ích thông minh",
        None,
        "2023-11-30",
    ),
    "text/tiem_chung_vni.txt": ("THÔNG BÁO LỊCH TIÊM CHỦNG MỞ RỘNG THÁNG 5 NĂM 2024", None, "2024-04-25"),
    "text/sot_xuat_huyet_cp1258.txt": (
        "Phường Phúc Xá ra quân diệt bọ gậy phòng chống sốt xuất huyết",
        "Cổng thông tin điện tử quận Ba Đình",
        "2024-06-15",
    ),
}
BROKEN = {  # fixture -> what its warning says
    "broken/mat_khau.pdf": "encrypted PDF",
    "broken/cut_short.pdf": "corrupt or truncated PDF",
    "broken/zip_bomb.docx": "zip bomb guard",
    "broken/not_a_zip.docx": "not a zip archive",
    "html/empty_page.html": "no text in the page",
    "pdf/ban_scan_khong_chu.pdf": "no text layer (scanned PDF?)",
    "misc/empty.txt": "empty file (0 bytes)",
}


def copy_fixtures(folder: Path, names) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DOCS / name, folder / name)
    return folder


def by_id(corpus) -> dict[str, Article]:
    return {a.doc_id: a for a in corpus.articles}


@pytest.fixture(scope="module")
def mixed(repo_config, tmp_path_factory):
    folder = copy_fixtures(tmp_path_factory.mktemp("mixed"), list(READABLE) + list(BROKEN))
    return load_corpus(folder, repo_config.ingest)


def test_every_kind_gives_its_citation_fields(mixed):
    articles = by_id(mixed)
    assert set(articles) == {name.rsplit(".", 1)[0] for name in READABLE}
    for name, (title, source, date) in READABLE.items():
        a = articles[name.rsplit(".", 1)[0]]
        assert (a.title, a.source, a.date) == (title, source, date), name
    assert (
        articles["html/congluan_ha_noi_phan_lan"].url
        == "https://congluan.example.vn/ha-noi-phan-lan-trao-doi-hop-tac-post12345.html"
    )


def test_broken_files_are_skipped_with_their_reason(mixed):
    reasons = {Path(s.origin).relative_to(Path(s.origin).parents[1]).as_posix(): s.reason for s in mixed.skipped}
    assert set(reasons) == set(BROKEN)
    for name, fragment in BROKEN.items():
        assert fragment in reasons[name] and "\n" not in reasons[name], (name, reasons[name])
        assert "UnreadableDocument" not in reasons[name]  # the reason, not an exception's repr
    assert all(s.kind is None for s in mixed.skipped)  # each gets its own warning


def test_pdf_paragraphs_know_their_page(mixed):
    plan = by_id(mixed)["pdf/ke_hoach_chuyen_doi_so"]
    pages = {p: plan.page(i) for i, p in enumerate(plan.paragraphs)}
    assert set(pages.values()) == {1, 2}
    assert pages[next(p for p in pages if p.startswith("Đẩy mạnh ứng dụng công nghệ thông tin"))] == 1
    assert pages[next(p for p in pages if p.startswith("Rà soát, số hóa hồ sơ"))] == 2
    assert plan.sections == ()


def test_docx_paragraphs_know_their_section_and_tables_are_kept(mixed):
    decision = by_id(mixed)["docx/quyet_dinh_thanh_lap_to"]
    sections = dict(zip(decision.paragraphs, decision.sections))
    assert (
        sections["Họ và tên: Nguyễn Văn An | Chức vụ: Chủ tịch UBND phường | Nhiệm vụ trong Tổ: Tổ trưởng"]
        == "Điều 1. Thành lập Tổ công nghệ số cộng đồng phường Phúc Xá"
    )
    assert sections["Xét đề nghị của Văn phòng HĐND - UBND phường."] is None  # before the first heading
    assert not any(p.startswith(("Điều ", "STT")) for p in decision.paragraphs)  # headings are sections
    assert decision.pages == ()
    report = by_id(mixed)["docx/bao_cao_so_ket"]
    # The report's first heading is its title: the paragraphs under it have no section of their own.
    assert report.section(0) is None and report.section(1) == "1. Công tác chỉ đạo, điều hành"
    assert "Lĩnh vực: Hộ tịch | Hồ sơ tiếp nhận: 512 | Trực tuyến: 401 | Tỷ lệ (%): 78,3" in report.paragraphs


def test_html_paragraphs_know_their_heading_and_the_site_is_gone(mixed):
    page = by_id(mixed)["html/congluan_ha_noi_phan_lan"]
    sections = set(page.sections)
    assert sections == {None, "Hà Nội sẵn sàng hợp tác với doanh nghiệp Phần Lan"}
    text = "\n".join(page.paragraphs)
    for boilerplate in ("Viết bình luận", "Đồng Nai", "Bản quyền", "Trang chủ", "Ảnh:"):
        assert boilerplate not in text


def test_legacy_and_windows_1258_texts_are_unicode(mixed):
    articles = by_id(mixed)
    assert "Trung tâm Hội nghị Quốc gia" in articles["text/hoi_nghi_tcvn3"].paragraphs[0]
    assert "bạch hầu - ho gà - uốn ván" in articles["text/tiem_chung_vni"].paragraphs[1]
    assert "17 ca mắc sốt xuất huyết" in articles["text/sot_xuat_huyet_cp1258"].paragraphs[1]


def test_a_file_is_read_by_its_content_not_its_name(tmp_path, repo_config):
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(DOCS / "misc/pdf_named_as.txt", folder / "tin.txt")
    (article,) = load_corpus(folder, repo_config.ingest).articles
    assert article.title.startswith("Phường Phúc Xá ra mắt") and article.page(0) == 1


def test_a_single_document_is_a_corpus(tmp_path, repo_config):
    path = shutil.copy(DOCS / "docx/bao_cao_so_ket.docx", tmp_path / "bao_cao.docx")
    (article,) = load_corpus(Path(path), repo_config.ingest).articles
    assert article.doc_id == "bao_cao" and "1.126 hồ sơ" in " ".join(article.paragraphs)


def test_non_documents_are_counted_by_kind_in_one_warning(tmp_path, repo_config, caplog):
    folder = tmp_path / "corpus"
    write_article(folder, "bai.txt", good_article())
    write_article(folder, "anh/a.png", b"\x89PNG\r\n\x1a\n" + bytes(64))
    write_article(folder, "anh/b.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF")
    write_article(folder, "nen.zip", b"PK\x05\x06" + bytes(18))
    write_article(folder, "cai_dat.exe", b"MZ\x90\x00\x03")
    write_article(folder, "du_lieu.csv", "a,b\n1,2\n")
    write_article(folder, "cu.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(40))  # warned on its own
    write_article(folder, "anh/Thumbs.db", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(40))  # only counted
    with caplog.at_level(logging.WARNING, logger="retrieval.ingest.corpus"):
        loaded = load_corpus(folder, repo_config.ingest)
    assert [a.doc_id for a in loaded.articles] == ["bai"]
    warnings = [r.getMessage() for r in caplog.records]
    (summary,) = [w for w in warnings if "not documents" in w]
    assert summary.startswith(
        "skipped 2 images, 1 archive, 1 executable, 1 unsupported office file, 1 file of an unsupported type"
    )
    assert summary.endswith(": anh/a.png, anh/b.jpg, nen.zip, cai_dat.exe, anh/Thumbs.db, du_lieu.csv")
    (doc,) = [w for w in warnings if "cu.doc" in w]
    assert "save it as .docx" in doc
    assert len(warnings) == 2


def test_the_summary_names_only_the_first_ones(tmp_path, repo_config, caplog, monkeypatch):
    monkeypatch.setattr(ingest, "SKIPPED_NAMES_SHOWN", 2)
    folder = tmp_path / "corpus"
    write_article(folder, "bai.txt", good_article())
    for n in range(5):
        write_article(folder, f"anh{n}.png", b"\x89PNG\r\n\x1a\n" + bytes(8))
    with caplog.at_level(logging.WARNING, logger="retrieval.ingest.corpus"):
        load_corpus(folder, repo_config.ingest)
    (summary,) = [r.getMessage() for r in caplog.records]
    assert summary.startswith("skipped 5 images") and summary.endswith(": anh0.png, anh1.png and 3 more")


def test_a_file_over_the_size_limit_is_skipped_unread(tmp_path, repo_config):
    folder = tmp_path / "corpus"
    write_article(folder, "bai.txt", good_article())
    with open(folder / "lon.pdf", "wb") as fh:
        fh.truncate((2 << 20) + 1)  # sparse: nothing is written
    rules = dataclasses.replace(repo_config.ingest, max_file_mb=2)
    loaded = load_corpus(folder, rules)
    (skipped,) = loaded.skipped
    assert skipped.origin.endswith("lon.pdf") and "larger than 2 MB" in skipped.reason
    assert "ingest.max_file_mb" in skipped.reason


def test_a_corpus_of_only_broken_documents_is_an_error(tmp_path, repo_config):
    folder = copy_fixtures(tmp_path / "corpus", BROKEN)
    with pytest.raises(CorpusError, match=f"no loadable article .*{len(BROKEN)} file"):
        load_corpus(folder, repo_config.ingest)


def test_markdown_headings_are_sections_and_front_matter_wins(tmp_path, repo_config):
    folder = tmp_path / "corpus"
    write_article(
        folder,
        "ke_hoach.md",
        "# Kế hoạch năm\n\nMở đầu kế hoạch có một câu.\n\n## 1. Mục tiêu\n\nĐạt tám mươi phần trăm hồ sơ trực tuyến.\n",
    )
    write_article(
        folder,
        "co_front_matter.md",
        "---\ntitle: Tên từ front matter\ndate: 2024-05-01\n---\n"
        "# Tên trong văn bản\n\nCâu thứ nhất.\n\n## Phần hai\n\nCâu thứ hai.\n",
    )
    articles = by_id(load_corpus(folder, repo_config.ingest))
    plan = articles["ke_hoach"]
    assert plan.title == "Kế hoạch năm"
    assert list(zip(plan.paragraphs, plan.sections)) == [
        ("Mở đầu kế hoạch có một câu.", "Kế hoạch năm"),
        ("Đạt tám mươi phần trăm hồ sơ trực tuyến.", "1. Mục tiêu"),
    ]
    fm = articles["co_front_matter"]
    assert (fm.title, fm.date) == ("Tên từ front matter", "2024-05-01")
    assert fm.paragraphs == ("Câu thứ nhất.", "Câu thứ hai.")
    assert fm.sections == ("Tên trong văn bản", "Phần hai")


def test_document_metadata_is_the_front_matter_of_the_cleaner(repo_config):
    document = Document(
        blocks=(
            Block("Hà Nội, ngày 15 tháng 10 năm 2018"),
            Block("Mục một", heading=True),
            Block("Câu đầu tiên của văn bản.", page=1, section="Mục một"),
            Block("Ảnh: Minh họa", page=1, section="Mục một"),
            Block("Cột A | Cột B", page=2, section="Mục một", row=True),
        ),
        kind=Kind.PDF,
        title="Văn bản thử",
        author="UBND phường",
    )
    got = files.document_text(document)
    article = ingest._article("van_ban", got.text, got.meta, "van_ban.pdf", repo_config.ingest, got.layout)
    assert (article.title, article.source, article.date) == ("Văn bản thử", "UBND phường", "2018-10-15")
    assert article.paragraphs == ("Câu đầu tiên của văn bản.", "Cột A | Cột B")  # dateline, heading, caption gone
    assert article.pages == (1, 2) and article.sections == ("Mục một", "Mục một")


def test_article_origins_have_one_form_for_nowhere_known():
    a = Article("a", "T", None, None, None, ("x", "y"), "a.txt", pages=(None, None), sections=(None, None))
    assert a == Article("a", "T", None, None, None, ("x", "y"), "a.txt")
    assert a.page(1) is None and a.section(0) is None
    with pytest.raises(ValueError, match="one entry per paragraph"):
        Article("a", "T", None, None, None, ("x", "y"), "a.txt", pages=(1,))


# --- the document cache ----------------------------------------------------------------------


def _forbid_reading(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("read a document the cache holds")

    monkeypatch.setattr(files, "read_document", fail)


def test_documents_are_read_once_then_taken_from_the_cache(tmp_path, repo_config, monkeypatch):
    folder = copy_fixtures(tmp_path / "corpus", [*READABLE, "broken/mat_khau.pdf"])
    cache = tmp_path / "cache" / "documents.sqlite"
    first = load_corpus(folder, repo_config.ingest, cache_path=cache)
    with monkeypatch.context() as m:
        _forbid_reading(m)
        again = load_corpus(folder, repo_config.ingest, cache_path=cache)
    assert again == first
    extracted = [n for n in READABLE if not n.endswith(".txt")] + ["broken/mat_khau.pdf"]  # failures too
    assert sqlite3.connect(cache).execute("SELECT count(*) FROM documents").fetchone() == (len(extracted),)
    # A changed file is read again; a removed one is forgotten.
    shutil.copy(DOCS / "docx/thong_bao_font_vntime.docx", folder / "docx/bao_cao_so_ket.docx")
    (folder / "html/kinhtedothi_dai_su_my.html").unlink()
    changed = by_id(load_corpus(folder, repo_config.ingest, cache_path=cache))
    assert changed["docx/bao_cao_so_ket"].title.startswith("THÔNG BÁO LỊCH TIẾP CÔNG DÂN")
    assert sqlite3.connect(cache).execute("SELECT count(*) FROM documents").fetchone() == (len(extracted) - 1,)


def test_a_new_reader_version_reads_again(tmp_path, repo_config, monkeypatch):
    folder = copy_fixtures(tmp_path / "corpus", ["pdf/ke_hoach_chuyen_doi_so.pdf"])
    cache = tmp_path / "documents.sqlite"
    load_corpus(folder, repo_config.ingest, cache_path=cache)
    monkeypatch.setattr(doccache, "reader_id", lambda: "readers-999")
    reads = []
    real = files.read_document
    monkeypatch.setattr(files, "read_document", lambda *a, **k: reads.append(a) or real(*a, **k))
    load_corpus(folder, repo_config.ingest, cache_path=cache)
    assert len(reads) == 1


@pytest.mark.parametrize("damage", ["corrupt file", "corrupt entry", "unwritable"])
def test_a_damaged_cache_is_never_trusted(tmp_path, repo_config, caplog, damage):
    folder = copy_fixtures(tmp_path / "corpus", ["pdf/ke_hoach_chuyen_doi_so.pdf", "docx/bao_cao_so_ket.docx"])
    cache = tmp_path / "documents.sqlite"
    expected = load_corpus(folder, repo_config.ingest)
    if damage == "corrupt file":
        cache.write_bytes(b"this is not an SQLite database" * 100)
    elif damage == "corrupt entry":
        load_corpus(folder, repo_config.ingest, cache_path=cache)
        with sqlite3.connect(cache) as db:
            db.execute("UPDATE documents SET value = '[broken'")
    else:
        cache.mkdir()  # a folder where the file should be
    with caplog.at_level(logging.WARNING):
        assert load_corpus(folder, repo_config.ingest, cache_path=cache) == expected
    assert any("document cache" in r.getMessage() for r in caplog.records)


def test_cached_documents_round_trip():
    document = Document(
        blocks=(Block("Một", page=2, section="A", row=True), Block("Hai", heading=True)),
        kind=Kind.DOCX,
        title="T",
        date="2024-01-02",
        source=None,
        author="Tác giả",
        url=None,
    )
    assert doccache._from_json(doccache._to_json(document)) == document
    assert doccache._from_json(doccache._to_json("encrypted PDF")) == "encrypted PDF"


# --- worker processes ------------------------------------------------------------------------


def test_documents_read_in_worker_processes_equal_one_process(tmp_path, repo_config, monkeypatch):
    folder = copy_fixtures(tmp_path / "corpus", list(READABLE) + list(BROKEN))
    write_article(folder, "anh.png", b"\x89PNG\r\n\x1a\n" + bytes(8))
    one = load_corpus(folder, repo_config.ingest, workers=1)
    calls = []
    real = ingest._read_all
    monkeypatch.setattr(ingest, "MIN_PARALLEL_BYTES", 1)
    monkeypatch.setattr(ingest, "_read_all", lambda *a, **k: calls.append(k) or real(*a, **k))
    two = load_corpus(folder, repo_config.ingest, workers=2, cache_path=tmp_path / "documents.sqlite")
    assert calls == [{"many": True}] and two == one
