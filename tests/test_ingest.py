"""Loading corpora: the seed articles' metadata and body, and robustness to bad files."""

from __future__ import annotations

import json
import logging

import pytest

from qa_support import SEED_IDS, SEEDS, good_article, write_article
from retrieval.errors import CorpusError
from retrieval.ingest.corpus import corpus_files, load_corpus

EXPECTED_META = {
    "000_58ac133cd26686e9": (
        "Hà Nội - Phần Lan trao đổi, hợp tác về xây dựng thành phố thông minh",
        "Báo Công luận",
        "2018-10-15",
    ),
    "001_9b04e93836ae5aa7": (
        "Chủ tịch UBND TP Hà Nội và Đại sứ Mỹ chia sẻ tầm nhìn về TP thông minh",
        "Kinhtedothi",
        "2017-03-22",
    ),
    "002_8ff22ca5fca404f2": (
        "Tăng cường phối hợp với Tổ chức Công nghiệp Điện toán Châu Á Thái Bình Dương xây dựng thành phố thông minh",
        "Cổng thông tin điện tử Hà Nội",
        None,
    ),
    "003_9c61b11236651481": (
        "Hà Nội hướng tới xây dựng thành phố phát triển với mọi tiện ích thông minh",
        None,
        None,
    ),
    "004_34dcfaa59f8d6a67": ("Milan hỗ trợ Hà Nội xây dựng đô thị thông minh", None, None),
}

# Site boilerplate: related-news teasers, comment forms, captions, bylines, datelines.
BOILERPLATE = [
    "Cà Mau",
    "đồi mồi",
    "Đồng Nai",
    "Chùa Ba Vàng",
    "Bí thư Thị ủy Ba Đồn",
    "Địa phương",
    "Thanh Xuân",
    "Tây Hồ toả sáng",
    "Nhịp sống Thủ đô",
    "Phường Từ Liêm",
    "bão số 3",
    "Wipha",
    "Họ tên",
    "Mã xác nhận",
    "Số điện thoại",
    "Viết bình luận",
    "Các bài mới đăng",
    "\ufffd",
    "Ảnh:",
    "Thứ hai, 15/10/2018",
    "--> -->",
    "Phiên bản di động",
    "Có thể bạn quan tâm",
    "Hai bên chụp ảnh lưu niệm",
    "Bệ phóng",
    "Các đại biểu tham dự Hội nghị.",
    "Nguyễn Huy Dũng phát biểu tại Hội nghị.",
    "Theo Kinhtedothi",
    "Theo Quỳnh Anh",
]
BYLINES = {"PV", "Nhóm PV", "Báo Công luận", "Tin khác", "Nên xem", "Xem thêm"}

KEPT = {
    "000_58ac133cd26686e9": ["gần 10 triệu người", "Mika Lintila", "một trong 3 thành phố"],
    "001_9b04e93836ae5aa7": ["Ted Osius", "32 công ty", "Microsoft", "584 phường", "Boston"],
    "002_8ff22ca5fca404f2": ["1.200 MW", "David Wong", "12/2015", "Định hình lại kỷ nguyên mới"],
    "003_9c61b11236651481": ["Trương Gia Bình", "Trung tâm Hội nghị Quốc gia", "18-NQ/TU"],
    "004_34dcfaa59f8d6a67": ["Bruno Angelet", "Kosice", "phòng chống tội phạm nơi công cộng"],
}


@pytest.fixture(scope="module")
def seed_corpus(repo_config):
    return load_corpus(SEEDS, repo_config.ingest)


@pytest.fixture(scope="module")
def seed_articles(seed_corpus):
    return {a.doc_id: a for a in seed_corpus.articles}


def test_every_seed_loads(seed_corpus):
    assert [a.doc_id for a in seed_corpus.articles] == SEED_IDS
    assert seed_corpus.skipped == ()
    assert set(EXPECTED_META) == set(SEED_IDS)


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_seed_metadata(seed_articles, doc_id):
    article = seed_articles[doc_id]
    assert (article.title, article.source, article.date) == EXPECTED_META[doc_id]
    assert article.url is None
    assert article.origin == str(SEEDS / f"{doc_id}.txt")


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_seed_body_has_no_boilerplate(seed_articles, doc_id):
    for paragraph in seed_articles[doc_id].paragraphs:
        for junk in BOILERPLATE:
            assert junk not in paragraph, (junk, paragraph[:80])
        assert paragraph.strip() not in BYLINES
        assert not paragraph.rstrip().endswith("|"), paragraph
        assert not paragraph.startswith(("(CLO)", "HNP -")), "agency tag not cut from the lead"
        assert paragraph.strip() != seed_articles[doc_id].title


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_seed_key_sentences_are_kept(seed_articles, doc_id):
    body = "\n".join(seed_articles[doc_id].paragraphs)
    for fact in KEPT[doc_id]:
        assert fact in body, fact


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_seed_paragraphs_are_verbatim(seed_articles, seed_texts, doc_id):
    text = seed_texts[doc_id]
    paragraphs = seed_articles[doc_id].paragraphs
    assert paragraphs
    for paragraph in paragraphs:
        assert paragraph
        assert paragraph in text


# --- robustness --------------------------------------------------------------------------


def test_bad_files_are_skipped_with_reason_and_warning(tmp_path, repo_config, caplog):
    corpus = tmp_path / "corpus"
    write_article(corpus, "good1.txt", good_article("Bài tốt một"))
    write_article(corpus, "good2.md", good_article("Bài tốt hai"))
    bad = {
        "binary.txt": b"Ti\xc3\xaau \x00\x01\x02\x03 \xff\xfe",
        "broken.pdf": b"%PDF-1.4 \x00",
        "broken_yaml.md": "---\ntitle: [chưa đóng\n---\nNội dung bài viết có một câu đầy đủ.\n",
        "empty.txt": "",
        "unclosed.md": "---\ntitle: Không đóng\nNội dung bài viết có một câu đầy đủ.\n",
        "not_mapping.md": "---\n- a\n- b\n---\nNội dung bài viết có một câu đầy đủ.\n",
        "bad_date.md": "---\ndate: sớm thôi\n---\nTiêu đề\n\nNội dung bài viết có một câu đầy đủ.\n",
        "only_headings.txt": "Tiêu đề\n\nPV\n",
    }
    for name, content in bad.items():
        write_article(corpus, name, content)

    with caplog.at_level(logging.WARNING, logger="retrieval.ingest.corpus"):
        loaded = load_corpus(corpus, repo_config.ingest)

    assert sorted(a.doc_id for a in loaded.articles) == ["good1", "good2"]
    skipped = {s.origin.rsplit("/", 1)[-1]: s.reason for s in loaded.skipped}
    assert set(skipped) == set(bad)
    assert all(reason.strip() for reason in skipped.values())
    assert "binary" in skipped["binary.txt"]
    assert "corrupt or truncated PDF" in skipped["broken.pdf"]
    assert "empty file" in skipped["empty.txt"]
    assert "front matter" in skipped["broken_yaml.md"]
    assert "never closed" in skipped["unclosed.md"]
    assert "date" in skipped["bad_date.md"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in bad:
        assert any(name in w for w in warnings), f"no warning names {name}"
    assert all("\n" not in reason for reason in skipped.values()), "a reason spans several lines"


def test_no_loadable_article_is_a_corpus_error(tmp_path, repo_config):
    corpus = tmp_path / "corpus"
    write_article(corpus, "empty.txt", "")
    write_article(corpus, "binary.txt", b"\x00\x00")
    with pytest.raises(CorpusError, match="no loadable article"):
        load_corpus(corpus, repo_config.ingest)


def test_empty_folder_is_a_corpus_error(tmp_path, repo_config):
    (tmp_path / "corpus").mkdir()
    with pytest.raises(CorpusError):
        load_corpus(tmp_path / "corpus", repo_config.ingest)


@pytest.mark.parametrize("name", ["missing", "missing.jsonl", "missing/sub"])
def test_missing_corpus_is_a_corpus_error(tmp_path, repo_config, name):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / name, repo_config.ingest)


def test_unsupported_file_as_corpus_is_a_corpus_error(tmp_path, repo_config):
    path = write_article(tmp_path, "corpus.png", b"\x89PNG\r\n\x1a\n")
    with pytest.raises(CorpusError, match=r"expected a folder, a .jsonl file or a document"):
        load_corpus(path, repo_config.ingest)
    broken = write_article(tmp_path, "corpus.pdf", b"%PDF")
    with pytest.raises(CorpusError, match="no loadable article"):
        load_corpus(broken, repo_config.ingest)


def test_single_text_file_as_corpus(tmp_path, repo_config):
    path = write_article(tmp_path, "mot_bai.txt", good_article("Một bài"))
    loaded = load_corpus(path, repo_config.ingest)
    assert [a.doc_id for a in loaded.articles] == ["mot_bai"]


@pytest.mark.parametrize(
    "date_line, iso",
    [
        ("date: 2018-10-15", "2018-10-15"),
        ('date: "15/10/2018"', "2018-10-15"),
        ("date: 15/10/2018", "2018-10-15"),
        ("date: 2018-10-15 08:30:00", "2018-10-15"),
    ],
)
def test_front_matter_overrides_text(tmp_path, repo_config, date_line, iso):
    corpus = tmp_path / "corpus"
    write_article(
        corpus,
        "bai.md",
        "---\n"
        "title: Tiêu đề từ front matter\n"
        "source: Báo Thử Nghiệm\n"
        f"{date_line}\n"
        "url: https://example.com/bai\n"
        "---\n"
        "Tiêu đề trong văn bản\n"
        "Ngày 01/01/2019\n"
        "\n"
        "(CLO) Nội dung bài viết có một câu đầy đủ.\n"
        "Theo Báo Khác\n",
    )
    (article,) = load_corpus(corpus, repo_config.ingest).articles
    assert article.title == "Tiêu đề từ front matter"
    assert article.source == "Báo Thử Nghiệm"
    assert article.date == iso
    assert article.url == "https://example.com/bai"
    assert article.paragraphs == ("Nội dung bài viết có một câu đầy đủ.",)


def test_front_matter_title_equal_to_first_line_is_not_a_paragraph(tmp_path, repo_config):
    corpus = tmp_path / "corpus"
    write_article(corpus, "bai.md", "---\ntitle: Cùng tiêu đề.\n---\nCùng tiêu đề.\n\nCâu nội dung thật sự.\n")
    (article,) = load_corpus(corpus, repo_config.ingest).articles
    assert article.title == "Cùng tiêu đề."
    assert article.paragraphs == ("Câu nội dung thật sự.",)


def test_bom_and_crlf_are_handled(tmp_path, repo_config):
    corpus = tmp_path / "corpus"
    text = "---\r\ntitle: Tiêu đề\r\n---\r\nTiêu đề\r\n\r\nCâu nội dung thật sự.\r\n"
    write_article(corpus, "bai.md", b"\xef\xbb\xbf" + text.encode("utf-8"))
    (article,) = load_corpus(corpus, repo_config.ingest).articles
    assert article.title == "Tiêu đề"
    assert article.paragraphs == ("Câu nội dung thật sự.",)


def test_nested_folder_doc_id(tmp_path, repo_config):
    corpus = tmp_path / "corpus"
    write_article(corpus, "a.txt", good_article("Bài A"))
    write_article(corpus, "sub/name.txt", good_article("Bài lồng"))
    write_article(corpus, "sub/deeper/x.md", good_article("Bài sâu"))
    write_article(corpus, ".hidden/secret.txt", good_article("Bài ẩn"))
    write_article(corpus, ".dotfile.txt", good_article("Bài ẩn"))
    ids = [a.doc_id for a in load_corpus(corpus, repo_config.ingest).articles]
    assert ids == ["a", "sub/deeper/x", "sub/name"]


def test_files_sharing_a_name_keep_their_extension_in_the_doc_id(tmp_path, repo_config):
    corpus = tmp_path / "corpus"
    write_article(corpus, "dup.md", good_article("Bài md"))
    write_article(corpus, "dup.txt", good_article("Bài txt"))
    write_article(corpus, "dup.md.txt", good_article("Bài có hai đuôi"))  # its stem is another's id
    write_article(corpus, "sub/dup.txt", good_article("Bài trong thư mục con"))
    loaded = load_corpus(corpus, repo_config.ingest)
    assert {a.doc_id: a.title for a in loaded.articles} == {
        "dup.md": "Bài md",
        "dup.md~2": "Bài có hai đuôi",
        "dup.txt": "Bài txt",
        "sub/dup": "Bài trong thư mục con",
    }
    assert loaded.skipped == ()


def test_doc_ids_depend_only_on_the_names(tmp_path):
    from retrieval.ingest.files import doc_ids

    names = ["a.docx", "a.pdf", "b.html", "c/a.pdf", "d.tar.gz", "d.tar", "e.pdf.txt", "e.pdf", "e.txt"]
    files = sorted((tmp_path / n for n in names), key=lambda p: p.relative_to(tmp_path).as_posix())
    ids = doc_ids(tmp_path, files)
    assert dict(zip((f.relative_to(tmp_path).as_posix() for f in files), ids)) == {
        "a.docx": "a.docx",
        "a.pdf": "a.pdf",
        "b.html": "b",
        "c/a.pdf": "c/a",
        "d.tar": "d",
        "d.tar.gz": "d.tar",
        "e.pdf": "e.pdf",
        "e.pdf.txt": "e.pdf~2",
        "e.txt": "e.txt",
    }
    assert len(set(ids)) == len(ids) and doc_ids(tmp_path, files) == ids


def test_corpus_files_order_is_stable(tmp_path):
    corpus = tmp_path / "corpus"
    for name in ["b.txt", "a.md", "sub/c.txt", "A.txt", "z.TXT", "n.json"]:
        write_article(corpus, name, "x")
    names = [p.relative_to(corpus).as_posix() for p in corpus_files(corpus)]
    assert names == sorted(names)
    assert "n.json" in names and "z.TXT" in names  # every file: its kind is told when it is read


# --- JSONL corpora -----------------------------------------------------------------------


def _jsonl(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_corpus(tmp_path, repo_config, caplog):
    rec = lambda **kw: json.dumps(kw, ensure_ascii=False)  # noqa: E731
    path = _jsonl(
        tmp_path / "corpus.jsonl",
        [
            rec(
                id="bai-1",
                title="Bài một",
                text="Hà Nội có nhiều hồ nước đẹp.",
                source="Báo X",
                date="15/10/2018",
                url="https://x/1",
            ),
            "{not json",
            rec(id="bai-2", title="Không có nội dung"),
            rec(id="bai-1", title="Trùng id", text="Một câu khác hoàn toàn có nghĩa."),
            "",
            "[1, 2]",
            rec(text="Thiếu id nhưng có câu."),
            rec(id=7, text="Tiêu đề ở dòng đầu\n\nCâu nội dung thật sự."),
            rec(id="bai-3", text="   "),
        ],
    )
    with caplog.at_level(logging.WARNING, logger="retrieval.ingest.corpus"):
        loaded = load_corpus(path, repo_config.ingest)
    articles = {a.doc_id: a for a in loaded.articles}
    assert list(articles) == ["bai-1", "7"]
    one = articles["bai-1"]
    assert (one.title, one.source, one.date, one.url) == ("Bài một", "Báo X", "2018-10-15", "https://x/1")
    assert one.paragraphs == ("Hà Nội có nhiều hồ nước đẹp.",)
    assert one.origin == f"{path}:1"
    assert articles["7"].title == "Tiêu đề ở dòng đầu"
    skipped = {s.origin: s.reason for s in loaded.skipped}
    assert sorted(skipped) == sorted(f"{path}:{n}" for n in (2, 3, 4, 6, 7, 9))
    assert "JSON" in skipped[f"{path}:2"]
    assert "text" in skipped[f"{path}:3"]
    assert "duplicate" in skipped[f"{path}:4"]
    assert "id" in skipped[f"{path}:7"]
    warnings = " ".join(r.getMessage() for r in caplog.records)
    for origin in skipped:
        assert origin in warnings


def test_jsonl_with_no_usable_line_is_a_corpus_error(tmp_path, repo_config):
    path = _jsonl(tmp_path / "corpus.jsonl", ["{bad", "[]"])
    with pytest.raises(CorpusError):
        load_corpus(path, repo_config.ingest)


def test_jsonl_not_utf8_is_a_corpus_error(tmp_path, repo_config):
    path = tmp_path / "corpus.jsonl"
    path.write_bytes('{"id": "a", "text": "Café très bon."}'.encode("latin-1"))
    with pytest.raises(CorpusError):
        load_corpus(path, repo_config.ingest)


# --- reading in worker processes ---------------------------------------------------------


def test_parallel_reading_equals_reading_in_one_process(tmp_path, repo_config, monkeypatch):
    """Order, duplicate checks and skip reasons do not depend on how many processes read."""
    import retrieval.ingest.corpus as ingest

    rec = lambda **kw: json.dumps(kw, ensure_ascii=False)  # noqa: E731
    lines = []
    for i in range(30):
        lines.append(rec(id=f"bai-{i}", title=f"Bài {i}", text=f"Hà Nội có {i} hồ nước đẹp. Câu thứ hai."))
        if i % 7 == 0:
            lines.append("{not json")
            lines.append(rec(id=f"bai-{i}", text="Trùng id nhưng có câu đầy đủ."))  # a duplicate
            lines.append(rec(id=f"bai-{i}", text="PV"))  # a duplicate that would also fail cleaning
            lines.append(rec(id=f"rong-{i}", text="PV"))  # fails cleaning: nothing left
            lines.append(rec(id=f"rong-{i}", text="Sau một dòng hỏng, id này không trùng."))
    path = _jsonl(tmp_path / "corpus.jsonl", lines)
    folder = tmp_path / "corpus"
    for i in range(12):
        write_article(folder, f"bai{i:02d}.txt", good_article(f"Bài số {i}"))
    write_article(folder, "bai03.md", good_article("Trùng tên"))  # same stem: both kept, ids with extensions
    write_article(folder, "hong.md", "---\ntitle: [chưa đóng\n---\nNội dung có một câu đầy đủ.\n")
    write_article(folder, "hong.txt", good_article("Cùng tên với một tệp hỏng"))  # not a duplicate
    write_article(folder, "nhi_phan.txt", b"\x00\x01\x02")

    for corpus in (path, folder):
        one = load_corpus(corpus, repo_config.ingest, workers=1)
        monkeypatch.setattr(ingest, "MIN_PARALLEL_ITEMS", 2)
        two = load_corpus(corpus, repo_config.ingest, workers=2)
        monkeypatch.undo()
        assert two == one
        assert len(one.articles) > 10 and len(one.skipped) >= 2
    reasons = {s.origin.rsplit(":", 1)[-1]: s.reason for s in load_corpus(path, repo_config.ingest, workers=2).skipped}
    assert "duplicate" in reasons["4"]  # line 4: the duplicate that would also fail cleaning
    assert "no article text" in reasons["5"]
    skipped_files = {s.origin.rsplit("/", 1)[-1] for s in one.skipped}
    assert skipped_files == {"hong.md", "nhi_phan.txt"}
