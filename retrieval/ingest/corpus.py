"""Reading a corpus: a folder of .txt/.md articles or a JSONL file.

A file that cannot be used (binary, undecodable, broken front matter, empty,
too large, not a regular file, a broken or looping symlink) is skipped with a
warning that names it; the rest still loads. A corpus with no loadable article
raises :class:`CorpusError`; an ingestion pattern in ``config.yaml`` that is
not a regular expression raises :class:`ConfigError` naming the key.

A large corpus is read and cleaned in worker processes (``workers``; 0 = all
cores), each article on its own; the order, the duplicate checks and the
skip reasons are those of reading it in one process. A JSONL file is read a
line at a time and a folder a file at a time, as the workers need them: only
the cleaned articles are held, never the whole file or its lines.
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
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from retrieval.ingest.clean import clean_text, parse_date
from retrieval.config import IngestConfig
from retrieval.errors import ConfigError, CorpusError

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".txt", ".md")
MAX_FILE_BYTES = 20 * 1024 * 1024
# Below this many files or JSONL lines, worker processes cost more than they save.
MIN_PARALLEL_ITEMS = 256
# Items a worker process takes at a time.
PARALLEL_CHUNK = 32


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


@dataclass(frozen=True)
class Skipped:
    origin: str
    reason: str


@dataclass(frozen=True)
class Corpus:
    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...]


def corpus_files(path: Path) -> list[Path]:
    """The files a corpus consists of, in a stable order (for loading and fingerprints)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CorpusError(f"corpus not found: {path} (expected a folder of .txt/.md files or a .jsonl file)")
    files: list[Path] = []
    # os.walk does not follow directory symlinks, so a symlink loop cannot trap it.
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(
            Path(root) / n for n in sorted(names)
            if n.lower().endswith(ARTICLE_SUFFIXES) and not n.startswith(".")
        )
    return sorted(files, key=lambda p: p.relative_to(path).as_posix())


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            try:
                meta = yaml.safe_load("\n".join(lines[1:i])) or {}
            except yaml.YAMLError as exc:
                raise ValueError(f"broken YAML front matter: {str(exc).splitlines()[0]}") from None
            if not isinstance(meta, dict):
                raise ValueError("front matter must be a mapping (title: ..., source: ...)")
            return meta, "\n".join(lines[i + 1:])
    raise ValueError("front matter opened with '---' but never closed")


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


def _article(doc_id: str, text: str, meta: dict[str, Any], origin: str, rules: IngestConfig) -> Article:
    cleaned = clean_text(
        text,
        rules,
        title=_text_field(meta, "title"),
        source=_text_field(meta, "source"),
        date=_date_field(meta),
    )
    if not cleaned.paragraphs:
        raise ValueError("no article text left after removing boilerplate (empty file?)")
    return Article(
        doc_id=doc_id,
        title=cleaned.title or doc_id,
        source=cleaned.source,
        date=cleaned.date,
        url=_text_field(meta, "url"),
        paragraphs=cleaned.paragraphs,
        origin=origin,
    )


# One article read on its own: (doc_id, article, error found before the
# duplicate check, error found after it, where it was read). The duplicate
# check itself needs the articles before it, so it is made in order by the caller.
_Read = tuple[str | None, Article | None, str | None, str | None, str]

# Worker processes inherit the function to run by fork; it is never pickled.
_WORKER_READ: Callable[[object], _Read] | None = None


def _init_reader(read: Callable[[object], _Read]) -> None:
    global _WORKER_READ
    _WORKER_READ = read


def _read_in_worker(item: object) -> _Read:
    return _WORKER_READ(item)


def _read_all(read: Callable[[object], _Read], items: Iterable[object], workers: int) -> Iterator[_Read]:
    """``read`` of every item, in order: in worker processes when there are many.

    Items are taken from ``items`` as the workers need them and results come
    back in order, so neither the input nor the output is held whole here.
    """
    workers = workers or os.cpu_count() or 1
    items = iter(items)
    head = list(itertools.islice(items, MIN_PARALLEL_ITEMS))
    if workers <= 1 or len(head) < MIN_PARALLEL_ITEMS or "fork" not in mp.get_all_start_methods():
        yield from map(read, itertools.chain(head, items))
        return
    with mp.get_context("fork").Pool(workers, initializer=_init_reader, initargs=(read,)) as pool:
        yield from pool.imap(_read_in_worker, itertools.chain(head, items), chunksize=PARALLEL_CHUNK)


def _read_file(path: Path, rules: IngestConfig, file: Path) -> _Read:
    doc_id = file.relative_to(path).with_suffix("").as_posix()
    try:
        info = file.stat()  # follows symlinks: a loop or a dangling link is an OSError
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file (a FIFO, socket or device)")
        if info.st_size > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        meta, body = _split_front_matter(_decode(file.read_bytes()))
        return doc_id, _article(doc_id, body, meta, str(file), rules), None, None, str(file)
    except (OSError, ValueError) as exc:
        return doc_id, None, None, str(exc), str(file)


def _load_folder(path: Path, rules: IngestConfig, workers: int = 1, tick: Callable[[], object] = int) -> Corpus:
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    files = corpus_files(path)
    read = functools.partial(_read_file, path, rules)
    for doc_id, article, _, error, origin in _read_all(read, files, workers):
        if doc_id in seen:
            skipped.append(Skipped(origin, f"duplicate doc_id '{doc_id}' (another file has the same name)"))
        elif article is None:
            skipped.append(Skipped(origin, error or "unreadable"))
        else:
            articles.append(article)
            seen.add(doc_id)
        tick()
    return Corpus(tuple(articles), tuple(skipped))


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
            first = f.read(8192)
            if b"\x00" in first:
                raise ValueError("binary file (contains NUL bytes)")
            f.seek(0)
            for raw in f:
                try:
                    text = raw.decode("utf-8-sig" if offset == 0 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(f"not UTF-8 text ({exc.reason} at byte {offset + exc.start}); "
                                     "save it as UTF-8") from None
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
        if error is not None:
            skipped.append(Skipped(origin, error))
        elif doc_id in seen:
            skipped.append(Skipped(origin, f"duplicate id '{doc_id}'"))
        elif article is None:
            skipped.append(Skipped(origin, late_error or "unreadable"))
        else:
            articles.append(article)
            seen.add(doc_id)
        tick()
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


def load_corpus(path: str | Path, rules: IngestConfig, workers: int = 1, progress: bool | None = None) -> Corpus:
    """Load every usable article of ``path``; log one warning per skipped file.

    ``workers``: processes that read and clean articles when there are many (0 = all cores).
    ``progress``: True shows a progress bar (articles read) once reading takes more than
    two seconds, False hides it, None shows it when stderr is a terminal.
    """
    from tqdm import tqdm

    with tqdm(desc="reading", unit="article", delay=2, leave=False,
              disable=None if progress is None else not progress) as bar:
        corpus = _load(Path(path), rules, workers, bar.update)
    for s in corpus.skipped:
        log.warning("skipped %s: %s", s.origin, s.reason)
    if not corpus.articles:
        raise CorpusError(
            f"no loadable article in {path}"
            + (f" ({len(corpus.skipped)} file(s) skipped, see warnings)" if corpus.skipped else "")
        )
    return corpus


def _load(path: Path, rules: IngestConfig, workers: int, tick: Callable[[], object]) -> Corpus:
    check_patterns(rules)
    if path.is_file() and path.suffix.lower() not in (".jsonl", ".json", ".ndjson") + ARTICLE_SUFFIXES:
        raise CorpusError(f"corpus {path}: expected a folder, a .jsonl file or a .txt/.md file")
    if path.is_file() and path.suffix.lower() in ARTICLE_SUFFIXES:
        return _load_folder_file(path, rules)
    if path.is_file():
        return _load_jsonl(path, rules, workers, tick)
    return _load_folder(path, rules, workers, tick)


def _load_folder_file(file: Path, rules: IngestConfig) -> Corpus:
    """A single .txt/.md file used as a one-article corpus."""
    try:
        meta, body = _split_front_matter(_decode(file.read_bytes()))
        return Corpus((_article(file.stem, body, meta, str(file), rules),), ())
    except (OSError, ValueError) as exc:
        return Corpus((), (Skipped(str(file), str(exc)),))
