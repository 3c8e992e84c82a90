"""Corpus and config faults as the operator meets them: every one is a clear line (a warning
naming the file, or one ``error:`` line naming the key), never a traceback; and when the
corpus changed but cannot be indexed any more, the last good index keeps being served.

The command line runs in-process (``bot.cli.main``) with the real segmenter; the service-level
cases use the whitespace segmenter. Unit-level ingestion and config cases live in
``tests/test_ingest.py`` and ``tests/test_config.py``; these add the cases they lack and the
operator's view.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

import pytest
from rel_support import report

from bot.cli import main
from formats_support import DOCS
from qa_support import copy_seeds, open_ws, replace_section, with_cache, write_article, write_config
from retrieval.errors import ConfigError, CorpusError
from retrieval.index import store
from retrieval.service import AnswerService

QUESTION = "Đại sứ Mỹ tại Việt Nam tên là gì?"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def assert_no_traceback(caplog, *texts: str) -> None:
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)
    for text in texts:
        assert "Traceback" not in text


# --- Broken files in the corpus folder -----------------------------------------------------------


# Broken documents of every kind (tests/data/docs) -> what the warning naming each must say.
BROKEN_DOCUMENTS = {
    "broken/mat_khau.pdf": "encrypted PDF (it needs a password)",
    "broken/cut_short.pdf": "corrupt or truncated PDF",
    "pdf/ban_scan_khong_chu.pdf": "no text layer (scanned PDF?); OCR is not supported",
    "broken/zip_bomb.docx": "zip bomb guard",
    "broken/not_a_zip.docx": "not a DOCX file: not a zip archive",
    "html/empty_page.html": "no text in the page",
    "misc/empty.txt": "empty file (0 bytes)",
}


def add_bad_files(corpus) -> dict[str, str]:
    """Drop every kind of unusable file into ``corpus``; name -> what the warning must say."""
    for name in BROKEN_DOCUMENTS:
        shutil.copy(DOCS / name, corpus / name.rsplit("/", 1)[-1])
    write_article(corpus, "latin1.txt", "Café au lait est très bon et très chaud.".encode("latin-1"))
    with open(corpus / "huge.pdf", "wb") as fh:  # 51 MB (sparse: nothing is written)
        fh.truncate(51 * 1024 * 1024)
    os.symlink("self.txt", corpus / "self.txt")  # a symlink to itself
    os.symlink("ping.txt", corpus / "pong.txt")  # two symlinks pointing at each other
    os.symlink("pong.txt", corpus / "ping.txt")
    os.symlink("missing.txt", corpus / "dangling.txt")
    (corpus / "sub").mkdir()
    os.symlink("..", corpus / "sub" / "loop")  # a directory loop: never followed
    os.mkfifo(corpus / "fifo.txt")  # would block a reader forever
    return {
        **{name.rsplit("/", 1)[-1]: reason for name, reason in BROKEN_DOCUMENTS.items()},
        "latin1.txt": "no article text left",
        "huge.pdf": "larger than 50 MB (51.0 MB; setting ingest.max_file_mb)",
        "self.txt": "Too many levels of symbolic links",
        "ping.txt": "Too many levels of symbolic links",
        "pong.txt": "Too many levels of symbolic links",
        "dangling.txt": "No such file",
        "fifo.txt": "not a regular file",
    }


def add_non_documents(corpus) -> list[str]:
    """Files that are no documents at all: counted in one warning, not one each."""
    write_article(corpus, "binary.txt", b"PK\x03\x04\x00\x00\x08\x00" + os.urandom(2000))  # a zip, named .txt
    write_article(corpus, "anh/so_do.png", b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    write_article(corpus, "anh/chup.jpg", b"\xff\xd8\xff\xe0" + os.urandom(200))
    write_article(corpus, "cai_dat.exe", b"MZ\x90\x00" + os.urandom(200))
    return ["anh/chup.jpg", "anh/so_do.png", "binary.txt", "cai_dat.exe"]


def test_a_folder_full_of_broken_files_still_answers(tmp_path, capsys, caplog):
    corpus = copy_seeds(tmp_path / "corpus")
    expected = add_bad_files(corpus)
    counted = add_non_documents(corpus)
    shutil.copy(DOCS / "pdf/ke_hoach_chuyen_doi_so.pdf", corpus)  # a good document among them
    config = write_config(tmp_path, {"corpus": str(corpus), "cache_dir": str(tmp_path / "cache")})
    with caplog.at_level(logging.INFO):
        rc, out, err = run_cli(capsys, "ask", "--json", QUESTION, "--config", str(config))
    assert rc == 0, err
    result = json.loads(out)
    assert result["answered"] and "Ted Osius" in result["answers"][0]["quote"]
    warnings = warnings_of(caplog)
    for name, reason in expected.items():
        lines = [w for w in warnings if f"/{name}:" in w]
        assert len(lines) == 1, f"not one warning names {name}: {warnings}"
        assert reason in lines[0] and "\n" not in lines[0], lines[0]
    (summary,) = [w for w in warnings if "not documents" in w]
    assert summary.startswith("skipped 2 images, 1 archive, 1 executable") and summary.endswith(
        ": " + ", ".join(counted)
    )
    assert len(warnings) == len(expected) + 1
    assert_no_traceback(caplog, out, err)
    rc, out, _ = run_cli(
        capsys, "ask", "--json", "Những lĩnh vực nào được ưu tiên số hóa hồ sơ?", "--config", str(config)
    )
    (first, *_) = json.loads(out)["answers"]
    assert (first["doc_id"], first["page"]) == ("ke_hoach_chuyen_doi_so", 2) and rc == 0
    # The index was saved and is reused: the FIFO and the loops do not stop the fingerprint either.
    caplog.clear()
    with caplog.at_level(logging.INFO):
        rc, out, _ = run_cli(capsys, "ask", "--json", QUESTION, "--config", str(config))
    assert rc == 0 and any("loaded in" in r.getMessage() for r in caplog.records)
    report(
        "corpus fault: an encrypted, a truncated and a scanned PDF, a zip-bomb DOCX, a DOCX that is no zip, "
        "an HTML page without text, a 0-byte file, a 51 MB file, symlink loops (file and folder), a dangling "
        "symlink, a FIFO -> one warning each naming the file and the reason "
        f"(e.g. '{next(w for w in warnings if '/mat_khau.pdf:' in w).split('/')[-1]}'); images, an archive "
        f"and an executable -> one warning ('{summary.split(' in ')[0]}: ...'); users get answers from the "
        "seeds and from the good PDF (cited with its page)"
    )


@pytest.mark.parametrize("how", ["empty folder", "only broken files"])
def test_nothing_loadable_is_one_error_line(tmp_path, capsys, caplog, how):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    if how == "only broken files":
        add_bad_files(corpus)
        add_non_documents(corpus)
    config = write_config(tmp_path, {"corpus": str(corpus), "cache_dir": str(tmp_path / "cache")})
    rc, out, err = run_cli(capsys, "ask", QUESTION, "--config", str(config))
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no loadable article in"), err
    assert_no_traceback(caplog, err)


# --- The last good index when a rebuild fails -------------------------------------------------------


def _break(corpus, how: str, monkeypatch) -> None:
    if how == "every file unreadable":
        for path in corpus.iterdir():
            path.write_bytes(b"\x00\x01binary now" + os.urandom(64))
    elif how == "folder emptied":
        for path in corpus.iterdir():
            path.unlink()
    elif how == "folder removed":
        shutil.rmtree(corpus)
    elif how == "I/O error while reading":
        (corpus / "new.txt").write_text("Bài mới\n\nMột câu mới về Hà Nội.\n", encoding="utf-8")

        def eio(*args, **kwargs):
            raise OSError(5, "Input/output error")

        monkeypatch.setattr("retrieval.service.load_corpus", eio)
    elif how == "exception while building":
        (corpus / "new.txt").write_text("Bài mới\n\nMột câu mới về Hà Nội.\n", encoding="utf-8")

        def boom(*args, **kwargs):
            raise MemoryError("cannot allocate the term matrix")

        monkeypatch.setattr("retrieval.service.build_index", boom)
    else:  # pragma: no cover
        raise AssertionError(how)


REBUILD_FAILURES = [
    "every file unreadable",
    "folder emptied",
    "folder removed",
    "I/O error while reading",
    "exception while building",
]


@pytest.mark.parametrize("how", REBUILD_FAILURES)
def test_failed_rebuild_serves_the_last_good_index(cfg, seed_copy, caplog, monkeypatch, how):
    good = open_ws(cfg, seed_copy)
    saved = good.info.path.read_bytes()
    expected = [a.quote for a in good.answer(QUESTION).answers]
    _break(seed_copy, how, monkeypatch)
    with caplog.at_level(logging.INFO):
        service = open_ws(cfg, seed_copy)
    assert service.info.stale and not service.info.rebuilt and not service.info.saved
    assert service.info.reason.startswith("rebuild failed")
    assert [a.quote for a in service.answer(QUESTION).answers] == expected
    assert good.info.path.read_bytes() == saved  # the good file is kept for next time
    (line,) = [w for w in warnings_of(caplog) if "serving the last good index" in w]
    assert str(seed_copy) in line and "\n" not in line
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.INFO)
    shown = line.replace(str(seed_copy.parent), "…").replace(str(cfg.cache_dir), "…")
    report(
        f"corpus fault: rebuild fails ({how}) -> operator: WARNING '{shown}'; users: answers from the last good index"
    )


def test_after_a_failed_rebuild_the_fixed_corpus_is_indexed_again(cfg, seed_copy, monkeypatch):
    open_ws(cfg, seed_copy)
    backup = seed_copy.parent / "backup"
    shutil.copytree(seed_copy, backup)
    _break(seed_copy, "every file unreadable", monkeypatch)
    assert open_ws(cfg, seed_copy).info.stale
    shutil.rmtree(seed_copy)
    shutil.copytree(backup, seed_copy)
    (seed_copy / "005_moi.txt").write_text(
        "Cầu mới\n\nCầu Kỳ Lân dài 800 mét và được xây bằng thép.\n", encoding="utf-8"
    )
    service = open_ws(cfg, seed_copy)
    assert not service.info.stale and service.info.rebuilt and service.info.saved
    assert len(service.articles) == 6


def _write_format_1(path) -> None:
    """The file an older version wrote: format 1, no compat key."""
    data = path.read_bytes()
    pos = len(store.MAGIC)
    size = int.from_bytes(data[pos : pos + 4], "big")
    header = json.loads(data[pos + 4 : pos + 4 + size])
    header["format"] = 1
    header.pop("compat")
    raw = json.dumps(header).encode()
    path.write_bytes(store.MAGIC + len(raw).to_bytes(4, "big") + raw + data[pos + 4 + size :])


def test_index_from_an_older_format_is_rebuilt_not_served(cfg, seed_copy, caplog):
    good = open_ws(cfg, seed_copy)
    _write_format_1(good.info.path)
    with caplog.at_level(logging.INFO):
        service = open_ws(cfg, seed_copy)
    assert service.info.rebuilt and service.info.saved and not service.info.stale
    assert service.info.reason == f"index format 1, expected {store.FORMAT_VERSION}"
    assert any("building index for" in r.getMessage() and "index format 1" in r.getMessage() for r in caplog.records)
    assert open_ws(cfg, seed_copy).info.reason == "loaded"


@pytest.mark.parametrize(
    "why",
    [
        "no saved index",
        "older index format",
        "other retrieval settings",
        "damaged file",
        "rebuild requested",
        "bad ingestion pattern",
    ],
)
def test_no_last_good_index_means_the_error_itself(cfg, seed_copy, monkeypatch, why):
    good = open_ws(cfg, seed_copy)
    expected: type[Exception] = CorpusError
    if why == "no saved index":
        good.info.path.unlink()
    elif why == "older index format":
        _write_format_1(good.info.path)
    elif why == "other retrieval settings":
        cfg = replace_section(cfg, "retrieval", k1=cfg.retrieval.k1 + 0.1)
    elif why == "damaged file":
        data = good.info.path.read_bytes()
        good.info.path.write_bytes(data[: len(data) // 2])  # half-written
    elif why == "bad ingestion pattern":
        cfg = replace_section(cfg, "ingest", drop_line_patterns=("(unclosed",))
        expected = ConfigError
    _break(seed_copy, "every file unreadable", monkeypatch)
    with pytest.raises(expected) as info:
        open_ws(cfg, seed_copy, rebuild=why == "rebuild requested")
    if why == "bad ingestion pattern":
        assert "'ingest.drop_line_patterns[0]' is not a valid regular expression" in str(info.value)
    else:
        assert "no loadable article" in str(info.value)


def test_cli_serves_the_last_good_index_with_one_warning(tmp_path, capsys, caplog):
    corpus = copy_seeds(tmp_path / "corpus")
    config = write_config(tmp_path, {"corpus": str(corpus), "cache_dir": str(tmp_path / "cache")})
    rc, before, _ = run_cli(capsys, "ask", "--json", QUESTION, "--config", str(config))
    assert rc == 0
    for path in corpus.iterdir():  # every article replaced by a PDF cut short (still named .txt)
        path.write_bytes((DOCS / "broken/cut_short.pdf").read_bytes())
    with caplog.at_level(logging.INFO):
        rc, after, err = run_cli(capsys, "ask", "--json", QUESTION, "--config", str(config))
    assert rc == 0 and json.loads(after)["answers"] == json.loads(before)["answers"]
    lines = [w for w in warnings_of(caplog) if "serving the last good index" in w]
    assert len(lines) == 1 and "no loadable article" in lines[0]
    assert_no_traceback(caplog, after, err)
    # `bot index` is an explicit rebuild: it fails with the reason instead.
    rc, _out, err = run_cli(capsys, "index", "--config", str(config))
    assert rc == 2 and err.startswith("error: no loadable article") and len(err.strip().splitlines()) == 1


# --- config.yaml mistakes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (
            "telegram:\n  send_retries: 3\n",
            "unknown config key 'telegram.send_retries'; allowed keys in telegram: mode, webhook_listen",
        ),
        ("Telegram:\n  mode: polling\n", "unknown config key 'Telegram'; allowed keys: corpus, cache_dir"),
        ("telegram:\n  max_messages_per_second: -1\n", "telegram.max_messages_per_second must be >= 0"),
        ("telegram:\n  send_retry_seconds: soon\n", "config key 'telegram.send_retry_seconds' must be a number"),
        ("telegram:\n  allowed_chat_ids: 12345\n", "config key 'telegram.allowed_chat_ids' must be a list of"),
        ("telegram:\n  allowed_chat_ids: ['@nhom_hoi_dap']\n", "'telegram.allowed_chat_ids[0]' must be an integer"),
        ("telegram:\n  user_rate_window: 0\n", "telegram.user_rate_window must be > 0"),
        ("telegram: [polling]\n", "config key 'telegram' must be a mapping of settings"),
        (
            "ingest:\n  drop_line_patterns: ['^Ảnh: (']\n",
            "config key 'ingest.drop_line_patterns[0]' is not a valid regular expression",
        ),
        ("cache_dir: [a, b]\n", "config key 'cache_dir' must be a path"),
    ],
)
def test_config_mistakes_are_one_line_naming_the_key(tmp_path, capsys, caplog, raw, fragment):
    corpus = copy_seeds(tmp_path / "corpus")
    base = (
        f"corpus: {corpus}\ncache_dir: {tmp_path / 'cache'}\n"
        if not raw.startswith("cache_dir")
        else f"corpus: {corpus}\n"
    )
    config = write_config(tmp_path, raw=base + raw)
    rc, out, err = run_cli(capsys, "ask", QUESTION, "--config", str(config))
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert_no_traceback(caplog, err)
    report(f"config fault: {raw.strip()!r} -> {lines[0][:150]}")


def test_service_open_is_unaffected_by_the_fallback_when_all_is_well(cfg, seed_copy):
    """The ordinary paths keep their info: built, then loaded."""
    first = open_ws(cfg, seed_copy)
    assert first.info.rebuilt and first.info.saved and not first.info.stale
    second = open_ws(cfg, seed_copy)
    assert second.info.reason == "loaded" and not second.info.stale
    assert isinstance(second, AnswerService)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a folder unwritable for root")
def test_cache_dir_that_is_a_file_still_answers_with_a_warning(repo_config, seed_copy, tmp_path, caplog):
    """As root, permissions do not stop writes; a file where the folder should be does."""
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        service = open_ws(with_cache(repo_config, blocker), seed_copy)
    assert service.answer(QUESTION).answered and not service.info.saved
    assert any("could not save the index" in w for w in warnings_of(caplog))
