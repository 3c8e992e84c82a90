"""What an update changes: the files it reads, the articles it adds, replaces and removes.

An update is asked for as a :class:`Change`: some files of the corpus folder
(added, changed or deleted: the folder on disk says which), or a re-scan of
everything. :func:`plan_update` works out the corpus after the change
against the served index, reading and segmenting only what it must:

* a folder corpus: the files named by the change (or under a folder it
  names), and any file whose doc_id another file's arrival or departure
  changed (``a.pdf`` is ``a`` alone, ``a.pdf`` beside ``a.docx``); every
  other article is the served index's own. A re-scan reads every file
  (documents come from the document cache, so that is mostly hashing);
* a JSONL file or a single document: the whole file, again.

A file that cannot be read keeps its previous article, if it had one (a
copy still in progress, a document saved half-way): only a deleted file
takes its article out. Articles that come out of reading equal to the
served ones are not changed; one whose only change is its origin (a JSONL
line moved down) is replaced, so the index stays what a rebuild would give,
but not reported.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.config import IngestConfig
from retrieval.index.segcache import Segmented
from retrieval.index.sentences import SentenceIndex
from retrieval.ingest.corpus import Article, Skipped, corpus_entries, load_corpus, read_files
from retrieval.ingest.files import ids_of


@dataclass(frozen=True)
class Change:
    """Files of the corpus that were added, changed or deleted, or ``rescan``: everything."""

    paths: frozenset[Path] = frozenset()
    rescan: bool = False

    @classmethod
    def of(cls, paths: Iterable[Path | str]) -> Change:
        """A change of these files (absolute paths: what a watcher or a copy reports)."""
        return cls(frozenset(Path(p).absolute() for p in paths))

    @classmethod
    def everything(cls) -> Change:
        return cls(rescan=True)

    def __or__(self, other: Change) -> Change:
        if self.rescan or other.rescan:
            return Change.everything()
        return Change(self.paths | other.paths)

    def __bool__(self) -> bool:
        return self.rescan or bool(self.paths)

    def touches(self, file: Path) -> bool:
        """Does the change name ``file``, or a folder it is in?"""
        return self.rescan or file in self.paths or any(parent in self.paths for parent in file.parents)


@dataclass(frozen=True)
class ArticleSummary:
    """An article an update added or replaced, as the person who added it is told."""

    doc_id: str
    title: str
    date: str | None
    sentences: int


@dataclass(frozen=True)
class Plan:
    """An update worked out: the corpus after it, and how it differs from the served index.

    ``added`` holds the new and the replaced articles with their segmentation;
    ``removed`` the doc_ids of the deleted and the replaced ones: the arguments of
    ``retrieval.index.update.apply_changes``. ``order`` is every doc_id after the
    update in corpus order (what a rebuild indexes, :meth:`articles`)."""

    order: tuple[str, ...]
    added: tuple[tuple[Article, Segmented], ...] = ()
    removed: frozenset[str] = frozenset()
    skipped: tuple[Skipped, ...] = ()
    # Replaced articles whose only change is where they come from (a JSONL line moved): not reported.
    moved: frozenset[str] = frozenset()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    @property
    def replaced(self) -> frozenset[str]:
        return frozenset(a.doc_id for a, _ in self.added) & self.removed

    def articles(self, index: SentenceIndex) -> list[Article]:
        """Every article after the update, in corpus order: the new ones and ``index``'s others."""
        new = {a.doc_id: a for a, _ in self.added}
        old = {index.articles.identity(i)[0]: i for i in index.live_ids()}
        return [new[d] if d in new else index.articles[old[d]] for d in self.order]

    def summaries(self) -> tuple[tuple[ArticleSummary, ...], tuple[ArticleSummary, ...], tuple[str, ...]]:
        """(added, replaced, removed doc_ids), for the report."""
        replaced = self.replaced
        added = tuple(ArticleSummary(a.doc_id, a.title, a.date, len(s.sentences)) for a, s in self.added)
        return (
            tuple(s for s in added if s.doc_id not in replaced),
            tuple(s for s in added if s.doc_id in replaced and s.doc_id not in self.moved),
            tuple(sorted(self.removed - replaced)),
        )


@dataclass(frozen=True)
class UpdateReport:
    """What an update did."""

    added: tuple[ArticleSummary, ...] = ()
    replaced: tuple[ArticleSummary, ...] = ()
    removed: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()  # files read that could not be used (their previous article stays)
    articles: int = 0  # after the update
    sentences: int = 0
    sentences_before: int = 0
    seconds: float = 0.0
    saved: bool = False
    stages: tuple[tuple[str, float], ...] = field(default=())

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced or self.removed)

    def find(self, doc_id: str) -> ArticleSummary | None:
        """The added or replaced article ``doc_id``, if this update took it in."""
        return next((s for s in self.added + self.replaced if s.doc_id == doc_id), None)

    def describe(self) -> str:
        """One line for the log."""
        if not self.changed:
            return f"index unchanged ({self.articles} articles) in {self.seconds:.2f}s"
        delta = self.sentences - self.sentences_before
        stages = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in self.stages)
        return (
            f"index updated: {len(self.added)} added, {len(self.replaced)} replaced, {len(self.removed)} "
            f"removed; {self.articles} articles, {self.sentences} sentences ({delta:+d}) in "
            f"{self.seconds:.2f}s ({stages})" + ("" if self.saved else "; NOT saved")
        )


def article_summary(index: SentenceIndex, doc_id: str) -> ArticleSummary | None:
    """``doc_id`` as ``index`` serves it (None: not in it)."""
    for i in index.live_ids():
        if index.articles.identity(i)[0] == doc_id:
            article = index.articles[i]
            sentences = int(np.count_nonzero(np.asarray(index.sentences.article) == i))
            return ArticleSummary(doc_id, article.title, article.date, sentences)
    return None


Segment = Callable[[Sequence[Article]], list[Segmented]]


def plan_update(
    index: SentenceIndex,
    corpus: Path,
    change: Change,
    rules: IngestConfig,
    segment: Segment,
    document_cache: Path | None = None,
) -> Plan:
    """The corpus ``corpus`` after ``change``, against the served ``index``: only what changed is
    read (in this process) and segmented (``segment``: the service's, with its cache).

    Raises CorpusError when a JSONL or single-document corpus has no loadable article any more
    (a folder whose every file is gone gives an empty plan's ``order``: the caller refuses it)."""
    old: dict[str, tuple[int, str]] = {}
    for i in index.live_ids():
        doc_id, origin = index.articles.identity(i)
        old[doc_id] = (i, origin)
    if corpus.is_dir():
        order, fresh, skipped, keep = _read_folder(corpus, change, rules, old, document_cache)
    else:
        read = load_corpus(corpus, rules, workers=1, cache_path=document_cache, progress=False)
        order = tuple(a.doc_id for a in read.articles)
        fresh, skipped, keep = list(read.articles), read.skipped, set()
    changed, moved = [], set()
    for article in fresh:
        if article.doc_id not in old:
            changed.append(article)
            continue
        before = index.articles[old[article.doc_id][0]]
        if before != article:
            changed.append(article)
            if dataclasses.replace(before, origin=article.origin) == article:
                moved.add(article.doc_id)
    present = set(order)
    removed = {d for d in old if d not in present and d not in keep} | {a.doc_id for a in changed if a.doc_id in old}
    segmented = segment(changed) if changed else []
    return Plan(
        order=order,
        added=tuple(zip(changed, segmented)),
        removed=frozenset(removed),
        skipped=tuple(skipped),
        moved=frozenset(moved),
    )


def _read_folder(
    corpus: Path, change: Change, rules: IngestConfig, old: dict[str, tuple[int, str]], document_cache: Path | None
) -> tuple[tuple[str, ...], list[Article], Sequence[Skipped], set[str]]:
    """(doc_ids after the change in corpus order, the articles read, the files skipped, the doc_ids
    whose file could not be read and whose previous article stays)."""
    # Paths as strings: every update goes over every file of the folder (40k files: pathlib's
    # parsing, hashing and parent walks took seconds). An article's origin is its file's path as listed.
    entries = corpus_entries(corpus)
    names = [full for _, full in entries]
    ids = ids_of([relative for relative, _ in entries])
    id_before = {origin: doc_id for doc_id, (_, origin) in old.items()}
    named = {str(p) for p in change.paths}
    folders = tuple(os.path.join(p, "") for p in named)

    def touched(name: str) -> bool:
        return change.rescan or name in named or name.startswith(folders)

    read = [
        i
        for i, (name, d) in enumerate(zip(names, ids))
        if touched(name) or (name in id_before and id_before[name] != d)
    ]
    got = read_files(corpus, [Path(names[i]) for i in read], [ids[i] for i in read], rules, cache_path=document_cache)
    fresh = {a.doc_id for a in got.articles}
    unreadable = {str(Path(s.origin)) for s in got.skipped}
    keep = {ids[i] for i in read if names[i] in unreadable and id_before.get(names[i]) == ids[i]}
    was_read = set(read)
    order = tuple(
        d
        for i, (name, d) in enumerate(zip(names, ids))
        if d in fresh or d in keep or (i not in was_read and id_before.get(name) == d)
    )
    return order, list(got.articles), got.skipped, keep
