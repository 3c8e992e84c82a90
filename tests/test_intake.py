"""Documents put into the corpus folder: safe names, checks before writing, web pages fetched from a
server the test starts on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from qa_support import REPO, SEED_FILES
from retrieval.config import IngestConfig
from retrieval.index.sentences import ArticleList
from retrieval.ingest.corpus import Article
from retrieval.updates import fetch, intake

DOCS = REPO / "tests" / "data" / "docs"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ke_hoach.pdf", "ke_hoach.pdf"),
        ("Kế hoạch số 12.docx", "Kế_hoạch_số_12.docx"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("/etc/cron.d/job.txt", "job.txt"),
        (".bashrc", "bashrc"),
        ("...", intake.DEFAULT_STEM),
        ("..", intake.DEFAULT_STEM),
        ("", intake.DEFAULT_STEM),
        ("a\x00b\x07c\nd\u202ee.txt", "abcde.txt"),
        ('x<y>z:"a|b?*.txt', "x_y_z__a_b__.txt"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("Lpt9.tar.md", "_Lpt9.tar.md"),
        ("com0.md", "_com0.md"),
        ("console.txt", "console.txt"),
        ("trailing. . ", "trailing"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert intake.safe_name(name) == expected


@pytest.mark.parametrize("name", ["a" * 1000 + ".txt", "ệ" * 500 + ".pdf", "x." + "y" * 300])
def test_safe_name_is_short(name: str) -> None:
    safe = intake.safe_name(name)
    assert len(safe.encode("utf-8")) <= intake.MAX_NAME_BYTES
    assert safe.endswith(name.rsplit(".", 1)[1][:16])


@pytest.mark.parametrize(
    "name",
    [
        "../../x.txt",
        "/abs/y.txt",
        "..",
        ".",
        "a/../../b.txt",
        "\\\\server\\share\\c.txt",
        "\x00",
        "CON.txt",
        "." * 300,
        "z" * 4000,
    ],
)
def test_store_stays_in_the_folder(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    path = intake.store(folder, name, b"noi dung")
    assert path.parent == folder.resolve()
    assert [p.name for p in folder.iterdir()] == [path.name]  # no temporary file left
    assert not path.name.startswith(".")
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == [path]


def test_store_refuses_an_existing_name_unless_replace(tmp_path: Path) -> None:
    path = intake.store(tmp_path, "a.txt", b"one")
    with pytest.raises(intake.NameTaken):
        intake.store(tmp_path, "a.txt", b"two")
    assert path.read_bytes() == b"one"
    intake.store(tmp_path, "a.txt", b"two", replace=True)
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_store_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    folder, target = tmp_path / "corpus", tmp_path / "secret"
    folder.mkdir()
    target.write_text("keep")
    (folder / "x.txt").symlink_to(target)
    for replace in (False, True):
        with pytest.raises(intake.IntakeError):
            intake.store(folder, "x.txt", b"evil", replace=replace)
    assert target.read_text() == "keep"


@pytest.mark.parametrize(
    "fixture, name, stored",
    [
        ("pdf/ke_hoach_chuyen_doi_so.pdf", "ke_hoach.pdf", "ke_hoach.pdf"),
        ("misc/pdf_named_as.txt", "bao_cao.txt", "bao_cao.pdf"),  # the content decides the suffix
        ("docx/bao_cao_so_ket.docx", "bao cao.docx", "bao_cao.docx"),
        ("html/hanoi_asocio.html", "trang", "trang.html"),
        ("text/ke_hoach_cp1258.txt", "ghi_chu.md", "ghi_chu.md"),
        ("text/thong_bao_vni.txt", "thong_bao", "thong_bao.txt"),
    ],
)
def test_check_document_reads_by_content(fixture: str, name: str, stored: str) -> None:
    checked = intake.check_document(name, (DOCS / fixture).read_bytes(), IngestConfig())
    assert checked.name == stored
    assert checked.article.paragraphs and checked.article.title


@pytest.mark.parametrize(
    "fixture",
    [
        "broken/mat_khau.pdf",
        "broken/zip_bomb.docx",
        "broken/not_a_zip.docx",
        "misc/empty.txt",
        "misc/image_named_as.html",
        "html/empty_page.html",
        "pdf/ban_scan_khong_chu.pdf",
    ],
)
def test_check_document_refuses_what_cannot_be_read(fixture: str) -> None:
    with pytest.raises(intake.Unreadable) as caught:
        intake.check_document(Path(fixture).name, (DOCS / fixture).read_bytes(), IngestConfig())
    assert Path(fixture).name in str(caught.value)


def test_check_document_refuses_a_text_named_as_a_program() -> None:
    with pytest.raises(intake.Unreadable, match="not a document"):
        intake.check_document("thong_bao.exe", (DOCS / "text/thong_bao_vni.txt").read_bytes(), IngestConfig())


def test_check_document_refuses_a_large_file() -> None:
    with pytest.raises(intake.Unreadable, match="larger than 1 MB"):
        intake.check_document("big.txt", b"a b c. " * 300_000, IngestConfig(max_file_mb=1))


def test_add_document_and_doc_ids(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ke_hoach.docx").write_bytes((DOCS / "docx/bao_cao_so_ket.docx").read_bytes())
    path, doc_id, _checked = intake.add_document(
        corpus, "ke_hoach.pdf", (DOCS / "pdf/ke_hoach_chuyen_doi_so.pdf").read_bytes(), IngestConfig()
    )
    assert path == corpus.resolve() / "ke_hoach.pdf"
    assert doc_id == "ke_hoach.pdf"  # beside ke_hoach.docx, both keep their suffix
    with pytest.raises(intake.NotAFolder):
        intake.add_document(path, "x.txt", b"Tieu de\n\nMot cau.", IngestConfig())


def test_document_file(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    inside = Article("a", "A", None, None, None, ("x",), str(folder / "a.txt"))
    outside = Article("b", "B", None, None, None, ("y",), str(tmp_path / "b.txt"))
    articles = ArticleList([inside, outside])
    assert intake.document_file(articles, folder, "a") == (folder / "a.txt", 0)
    with pytest.raises(intake.UnknownDocument):
        intake.document_file(articles, folder, "b")
    with pytest.raises(intake.UnknownDocument):
        intake.document_file(articles, folder, "c")


# --- Web pages ------------------------------------------------------------------------------

PAGE = """<!doctype html><html><head><title>Cầu Long Biên được sơn lại</title>
<meta property="og:site_name" content="Báo Thử Nghiệm"><link rel="canonical" href="https://example.vn/cau-long-bien">
<meta name="date" content="2024-03-15"></head><body><nav>Trang chủ | Thời sự | Thể thao</nav><article>
<h1>Cầu Long Biên được sơn lại</h1>
<p>Thành phố đã hoàn thành việc sơn lại toàn bộ 2.290 mét lan can cầu Long Biên bằng màu nâu đỏ truyền thống.</p>
<h2>Kinh phí</h2><p>Công trình do Công ty Đường sắt Hà Nội thực hiện với tổng kinh phí 18 tỷ đồng.</p>
</article><footer>Bản quyền thuộc về Báo Thử Nghiệm</footer></body></html>"""


@pytest.fixture
def site() -> Iterator[str]:
    """A web server on 127.0.0.1: /tin/cau.html the page, /lon a page too large, /cham one that drips,
    /ftp a redirect to ftp://, /di a redirect to the page, anything else 404."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, data: bytes, **headers: str) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client stopped reading (the size limit)
                self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/tin/cau.html":
                self._send(200, PAGE.encode("utf-8"), Content_Type="text/html; charset=utf-8")
            elif self.path == "/lon":
                self._send(200, b"<p>" + b"x" * (2 << 20) + b"</p>")
            elif self.path == "/cham":
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    for _ in range(30):
                        self.wfile.write(b"<p>cham</p>")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass
            elif self.path == "/ftp":
                self._send(302, b"", Location="ftp://127.0.0.1/x")
            elif self.path == "/di":
                self._send(301, b"", Location="/tin/cau.html")
            else:
                self._send(404, b"khong co")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_page_stores_text_and_metadata_as_markdown(site: str) -> None:
    page = fetch.fetch_page(f"{site}/tin/cau.html", max_bytes=1 << 20, timeout=10)
    assert page.name == "127.0.0.1_cau.md"
    head, _, body = page.text.removeprefix("---\n").partition("\n---\n")
    assert yaml.safe_load(head) == {
        "title": "Cầu Long Biên được sơn lại",
        "source": "Báo Thử Nghiệm",
        "date": "2024-03-15",
        "url": "https://example.vn/cau-long-bien",
    }
    assert "2.290 mét" in body and "## Kinh phí" in body
    assert "Trang chủ" not in body and "Bản quyền" not in body
    checked = intake.check_document(page.name, page.text.encode(), IngestConfig())
    assert (checked.article.title, checked.article.date) == ("Cầu Long Biên được sơn lại", "2024-03-15")
    assert checked.article.url == "https://example.vn/cau-long-bien"
    assert "Kinh phí" in checked.article.sections


def test_fetch_follows_http_redirects(site: str) -> None:
    assert "2.290" in fetch.fetch_page(f"{site}/di", max_bytes=1 << 20, timeout=10).text


@pytest.mark.parametrize(
    "url, match",
    [
        ("ftp://127.0.0.1/x", "only http"),
        ("file:///etc/passwd", "only http"),
        ("javascript:alert(1)", "only http"),
        ("http:///nohost", "only http"),
    ],
)
def test_fetch_refuses_other_schemes(url: str, match: str) -> None:
    with pytest.raises(fetch.FetchError, match=match):
        fetch.fetch_page(url, max_bytes=1 << 20, timeout=5)


def test_fetch_limits(site: str) -> None:
    with pytest.raises(fetch.FetchError, match="larger than 1 MB"):
        fetch.download(f"{site}/lon", max_bytes=1 << 20, timeout=10)
    started = time.monotonic()
    with pytest.raises(fetch.FetchError, match="longer than"):
        fetch.download(f"{site}/cham", max_bytes=1 << 20, timeout=0.5)
    assert time.monotonic() - started < 2.5
    with pytest.raises(fetch.FetchError, match="ftp://"):
        fetch.download(f"{site}/ftp", max_bytes=1 << 20, timeout=5)
    with pytest.raises(fetch.FetchError, match="404"):
        fetch.download(f"{site}/khong", max_bytes=1 << 20, timeout=5)


def test_seed_files_exist() -> None:
    assert SEED_FILES  # the module's fixtures read the repository's test documents
