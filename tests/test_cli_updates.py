"""``python -m bot add`` / ``remove`` and the console following its folder, as a user runs them
(subprocesses; real underthesea, so marked slow). Web pages come from a server on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from qa_support import REPO, copy_seeds, write_config, write_jsonl_corpus
from test_cli import no_traceback, run_bot

pytestmark = pytest.mark.slow

DOCS = REPO / "tests" / "data" / "docs"
PAGE = """<!doctype html><html><head><title>Cầu Long Biên được sơn lại</title>
<meta property="og:site_name" content="Báo Thử Nghiệm"><meta name="date" content="2024-03-15"></head>
<body><nav>Trang chủ | Thời sự</nav><article><h1>Cầu Long Biên được sơn lại</h1>
<p>Thành phố đã hoàn thành việc sơn lại toàn bộ 2.290 mét lan can cầu Long Biên bằng màu nâu đỏ truyền thống.</p>
</article></body></html>"""


@pytest.fixture
def workdir(tmp_path):
    seeds = copy_seeds(tmp_path / "seeds")
    config = write_config(
        tmp_path, {"corpus": str(seeds), "cache_dir": str(tmp_path / "cache"), "watch_debounce_seconds": 0.5}
    )
    assert run_bot("index", "--config", str(config)).returncode == 0
    return tmp_path, seeds, config


@pytest.fixture
def page_url():
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            data = PAGE.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tin/cau-long-bien.html"
    server.shutdown()
    server.server_close()


def test_add_files_and_a_page_then_remove(workdir, page_url):
    _root, seeds, config = workdir
    proc = run_bot(
        "add",
        str(DOCS / "pdf/ke_hoach_chuyen_doi_so.pdf"),
        str(DOCS / "misc/pdf_named_as.txt"),
        page_url,
        "--config",
        str(config),
    )
    assert proc.returncode == 0, proc.stderr
    assert "added ke_hoach_chuyen_doi_so: Kế hoạch chuyển đổi số phường Phúc Xá năm 2024 (20/02/2024)" in proc.stdout
    assert "added pdf_named_as:" in proc.stdout  # stored as pdf_named_as.pdf: the content decides
    assert "added 127.0.0.1_cau-long-bien: Cầu Long Biên được sơn lại (15/03/2024)" in proc.stdout
    assert "index: 8 articles" in proc.stdout
    assert (seeds / "pdf_named_as.pdf").is_file()
    head = (seeds / "127.0.0.1_cau-long-bien.md").read_text(encoding="utf-8").split("---")[1]
    assert yaml.safe_load(head) == {
        "title": "Cầu Long Biên được sơn lại",
        "source": "Báo Thử Nghiệm",
        "date": "2024-03-15",
        "url": page_url,
    }
    assert "segmenting 3 of 3 articles" in proc.stderr  # the five seeds are not segmented again
    asked = run_bot("ask", "Lan can cầu Long Biên dài bao nhiêu mét?", "--json", "--config", str(config))
    assert '"doc_id": "127.0.0.1_cau-long-bien"' in asked.stdout and "loaded" in asked.stderr

    again = run_bot("add", str(DOCS / "pdf/ke_hoach_chuyen_doi_so.pdf"), "--config", str(config))
    assert again.returncode == 2 and "already in the corpus" in again.stderr and "--replace" in again.stderr
    replaced = run_bot("add", str(DOCS / "pdf/ke_hoach_chuyen_doi_so.pdf"), "--replace", "--config", str(config))
    assert replaced.returncode == 0 and "unchanged ke_hoach_chuyen_doi_so" in replaced.stdout

    removed = run_bot("remove", "127.0.0.1_cau-long-bien", "pdf_named_as", "--config", str(config))
    assert removed.returncode == 0, removed.stderr
    assert "removed 127.0.0.1_cau-long-bien (127.0.0.1_cau-long-bien.md)" in removed.stdout
    assert "index: 6 articles" in removed.stdout
    assert not (seeds / "pdf_named_as.pdf").exists()
    unknown = run_bot("remove", "khong_co", "--config", str(config))
    assert unknown.returncode == 2 and "no article has the doc_id 'khong_co'" in unknown.stderr
    assert all(no_traceback(p) for p in (proc, again, replaced, removed, unknown))


def test_add_refuses_what_cannot_be_read_and_writes_nothing(workdir):
    root, seeds, config = workdir
    before = sorted(p.name for p in seeds.iterdir())
    for args in (
        [str(DOCS / "broken/mat_khau.pdf")],
        [str(DOCS / "docx/bao_cao_so_ket.docx"), str(DOCS / "broken/zip_bomb.docx")],
        [str(root / "khong_co.pdf")],
        ["ftp://127.0.0.1/x"],
        [str(DOCS / "misc/image_named_as.html")],
    ):
        proc = run_bot("add", *args, "--config", str(config))
        assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("error: "), proc.stderr
        assert no_traceback(proc)
    assert sorted(p.name for p in seeds.iterdir()) == before


def test_add_to_a_jsonl_corpus_is_a_clear_error(tmp_path):
    corpus = write_jsonl_corpus(tmp_path / "corpus.jsonl")
    config = write_config(tmp_path, {"corpus": str(corpus), "cache_dir": str(tmp_path / "cache")})
    proc = run_bot("add", str(DOCS / "text/thong_bao_vni.txt"), "--config", str(config))
    assert proc.returncode == 2 and "corpus folder" in proc.stderr and no_traceback(proc)


def _reply(proc: subprocess.Popen, line: str) -> str:
    """The console's reply to ``line``: what it prints before the one-line reply to ``/good`` sent after it
    (a reply's own blank lines cannot end it)."""
    proc.stdin.write(line + "\n/good\n")
    lines = []
    while True:
        out = proc.stdout.readline()
        assert out, "the console ended"
        if out.startswith(("Chưa có câu trả lời nào để đánh giá", "Đã ghi nhận")):
            return "".join(lines)
        lines.append(out)


def test_the_console_follows_its_folder(workdir):
    """A file copied into the folder of a running console is answered within seconds (timed)."""
    root, seeds, config = workdir
    question, expect = "Phường Phúc Xá ghi nhận bao nhiêu ca mắc sốt xuất huyết?", "17 ca mắc"
    log = (root / "console.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "console", "--config", str(config)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        encoding="utf-8",
        bufsize=1,
    )
    log.close()
    try:
        assert "Hỏi đáp về 5 bài viết" in proc.stdout.readline()
        assert expect not in _reply(proc, question)
        copied = time.monotonic()
        shutil.copy(DOCS / "text/sot_xuat_huyet_cp1258.txt", seeds / "sot_xuat_huyet.txt")
        while True:
            if expect in _reply(proc, question):
                break
            assert time.monotonic() - copied < 15, "not answered from the new file"
            time.sleep(0.1)
        took = time.monotonic() - copied
        assert "(6):" in _reply(proc, "/sources")
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)
    assert proc.returncode == 0
    assert took < 5
    assert "Traceback" not in (root / "console.log").read_text(encoding="utf-8")
    print(f"\nconsole: a file copied into the folder answered {took:.2f} s later (watch_debounce_seconds 0.5)")
