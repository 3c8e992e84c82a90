"""Adding, replacing and removing articles without rebuilding the index (issue #23).

An updated index is its **base** (the saved index, as built or loaded, never modified)
plus its **changes**: the articles added since (their own small postings, the *delta*)
and the base articles removed (tombstones: their postings stay in the base's arrays but
count nowhere and their sentences are never returned). A replaced article is its old
version removed and its new one added. :func:`apply_changes` makes a new, immutable
:class:`~retrieval.index.sentences.SentenceIndex` from an index and a few changes, in
seconds at a million sentences; the caller swaps it in (questions in flight keep the
index they started with).

Scores equal those of :func:`~retrieval.index.build.build_index` over the resulting
corpus (and so rank-bm25's ``BM25Okapi``), bit for bit. A posting's weight is
``idf(t) * tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl))``, and N, avgdl and the
document frequencies of a rebuild are those of the live documents, so every field's
statistics are combined at update time:

* **avgdl**: each field keeps its documents' summed length (``Bm25.total``), so the
  live total is an integer sum, divided by the live N as rank-bm25 divides.
* **Weights**: postings store codes into a table of distinct (tf, dl) pairs, not of
  float parts, so a new avgdl recomputes only that table (a few thousand pairs); the
  delta's table is computed at the same avgdl.
* **IDF**: the live document frequency of every term (the base's, less the removed
  documents', plus the delta's) gives its IDF by rank-bm25's formula (``math.log`` per
  distinct frequency). The floor of the common terms is epsilon x the *mean* IDF, which
  rank-bm25 sums left to right in the order the terms first appear in the corpus; a
  rebuild's order is reproduced exactly (:func:`_first_seen_order`): the base keeps its
  fields' first-seen orders (``Bm25.order``, or the vocabulary's own column order), and
  the terms whose first live occurrence moved (their first document removed, or an added
  article that comes earlier in the corpus) are moved to where a rebuild would meet them.
* **Bounds** (``max_weight``, for MaxScore): the base's largest part of each term times
  ``max(1, new avgdl / base avgdl)`` (a part grows at most by that ratio) times
  ``1 + 1e-9``, so still an upper bound; the delta's own exactly; times the new IDF.

**Corpus order.** A rebuild (:func:`retrieval.ingest.corpus.load_corpus`) reads the
files sorted by path, a JSONL file in line order; :func:`corpus_key` is that order as a
key of an article's ``origin`` (``path`` or ``path:LINE``). Added articles are placed
among the base's by it (after base articles with the same key). Sentence and article
*ids* are not a rebuild's: the base's keep their ids, added ones come after them (an
article's sentences stay consecutive). Where two sentences score the same, the
lower id comes first, as everywhere in the search: the tie order of an updated index is
therefore "base before added", not a rebuild's corpus order; every score, and the set of
candidates (ties at the cut-off are all kept), equal a rebuild's.

**Saving.** :func:`save_changes` writes the changes (the added articles with their
segmentation, the removed base articles, the new corpus fingerprint, and the identity of
the base file they apply to) to a small file beside the index, atomically;
:func:`retrieval.index.store.load_index` serves the base plus these changes when their
fingerprint is the corpus's. :func:`merge` folds the changes into a new base (a rebuild
from the stored words, no segmentation), best run in another process
(:func:`start_merge`) once the delta grows past :data:`MERGE_SENTENCES`.

Past 400 lines because applying changes, saving them beside their base and merging them
are one life cycle of an updated index; one field's arithmetic is in
:mod:`retrieval.index.updated_field`.
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.index.bm25 import Bm25, frozen
from retrieval.index.segcache import Segmented
from retrieval.index.sentences import (
    CombinedArticles,
    CombinedTerms,
    SentenceIndex,
    SentenceRefs,
    Terms,
)
from retrieval.index.updated_field import _updated_field
from retrieval.index.vocabulary import Vocabulary
from retrieval.ingest.corpus import Article
from retrieval.text.answer_types import sentence_kinds
from retrieval.text.terms import bigrams, expand, fold_terms

log = logging.getLogger(__name__)

# Once the added articles hold this many sentences, the service should merge them into a new
# base (:func:`start_merge`): each update recomputes the whole delta, so its cost grows with it.
MERGE_SENTENCES = 20_000

# The fields over sentences and over whole articles (title, then sentences).
SENTENCE_FIELDS = ("bm25", "fold", "pairs", "fold_pairs")
ARTICLE_FIELDS = ("article_bm25", "article_words", "article_fold")
# Fields that use another field's vocabulary (build_index shares the articles' words).
VOCABULARY_OF = {"bm25": "article_bm25", "article_words": "article_bm25"}


class UpdateError(ValueError):
    """Changes that cannot be applied (an unknown article to remove, an article both added
    and removed, a segmentation that does not fit its article)."""


def corpus_key(origin: str) -> tuple[str, int]:
    """An article's place in a rebuild's order from its ``origin``: (file path, line), the
    line being 0 for a file that is one article. Files sort by path (as
    :func:`~retrieval.ingest.corpus.corpus_files` sorts them: their paths share the corpus
    folder's prefix), a JSONL file's articles by line."""
    path, sep, line = origin.rpartition(":")
    if sep and line.isdigit():
        return path, int(line)
    return origin, 0


def _recipe(name: str, expand_compounds: bool) -> Callable[[Sequence[str]], Sequence[str]]:
    """How :func:`~retrieval.index.build.build_index` makes field ``name``'s tokens from
    words (a sentence's, or an article title's)."""
    return {
        "bm25": expand if expand_compounds else tuple,
        "fold": fold_terms,
        "pairs": bigrams,
        "fold_pairs": lambda words: bigrams(fold_terms(words)),
        "article_bm25": expand,
        "article_words": tuple,
        "article_fold": fold_terms,
    }[name]


@dataclass(frozen=True)
class _Catalogue:
    """The base's articles by doc_id, and their corpus keys (sorted)."""

    ids: dict[str, int]
    keys: list[tuple[str, int]]

    @classmethod
    def of(cls, base: SentenceIndex, key: Callable[[str], Any]) -> _Catalogue:
        ids: dict[str, int] = {}
        keys = []
        for i in range(len(base.articles)):
            doc_id, origin = base.articles.identity(i)
            ids[doc_id] = i
            keys.append(key(origin))
        if any(b < a for a, b in itertools.pairwise(keys)):
            raise UpdateError(
                "the index's articles are not in corpus order (corpus_key of their origins), "
                "so added ones cannot be placed as a rebuild would; rebuild the index instead"
            )
        return cls(ids, keys)


@dataclass(frozen=True)
class Changes:
    """What an updated index holds beyond its base (``SentenceIndex.changes``)."""

    base: SentenceIndex
    removed: np.ndarray  # base article ids removed, sorted
    added: tuple[Article, ...]  # in corpus order: article len(base.articles) + i
    segmented: tuple[Segmented, ...]
    places: np.ndarray  # per added article, how many base articles come before it in corpus order
    live_order: np.ndarray  # the live articles' ids in corpus order
    dead_sentences: np.ndarray  # the removed articles' sentences (ids), sorted
    # Per article: 1.0, or 0.0 when removed (the compiled first stage's mask). Writable, like the
    # evidence buffer it stands in for (numba compiles read-only arrays apart); never written.
    live_factor: np.ndarray
    catalogue: _Catalogue

    @property
    def added_sentences(self) -> int:
        return sum(len(s.sentences) for s in self.segmented)


def apply_changes(
    index: SentenceIndex,
    added: Iterable[tuple[Article, Segmented]] = (),
    removed: Iterable[str] = (),
    *,
    key: Callable[[str], Any] = corpus_key,
) -> SentenceIndex:
    """A new index: ``index`` with the articles ``added`` and without those ``removed``.

    ``added``: (article, its segmentation) pairs, from
    :func:`retrieval.index.segcache.segment_article` or the segmentation cache, as
    :func:`~retrieval.index.build.build_index` takes them. An article whose ``doc_id`` is
    already indexed replaces it. ``removed``: doc_ids of indexed articles. ``key``: an
    article's place in the corpus from its ``origin`` (default :func:`corpus_key`: the
    order of :func:`~retrieval.ingest.corpus.load_corpus`).

    The result scores every sentence and article exactly as ``build_index`` over the
    resulting corpus would (its settings are ``index``'s), and its articles, sentences,
    words, answer kinds, texts, pages and sections follow the change; ``index`` itself is
    not modified, so questions that hold it go on as they were. Sentence ids differ from a
    rebuild's (the module's docstring: "Corpus order"). Changes accumulate: applying
    changes to an updated index keeps its earlier ones. Raises :class:`UpdateError`.
    """
    previous: Changes | None = index.changes
    base = index if previous is None else previous.base
    catalogue = previous.catalogue if previous is not None else _Catalogue.of(base, key)
    added = list(added)
    removed = set(removed)
    new_ids = [a.doc_id for a, _ in added]
    if len(set(new_ids)) != len(new_ids):
        raise UpdateError("an article is added twice in one change")
    if removed & set(new_ids):
        raise UpdateError(f"articles both added and removed: {sorted(removed & set(new_ids))}")
    for article, seg in added:
        _check_segmentation(article, seg)
    delta = {} if previous is None else {a.doc_id: (a, s) for a, s in zip(previous.added, previous.segmented)}
    dead = set() if previous is None else set(previous.removed.tolist())
    for doc_id in removed:
        if doc_id in delta:
            del delta[doc_id]
        elif doc_id in catalogue.ids and catalogue.ids[doc_id] not in dead:
            dead.add(catalogue.ids[doc_id])
        else:
            raise UpdateError(f"no indexed article {doc_id!r} to remove")
    for article, seg in added:
        delta.pop(article.doc_id, None)
        if article.doc_id in catalogue.ids:
            dead.add(catalogue.ids[article.doc_id])
        delta[article.doc_id] = (article, seg)
    return overlay(base, sorted(dead), list(delta.values()), key=key, catalogue=catalogue)


def _check_segmentation(article: Article, seg: Segmented) -> None:
    for p, start, end, _ in seg.sentences:
        if not (0 <= p < len(article.paragraphs) and 0 <= start <= end <= len(article.paragraphs[p])):
            raise UpdateError(f"the segmentation of {article.doc_id!r} does not fit its paragraphs")


def overlay(
    base: SentenceIndex,
    removed: Sequence[int],
    added: Sequence[tuple[Article, Segmented]],
    *,
    key: Callable[[str], Any] = corpus_key,
    catalogue: _Catalogue | None = None,
) -> SentenceIndex:
    """``base`` (an index as built or loaded) without its articles ``removed`` (ids) and with
    ``added``: the index :func:`apply_changes` describes."""
    if base.changes is not None:
        raise UpdateError("overlay takes an index as built or loaded, not an updated one")
    catalogue = catalogue or _Catalogue.of(base, key)
    added = sorted(added, key=lambda pair: key(pair[0].origin))  # stable: equal keys keep their order
    n_articles, n_sentences = len(base.articles), len(base.sentences)
    removed_ids = np.asarray(sorted(removed), dtype=np.int64)
    places = np.asarray([bisect_right(catalogue.keys, key(a.origin)) for a, _ in added], dtype=np.int64)
    base_article = base.sentences.article
    # Sentence level: the removed articles' sentences, and where each added article's go.
    starts = np.searchsorted(base_article, removed_ids, side="left")
    ends = np.searchsorted(base_article, removed_ids, side="right")
    dead_sentences = (
        np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]).astype(np.int64)
        if removed_ids.size
        else np.zeros(0, dtype=np.int64)
    )
    sentence_places = np.searchsorted(base_article, places, side="left")
    segs = [seg for _, seg in added]
    counts = [len(seg.sentences) for seg in segs]
    added_sentence_places = np.repeat(sentence_places, counts).astype(np.int64)

    words = _Words(base)
    dead_sentence_words = [words.sentence(int(i)) for i in dead_sentences]
    dead_article_words = [words.article(int(a)) for a in removed_ids]
    added_sentence_words = [t for seg in segs for _, _, _, t in seg.sentences]
    added_article_words = [(seg.title_terms, [t for _, _, _, t in seg.sentences]) for seg in segs]

    masks = {}  # removed documents (True), then the added ones (False), per level
    for level, dead, n_new in (
        ("sentences", dead_sentences, len(added_sentence_words)),
        ("articles", removed_ids, len(added)),
    ):
        n = n_sentences if level == "sentences" else n_articles
        masks[level] = np.zeros(n + n_new, dtype=bool)
        masks[level][dead] = True
        frozen(masks[level])
    vocabularies: dict[str, Vocabulary] = {}
    fields: dict[str, Bm25 | None] = {}
    for name in ("article_bm25", "bm25", "article_words", "article_fold", "fold", "pairs", "fold_pairs"):
        field = getattr(base, name)
        if field is None:
            fields[name] = None
            continue
        recipe = _recipe(name, base.expand_compounds)
        if name in ARTICLE_FIELDS:

            def doc_tokens(d: int, recipe=recipe) -> list[str]:
                return _article_tokens(recipe, *words.article(d))

            dead = removed_ids
            dead_tokens = [_article_tokens(recipe, t, s) for t, s in dead_article_words]
            new_tokens = [_article_tokens(recipe, t, s) for t, s in added_article_words]
            ins = places
        else:

            def doc_tokens(d: int, recipe=recipe) -> list[str]:
                return list(recipe(words.sentence(d)))

            dead = dead_sentences
            dead_tokens = [list(recipe(w)) for w in dead_sentence_words]
            new_tokens = [list(recipe(w)) for w in added_sentence_words]
            ins = added_sentence_places
        fields[name] = _updated_field(
            field,
            VOCABULARY_OF.get(name),
            vocabularies,
            name,
            dead,
            dead_tokens,
            new_tokens,
            ins,
            doc_tokens,
            masks["articles" if name in ARTICLE_FIELDS else "sentences"],
        )
    vocab = fields["article_words"].vocab
    column = _Column(vocab)
    added_articles = [a for a, _ in added]
    kinds = [sentence_kinds(a.paragraphs[p][s:e]) for a, seg in added for p, s, e, _ in seg.sentences]
    sentences = base.sentences
    new_article = np.repeat(np.arange(n_articles, n_articles + len(added), dtype=np.int64), counts)
    refs = SentenceRefs(
        frozen(np.concatenate([sentences.article, new_article.astype(sentences.article.dtype)])),
        *(
            frozen(
                np.concatenate(
                    [
                        getattr(sentences, name),
                        np.asarray(
                            [row[i] for seg in segs for row in seg.sentences], dtype=getattr(sentences, name).dtype
                        ),
                    ]
                )
            )
            for i, name in ((0, "paragraph"), (1, "start"), (2, "end"))
        ),
        frozen(np.concatenate([sentences.kinds, np.asarray(kinds, dtype=sentences.kinds.dtype)])),
    )
    live_base = np.setdiff1d(np.arange(n_articles, dtype=np.int64), removed_ids, assume_unique=True)
    live_order = np.insert(
        live_base,
        np.searchsorted(live_base, places, side="left"),
        np.arange(n_articles, n_articles + len(added), dtype=np.int64),
    )
    live_factor = np.ones(n_articles + len(added))
    live_factor[removed_ids] = 0.0
    changes = Changes(
        base=base,
        removed=frozen(removed_ids),
        added=tuple(added_articles),
        segmented=tuple(segs),
        places=frozen(places),
        live_order=frozen(live_order),
        dead_sentences=frozen(dead_sentences),
        live_factor=live_factor,
        catalogue=catalogue,
    )
    index = SentenceIndex(
        articles=CombinedArticles(base.articles, added_articles),
        sentences=refs,
        terms=CombinedTerms(base.terms, Terms.encode(added_sentence_words, vocab, column)),
        titles=CombinedTerms(base.titles, Terms.encode([seg.title_terms for seg in segs], vocab, column)),
        expand_compounds=base.expand_compounds,
        changes=changes,
        **fields,
    )
    if len(refs) != n_sentences + len(added_sentence_words) or fields["bm25"].n_docs != len(refs):
        raise RuntimeError("the updated index's sentence arrays disagree")  # pragma: no cover - a bug
    return index


class _Column(dict):
    """word -> column of an (extended) vocabulary, looked up as asked (for Terms.encode)."""

    def __init__(self, vocab: Vocabulary):
        super().__init__()
        self.vocab = vocab

    def __missing__(self, word: str) -> int:
        col = self.vocab.get(word)
        if col is None:
            raise KeyError(word)
        self[word] = col
        return col


class _Words:
    """The base's words of a sentence, and of an article (title, sentences), decoded (each
    distinct word once)."""

    def __init__(self, base: SentenceIndex):
        self.base = base
        self._names: dict[int, str] = {}

    def _decode(self, terms: Terms, i: int) -> tuple[str, ...]:
        names, term = self._names, terms.vocab.term
        out = []
        for c in terms.ids[terms.indptr[i] : terms.indptr[i + 1]].tolist():
            name = names.get(c)
            if name is None:
                name = names[c] = term(c)
            out.append(name)
        return tuple(out)

    def sentence(self, i: int) -> tuple[str, ...]:
        return self._decode(self.base.terms, i)

    def article(self, a: int) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        article_ids = self.base.sentences.article
        lo = int(np.searchsorted(article_ids, a, side="left"))
        hi = int(np.searchsorted(article_ids, a, side="right"))
        return self._decode(self.base.titles, a), [self.sentence(i) for i in range(lo, hi)]


def _article_tokens(
    recipe: Callable[[Sequence[str]], Sequence[str]], title: Sequence[str], sentences: Sequence[Sequence[str]]
) -> list[str]:
    """An article's tokens in a field: its title's, then each sentence's (build_index's _per_article)."""
    tokens = list(recipe(title))
    for words in sentences:
        tokens.extend(recipe(words))
    return tokens


def segmentation(index: SentenceIndex, article: int) -> Segmented:
    """The segmentation article ``article`` of ``index`` was indexed with, from the stored words."""
    return _Segmentation(index)(article)


class _Segmentation:
    """Stored segmentations of an index's articles, with each word decoded once."""

    def __init__(self, index: SentenceIndex):
        self.changes = index.changes
        self.base = index if index.changes is None else index.changes.base
        self._names: list[str] | None = None

    def __call__(self, article: int) -> Segmented:
        n = len(self.base.articles)
        if article >= n:
            return self.changes.segmented[article - n]
        if self._names is None:
            self._names = list(self.base.terms.vocab)
        names, s, terms = self._names, self.base.sentences, self.base.terms
        lo = int(np.searchsorted(s.article, article, side="left"))
        hi = int(np.searchsorted(s.article, article, side="right"))
        titles = self.base.titles

        def words(ids: np.ndarray) -> tuple[str, ...]:
            return tuple(names[c] for c in ids.tolist())

        return Segmented(
            words(titles.ids[titles.indptr[article] : titles.indptr[article + 1]]),
            tuple(
                (
                    int(s.paragraph[i]),
                    int(s.start[i]),
                    int(s.end[i]),
                    words(terms.ids[terms.indptr[i] : terms.indptr[i + 1]]),
                )
                for i in range(lo, hi)
            ),
        )


def needs_merge(index: SentenceIndex, sentences: int = MERGE_SENTENCES) -> bool:
    """Should ``index``'s changes be merged into a new base (:func:`start_merge`)? When the added
    articles hold ``sentences`` sentences or more, or the removed ones do."""
    changes = index.changes
    return changes is not None and max(changes.added_sentences, len(changes.dead_sentences)) >= sentences


def merge(index: SentenceIndex, *, progress: bool | None = False) -> SentenceIndex:
    """``index`` with its changes folded in: :func:`~retrieval.index.build.build_index` over its
    live articles in corpus order, each with the segmentation it was indexed with (no word
    segmentation runs), and the index settings it was built with. The result is the index a
    rebuild of the changed corpus builds, array for array. Takes what a build takes (minutes
    and gigabytes at a million sentences): :func:`start_merge` runs it in another process."""
    from retrieval.index.build import build_index

    order = index.changes.live_order if index.changes is not None else np.arange(len(index.articles))
    stored = _Segmentation(index)
    articles = [index.articles[int(a)] for a in order]
    segmented = [stored(int(a)) for a in order]
    field = index.bm25
    return build_index(
        articles,
        segmented=segmented,
        k1=field.k1,
        b=field.b,
        epsilon=field.epsilon,
        with_pairs=index.pairs is not None,
        with_fold_pairs=index.fold_pairs is not None,
        expand_compounds=index.expand_compounds,
        progress=progress,
    )


def rebase(current: SentenceIndex, merged_from: SentenceIndex, merged: SentenceIndex) -> SentenceIndex:
    """The changes ``current`` holds beyond ``merged_from`` (the index a merge started from, an
    earlier state of ``current``, on the same base), applied to ``merged`` (that merge's
    result): what to serve once a merge that ran while more changes came in is done."""
    now, then = _live(current), _live(merged_from)
    n = len(current.changes.base.articles) if current.changes is not None else len(current.articles)
    added = []
    for doc_id, i in now.items():
        j = then.get(doc_id)
        if j is not None and i == j < n:
            continue  # the same base article in both
        if j is None or merged_from.articles[j] != current.articles[i]:
            added.append((current.articles[i], segmentation(current, i)))
    removed = [doc_id for doc_id in then if doc_id not in now]
    if not added and not removed:
        return merged
    return apply_changes(merged, added, removed)


def _live(index: SentenceIndex) -> dict[str, int]:
    """doc_id -> id of every live article of ``index``."""
    order = index.changes.live_order if index.changes is not None else range(len(index.articles))
    return {index.articles.identity(int(a))[0]: int(a) for a in order}


def start_merge(path: Path, fp: str, compat: str | None = None) -> subprocess.Popen:
    """Start merging the index saved at ``path`` with its saved changes (which must stand for
    ``fp``) in another process: it loads them, :func:`merge`\\ s, and saves the result at
    ``path`` (atomically; the changes file goes). The serving process keeps its memory and its
    cores' other half; when the process has exited 0, load the new base
    (:func:`retrieval.index.store.load_index`) and :func:`rebase` the changes made meanwhile."""
    return subprocess.Popen(
        [sys.executable, "-m", "retrieval.index.update", "merge", str(path), fp, compat or ""],
        env=os.environ
        | {
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")])
            )
        },
    )


def _merge_main(argv: Sequence[str]) -> int:
    from retrieval.index.store import load_index, save_index

    _, path, fp, compat = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    index = load_index(Path(path), fp)
    merged = merge(index)
    save_index(merged, Path(path), fp, compat or None)
    log.info("merged %d articles into %s", len(merged.articles), path)
    return 0


if __name__ == "__main__":  # pragma: no cover - the merge process (start_merge)
    raise SystemExit(_merge_main(sys.argv[1:]))
