"""Saving and loading the index, keyed by a fingerprint of everything it depends on.

The file is ``MAGIC`` + a JSON header (format version, fingerprint, payload
length and SHA-256) + a pickled :class:`SentenceIndex`. It is served only when
the header's fingerprint equals the one computed now from the corpus files'
contents, the ingestion and retrieval settings, the index format and the
underthesea and project versions, and the payload's checksum verifies. Anything
else (stale, corrupt, truncated, another format) is rebuilt, never served.
Writes go to a temporary file that is renamed into place, so an interrupted
save leaves the previous file (or none), never a half-written one.

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
import tempfile
from importlib import metadata
from pathlib import Path

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


def fingerprint(cfg: Config, corpus: Path, segmenter_id: str) -> str:
    """SHA-256 over the corpus files' names and contents and every setting the index depends on."""
    h = hashlib.sha256()
    settings = {
        "format": FORMAT_VERSION,
        "project": project_version(),
        "code": code_digest(),
        "segmenter": segmenter_id,
        "ingest": dataclasses.asdict(cfg.ingest),
        "retrieval": dataclasses.asdict(cfg.retrieval),
    }
    h.update(json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str).encode())
    root = corpus if corpus.is_dir() else corpus.parent
    for file in corpus_files(corpus):
        h.update(file.relative_to(root).as_posix().encode() + b"\0")
        try:
            with open(file, "rb") as fh:
                h.update(hashlib.file_digest(fh, "sha256").digest())
        except OSError as exc:
            h.update(f"unreadable:{exc.errno}".encode())
    return h.hexdigest()


def index_path(cfg: Config, corpus: Path) -> Path:
    key = hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:16]
    return cfg.cache_dir / f"index-{key}.bin"


def save_index(index: SentenceIndex, path: Path, fp: str) -> None:
    """Write atomically: temporary file, fsync, rename. Raises OSError on failure."""
    payload = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    header = json.dumps(
        {
            "format": FORMAT_VERSION,
            "fingerprint": fp,
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC)
            fh.write(len(header).to_bytes(4, "big"))
            fh.write(header)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_index(path: Path, fp: str) -> SentenceIndex:
    """Load the index at ``path`` if it is intact and built from what ``fp`` describes."""
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
            if header.get("fingerprint") != fp:
                raise IndexFormatError("stale: the corpus, the settings or a version changed")
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
