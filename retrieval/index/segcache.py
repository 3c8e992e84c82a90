"""Segmenting a whole corpus: on every core, and only what changed.

Word segmentation dominates building the index (underthesea, with the
features of :mod:`retrieval.text.wordseg`, does about 800-1,000 sentences a
second on one core of the machine this was measured on). This stage

- segments articles in parallel worker processes (``workers``; 0 = all
  cores), in order, with a progress bar, and
- remembers each article's segmentation in an SQLite file keyed by a hash of
  the article's text and the segmenter's identity, so re-indexing after
  adding or changing a few articles segments only those (written in batches
  as the workers go, so an interrupted build resumes where it stopped).

The cache is only an accelerator: an unreadable or corrupt cache file is
logged, set aside and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from sys import intern

from retrieval.ingest.corpus import Article

log = logging.getLogger(__name__)

# Below this many articles to segment, worker processes cost more than they save.
MIN_PARALLEL_ARTICLES = 64
# Below this many, the segmenter's bulk path is not set up: its feature tables stay in the
# process for good (tens of MB in a running bot that takes a document now and then), and for
# a few articles they save less than they cost. Both paths segment alike.
MIN_BULK_ARTICLES = 20
# Fresh segmentations are written to the cache in batches of this many articles,
# while the workers go on, rather than all at the end.
CACHE_BATCH = 256


@dataclass(frozen=True)
class Segmented:
    """One article, segmented: its title's terms, and each sentence's
    (paragraph, start, end, terms) with start/end indexing the paragraph."""

    title_terms: tuple[str, ...]
    sentences: tuple[tuple[int, int, int, tuple[str, ...]], ...]

    def to_json(self) -> str:
        return json.dumps([self.title_terms, self.sentences], ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Segmented:
        title, sentences = json.loads(text)
        # Interned like the Segmenter's terms: one string per word across the corpus.
        return cls(tuple(map(intern, title)), tuple((p, s, e, tuple(map(intern, t))) for p, s, e, t in sentences))


def segment_article(segmenter, title: str, paragraphs: Sequence[str]) -> Segmented:
    """Sentence spans and terms of one article (``segmenter``: a :class:`~retrieval.text.segment.Segmenter`)."""
    sentences = []
    for p, paragraph in enumerate(paragraphs):
        for start, end in segmenter.sentence_spans(paragraph):
            sentences.append((p, start, end, tuple(segmenter.terms(paragraph[start:end]))))
    return Segmented(tuple(segmenter.terms(title)), tuple(sentences))


def article_key(article: Article, segmenter_id: str) -> str:
    h = hashlib.sha256(segmenter_id.encode())
    h.update(b"\0" + article.title.encode())
    for paragraph in article.paragraphs:
        h.update(b"\0" + paragraph.encode())
    return h.hexdigest()


class SegmentCache:
    """article key -> :class:`Segmented`, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.OperationalError:
            raise  # cannot open or write (read-only folder, locked): the caller goes without the cache
        except sqlite3.DatabaseError as exc:
            log.warning("segmentation cache %s is unreadable (%s); starting a new one", path, exc)
            path.replace(path.with_suffix(path.suffix + ".corrupt"))
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.execute("CREATE TABLE IF NOT EXISTS segmented (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("SELECT count(*) FROM segmented").fetchone()
        return db

    def get_many(self, keys: Sequence[str]) -> dict[str, Segmented]:
        found: dict[str, Segmented] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = self._db.execute(
                f"SELECT key, value FROM segmented WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
            for key, value in rows:
                try:
                    found[key] = Segmented.from_json(value)
                except (ValueError, TypeError):
                    log.warning("segmentation cache entry %s is corrupt; segmenting again", key[:12])
        return found

    def put_many(self, items: Sequence[tuple[str, Segmented]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO segmented (key, value) VALUES (?, ?)",
                ((k, s.to_json()) for k, s in items),
            )

    def keep_only(self, keys: set[str]) -> None:
        """Forget articles that are no longer in the corpus."""
        stale = [k for (k,) in self._db.execute("SELECT key FROM segmented") if k not in keys]
        with self._db:
            self._db.executemany("DELETE FROM segmented WHERE key = ?", ((k,) for k in stale))

    def close(self) -> None:
        self._db.close()


# Worker processes inherit the segmenter by fork; it is never pickled.
_WORKER_SEGMENTER = None


def _init_worker(segmenter) -> None:
    global _WORKER_SEGMENTER
    _WORKER_SEGMENTER = segmenter


def _segment_in_worker(item: tuple[str, tuple[str, ...]]) -> Segmented:
    return segment_article(_WORKER_SEGMENTER, item[0], item[1])


def _segment_all(segmenter, todo: Sequence[Article], workers: int) -> Iterator[Segmented]:
    items = [(a.title, a.paragraphs) for a in todo]
    if len(items) >= MIN_BULK_ARTICLES:
        segmenter.prepare_bulk()
    if workers <= 1 or len(items) < MIN_PARALLEL_ARTICLES or "fork" not in mp.get_all_start_methods():
        for title, paragraphs in items:
            yield segment_article(segmenter, title, paragraphs)
        return
    # The first article is segmented here: that loads the segmenter's model once,
    # before the fork, and the workers inherit it instead of each loading its own.
    yield segment_article(segmenter, *items[0])
    rest = items[1:]
    ctx = mp.get_context("fork")
    chunk = max(1, min(32, len(rest) // (workers * 8)))
    with ctx.Pool(workers, initializer=_init_worker, initargs=(segmenter,)) as pool:
        yield from map(_interned, pool.imap(_segment_in_worker, rest, chunksize=chunk))


def _interned(seg: Segmented) -> Segmented:
    """``seg`` with its words interned: a worker's batch arrives with its own copy of every word,
    and a large corpus repeats a small vocabulary millions of times."""
    return Segmented(
        tuple(map(intern, seg.title_terms)), tuple((p, s, e, tuple(map(intern, t))) for p, s, e, t in seg.sentences)
    )


def segment_corpus(
    articles: Sequence[Article],
    segmenter,
    segmenter_id: str,
    *,
    cache_path: Path | None = None,
    workers: int = 0,
    progress: bool | None = None,
    prune: bool = True,
) -> list[Segmented]:
    """Every article segmented, in order; cached ones are read, the rest segmented on ``workers`` cores.

    ``prune``: ``articles`` are the whole corpus, so the cache forgets every other article;
    False when they are only the new or changed ones (an update)."""
    from tqdm import tqdm

    workers = workers or os.cpu_count() or 1
    keys = [article_key(a, segmenter_id) for a in articles]
    cache = None
    found: dict[str, Segmented] = {}
    if cache_path is not None:
        try:
            cache = SegmentCache(cache_path)
            found = cache.get_many(keys)
        except (OSError, sqlite3.Error) as exc:
            log.warning("segmentation cache %s unavailable (%s); segmenting everything", cache_path, exc)
            cache = None
    todo = [a for a, k in zip(articles, keys) if k not in found]
    todo_keys = [k for k in keys if k not in found]
    log.info(
        "segmenting %d of %d articles (%d from the cache) on %d process(es)",
        len(todo),
        len(articles),
        len(articles) - len(todo),
        workers if len(todo) >= MIN_PARALLEL_ARTICLES else 1,
    )
    fresh: list[tuple[str, Segmented]] = []

    def store(batch: list[tuple[str, Segmented]]) -> None:
        nonlocal cache
        if cache is None or not batch:
            return
        try:
            cache.put_many(batch)
        except (OSError, sqlite3.Error) as exc:
            log.warning("could not update the segmentation cache %s (%s)", cache_path, exc)
            cache.close()
            cache = None

    bar = tqdm(
        total=len(todo),
        desc="segmenting",
        unit="article",
        delay=2,
        postfix="0 sentences",
        disable=None if progress is None else not progress,
        leave=False,
    )
    sentences = 0
    try:
        for key, seg in zip(todo_keys, _segment_all(segmenter, todo, workers)):
            fresh.append((key, seg))
            found[key] = seg
            sentences += len(seg.sentences)
            bar.set_postfix_str(f"{sentences:,} sentences", refresh=False)
            bar.update(1)
            if len(fresh) >= CACHE_BATCH:
                store(fresh)
                fresh = []
        store(fresh)
        if cache is not None and prune:
            try:
                cache.keep_only(set(keys))
            except (OSError, sqlite3.Error) as exc:
                log.warning("could not update the segmentation cache %s (%s)", cache_path, exc)
    finally:
        # An interrupted build keeps the batches already written: the next one resumes from them.
        bar.close()
        if cache is not None:
            cache.close()
    return [found[k] for k in keys]
