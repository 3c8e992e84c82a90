"""Reading a corpus: a folder of documents (read recursively), one document, or a JSONL file.

A folder's files are read by their kind, decided by content as well as name
(:mod:`retrieval.ingest.files`): web pages (.html/.htm), PDF, DOCX, and
.txt/.md articles. A file that cannot be used (undecodable, broken front
matter, empty, too large, an encrypted, damaged or scanned PDF, a broken
DOCX, a page without text, not a regular file, a broken or looping symlink)
is skipped with a warning that names it and says why; files that are no
documents at all (images, archives, executables) are counted by kind in one
warning. The rest still loads. A corpus with no loadable article raises
:class:`CorpusError`; an ingestion pattern in ``config.yaml`` that is not a
regular expression raises :class:`ConfigError` naming the key.

A large corpus, or documents that are slow to read (PDF, DOCX, HTML), are
read and cleaned in worker processes (``workers``; 0 = all cores), each file
on its own; the order, the duplicate checks and the skip reasons are those
of reading it in one process. Documents read before are taken from the
document cache (:mod:`retrieval.ingest.doccache`) when one is given. A
JSONL file is read a line at a time, as the workers need them: only the
cleaned articles are held, never the whole file or its lines.

One module past 400 lines because a folder, a JSONL file and a single document, read in one
process or in workers, share one order, one set of duplicate checks and one list of skip
reasons; split, they would drift apart.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import logging
import multiprocessing as mp
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.config import IngestConfig
from retrieval.errors import ConfigError, CorpusError
from retrieval.ingest.clean import clean_text, parse_date
from retrieval.ingest.doccache import CACHED_SUFFIXES, DocumentCache, cache_key
from retrieval.ingest.files import (
    DOCUMENT_SUFFIXES,
    Layout,
    UnreadableContent,
    doc_ids,
    file_size,
    read_data,
    read_file,
)
from retrieval.ingest.formats import Document, NotADocument, SkipKind

log = logging.getLogger(__name__)

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
# Below this many files or JSONL lines, worker processes cost more than they save ...
MIN_PARALLEL_ITEMS = 256
# Items a worker process takes at a time.
PARALLEL_CHUNK = 32
# ... unless there are this many PDF, DOCX and HTML files to read (not in the document cache;
# each takes 10-30 ms, a pool of workers about as much to start), or they weigh this much.
MIN_PARALLEL_DOCUMENTS = 8
MIN_PARALLEL_BYTES = 1 << 20
# A warning about skipped non-documents names at most this many of them.
SKIPPED_NAMES_SHOWN = 20


@dataclass(frozen=True)
class Article:
    """One article: its citation fields and its body, as paragraphs of original text."""

    doc_id: str
    title: str
    source: str | None
    date: str | None  # ISO YYYY-MM-DD
    url: str | None
    paragraphs: tuple[str, ...]
    origin: str  # file path, or "file.jsonl:LINE"
    # Where each paragraph comes from, when the format tells (one entry per paragraph; empty when
    # no paragraph has one): the PDF page it starts on, and the heading it sits under.
    pages: tuple[int | None, ...] = ()
    sections: tuple[str | None, ...] = ()

    def __post_init__(self) -> None:
        for name in ("pages", "sections"):
            values = getattr(self, name)
            if values and len(values) != len(self.paragraphs):
                raise ValueError(f"Article.{name} must hold one entry per paragraph or none")
            if values and all(v is None for v in values):
                object.__setattr__(self, name, ())  # one form for "nowhere known", so equal articles compare equal

    def page(self, paragraph: int) -> int | None:
        """The PDF page paragraph ``paragraph`` starts on, if known."""
        return self.pages[paragraph] if self.pages else None

    def section(self, paragraph: int) -> str | None:
        """The heading paragraph ``paragraph`` sits under, if known."""
        return self.sections[paragraph] if self.sections else None


@dataclass(frozen=True)
class Skipped:
    origin: str
    reason: str
    # What the file is when it is no document at all (an image, an archive...): counted, not warned about.
    kind: SkipKind | None = None


@dataclass(frozen=True)
class Corpus:
    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...]


def corpus_files(path: Path) -> list[Path]:
    """The files a corpus consists of, in a stable order (for loading and fingerprints): every file
    of a folder and its subfolders but hidden ones (their kinds are told when they are read)."""
    if path.is_file():
        return [path]
    return [Path(full) for _, full in corpus_entries(path)]


def corpus_entries(path: Path) -> list[tuple[str, str]]:
    """:func:`corpus_files` as (path relative to the corpus folder, or the file's name for a
    one-file corpus, in posix form; the full path) strings. A running bot lists its folder at
    every update: at 40k files, making the Path objects alone took 0.6 s."""
    if path.is_file():
        return [(path.name, str(path))]
    if not path.is_dir():
        raise CorpusError(f"corpus not found: {path} (expected a folder of documents, a document or a .jsonl file)")
    found: list[tuple[str, str]] = []  # (path relative to the corpus, as posix; full path)
    prefix = len(os.path.join(str(path), ""))
    # os.walk does not follow directory symlinks, so a symlink loop cannot trap it.
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for n in names:
            if not n.startswith("."):
                full = os.path.join(root, n)
                found.append((full[prefix:].replace(os.sep, "/"), full))
    found.sort()
    return found


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None


def _text_field(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"field '{key}' must be text, got {type(value).__name__}")
    value = str(value).strip()
    return value or None


def _date_field(meta: dict[str, Any]) -> str | None:
    raw = _text_field(meta, "date")
    if raw is None:
        return None
    parsed = parse_date(raw)
    if parsed is None:
        raise ValueError(f"field 'date' is not a date with day, month and year: {raw!r}")
    return parsed


def _article(
    doc_id: str, text: str, meta: dict[str, Any], origin: str, rules: IngestConfig, layout: Layout | None = None
) -> Article:
    """``layout``: where the lines of ``text`` come from (pages, sections) and which are table rows."""
    cleaned = clean_text(
        text,
        rules,
        title=_text_field(meta, "title"),
        source=_text_field(meta, "source"),
        date=_date_field(meta),
        text_lines=layout.rows if layout else frozenset(),
        heading_lines=layout.headings if layout else frozenset(),
    )
    if not cleaned.paragraphs:
        raise ValueError("no article text left after removing boilerplate (empty file?)")
    pages, sections = layout.origins(cleaned.lines) if layout else ((), ())
    return Article(
        doc_id=doc_id,
        title=cleaned.title or doc_id,
        source=cleaned.source,
        date=cleaned.date,
        url=_text_field(meta, "url"),
        paragraphs=cleaned.paragraphs,
        origin=origin,
        pages=pages,
        sections=sections,
    )


# One JSONL line read on its own: (doc_id, article, error found before the
# duplicate check, error found after it). The duplicate check itself needs the
# articles before it, so it is made in order by the caller.
_Read = tuple[str | None, Article | None, str | None, str | None, str]

# Worker processes inherit the function to run by fork; it is never pickled.
_WORKER_READ: Callable[[object], _Read] | None = None


def _init_reader(read: Callable[[object], _Read]) -> None:
    global _WORKER_READ
    _WORKER_READ = read


def _read_in_worker(item: object) -> _Read:
    if _WORKER_READ is None:
        raise RuntimeError("a corpus worker started without _init_reader")
    return _WORKER_READ(item)


def _read_all(
    read: Callable[[object], Any], items: Iterable[object], workers: int, many: bool = False
) -> Iterator[Any]:
    """``read`` of every item, in order: in worker processes when there are many (or ``many``).

    Items are taken from ``items`` as the workers need them and results come
    back in order, so neither the input nor the output is held whole here.
    """
    workers = workers or os.cpu_count() or 1
    items = iter(items)
    head = list(itertools.islice(items, MIN_PARALLEL_ITEMS))
    many = many or len(head) >= MIN_PARALLEL_ITEMS
    if workers <= 1 or not many or "fork" not in mp.get_all_start_methods():
        yield from map(read, itertools.chain(head, items))
        return
    with mp.get_context("fork").Pool(workers, initializer=_init_reader, initargs=(read,)) as pool:
        yield from pool.imap(_read_in_worker, itertools.chain(head, items), chunksize=PARALLEL_CHUNK)


@dataclass(frozen=True)
class _FileRead:
    """One file read on its own: its article, or why it was skipped; a document read just now."""

    article: Article | None
    reason: str | None = None
    kind: SkipKind | None = None
    # (cache key, the document or why it cannot be read) for the document cache.
    fresh: tuple[str, Document | str] | None = None


def _read_file(
    rules: IngestConfig, max_bytes: int, cached: dict[str, Document | str], item: tuple[Path, str, str | None]
) -> _FileRead:
    file, doc_id, key = item
    try:
        got = read_file(file, max_bytes, cached.get(key) if key else None)
    except NotADocument as exc:
        return _FileRead(None, exc.reason, exc.skip_kind)
    except UnreadableContent as exc:
        return _FileRead(None, exc.reason, fresh=(exc.key, exc.reason))
    except (OSError, ValueError) as exc:
        return _FileRead(None, str(exc))
    try:
        return _FileRead(_article(doc_id, got.text, got.meta, str(file), rules, got.layout), fresh=got.fresh)
    except ValueError as exc:
        return _FileRead(None, str(exc), fresh=got.fresh)


def _load_files(
    root: Path,
    files: list[Path],
    rules: IngestConfig,
    workers: int = 1,
    cache_path: Path | None = None,
    tick: Callable[[], object] = int,
    ids: Sequence[str] | None = None,
) -> Corpus:
    """The articles of ``files`` (under ``root``, which their doc_ids are relative to).

    ``ids``: the files' doc_ids when ``files`` are some of a folder's (:func:`read_files`);
    the document cache then keeps the entries of the other files."""
    partial = ids is not None
    file_ids = list(ids) if ids is not None else doc_ids(root, files)
    max_bytes = rules.max_file_mb << 20
    extracted = any(f.suffix.lower() in CACHED_SUFFIXES for f in files)
    with DocumentCache(cache_path if extracted else None) as cache:
        keys = [cache_key(f, max_bytes) if cache.active else None for f in files]
        cached = cache.get_many([k for k in keys if k])
        # What each file costs to read: the bytes of a document to extract (not in the cache).
        costs = [
            file_size(f) if f.suffix.lower() in CACHED_SUFFIXES and key not in cached else 0
            for f, key in zip(files, keys)
        ]
        order = sorted(range(len(files)), key=lambda i: -costs[i])  # the slowest first, for the workers
        read = functools.partial(_read_file, rules, max_bytes, cached)
        extract = [cost for cost in costs if cost]
        many = len(extract) >= MIN_PARALLEL_DOCUMENTS or (len(files) > 1 and sum(extract) >= MIN_PARALLEL_BYTES)
        done = _read_all(read, [(files[i], file_ids[i], keys[i]) for i in order], workers, many=many)
        done = (result for result in done if tick() or True)
        reads = [result for _, result in sorted(zip(order, done), key=lambda pair: pair[0])]  # files' order
        cache.put_many(r.fresh for r in reads if r.fresh)
        if not partial:
            cache.keep_only({k for k in keys if k})
    articles = tuple(r.article for r in reads if r.article is not None)
    skipped = tuple(
        Skipped(str(f), r.reason or "unreadable", r.kind) for f, r in zip(files, reads) if r.article is None
    )
    return Corpus(articles, skipped)


def read_files(
    root: Path, files: Sequence[Path], ids: Sequence[str], rules: IngestConfig, cache_path: Path | None = None
) -> Corpus:
    """Some files of the folder corpus ``root``, in this process, with their doc_ids (given:
    :func:`~retrieval.ingest.files.doc_ids` of the whole folder decides them). What an update
    reads; one warning per skipped file, and the document cache keeps its other entries."""
    if len(files) != len(ids):
        raise ValueError("read_files needs one doc_id per file")
    check_patterns(rules)
    corpus = _load_files(root, list(files), rules, workers=1, cache_path=cache_path, ids=ids)
    _log_skipped(corpus.skipped, root)
    return corpus


def article_of(name: str, data: bytes, doc_id: str, rules: IngestConfig) -> Article:
    """The article that a file named ``name`` holding ``data`` gives: what an upload is checked
    with before it is written. Raises :class:`NotADocument` (an image, an archive...) or
    ValueError (among them UnreadableDocument) with the reason."""
    check_patterns(rules)
    got = read_data(Path(name), data, rules.max_file_mb << 20)
    return _article(doc_id, got.text, got.meta, name, rules, got.layout)


def _read_line(path: Path, rules: IngestConfig, item: tuple[int, str]) -> _Read:
    number, line = item
    origin = f"{path}:{number}"
    try:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise ValueError("each line must be a JSON object")
        doc_id = _text_field(record, "id")
        body = record.get("text")
        if not doc_id:
            raise ValueError("missing 'id'")
        if not isinstance(body, str) or not body.strip():
            raise ValueError("missing or empty 'text'")
    except ValueError as exc:
        return None, None, str(exc), None, origin
    try:
        return doc_id, _article(doc_id, body, record, origin, rules), None, None, origin
    except ValueError as exc:
        return doc_id, None, None, str(exc), origin


def _jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(number, line)`` of the non-blank lines of a UTF-8 file, read as they are needed. Lines
    are numbered as ``str.splitlines`` numbers them; a file that is not UTF-8 text raises
    CorpusError naming the first bad byte."""
    number = 0
    offset = 0
    try:
        with path.open("rb") as f:
            if b"\x00" in f.read(8192):
                raise ValueError("binary file (contains NUL bytes)")
            f.seek(0)
            for raw in f:
                try:
                    text = raw.decode("utf-8-sig" if offset == 0 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(
                        f"not UTF-8 text ({exc.reason} at byte {offset + exc.start}); save it as UTF-8"
                    ) from None
                offset += len(raw)
                for line in text.splitlines():
                    number += 1
                    if line.strip():
                        yield number, line
    except (OSError, ValueError) as exc:
        raise CorpusError(f"cannot read corpus {path}: {exc}") from None


def _load_jsonl(path: Path, rules: IngestConfig, workers: int = 1, tick: Callable[[], object] = int) -> Corpus:
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    read = functools.partial(_read_line, path, rules)
    for doc_id, article, error, late_error, origin in _read_all(read, _jsonl_lines(path), workers):
        tick()
        if error is not None:
            skipped.append(Skipped(origin, error))
        elif doc_id in seen:
            skipped.append(Skipped(origin, f"duplicate id '{doc_id}'"))
        elif article is None:
            skipped.append(Skipped(origin, late_error or "unreadable"))
        else:
            articles.append(article)
            seen.add(doc_id)
    return Corpus(tuple(articles), tuple(skipped))


def check_patterns(rules: IngestConfig) -> None:
    """Raise ConfigError naming the first ``ingest.*_patterns`` entry that is not a regular expression."""
    for key in ("drop_line_patterns", "source_line_patterns"):
        for i, pattern in enumerate(getattr(rules, key)):
            try:
                re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise ConfigError(
                    f"config key 'ingest.{key}[{i}]' is not a valid regular expression ({exc}): {pattern!r}"
                ) from None


def load_corpus(
    path: str | Path,
    rules: IngestConfig,
    workers: int = 1,
    cache_path: Path | None = None,
    progress: bool | None = None,
) -> Corpus:
    """Load every usable article of ``path``; log one warning per skipped file, and one for all
    the files that are no documents (images, archives...).

    ``workers``: processes that read and clean articles when there are many (0 = all cores).
    ``cache_path``: the document cache's SQLite file (:mod:`retrieval.ingest.doccache`); None: no cache.
    ``progress``: True shows a progress bar (articles read) once reading takes more than
    two seconds, False hides it, None shows it when stderr is a terminal.
    """
    from tqdm import tqdm

    with tqdm(
        desc="reading", unit="article", delay=2, leave=False, disable=None if progress is None else not progress
    ) as bar:
        return _load(Path(path), rules, workers, cache_path, bar.update)


def _load(path: Path, rules: IngestConfig, workers: int, cache_path: Path | None, tick: Callable[[], object]) -> Corpus:
    check_patterns(rules)
    suffix = path.suffix.lower()
    if path.is_file() and suffix not in JSONL_SUFFIXES + tuple(DOCUMENT_SUFFIXES) and suffix:
        raise CorpusError(
            f"corpus {path}: expected a folder, a .jsonl file or a document (.html, .htm, .pdf, .docx, .txt, .md)"
        )
    if path.is_file() and suffix in JSONL_SUFFIXES:
        corpus = _load_jsonl(path, rules, workers, tick)
    elif path.is_file():
        corpus = _load_files(path.parent, [path], rules, workers, cache_path, tick)
    else:
        corpus = _load_files(path, corpus_files(path), rules, workers, cache_path, tick)
    _log_skipped(corpus.skipped, path if path.is_dir() else path.parent)
    if not corpus.articles:
        raise CorpusError(
            f"no loadable article in {path}"
            + (f" ({len(corpus.skipped)} file(s) skipped, see warnings)" if corpus.skipped else "")
        )
    return corpus


def _log_skipped(skipped: Sequence[Skipped], root: Path) -> None:
    """One warning per skipped file, and one for the non-documents: "skipped 3 images, 1 archive: ..."."""
    others: dict[SkipKind, list[str]] = {}
    for s in skipped:
        if s.kind is None:
            log.warning("skipped %s: %s", s.origin, s.reason)
        else:
            others.setdefault(s.kind, []).append(os.path.relpath(s.origin, root))
    if others:
        names = [name for kind in SkipKind for name in others.get(kind, ())]
        more = len(names) - SKIPPED_NAMES_SHOWN
        log.warning(
            "skipped %s (not documents the bot reads) in %s: %s%s",
            ", ".join(kind.in_words(len(others[kind])) for kind in SkipKind if kind in others),
            root,
            ", ".join(names[:SKIPPED_NAMES_SHOWN]),
            f" and {more} more" if more > 0 else "",
        )
