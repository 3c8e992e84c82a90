"""The saved index: served only when it is intact and built from the same corpus and settings."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

from qa_support import open_ws, replace_section, with_cache, ws_segmenter
from retrieval.errors import IndexFormatError
from retrieval.index import store
from retrieval.index.sentences import FIELDS, SentenceIndex
from retrieval.service import AnswerService

NEW_FACT = "Thành phố Hà Nội có 999 con rồng vàng bay lượn trên hồ Gươm vào mùa thu."
NEW_QUESTION = "Có bao nhiêu con rồng vàng bay lượn trên hồ Gươm?"


@pytest.fixture
def built(cfg, seed_copy):
    """A service over a private seed copy whose index has just been built and saved."""
    service = open_ws(cfg, seed_copy)
    assert service.info.rebuilt and service.info.saved
    return service


def _reopen(cfg, corpus, **kw):
    return open_ws(cfg, corpus, **kw)


def _quotes(result):
    return [a.quote for a in result.answers]


def test_pages_and_sections_come_back_from_a_saved_index(cfg, tmp_path):
    import shutil

    from formats_support import DOCS

    corpus = tmp_path / "docs"
    corpus.mkdir()
    for name in ("pdf/ke_hoach_chuyen_doi_so.pdf", "docx/quyet_dinh_thanh_lap_to.docx", "text/tiem_chung_vni.txt"):
        shutil.copy(DOCS / name, corpus)
    built = open_ws(cfg, corpus)
    again = _reopen(cfg, corpus)
    assert built.info.rebuilt and again.info.reason == "loaded"
    assert list(again.index.articles) == list(built.index.articles)
    by_id = {a.doc_id: a for a in again.index.articles}
    assert {
        by_id["ke_hoach_chuyen_doi_so"].page(i) for i in range(len(by_id["ke_hoach_chuyen_doi_so"].paragraphs))
    } == {1, 2}
    assert "Điều 2. Nhiệm vụ của Tổ" in by_id["quyet_dinh_thanh_lap_to"].sections
    assert by_id["tiem_chung_vni"].pages == () == by_id["tiem_chung_vni"].sections
    (answer, *_) = again.answer("Ai là tổ trưởng Tổ công nghệ số cộng đồng?").answers
    assert answer.doc_id == "quyet_dinh_thanh_lap_to" and answer.page is None
    assert answer.section == "Điều 1. Thành lập Tổ công nghệ số cộng đồng phường Phúc Xá"
    (answer, *_) = again.answer("Những lĩnh vực nào được ưu tiên số hóa hồ sơ?").answers
    assert (answer.doc_id, answer.page, answer.section) == ("ke_hoach_chuyen_doi_so", 2, None)


def test_second_open_loads_the_saved_index(cfg, seed_copy, built):
    again = _reopen(cfg, seed_copy)
    assert again.info.reason == "loaded"
    assert again.info.rebuilt is False
    assert again.info.path == built.info.path
    assert again.info.path.parent == cfg.cache_dir
    assert len(again.index.sentences) == len(built.index.sentences)
    question = "Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?"
    assert _quotes(again.answer(question)) == _quotes(built.answer(question))


def test_loaded_index_reads_every_sentence_and_article_as_built(cfg, seed_copy, built):
    """The saved text (compressed, retrieval/texts.py) reads back exactly: every sentence,
    every article; a paragraph read again comes from the decoded-paragraph cache."""
    again = _reopen(cfg, seed_copy)
    assert again.info.reason == "loaded"
    n = len(built.index.sentences)
    assert [again.index.text(i) for i in range(n)] == [built.index.text(i) for i in range(n)]
    assert list(again.index.articles) == list(built.index.articles)
    # The answer kinds recorded per sentence come back as built (uint8, one per sentence).
    assert again.index.sentences.kinds.dtype == np.uint8
    np.testing.assert_array_equal(again.index.sentences.kinds, built.index.sentences.kinds)
    assert again.index.sentences.kinds.any()
    paragraphs = again.index.articles._paragraph
    hits = paragraphs.cache_info().hits
    again.index.text(0)
    assert paragraphs.cache_info().hits == hits + 1


def test_unchanged_content_with_new_mtime_still_loads(cfg, seed_copy, built):
    for path in seed_copy.iterdir():
        os.utime(path, (1, 1))
    assert _reopen(cfg, seed_copy).info.reason == "loaded"


def test_edited_article_rebuilds_and_the_new_text_is_answerable(cfg, seed_copy, built):
    assert not built.answer(NEW_QUESTION).answered
    path = seed_copy / "004_34dcfaa59f8d6a67.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + NEW_FACT + "\n", encoding="utf-8")
    service = _reopen(cfg, seed_copy)
    assert service.info.reason != "loaded"
    assert service.info.rebuilt is True
    result = service.answer(NEW_QUESTION)
    assert result.answered
    assert any("999 con rồng vàng" in q for q in _quotes(result))
    assert result.answers[0].doc_id == "004_34dcfaa59f8d6a67"
    # ... and the rebuilt index is the one served next time.
    assert _reopen(cfg, seed_copy).info.reason == "loaded"


@pytest.mark.parametrize("change", ["add", "delete", "rename"])
def test_added_deleted_or_renamed_file_rebuilds(cfg, seed_copy, built, change):
    if change == "add":
        (seed_copy / "005_new.txt").write_text("Bài mới\n\n" + NEW_FACT + "\n", encoding="utf-8")
    elif change == "delete":
        (seed_copy / "004_34dcfaa59f8d6a67.txt").unlink()
    else:
        (seed_copy / "004_34dcfaa59f8d6a67.txt").rename(seed_copy / "004_renamed.txt")
    service = _reopen(cfg, seed_copy)
    assert service.info.reason != "loaded"
    ids = {a.doc_id for a in service.articles}
    assert ("005_new" in ids) == (change == "add")
    assert ("004_34dcfaa59f8d6a67" in ids) == (change == "add")


def _other(value: float, step: float, high: float = 100.0) -> float:
    """A valid value different from ``value``."""
    return value + step if value + step <= high else value - step


@pytest.mark.parametrize(
    "section, key",
    [
        ("retrieval", "k1"),
        ("retrieval", "b"),
        ("retrieval", "epsilon"),
        ("ingest", "cut_markers"),
        ("ingest", "max_heading_words"),
    ],
)
def test_changed_index_settings_rebuild(cfg, seed_copy, built, section, key):
    current = getattr(getattr(cfg, section), key)
    if key == "cut_markers":
        new = (*current, "Tin mới nhất")
    elif key == "max_heading_words":
        new = current + 5
    else:
        new = _other(current, 0.1, high=1.0 if key == "b" else 100.0)
    assert new != current
    changed = replace_section(cfg, section, **{key: new})
    service = _reopen(changed, seed_copy)
    assert service.info.reason != "loaded"
    assert service.info.rebuilt
    assert _reopen(changed, seed_copy).info.reason == "loaded"


@pytest.mark.parametrize(
    "key, value",
    [
        ("type_bonus", 0.9),
        ("rerank_depth", 7),
        ("top_k", 5),
        ("article_weight", 0.3),
        ("fold_weight", 0.6),
        ("type_window", 9),
        ("abbreviations", {"XYZ": "xin chào"}),
        ("accentless_bigram_weight", 1.0),
    ],
)
def test_changed_query_time_settings_do_not_rebuild(cfg, seed_copy, built, key, value):
    """Settings that apply when a question is asked leave the saved index as it is (at 1M
    sentences a rebuild takes minutes)."""
    changed = replace_section(cfg, "retrieval", **{key: value})
    assert getattr(changed.retrieval, key) != getattr(cfg.retrieval, key)
    service = _reopen(changed, seed_copy)
    assert service.info.reason == "loaded"
    assert service.cfg.retrieval == changed.retrieval  # and they are the ones in use


def test_a_setting_that_needs_another_field_rebuilds(cfg, seed_copy, built):
    assert cfg.retrieval.bigram_weight == 0 and built.index.pairs is None
    service = _reopen(replace_section(cfg, "retrieval", bigram_weight=0.5), seed_copy)
    assert service.info.rebuilt and service.index.pairs is not None


def test_changed_answer_settings_do_not_rebuild(cfg, seed_copy, built):
    changed = replace_section(cfg, "answer", max_answers=5, min_relative_score=0.1)
    assert _reopen(changed, seed_copy).info.reason == "loaded"


def test_another_segmenter_rebuilds(cfg, seed_copy, built):
    service = AnswerService.open(cfg, seed_copy, segmenter=ws_segmenter(), segmenter_id="test-ws-2")
    assert service.info.reason != "loaded"


def test_rebuild_flag_rebuilds(cfg, seed_copy, built):
    service = _reopen(cfg, seed_copy, rebuild=True)
    assert service.info.rebuilt and service.info.reason == "rebuild requested"


def _header_and_payload(path):
    data = path.read_bytes()
    assert data.startswith(store.MAGIC)
    pos = len(store.MAGIC)
    size = int.from_bytes(data[pos : pos + 4], "big")
    header = json.loads(data[pos + 4 : pos + 4 + size])
    return header, data[pos + 4 + size :]


def _write(path, header, payload):
    raw = json.dumps(header).encode()
    path.write_bytes(store.MAGIC + len(raw).to_bytes(4, "big") + raw + payload)


def _corrupt(path, how):
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated-magic":
        path.write_bytes(data[:5])
    elif how == "truncated-header":
        path.write_bytes(data[: len(store.MAGIC) + 10])
    elif how == "truncated-payload":
        path.write_bytes(data[: len(data) - 100])
    elif how == "flipped-byte":
        i = len(data) - 50
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :])
    elif how == "garbage":
        path.write_bytes(os.urandom(4096))
    elif how == "huge-header-size":
        path.write_bytes(store.MAGIC + (2**31).to_bytes(4, "big") + b"{}")
    elif how == "header-not-json":
        path.write_bytes(store.MAGIC + (5).to_bytes(4, "big") + b"nope!" + b"x" * 10)
    elif how == "other-format-version":
        header, payload = _header_and_payload(path)
        header["format"] = store.FORMAT_VERSION + 1
        _write(path, header, payload)
    elif how == "stale-fingerprint":
        header, payload = _header_and_payload(path)
        header["fingerprint"] = "0" * 64
        _write(path, header, payload)
    elif how == "flipped-byte-middle":
        i = len(data) // 2
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :])
    elif how == "tampered-layout":
        # A BM25 parameter changed in the header, its checksum not updated.
        header, payload = _header_and_payload(path)
        header["layout"]["index"]["fields"]["bm25"]["k1"] += 0.5
        _write(path, header, payload)
    elif how == "not-an-index":
        # Intact checksums and the right fingerprint, but the layout describes no index.
        header, payload = _header_and_payload(path)
        header["layout"] = {"index": {"fields": {}}, "arrays": []}
        header["layout_crc32"] = store.layout_checksum(header["layout"])
        _write(path, header, payload)
    elif how == "bad-payload":
        # Intact checksums, but the payload is not the arrays the layout describes.
        header, _ = _header_and_payload(path)
        payload = b"not the arrays of an index"
        header.update(payload_bytes=len(payload), payload_xxh3=store.payload_checksums([memoryview(payload)]))
        _write(path, header, payload)
    else:  # pragma: no cover
        raise AssertionError(how)


CORRUPTIONS = [
    "empty",
    "truncated-magic",
    "truncated-header",
    "truncated-payload",
    "flipped-byte",
    "garbage",
    "flipped-byte-middle",
    "huge-header-size",
    "header-not-json",
    "other-format-version",
    "stale-fingerprint",
    "tampered-layout",
    "not-an-index",
    "bad-payload",
]


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_damaged_index_file_is_rebuilt_never_served(cfg, seed_copy, built, how):
    path = built.info.path
    _corrupt(path, how)
    service = _reopen(cfg, seed_copy)
    assert service.info.reason != "loaded"
    assert service.info.rebuilt and service.info.saved
    assert isinstance(service.index, SentenceIndex)
    assert len(service.index.sentences) == len(built.index.sentences)
    question = "Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?"
    assert _quotes(service.answer(question)) == _quotes(built.answer(question))
    # The rebuilt file replaced the damaged one and loads.
    assert _reopen(cfg, seed_copy).info.reason == "loaded"


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_load_index_raises_index_format_error(cfg, seed_copy, built, how):
    fp = store.fingerprint(cfg, seed_copy.resolve(), "test-ws")
    path = built.info.path
    assert isinstance(store.load_index(path, fp), SentenceIndex)
    _corrupt(path, how)
    with pytest.raises(IndexFormatError):
        store.load_index(path, fp)


def test_load_index_missing_file(tmp_path):
    with pytest.raises(IndexFormatError):
        store.load_index(tmp_path / "nothing.bin", "fp")


@pytest.fixture
def small_chunks(monkeypatch):
    """Payload chunks of 4 KiB, checked in a forked child from two chunks on, so that the
    seeds' index (built after this fixture) takes the path of a large one."""
    monkeypatch.setattr(store, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(store, "FORK_MIN_CHUNKS", 2)


def _counting_forks(monkeypatch) -> list[int]:
    """The pids of the children ``store`` forks from now on."""
    children: list[int] = []
    real_fork = os.fork

    def fork():
        pid = real_fork()
        if pid:
            children.append(pid)
        return pid

    monkeypatch.setattr(store.os, "fork", fork)
    return children


@pytest.mark.parametrize("how", [None, "flipped-byte", "flipped-byte-middle"])
def test_large_payload_is_checked_in_a_child_process(cfg, seed_copy, small_chunks, monkeypatch, how):
    service = open_ws(cfg, seed_copy)
    path = service.info.path
    header, _ = _header_and_payload(path)
    assert len(header["payload_xxh3"]) >= 2
    fp = store.fingerprint(cfg, seed_copy.resolve(), "test-ws")
    children = _counting_forks(monkeypatch)
    if how is None:
        assert isinstance(store.load_index(path, fp), SentenceIndex)
    else:
        _corrupt(path, how)
        with pytest.raises(IndexFormatError, match="checksum mismatch"):
            store.load_index(path, fp)
    assert len(children) == 1
    with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
        os.waitpid(children[0], os.WNOHANG)


@pytest.mark.parametrize("failure", ["no-fork", "child-fails"])
@pytest.mark.parametrize("how", [None, "flipped-byte"])
def test_without_a_working_child_the_payload_is_checked_in_process(
    cfg, seed_copy, small_chunks, monkeypatch, caplog, failure, how
):
    service = open_ws(cfg, seed_copy)
    path = service.info.path
    fp = store.fingerprint(cfg, seed_copy.resolve(), "test-ws")
    if failure == "no-fork":

        def no_fork():
            raise OSError("Resource temporarily unavailable")

        monkeypatch.setattr(store.os, "fork", no_fork)
    else:
        parent, chunk_ok = os.getpid(), store._chunk_ok

        def fails_in_child(*args):
            if os.getpid() != parent:
                raise MemoryError
            return chunk_ok(*args)

        monkeypatch.setattr(store, "_chunk_ok", fails_in_child)
    if how:
        _corrupt(path, how)
    with caplog.at_level(logging.WARNING, logger="retrieval.index.store"):
        if how is None:
            assert isinstance(store.load_index(path, fp), SentenceIndex)
        else:
            with pytest.raises(IndexFormatError, match="checksum mismatch"):
                store.load_index(path, fp)
    assert "checking it in this process" in caplog.text


def test_unwritable_cache_dir_still_answers(repo_config, seed_copy, tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a regular file where the cache folder should be")
    cfg = with_cache(repo_config, blocker / "cache")
    with caplog.at_level(logging.WARNING):
        service = open_ws(cfg, seed_copy)
    assert service.info.saved is False
    assert service.info.rebuilt is True
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("could not save" in r.getMessage() for r in warnings)
    result = service.answer("Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?")
    assert result.answered and result.answers
    assert blocker.read_text().startswith("a regular file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_cache_dir_still_answers(repo_config, seed_copy, tmp_path, caplog):
    cache = tmp_path / "ro-cache"
    cache.mkdir()
    cache.chmod(0o500)
    try:
        with caplog.at_level(logging.WARNING):
            service = open_ws(with_cache(repo_config, cache), seed_copy)
        assert service.info.saved is False
        assert any(r.levelno >= logging.WARNING for r in caplog.records)
        assert service.answer("Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?").answered
    finally:
        cache.chmod(0o700)


def test_save_index_is_atomic_and_leaves_no_temp_files(cfg, seed_copy, built):
    cache = cfg.cache_dir
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".segments.sqlite")) == [built.info.path.name]
    target = cache / "other.bin"
    store.save_index(built.index, target, "fp-1")
    store.save_index(built.index, target, "fp-2")  # overwrite in place
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".segments.sqlite")) == sorted(
        [built.info.path.name, "other.bin"]
    )
    assert isinstance(store.load_index(target, "fp-2"), SentenceIndex)
    with pytest.raises(IndexFormatError, match="stale"):
        store.load_index(target, "fp-1")


def test_failed_save_keeps_the_old_file_and_cleans_up(cfg, seed_copy, built, monkeypatch):
    path = built.info.path
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "replace", boom)
    with pytest.raises(OSError):
        store.save_index(built.index, path, "another-fingerprint")
    assert path.read_bytes() == before
    assert sorted(p.name for p in cfg.cache_dir.iterdir() if not p.name.endswith(".segments.sqlite")) == [path.name]


def test_different_corpora_use_different_files(cfg, seed_copy, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "bai.txt").write_text("Bài khác\n\n" + NEW_FACT + "\n", encoding="utf-8")
    a = open_ws(cfg, seed_copy)
    b = open_ws(cfg, other)
    assert a.info.path != b.info.path
    assert open_ws(cfg, seed_copy).info.reason == "loaded"
    assert open_ws(cfg, other).info.reason == "loaded"


def test_fingerprint_depends_on_content_not_mtime(cfg, seed_copy):
    fp = store.fingerprint(cfg, seed_copy, "x")
    assert store.fingerprint(cfg, seed_copy, "x") == fp
    assert store.fingerprint(cfg, seed_copy, "y") != fp
    path = seed_copy / "000_58ac133cd26686e9.txt"
    os.utime(path, (5, 5))
    assert store.fingerprint(cfg, seed_copy, "x") == fp
    path.write_text(path.read_text(encoding="utf-8") + " ", encoding="utf-8")
    assert store.fingerprint(cfg, seed_copy, "x") != fp


def _cached_pages(path) -> int:
    """How many of ``path``'s pages are in the page cache (``mincore`` on a fresh mapping,
    which maps nothing until it is read)."""
    import ctypes
    import mmap

    import numpy as np

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
    size = path.stat().st_size
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        array = np.frombuffer(m, dtype=np.uint8)
        vec = ctypes.create_string_buffer(-(-size // mmap.PAGESIZE))
        failed = libc.mincore(ctypes.c_void_p(array.ctypes.data), size, vec)
        del array
    if failed:
        pytest.skip(f"mincore failed (errno {ctypes.get_errno()})")
    return sum(b & 1 for b in vec.raw)


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="needs posix_fadvise")
def test_a_saved_index_leaves_the_page_cache_and_loads_with_random_access_advice(cfg, seed_copy, built, monkeypatch):
    """A save drops the written file from the page cache (its pages were cached in the large
    folios of sequential writes); a load advises random access before its check reads the
    file, so the pages are cached, and mapped into the process, one by one."""
    path = cfg.cache_dir / "advised.bin"
    store.save_index(built.index, path, "fp")
    assert _cached_pages(path) == 0
    advice = []
    real = os.posix_fadvise
    monkeypatch.setattr(store.os, "posix_fadvise", lambda fd, o, n, a: (advice.append(a), real(fd, o, n, a)))
    loaded = store.load_index(path, "fp")
    assert advice == [os.POSIX_FADV_RANDOM]
    assert loaded.text(0) == built.index.text(0)


def test_the_word_fields_share_one_vocabulary_built_saved_and_loaded(cfg, seed_copy, built):
    """The sentence, article and exact-word fields use one vocabulary: one object when built,
    one copy in the file, one object again when loaded, and the same lookups."""
    fields = ("bm25", "article_bm25", "article_words")
    assert len({id(getattr(built.index, f).vocab) for f in fields}) == 1
    _meta, arrays = built.index.arrays()
    present = [getattr(built.index, f) for f in FIELDS if getattr(built.index, f) is not None]
    assert sum(name.endswith(".vocab.text") for name in arrays) == len(present) - 2
    again = _reopen(cfg, seed_copy)
    assert again.info.reason == "loaded"
    assert len({id(getattr(again.index, f).vocab) for f in fields}) == 1
    for f in fields:
        old, new = getattr(built.index, f), getattr(again.index, f)
        assert new.n_terms == old.n_terms <= len(new.vocab)
        for word in ("Hà", "Nội", "thông", "minh", "không_có_từ_này"):
            assert new.column(word) == old.column(word)
            assert new.idf_of(word) == old.idf_of(word)


def test_fingerprint_with_kept_digests_reads_only_changed_files(cfg, seed_copy, monkeypatch):
    """With the digests of an earlier call, a file whose size and times are unchanged is not read
    again, and the fingerprint is the one computed from scratch, also after a same-size edit."""
    digests: dict = {}
    fp = store.fingerprint(cfg, seed_copy, "x", digests)
    assert fp == store.fingerprint(cfg, seed_copy, "x") and len(digests) == 5
    first = sorted(seed_copy.glob("*.txt"))[0]
    text = first.read_bytes()
    first.write_bytes(text[:-1] + (b"X" if text[-1:] != b"X" else b"Y"))  # same size, new content
    opened = []
    real_open = open

    def counting_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    changed = store.fingerprint(cfg, seed_copy, "x", digests)
    monkeypatch.undo()
    assert opened == [str(first)]
    assert changed != fp and changed == store.fingerprint(cfg, seed_copy, "x")
