"""The administrators' documents, end to end: the real bot process (real underthesea) against the
stand-in Bot API server, on a copy of the seeds that it follows on disk.

- an admin's PDF, DOCX and TXT sent in a private chat are downloaded (getFile, file path), stored,
  indexed and confirmed; each is answerable within 5 s of its confirmation (timed);
- a non-admin's document gets the polite refusal: nothing downloaded, nothing written;
- hostile file names stay inside the corpus folder, under sanitised names;
- a document that cannot be read gets a clear reply and changes nothing;
- /add URL (a page served by a local http.server), /remove DOC_ID, /reload; non-admins refused;
- a file copied into the folder is answerable within seconds (timed).

Figures go to the "telegram front end" summary. Every wait is bounded.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tg_fakeapi import FakeBotAPI
from tg_support import FAKE_TOKEN, REPO, SEEDS, new_id, private_update, report, start_bot

DOCS = REPO / "tests" / "data" / "docs"
ADMIN = 5550001
NOT_ADMIN_TEXT = "chỉ quản trị viên mới làm được việc này"
# (fixture, MIME type, a question only it answers, what the answer quotes)
UPLOADS = [
    (
        "pdf/ke_hoach_chuyen_doi_so.pdf",
        "application/pdf",
        "Cơ sở dữ liệu nào được xây dựng trên địa bàn phường?",
        "hộ kinh doanh cá thể",
    ),
    (
        "docx/bao_cao_so_ket.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Bộ phận một cửa đã tiếp nhận bao nhiêu hồ sơ?",
        "1.126",
    ),
    (
        "text/sot_xuat_huyet_cp1258.txt",
        "text/plain",
        "Phường Phúc Xá ghi nhận bao nhiêu ca mắc sốt xuất huyết?",
        "17 ca",
    ),
]
PAGE = """<!doctype html><html><head><title>Cầu Long Biên được sơn lại</title>
<meta property="og:site_name" content="Báo Thử Nghiệm"><meta name="date" content="2024-03-15"></head>
<body><nav>Trang chủ | Thời sự</nav><article><h1>Cầu Long Biên được sơn lại</h1>
<p>Hà Nội, ngày 15/3/2024. Thành phố đã hoàn thành việc sơn lại toàn bộ 2.290 mét lan can cầu Long Biên
bằng màu nâu đỏ truyền thống sau bốn tháng thi công.</p>
<p>Công trình sơn lại do Công ty Đường sắt Hà Nội thực hiện với tổng kinh phí 18 tỷ đồng.</p>
</article><footer>Bản quyền thuộc về Báo Thử Nghiệm</footer></body></html>"""


def plain(html: str) -> str:
    """A reply's text without its tags (the question's words are in bold)."""
    return re.sub(r"<[^>]+>", "", html)


def corpus_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A copy of the seeds, the stand-in server, the bot with one administrator."""
    root = tmp_path_factory.mktemp("admin")
    corpus = root / "corpus"
    shutil.copytree(SEEDS, corpus)
    api = FakeBotAPI(FAKE_TOKEN).start()
    bot = start_bot(
        api,
        root / "bot",
        root / "cache",
        corpus=corpus,
        env={"TELEGRAM_ADMINS": f" {ADMIN}, 77"},
        telegram={"user_rate_limit": 1000, "max_messages_per_second": 0},
    )
    yield api, bot, corpus, root
    if bot.proc.poll() is None:
        bot.terminate()
    api.stop()


def reply_to(api: FakeBotAPI, update: dict, timeout: float = 30.0):
    """The bot's (first) reply to ``update``."""
    chat, mid = update["message"]["chat"]["id"], update["message"]["message_id"]
    return api.wait_for(
        lambda: next((c for c in api.sent(chat) if c.reply_to == mid), None),
        timeout,
        f"the reply to update {update['update_id']}",
    )


def ask(api: FakeBotAPI, uid: int, question: str) -> tuple[str, float]:
    """(the answer's text, when it was sent) of ``question`` asked in a private chat."""
    call = reply_to(api, api.push(private_update(uid, question)))
    return call.params["text"], call.at


def answered_from(api: FakeBotAPI, uid: int, question: str, expect: str, timeout: float) -> float:
    """Ask ``question`` again and again until the answer quotes ``expect``; when that answer was sent."""
    deadline = time.monotonic() + timeout
    while True:
        text, at = ask(api, uid, question)
        if expect.casefold() in plain(text).casefold() and "<blockquote" in text:
            return at
        assert time.monotonic() < deadline, f"{question!r} not answered from the new document: {text[:300]}"
        time.sleep(0.1)


def send_document(
    api: FakeBotAPI,
    uid: int,
    content: bytes,
    name: str,
    mime: str = "application/octet-stream",
    caption: str | None = None,
) -> dict:
    extra = {"document": api.add_file(content, name, mime)}
    if caption:
        extra["caption"] = caption
    return api.push(private_update(uid, None, **extra))


def test_admin_uploads_are_answerable_within_5_s_of_their_confirmation(setup):
    api, bot, corpus, _ = setup
    lines = []
    for fixture, mime, question, expect in UPLOADS:
        before, _ = ask(api, ADMIN, question)
        assert expect.casefold() not in plain(before).casefold()
        data = (DOCS / fixture).read_bytes()
        upload = send_document(api, ADMIN, data, Path(fixture).name, mime)
        confirmation = reply_to(api, upload)
        text = confirmation.params["text"]
        assert "Đã thêm vào kho" in text and "câu" in text, text
        answered_at = answered_from(api, ADMIN, question, expect, timeout=5.0)
        took = answered_at - confirmation.at
        assert took < 5.0
        lines.append(
            f"{Path(fixture).suffix[1:].upper()} {len(data) // 1024} KB: confirmed "
            f"{confirmation.at - api.pushed_at[upload['update_id']]:.2f} s after the upload, "
            f"answered {took:.2f} s after the confirmation"
        )
        assert (corpus / Path(fixture).name).is_file()
    changed = (DOCS / "text/sot_xuat_huyet_cp1258.txt").read_bytes().replace(b"17 ca", b"19 ca")
    taken = reply_to(api, send_document(api, ADMIN, changed, "sot_xuat_huyet_cp1258.txt")).params["text"]
    assert "Kho đã có tệp «sot_xuat_huyet_cp1258.txt»" in taken and "thay thế" in taken
    replaced = reply_to(
        api, send_document(api, ADMIN, changed, "sot_xuat_huyet_cp1258.txt", caption="Thay thế")
    ).params["text"]
    assert "Đã cập nhật trong kho" in replaced, replaced
    answered_from(api, ADMIN, UPLOADS[2][2], "19 ca", timeout=5.0)
    assert "Traceback" not in bot.log_text()
    report("admin uploads (real bot, stand-in Bot API): " + "; ".join(lines))


def test_a_non_admin_upload_writes_nothing(setup):
    api, _bot, corpus, _ = setup
    before, downloads = corpus_files(corpus), list(api.downloads)
    stranger = new_id()
    upload = send_document(api, stranger, (DOCS / "text/tiem_chung_vni.txt").read_bytes(), "tiem_chung.txt")
    assert NOT_ADMIN_TEXT in reply_to(api, upload).params["text"]
    for command in ("/reload", "/remove 000_58ac133cd26686e9", "/add http://127.0.0.1:9/x"):
        assert NOT_ADMIN_TEXT in reply_to(api, api.push(private_update(stranger, command))).params["text"]
    time.sleep(1.5)  # longer than the watcher's quiet period: nothing may appear late either
    assert corpus_files(corpus) == before
    assert api.downloads == downloads
    assert (corpus / "000_58ac133cd26686e9.txt").is_file()


HOSTILE = [
    "../../etc/passwd_x.txt",
    "..\\..\\windows\\boot.ini.txt",
    "/etc/cron.d/job.txt",
    "a" * 400 + ".txt",
    "ten\x00co\x07ky\ntu\u202edieu_khien.txt",
    ".an.txt",
    "...txt",
    "CON.txt",
    "nul",
    "LPT1.md",
    "..",
    "~",
]


def test_hostile_file_names_stay_inside_the_corpus_folder(setup):
    api, _bot, corpus, root = setup
    outside_before = {p for p in root.rglob("*") if p.is_file() and corpus not in p.parents}
    for i, name in enumerate(HOSTILE):
        before = corpus_files(corpus)
        body = f"Thông báo số {i + 100}\n\nTổ dân phố {i + 100} họp vào tối thứ {i % 5 + 2} hằng tuần.\n"
        text = reply_to(api, send_document(api, ADMIN, body.encode(), name, "text/plain")).params["text"]
        assert "Đã thêm vào kho" in text, (name, text)
        (new,) = corpus_files(corpus) - before
        assert new.parent == corpus.resolve() or new.parent == corpus
        assert not new.name.startswith(".") and len(new.name.encode()) <= 150
        assert all(ch.isprintable() for ch in new.name), new.name
        assert new.stem.split(".")[0].lower() not in {"con", "nul", "lpt1"}
    outside_after = {p for p in root.rglob("*") if p.is_file() and corpus not in p.parents}
    assert {p for p in outside_after - outside_before if "cache" not in p.parts and p.name != "bot.log"} == set()
    assert not (root.parent / "etc").exists()


def test_an_unreadable_document_gets_a_clear_reply_and_changes_nothing(setup):
    api, _bot, corpus, _ = setup
    for fixture in ("broken/mat_khau.pdf", "broken/zip_bomb.docx", "misc/empty.txt"):
        before = corpus_files(corpus)
        text = reply_to(api, send_document(api, ADMIN, (DOCS / fixture).read_bytes(), Path(fixture).name)).params[
            "text"
        ]
        assert "không đọc được tệp" in text, text
        assert corpus_files(corpus) == before
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    text = reply_to(api, send_document(api, ADMIN, png, "anh.pdf")).params["text"]
    assert "không đọc được tệp" in text


@pytest.fixture
def web_page():
    """http://127.0.0.1:<port>/tin/cau-long-bien.html serves PAGE (nothing leaves the machine)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            data = PAGE.encode("utf-8")
            self.send_response(200 if self.path.startswith("/tin/") else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tin/cau-long-bien.html"
    server.shutdown()
    server.server_close()


def test_add_remove_and_reload_commands(setup, web_page):
    api, bot, corpus, _ = setup
    question, expect = "Lan can cầu Long Biên dài bao nhiêu mét?", "2.290"
    text = reply_to(api, api.push(private_update(ADMIN, f"/add {web_page}"))).params["text"]
    assert "Đã thêm vào kho" in text and "Cầu Long Biên được sơn lại" in text and "15/03/2024" in text, text
    stored = corpus / "127.0.0.1_cau-long-bien.md"
    assert stored.read_text(encoding="utf-8").startswith("---\ntitle: Cầu Long Biên được sơn lại\n")
    answered_from(api, ADMIN, question, expect, timeout=5.0)
    listing = reply_to(api, api.push(private_update(ADMIN, "/remove"))).params["text"]
    assert "127.0.0.1_cau-long-bien" in listing
    text = reply_to(api, api.push(private_update(ADMIN, "/remove 127.0.0.1_cau-long-bien"))).params["text"]
    assert "Đã xoá khỏi kho" in text, text
    assert not stored.exists()
    assert expect not in plain(ask(api, ADMIN, question)[0])
    assert "Không có tài liệu nào" in reply_to(api, api.push(private_update(ADMIN, "/remove khong_co"))).params["text"]
    text = reply_to(api, api.push(private_update(ADMIN, "/add ftp://127.0.0.1/x"))).params["text"]
    assert "không tải được trang này" in text
    text = reply_to(api, api.push(private_update(ADMIN, "/reload"))).params["text"]
    assert "Đã đọc lại toàn bộ kho" in text, text
    assert "Traceback" not in bot.log_text()


def test_a_file_copied_into_the_folder_is_answerable_within_seconds(setup):
    api, _bot, corpus, _ = setup
    question, expect = "Tiêm chủng mở rộng tháng 5 dành cho trẻ em bao nhiêu tuổi?", "dưới 5 tuổi"
    assert expect not in plain(ask(api, ADMIN, question)[0])
    copied = time.monotonic()
    shutil.copy(DOCS / "text/tiem_chung_vni.txt", corpus / "tiem_chung_vni.txt")
    took = answered_from(api, ADMIN, question, expect, timeout=15.0) - copied
    report(
        f"telegram, following the folder: a file copied into the seeds' folder answered {took:.2f} s later "
        "(watch_debounce_seconds 1.0)"
    )
