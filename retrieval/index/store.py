"""Saving and loading the index, keyed by a fingerprint of everything it depends on.

The file is ``MAGIC`` + the length of a JSON header + the header + the payload:
the index's flat numpy arrays (:meth:`SentenceIndex.arrays`) one after the
other, each 64-byte aligned. The header holds the format version, the
fingerprint, the layout (the arrays' table: name, dtype, shape, offset; the
fields' BM25 parameters) with its CRC-32, and an XXH3-64 hash per 16 MiB
chunk of the payload. Loading maps the file into memory (``mmap``) and wraps the
arrays without copying them, so a large index opens in a fraction of a
second and only the pages that questions touch become resident. The file is
read and mapped with random-access advice (:func:`_advise_random`), and a
save drops the written file from the page cache (:func:`_drop_cached`): with
the usual sequential read-ahead, Linux keeps a large file in large page-cache
folios (up to megabytes each) and maps a whole folio on every page fault, so
each question's scattered reads made megabytes of the file resident in the
process. Read in single pages, a fault maps at most the kernel's fault-around
window (64 KiB). Measured at 1M sentences after 600 answers, one process: 606 MB
of the 928 MB file resident with read-ahead, 525 MB with the advice.

The index is served only when the header's fingerprint equals the one
computed now from the corpus files' contents, the ingestion and retrieval
settings, the index format and the underthesea and project versions, the
file has exactly the size the header announces, and the layout's CRC-32 and
every payload chunk's hash verify. Anything else (stale, corrupt, truncated,
another format) is rebuilt, never served. A non-cryptographic hash rather
than SHA-256: the check guards against damage (a flipped byte, a torn or
truncated write), not against an adversary, and nothing in the file is
executed (no pickle: JSON and raw numbers, every offset and size checked
before use). XXH3-64 (the ``xxhash`` package) misses damage with probability
2^-64 per chunk and hashes at memory speed, so checking a 2 GB index costs
about as much as reading it (0.6 s against 1.2 s with ``zlib.crc32`` on this
machine, on one core); the chunks are read with ``pread`` (not through the
mapping, so checking adds nothing to the process's resident memory) and
checked on every core; a large payload is checked in a forked child process,
in parallel with the model loading of :class:`retrieval.service.AnswerService`.

Writes go to a temporary file that is renamed into place, so an interrupted
save leaves the previous file (or none), never a half-written one; temporary
files left behind by a killed process are removed by a later save. A served
index keeps its file mapped; since saves replace the file by a rename, the
mapping keeps the contents it was loaded with (never rewrite it in place).

One exception to "stale is never served": when the corpus changed but the
rebuild fails (every file unreadable, the folder gone, an error while
building), :func:`load_last_good` serves the previous index, provided it is
intact and was built by the same code, segmenter and index settings (the
header's ``compat`` key), so that only the articles or the ingestion rules
differ. The caller logs why.

One module past 400 lines because the file's layout, its checks and its atomic writing are
one format, safe only while one piece of code both reads and writes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import mmap
import os
import signal
import stat
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from retrieval.config import Config
from retrieval.errors import IndexFormatError
from retrieval.index.atomic import write_atomically
from retrieval.index.sentences import SentenceIndex
from retrieval.ingest.corpus import corpus_entries
from retrieval.text.variants import variants_for

log = logging.getLogger(__name__)

MAGIC = b"VNQA-INDEX\n"
# What a saved index holds and how it is laid out. Bump it whenever the code that decides
# the saved arrays changes (ingestion, cleaning, segmentation, term functions, the fields,
# the layout): an index of another version is rebuilt, never served.
# tests/test_index_golden.py fails when the arrays of a small corpus change without a bump.
FORMAT_VERSION = 13
# The payload's checksum is an XXH3-64 hash per chunk of this many bytes.
CHUNK_BYTES = 16 << 20
# From this many chunks on, the payload is checked in a forked child process (:func:`_verify`).
FORK_MIN_CHUNKS = 8
# Arrays start on multiples of this many bytes in the file.
ALIGN = 64
PAGE = 4096
# The dtypes an array may have (anything else is a damaged or foreign file).
_DTYPES = frozenset({"|u1", "<u2", "<u4", "<u8", "<i4", "<i8", "<f8"})


def project_version() -> str:
    try:
        return metadata.version("vn-docqa-bot")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "source"


# A temporary file older than this is left over from a killed save, not one in progress.
STALE_TEMP_SECONDS = 600.0


def compat_key(cfg: Config, segmenter_id: str) -> str:
    """SHA-256 of what an index's structure and scoring depend on, besides the articles:
    format, versions, segmenter and the retrieval settings the index is built with
    (:meth:`RetrievalConfig.index_settings`; not the query-time ones, not the corpus, not
    the ingestion rules). An index with the same key can stand in for a failed rebuild."""
    settings = {
        "format": FORMAT_VERSION,
        "project": project_version(),
        "segmenter": segmenter_id,
        "variants": variants_for(cfg.retrieval.equivalents).digest,
        "retrieval": cfg.retrieval.index_settings(),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def fingerprint(
    cfg: Config, corpus: Path, segmenter_id: str, digests: dict[str, tuple[tuple[int, ...], bytes]] | None = None
) -> str:
    """SHA-256 over the corpus files' names and contents (each file's XXH3-128; a file larger
    than ``ingest.max_file_mb``, which is skipped unread, by its size and time) and every
    setting the index depends on.

    ``digests``: the file digests of an earlier call (path -> (size, mtime, ctime, inode),
    digest), kept up to date: a file whose size and times are unchanged is not read again.
    A running bot fingerprints its corpus at every update; at 40k files, reading them all took
    seconds. (A rename or a write moves the times, in nanoseconds.)

    Raises CorpusError when ``corpus`` does not exist.
    """
    kept = dict(digests or {})
    if digests is not None:
        digests.clear()
    h = hashlib.sha256()
    h.update(compat_key(cfg, segmenter_id).encode())
    h.update(json.dumps(dataclasses.asdict(cfg.ingest), sort_keys=True, ensure_ascii=False, default=str).encode())
    for relative, file in corpus_entries(corpus):
        h.update(relative.encode() + b"\0")
        try:
            info = os.stat(file)
            if not stat.S_ISREG(info.st_mode):  # a FIFO would block open() forever
                h.update(b"special")
                continue
            if info.st_size > cfg.ingest.max_file_mb << 20:
                h.update(f"too large:{info.st_size}:{info.st_mtime_ns}".encode())
                continue
            key = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
            known = kept.get(file)
            if known is not None and known[0] == key:
                digest = known[1]
            else:
                with open(file, "rb") as fh:
                    # XXH3-128 (a damage check, like the payload's): 10x SHA-256's speed on a large corpus.
                    digest = hashlib.file_digest(fh, xxhash.xxh3_128).digest()
            if digests is not None:
                digests[file] = (key, digest)
            h.update(digest)
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


def payload_checksums(parts: list[memoryview]) -> list[int]:
    """XXH3-64 of each ``CHUNK_BYTES`` chunk of the concatenation of ``parts`` (bytes-like)."""
    hashes: list[int] = []
    h = xxhash.xxh3_64()
    filled = 0
    for part in parts:
        pos = 0
        while pos < len(part):
            take = min(CHUNK_BYTES - filled, len(part) - pos)
            h.update(part[pos : pos + take])
            filled += take
            pos += take
            if filled == CHUNK_BYTES:
                hashes.append(h.intdigest())
                h.reset()
                filled = 0
    if filled:
        hashes.append(h.intdigest())
    return hashes


def layout_checksum(layout: dict[str, Any]) -> int:
    """CRC-32 of the header's description of the index (arrays table and field parameters)."""
    return zlib.crc32(json.dumps(layout, sort_keys=True).encode())


def _as_bytes(array: np.ndarray) -> memoryview:
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8).data  # a memoryview of its bytes


def changes_path(path: Path) -> Path:
    """Where the changes of the index saved at ``path`` are saved (:func:`save_index` of an updated index)."""
    return path.with_suffix(".changes.bin")


def _identity(header: dict[str, Any]) -> str:
    """What tells one saved file from another: its fingerprint and its payload's hashes."""
    return hashlib.sha256(json.dumps([header.get("fingerprint"), header.get("payload_xxh3")]).encode()).hexdigest()


def save_index(index: SentenceIndex, path: Path, fp: str, compat: str | None = None) -> None:
    """Write atomically: temporary file, fsync, rename. Raises OSError on failure.

    ``compat`` (see :func:`compat_key`) lets :func:`load_last_good` serve this
    file after a failed rebuild.

    An updated index (:func:`retrieval.index.update.apply_changes`) is saved as its
    changes only, in a small file beside ``path`` (:func:`changes_path`) that names the
    file of its base, which must be the one saved at ``path`` (ValueError otherwise):
    :func:`load_index` serves that base with these changes, and nothing else. Either
    file is replaced whole, so a save interrupted at any point leaves the previous
    changes or the new ones, each with the fingerprint of the corpus it stands for. A
    saved index as built makes the changes saved beside it void, and removes them.
    """
    if index.changes is not None:
        _save_changes(index, path, fp, compat)
        return
    meta, arrays = index.arrays()
    header = _write(path, meta, arrays, fp, compat)
    index.stored = _identity(header)
    with contextlib.suppress(FileNotFoundError):
        changes_path(path).unlink()


def _file_identity(path: Path) -> str | None:
    """The identity (:func:`_identity`) the header of the file at ``path`` claims, unchecked; None
    when there is no readable header."""
    try:
        with open(path, "rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                return None
            size = int.from_bytes(fh.read(4), "big")
            header = json.loads(fh.read(size)) if 0 < size < 1 << 20 else None
    except (OSError, ValueError):
        return None
    return _identity(header) if isinstance(header, dict) else None


def _save_changes(index: SentenceIndex, path: Path, fp: str, compat: str | None) -> None:
    from retrieval.index.sentences import ArticleList

    changes = index.changes
    if changes.base.stored is None or changes.base.stored != _file_identity(path):
        raise ValueError(
            f"the index saved at {path} is not this updated index's base: save the base there "
            "first (save_index of the index it was updated from)"
        )
    segmented = json.dumps([seg.to_json() for seg in changes.segmented], ensure_ascii=False)
    arrays: dict[str, np.ndarray] = {
        "changes.removed": np.asarray(changes.removed, dtype=np.int64),
        "changes.segmented": np.frombuffer(segmented.encode("utf-8", "surrogatepass"), dtype=np.uint8),
    }
    arrays |= {f"added.{name}": array for name, array in ArticleList(changes.added).arrays().items()}
    _write(changes_path(path), {"base": changes.base.stored}, arrays, fp, compat)


def _write(
    path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray], fp: str, compat: str | None
) -> dict[str, Any]:
    """Write ``arrays`` (described by ``meta``) to ``path`` atomically; returns the header."""
    table: list[list[Any]] = []
    parts: list[memoryview] = []
    offset = 0
    for name, array in arrays.items():
        data = _as_bytes(array)
        pad = -offset % ALIGN
        if pad:
            parts.append(memoryview(bytes(pad)))
            offset += pad
        table.append([name, array.dtype.str, list(array.shape), offset])
        parts.append(data)
        offset += len(data)
    layout = {"index": meta, "arrays": table}
    header = {
        "format": FORMAT_VERSION,
        "fingerprint": fp,
        "compat": compat,
        "layout": layout,
        "layout_crc32": layout_checksum(layout),
        "payload_bytes": offset,
        "payload_xxh3": payload_checksums(parts),
    }
    raw = json.dumps(header).encode()
    # Spaces after the JSON start the payload on a page boundary in the file (so every array
    # is ALIGN-aligned in memory too).
    raw += b" " * (-(len(MAGIC) + 4 + len(raw)) % PAGE)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    write_atomically(path, MAGIC, len(raw).to_bytes(4, "big"), raw, *parts)
    _drop_cached(path)
    return header


def _drop_cached(path: Path) -> None:
    """Evict the just-written (and synced) file from the page cache: its pages were cached
    in the large folios of sequential writes, and a process that maps the file would map
    whole folios (see the module's docstring); read again after :func:`_advise_random`,
    they are cached page by page. Best effort: a failure only costs resident memory."""
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    except OSError as exc:
        log.debug("could not drop %s from the page cache (%s)", path, exc)


def _advise_random(fd: int) -> None:
    """Tell the kernel that the file ``fd`` is read at random: no read-ahead, so pages enter
    the cache one by one rather than in large folios. Best effort, where the platform has it."""
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    except OSError as exc:
        log.debug("could not advise random access on the index file (%s)", exc)


def _map_random(buffer: mmap.mmap) -> None:
    """The same advice for the file's mapping (no fault-ahead beyond the kernel's window)."""
    if not hasattr(mmap, "MADV_RANDOM"):
        return
    try:
        buffer.madvise(mmap.MADV_RANDOM)
    except OSError as exc:
        log.debug("could not advise random access on the index mapping (%s)", exc)


def load_index(path: Path, fp: str) -> SentenceIndex:
    """Load the index at ``path`` if it is intact and built from what ``fp`` describes; or,
    when changes saved beside it (:func:`changes_path`) stand for ``fp`` and were made to
    that very file, the index with those changes (:func:`retrieval.index.update.overlay`)."""
    changes = changes_path(path)
    if changes.exists():
        try:
            return _load_changed(path, changes, fp)
        except IndexFormatError as exc:
            log.info("not using the saved changes %s: %s", changes, exc)
    return _load(
        path, lambda header: header.get("fingerprint") == fp, "stale: the corpus, the settings or a version changed"
    )


def _load_changed(path: Path, changes: Path, fp: str | None, compat: str | None = None) -> SentenceIndex:
    """The base at ``path`` with the changes saved beside it, when they stand for ``fp`` (None:
    whatever corpus they stand for) and were made to that very file (and, given ``compat``,
    the base has that compatibility key)."""
    from retrieval.index.segcache import Segmented
    from retrieval.index.sentences import StoredArticles
    from retrieval.index.update import overlay

    header, arrays, _ = _open(
        changes, lambda header: fp is None or header.get("fingerprint") == fp, "stale: made for another corpus"
    )
    base_file = header["layout"]["index"].get("base")
    base = _load(
        path,
        lambda header: _identity(header) == base_file and (compat is None or header.get("compat") == compat),
        "the changes were made to another index file",
    )
    try:
        added = list(
            StoredArticles(
                {name[len("added.") :]: array for name, array in arrays.items() if name.startswith("added.")}
            )
        )
        segmented = [
            Segmented.from_json(text)
            for text in json.loads(arrays["changes.segmented"].tobytes().decode("utf-8", "surrogatepass"))
        ]
        removed = arrays["changes.removed"].tolist()
        if len(added) != len(segmented) or not all(0 <= a < len(base.articles) for a in removed):
            raise ValueError("the added articles and their segmentation disagree")
        return overlay(base, removed, list(zip(added, segmented)))
    except Exception as exc:  # noqa: BLE001 - any inconsistency means "not these changes"
        raise IndexFormatError(f"corrupt changes: {type(exc).__name__}: {exc}") from None


def load_last_good(path: Path, compat: str) -> SentenceIndex:
    """Load the index at ``path`` whatever corpus it was built from, if it is intact and
    its ``compat`` key (:func:`compat_key`) is ``compat``, with the changes last saved beside
    it when they were made to it: the stand-in for a failed rebuild, and what a bot killed
    during an update serves until it has caught up (the last state it saved, never an older one)."""
    changes = changes_path(path)
    if changes.exists():
        try:
            return _load_changed(path, changes, None, compat)
        except IndexFormatError as exc:
            log.info("not using the saved changes %s: %s", changes, exc)
    return _load(
        path, lambda header: header.get("compat") == compat, "built by another version or with other retrieval settings"
    )


def _verify(fd: int, start: int, size: int, expected: Any) -> bool:
    """Do the payload's chunks (``size`` bytes from ``start`` in ``fd``) have the ``expected`` hashes?

    A large payload is checked in a forked child process (:func:`_verify_in_child`): the
    service loads the segmentation model in a thread meanwhile, and that model's imports
    hold the interpreter lock, which a check in this process needs again after every read
    and hash (measured at 1M sentences: opening took 1.6-2.3 s with the check in threads,
    1.2-1.3 s with it in a child)."""
    n = -(-size // CHUNK_BYTES)
    if not isinstance(expected, list) or len(expected) != n:
        return False
    if n >= FORK_MIN_CHUNKS and hasattr(os, "fork"):
        intact = _verify_in_child(fd, start, size, expected)
        if intact is not None:
            return intact
    if n <= 1:
        return all(_chunk_ok(fd, start, size, expected, i) for i in range(n))
    # pread and the hash release the GIL: the chunks are checked on every core.
    with ThreadPoolExecutor(max_workers=min(n, os.cpu_count() or 1)) as pool:
        return all(pool.map(lambda i: _chunk_ok(fd, start, size, expected, i), range(n)))


def _chunk_ok(fd: int, start: int, size: int, expected: list, i: int) -> bool:
    """Does chunk ``i`` have its expected hash? Read with ``pread`` (a copy, but no page
    of the mapping becomes resident)."""
    length = min(CHUNK_BYTES, size - i * CHUNK_BYTES)
    data = os.pread(fd, length, start + i * CHUNK_BYTES)
    return len(data) == length and xxhash.xxh3_64_intdigest(data) == expected[i]


def _verify_in_child(fd: int, start: int, size: int, expected: list) -> bool | None:
    """:func:`_verify` in a forked child, which answers by its exit code (0 intact, 1 not);
    None when it could not tell (no fork, the child failed or was killed): the caller
    checks in this process instead. The child only reads and hashes (no import, no
    thread, no lock another thread of this process may have held when it forked)."""
    try:
        pid = os.fork()
    except OSError as exc:
        log.warning("could not fork to check the index (%s); checking it in this process", exc)
        return None
    if pid == 0:  # the child: never returns into the caller's code
        code = 2
        try:
            code = 0 if all(_chunk_ok(fd, start, size, expected, i) for i in range(len(expected))) else 1
        finally:
            os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
    except BaseException:  # a stop signal's exception: the child goes with the load
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    code = os.waitstatus_to_exitcode(status)
    if code in (0, 1):
        return code == 0
    log.warning("the index check's child process ended with status %d; checking it in this process", code)
    return None


def _arrays(buffer: mmap.mmap, start: int, size: int, table: Any) -> dict[str, np.ndarray]:
    """The arrays the header's table describes, as read-only views of ``buffer`` (checked against ``size``)."""
    arrays: dict[str, np.ndarray] = {}
    for name, dtype, shape, offset in table:
        if (
            not isinstance(name, str)
            or dtype not in _DTYPES
            or not isinstance(offset, int)
            or not isinstance(shape, list)
            or not all(isinstance(d, int) and d >= 0 for d in shape)
        ):
            raise IndexFormatError("corrupt: bad arrays table")
        dt = np.dtype(dtype)
        count = math.prod(shape)
        if not 0 <= offset <= offset + count * dt.itemsize <= size:
            raise IndexFormatError("corrupt: an array lies outside the payload")
        arrays[name] = np.frombuffer(buffer, dtype=dt, count=count, offset=start + offset).reshape(shape)
    return arrays


def _load(path: Path, accept: Callable[[dict[str, Any]], bool], refusal: str) -> SentenceIndex:
    header, arrays, layout = _open(path, accept, refusal)
    try:
        index = SentenceIndex.from_arrays(layout["index"], arrays)
    except IndexFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - any inconsistency means "rebuild"
        raise IndexFormatError(f"corrupt payload: {type(exc).__name__}: {exc}") from None
    index.stored = _identity(header)
    return index


def _open(
    path: Path, accept: Callable[[dict[str, Any]], bool], refusal: str
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """(header, arrays, layout) of the intact file at ``path`` whose header ``accept`` takes;
    IndexFormatError (with ``refusal`` when ``accept`` refuses it) otherwise."""
    try:
        with open(path, "rb") as fh:
            # Before the first read: a read with the default advice leaves read-ahead state
            # that makes the check's reads cache the payload in large folios all the same.
            _advise_random(fh.fileno())
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
                raise IndexFormatError(
                    f"index format {header.get('format') if isinstance(header, dict) else '?'}"
                    f", expected {FORMAT_VERSION}"
                )
            if not accept(header):
                raise IndexFormatError(refusal)
            start = len(MAGIC) + 4 + size
            payload_bytes = header.get("payload_bytes")
            if not isinstance(payload_bytes, int) or os.fstat(fh.fileno()).st_size != start + payload_bytes:
                raise IndexFormatError("corrupt: the file is not the size its header announces (truncated?)")
            layout = header.get("layout")
            if not isinstance(layout, dict) or header.get("layout_crc32") != layout_checksum(layout):
                raise IndexFormatError("corrupt: header checksum mismatch")
            if not _verify(fh.fileno(), start, payload_bytes, header.get("payload_xxh3")):
                raise IndexFormatError("corrupt: checksum mismatch")
            buffer = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            _map_random(buffer)
    except OSError as exc:
        raise IndexFormatError(f"cannot read: {exc.strerror or exc}") from None
    try:
        return header, _arrays(buffer, start, payload_bytes, layout.get("arrays")), layout
    except IndexFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - any inconsistency means "rebuild"
        raise IndexFormatError(f"corrupt payload: {type(exc).__name__}: {exc}") from None
