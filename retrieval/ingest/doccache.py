"""Documents already read, kept by content hash, so re-indexing does not read unchanged files again.

Reading a PDF, a DOCX or a web page (:mod:`retrieval.ingest.formats`) costs
far more than cleaning its text: a 1,000-page PDF takes seconds. Each read
:class:`~retrieval.ingest.formats.Document` is kept in an SQLite file beside
the index (like :mod:`retrieval.index.segcache`), keyed by an XXH3-128 hash of
the file's bytes and of :func:`~retrieval.ingest.formats.reader_id` (the
readers' version and their libraries' versions). The document is kept, not
the article made of it: cleaning rules may change, and cleaning is cheap. So
is the reason a document cannot be read (encrypted, damaged, a scan without
text): the same bytes fail the same way, and a 300-page scan is slow to fail.

Only files whose name says they need extraction are looked up (``.pdf``,
``.docx``, ``.html``...); text files are decoded and cleaned every time, and
a PDF misnamed ``.txt`` is read every time, correctly but without the cache.

The cache is an accelerator: when it cannot be opened, read or written, a
warning says so and documents are read as if it were not there; a corrupt
file is set aside and a new one started; a corrupt entry is read again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

import xxhash

from retrieval.ingest.formats import Block, Document, Kind, reader_id
from retrieval.ingest.formats.sniff import HTML_SUFFIXES

log = logging.getLogger(__name__)

# Files with these names are looked up in the cache (the kinds that need extraction).
CACHED_SUFFIXES = frozenset(HTML_SUFFIXES | {".pdf", ".docx"})


def _hasher() -> xxhash.xxh3_128:
    return xxhash.xxh3_128(reader_id().encode() + b"\0")


def document_key(data: bytes) -> str:
    """The cache key of a file's bytes: XXH3-128 of the readers' identity and the bytes."""
    h = _hasher()
    h.update(data)
    return h.hexdigest()


def cache_key(file: Path, max_bytes: int) -> str | None:
    """:func:`document_key` of ``file`` when it is a regular file of a cached kind (by name) no larger
    than ``max_bytes``; None otherwise (never cached: read as usual, which reports any problem)."""
    if file.suffix.lower() not in CACHED_SUFFIXES:
        return None
    try:
        info = os.stat(file)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        with open(file, "rb") as fh:
            return hashlib.file_digest(fh, _hasher).hexdigest()
    except OSError:
        return None


def _to_json(document: Document | str) -> str:
    if isinstance(document, str):
        return json.dumps({"unreadable": document}, ensure_ascii=False)
    blocks = [[b.text, b.page, b.section, b.row, b.heading] for b in document.blocks]
    return json.dumps(
        [str(document.kind), document.title, document.date, document.source, document.author, document.url, blocks],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _from_json(text: str) -> Document | str:
    value = json.loads(text)
    if isinstance(value, dict):
        return str(value["unreadable"])
    kind, title, date, source, author, url, blocks = value
    return Document(
        blocks=tuple(Block(t, page=p, section=s, row=bool(r), heading=bool(h)) for t, p, s, r, h in blocks),
        kind=Kind(kind),
        title=title,
        date=date,
        source=source,
        author=author,
        url=url,
    )


class DocumentCache:
    """content key -> :class:`Document`, or the reason it cannot be read (a string: an encrypted or
    scanned PDF fails the same way every time), in the SQLite file ``path``; ``None``: no cache
    (every method a no-op). Every failure is logged once and turns the cache off for the rest of
    the build."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open(path)
            except sqlite3.OperationalError:
                raise  # cannot open or write (read-only folder, locked): go without the cache
            except sqlite3.DatabaseError as exc:
                log.warning("document cache %s is unreadable (%s); starting a new one", path, exc)
                path.replace(path.with_suffix(path.suffix + ".corrupt"))
                self._db = self._open(path)
        except (OSError, sqlite3.Error) as exc:
            log.warning("document cache %s unavailable (%s); reading every document", path, exc)
            self._db = None

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE IF NOT EXISTS documents (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("SELECT count(*) FROM documents").fetchone()
        return db

    @property
    def active(self) -> bool:
        return self._db is not None

    def _failed(self, what: str, exc: Exception) -> None:
        log.warning("could not %s the document cache %s (%s); going on without it", what, self.path, exc)
        self.close()

    def get_many(self, keys: Sequence[str]) -> dict[str, Document | str]:
        found: dict[str, Document | str] = {}
        if self._db is None:
            return found
        try:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                rows = self._db.execute(
                    f"SELECT key, value FROM documents WHERE key IN ({','.join('?' * len(chunk))})", chunk
                )
                for key, value in rows:
                    try:
                        found[key] = _from_json(value)
                    except (ValueError, TypeError, KeyError):
                        log.warning("document cache entry %s is corrupt; reading the file again", key[:12])
        except sqlite3.Error as exc:
            self._failed("read", exc)
        return found

    def put_many(self, items: Iterable[tuple[str, Document | str]]) -> None:
        if self._db is None:
            return
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO documents (key, value) VALUES (?, ?)", ((k, _to_json(d)) for k, d in items)
                )
        except sqlite3.Error as exc:
            self._failed("update", exc)

    def keep_only(self, keys: set[str]) -> None:
        """Forget documents that are no longer in the corpus."""
        if self._db is None:
            return
        try:
            stale = [k for (k,) in self._db.execute("SELECT key FROM documents") if k not in keys]
            with self._db:
                self._db.executemany("DELETE FROM documents WHERE key = ?", ((k,) for k in stale))
        except sqlite3.Error as exc:
            self._failed("update", exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> DocumentCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
