"""Atomic index writes: a save that is killed (SIGKILL mid-write) or runs out of disk (a small
tmpfs, a file-size limit, a writer that fails half-way) never leaves a file that is later
served; the previous index stays intact and the bot answers from memory with a warning.
A read-only cache folder is the same: a warning, and answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from rel_support import report

from bot.cli import main
from qa_support import REPO, copy_seeds, open_ws, write_config
from retrieval.errors import IndexFormatError
from retrieval.index import store
from retrieval.index.sentences import SentenceIndex

NEW_ARTICLE = "Cầu mới\n\nCầu Kỳ Lân dài 800 mét và được xây bằng thép không gỉ.\n"
NEW_QUESTION = "Cầu Kỳ Lân dài bao nhiêu mét?"

# Builds and saves the index with the whitespace segmenter; the index file's payload is written
# half, then the process announces it and hangs until it is killed.
CHILD = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from qa_support import open_ws, with_cache
from retrieval.config import load_config

real_fdopen = os.fdopen

class HalfThenHang:
    def __init__(self, fh):
        self.fh = fh
    def write(self, data):
        if len(data) > 4096:  # a large part of the index (an array of the payload)
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            print("HALF-WRITTEN", flush=True)
            time.sleep(120)
        return self.fh.write(data)
    def __getattr__(self, name):
        return getattr(self.fh, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.fh.__exit__(*exc)

os.fdopen = lambda fd, mode="r", *a, **k: HalfThenHang(real_fdopen(fd, mode, *a, **k))
cfg = with_cache(load_config(sys.argv[2]), Path(sys.argv[3]))
open_ws(cfg, Path(sys.argv[4]))
print("SAVED", flush=True)
"""


def _temps(cache) -> list:
    return sorted(cache.glob("index-*.tmp"))


def _kill_mid_write(tmp_path, cache, corpus) -> None:
    config = write_config(tmp_path / "conf")
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(REPO / "tests"), str(config), str(cache), str(corpus)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "HALF-WRITTEN" not in line:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-2000:]
            line = proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("previous", [True, False], ids=["replacing an index", "first save"])
def test_kill_9_during_the_write_never_leaves_a_served_file(cfg, seed_copy, tmp_path, previous):
    path = store.index_path(cfg, seed_copy.resolve())
    if previous:
        good = open_ws(cfg, seed_copy)
        before = path.read_bytes()
        old_fp = store.fingerprint(cfg, seed_copy.resolve(), "test-ws")
        (seed_copy / "005_moi.txt").write_text(NEW_ARTICLE, encoding="utf-8")  # the next open rebuilds
    _kill_mid_write(tmp_path, cfg.cache_dir, seed_copy)
    (tmp,) = _temps(cfg.cache_dir)  # the half-written file is a temporary one...
    assert tmp.stat().st_size > 0
    if previous:
        assert path.read_bytes() == before  # ...and the index in place is the previous, intact one
        assert isinstance(store.load_index(path, old_fp), SentenceIndex)
        assert len(good.articles) == 5
    else:
        assert not path.exists()
    with pytest.raises(IndexFormatError):  # not loadable even if someone tried
        store.load_index(tmp, store.fingerprint(cfg, seed_copy.resolve(), "test-ws"))
    # The next start rebuilds from the corpus (the temporary file is never read) and serves the new article.
    service = open_ws(cfg, seed_copy)
    assert service.info.rebuilt and service.info.saved
    if previous:
        assert service.answer(NEW_QUESTION).answered
    # A temporary file this old is a leftover, not a save in progress: the next save removes it.
    os.utime(tmp, (time.time() - 3600, time.time() - 3600))
    open_ws(cfg, seed_copy, rebuild=True)
    assert _temps(cfg.cache_dir) == []
    report(
        f"atomic save: SIGKILL half-way through {'replacing the index' if previous else 'the first save'} -> "
        f"the index file is {'the previous one, intact' if previous else 'absent'}; the half-written "
        "temporary file is never read and is removed by a later save (after 10 minutes)"
    )


def test_a_writer_failing_half_way_keeps_the_old_index(cfg, seed_copy, monkeypatch, caplog):
    good = open_ws(cfg, seed_copy)
    before = good.info.path.read_bytes()
    (seed_copy / "005_moi.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh, self.written = fh, 0

        def write(self, data):
            if self.written + len(data) > len(before) // 3:
                self.fh.write(data[:100])
                raise OSError(28, "No space left on device")
            self.written += len(data)
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.fh.__exit__(*exc)

    monkeypatch.setattr(store.os, "fdopen", lambda fd, mode="r", *a, **k: Full(real_fdopen(fd, mode, *a, **k)))
    service = open_ws(cfg, seed_copy)
    monkeypatch.undo()
    assert service.info.rebuilt and not service.info.saved
    assert service.answer(NEW_QUESTION).answered  # served from memory
    assert good.info.path.read_bytes() == before and _temps(cfg.cache_dir) == []
    assert any(
        "No space left on device" in r.getMessage() and "serving it from memory" in r.getMessage()
        for r in caplog.records
    )


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def good_index(tmp_path, capsys):
    """A corpus whose index was built and saved (real segmenter); then an article is added to it."""
    corpus = copy_seeds(tmp_path / "corpus")
    build_cache = tmp_path / "build-cache"
    config = write_config(tmp_path / "build", {"corpus": str(corpus), "cache_dir": str(build_cache)})
    assert main(["index", "--config", str(config)]) == 0
    capsys.readouterr()
    (index,) = build_cache.glob("index-*.bin")
    (corpus / "005_moi.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    return corpus, index


def _can_mount() -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    try:
        probe = subprocess.run(
            ["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(not _can_mount(), reason="needs a private mount namespace (unshare -m) and mount")


def _in_tmpfs(tmp_path, corpus, index, options: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``bot ask`` with its cache on a private tmpfs (mount ``options``) holding the good index;
    report what the tmpfs holds afterwards."""
    cache = tmp_path / "tmpfs-cache"
    cache.mkdir()
    config = write_config(tmp_path / "run", {"corpus": str(corpus), "cache_dir": str(cache)})
    ask = f"{sys.executable} -m bot ask --json '{NEW_QUESTION}' --config {config}"
    remount = "mount -o remount,ro $CACHE && " if "ro" in options.split(",") else ""
    rw_options = ",".join(o for o in options.split(",") if o != "ro")
    script = (
        f"CACHE={cache}; mount -t tmpfs -o {rw_options} tmpfs $CACHE && cp {index} $CACHE/ && {remount}"
        f"{ask}; echo \"RC=$?\" >&2; echo \"FILES=$(ls -A $CACHE | tr '\\n' ' ')\" >&2; "
        f"echo \"SHA=$(sha256sum $CACHE/{index.name} | cut -d' ' -f1)\" >&2"
    )
    proc = _run(["unshare", "--mount", "sh", "-c", script])
    facts = dict(
        line.split("=", 1) for line in proc.stderr.splitlines() if line.split("=", 1)[0] in {"RC", "FILES", "SHA"}
    )
    return proc, facts


@needs_mount
def test_full_disk_during_the_save_keeps_the_old_index(tmp_path, good_index):
    corpus, index = good_index
    size = index.stat().st_size
    room = (size + size // 2) // 4096 * 4096  # the old index fits, a second copy does not
    proc, facts = _in_tmpfs(tmp_path, corpus, index, f"size={room}")
    assert facts.get("RC") == "0", proc.stderr[-3000:]
    assert json.loads(proc.stdout)["answered"]  # the new article, answered from memory
    assert "No space left on device" in proc.stderr and "serving it from memory" in proc.stderr
    assert "Traceback" not in proc.stderr
    # No temporary file left behind (the per-article segmentation cache is expected).
    assert [f for f in facts["FILES"].split() if not f.endswith(".segments.sqlite")] == [index.name]
    assert facts["SHA"] == hashlib.sha256(index.read_bytes()).hexdigest()  # the old index, intact
    warning = next(line for line in proc.stderr.splitlines() if "No space left" in line)
    report(
        "atomic save: disk full (a {:.0f} kB tmpfs) during the save -> operator: WARNING '{}'; users: answers "
        "(from memory); the previous index file intact, no temporary file left".format(
            room / 1024, warning.split("WARNING ", 1)[-1].replace(str(tmp_path), "…")
        )
    )


@needs_mount
def test_read_only_cache_folder_still_answers(tmp_path, good_index):
    corpus, index = good_index
    proc, facts = _in_tmpfs(tmp_path, corpus, index, "size=4m,ro")
    assert facts.get("RC") == "0", proc.stderr[-3000:]
    assert json.loads(proc.stdout)["answered"]
    assert "Read-only file system" in proc.stderr and "serving it from memory" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert facts["SHA"] == hashlib.sha256(index.read_bytes()).hexdigest()
    warning = next(line for line in proc.stderr.splitlines() if "Read-only" in line)
    report(
        "cache fault: read-only cache folder -> operator: WARNING '{}'; users: answers".format(
            warning.split("WARNING ", 1)[-1].replace(str(tmp_path), "…")
        )
    )


def test_file_size_limit_during_the_save_keeps_the_old_index(tmp_path, good_index):
    """The same without root: RLIMIT_FSIZE makes the write fail (EFBIG) like a full disk."""
    corpus, index = good_index
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(index, cache / index.name)
    config = write_config(tmp_path / "run", {"corpus": str(corpus), "cache_dir": str(cache)})
    limit = index.stat().st_size // 3
    wrapper = (
        "import os, resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
        "os.execv(sys.executable, [sys.executable, '-m', 'bot', *sys.argv[1:]])"
    )
    proc = _run([sys.executable, "-c", wrapper, "ask", "--json", NEW_QUESTION, "--config", str(config)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["answered"]
    assert "File too large" in proc.stderr and "serving it from memory" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".segments.sqlite")) == [index.name]
    assert (cache / index.name).read_bytes() == index.read_bytes()
