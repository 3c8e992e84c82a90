"""Saving and loading the index, keyed by a fingerprint of everything it depends on.

The file is ``MAGIC`` + a JSON header (format version, fingerprint, payload
length and SHA-256) + a pickled :class:`SentenceIndex`. It is served only when
the header's fingerprint equals the one computed now from the corpus files'
contents, the ingestion and retrieval settings, the index format and the
underthesea and project versions, and the payload's checksum verifies. Anything
else (stale, corrupt, truncated, another format) is rebuilt, never served.
Writes go to a temporary file that is renamed into place, so an interrupted
save leaves the previous file (or none), never a half-written one; temporary
files left behind by a killed process are removed by a later save.

One exception to "stale is never served": when the corpus changed but the
rebuild fails (every file unreadable, the folder gone, an error while
building), :func:`load_last_good` serves the previous index, provided it is
intact and was built by the same code, segmenter and retrieval settings (the
header's ``compat`` key), so that only the articles or the ingestion rules
differ. The caller logs why.

The pickle is only read after its SHA-256 matches the header written by this
program; the cache folder must be as trusted as the code itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pickle
import stat
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import write_atomically
from .config import Config
from .errors import IndexFormatError
from .index import SentenceIndex
from .ingest import corpus_files

log = logging.getLogger(__name__)

MAGIC = b"VNQA-INDEX\n"
FORMAT_VERSION = 2
# The modules whose code decides what the index holds: a change to any of
# them (even without a version bump) makes saved indexes stale.
_INDEX_MODULES = ("clean.py", "ingest.py", "normalize.py", "segment.py", "query.py", "index.py", "store.py")


def code_digest() -> str:
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _INDEX_MODULES:
        h.update(name.encode() + b"\0" + (here / name).read_bytes())
    return h.hexdigest()


def project_version() -> str:
    try:
        return metadata.version("vn-docqa-bot")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "source"


# A temporary file older than this is left over from a killed save, not one in progress.
STALE_TEMP_SECONDS = 600.0


def compat_key(cfg: Config, segmenter_id: str) -> str:
    """SHA-256 of what an index's structure and scoring depend on, besides the articles:
    format, code, versions, segmenter and retrieval settings (not the corpus, not the
    ingestion rules). An index with the same key can stand in for a failed rebuild."""
    settings = {
        "format": FORMAT_VERSION,
        "project": project_version(),
        "code": code_digest(),
        "segmenter": segmenter_id,
        "retrieval": dataclasses.asdict(cfg.retrieval),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def fingerprint(cfg: Config, corpus: Path, segmenter_id: str) -> str:
    """SHA-256 over the corpus files' names and contents and every setting the index depends on.

    Raises CorpusError when ``corpus`` does not exist.
    """
    h = hashlib.sha256()
    h.update(compat_key(cfg, segmenter_id).encode())
    h.update(json.dumps(dataclasses.asdict(cfg.ingest), sort_keys=True, ensure_ascii=False, default=str).encode())
    root = corpus if corpus.is_dir() else corpus.parent
    for file in corpus_files(corpus):
        h.update(file.relative_to(root).as_posix().encode() + b"\0")
        try:
            if not stat.S_ISREG(os.stat(file).st_mode):  # a FIFO would block open() forever
                h.update(b"special")
                continue
            with open(file, "rb") as fh:
                h.update(hashlib.file_digest(fh, "sha256").digest())
        except OSError as exc:
            h.update(f"unreadable:{exc.errno}".encode())
    return h.hexdigest()


def index_path(cfg: Config, corpus: Path) -> Path:
    key = hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:16]
    return cfg.cache_dir / f"index-{key}.bin"


def _remove_stale_temps(path: Path) -> None:
    """Delete temporary files of ``path`` that a killed save left behind (never served, but large)."""
    horizon = time.time() - STALE_TEMP_SECONDS
    for tmp in path.parent.glob(f"{path.name}.*.tmp"):
        try:
            if tmp.stat().st_mtime < horizon:
                tmp.unlink()
                log.info("removed %s, left over from an interrupted save", tmp)
        except OSError:
            pass


def save_index(index: SentenceIndex, path: Path, fp: str, compat: str | None = None) -> None:
    """Write atomically: temporary file, fsync, rename. Raises OSError on failure.

    ``compat`` (see :func:`compat_key`) lets :func:`load_last_good` serve this
    file after a failed rebuild.
    """
    payload = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    header = json.dumps(
        {
            "format": FORMAT_VERSION,
            "fingerprint": fp,
            "compat": compat,
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    write_atomically(path, MAGIC, len(header).to_bytes(4, "big"), header, payload)


def load_index(path: Path, fp: str) -> SentenceIndex:
    """Load the index at ``path`` if it is intact and built from what ``fp`` describes."""
    return _load(path, lambda header: header.get("fingerprint") == fp,
                 "stale: the corpus, the settings or a version changed")


def load_last_good(path: Path, compat: str) -> SentenceIndex:
    """Load the index at ``path`` whatever corpus it was built from, if it is intact and
    its ``compat`` key (:func:`compat_key`) is ``compat``: the stand-in for a failed rebuild."""
    return _load(path, lambda header: header.get("compat") == compat,
                 "built by another version or with other retrieval settings")


def _load(path: Path, accept: Callable[[dict[str, Any]], bool], refusal: str) -> SentenceIndex:
    try:
        with open(path, "rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                raise IndexFormatError("not an index file")
            size = int.from_bytes(fh.read(4), "big")
            if not 0 < size < 1 << 20:
                raise IndexFormatError("bad header")
            try:
                header = json.loads(fh.read(size))
            except ValueError:
                raise IndexFormatError("unreadable header") from None
            if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
                raise IndexFormatError(f"index format {header.get('format') if isinstance(header, dict) else '?'}"
                                       f", expected {FORMAT_VERSION}")
            if not accept(header):
                raise IndexFormatError(refusal)
            payload = fh.read()
    except OSError as exc:
        raise IndexFormatError(f"cannot read: {exc.strerror or exc}") from None
    if len(payload) != header.get("payload_bytes") or hashlib.sha256(payload).hexdigest() != header.get(
        "payload_sha256"
    ):
        raise IndexFormatError("corrupt: checksum mismatch")
    try:
        index = pickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "rebuild"
        raise IndexFormatError(f"corrupt payload: {exc}") from None
    if not isinstance(index, SentenceIndex):
        raise IndexFormatError("payload is not a sentence index")
    return index
