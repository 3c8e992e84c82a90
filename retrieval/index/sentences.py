"""The sentence index: articles, their sentences (spans of original text) and the BM25 fields over them,
as flat arrays that :mod:`retrieval.index.store` saves and maps back without building Python objects.

Past 400 lines because the index and its parts (articles, sentence references, terms) are one saved
structure, whose arrays() and from_arrays() must agree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any, overload

import numpy as np

from retrieval.index.bm25 import Bm25
from retrieval.index.texts import PackedTexts, offsets
from retrieval.index.texts import pack as pack_texts
from retrieval.index.vocabulary import Vocabulary
from retrieval.ingest.corpus import Article


@dataclass(frozen=True)
class SentenceRef:
    """Where a sentence lives: article, paragraph and character span."""

    article: int
    paragraph: int
    start: int
    end: int


def _item(seq: Sequence[Any], i: int | slice, row: Callable[[int], Any], what: str) -> Any:
    """``seq[i]`` for the array-backed sequences below: slices, negative indices and
    bounds as for a tuple; ``row(j)`` builds item ``j`` (0 <= j < len(seq))."""
    if isinstance(i, slice):
        return tuple(row(j) for j in range(*i.indices(len(seq))))
    if not -len(seq) <= i < len(seq):
        raise IndexError(f"{what} index out of range")
    return row(i % len(seq))


class SentenceRefs(Sequence[SentenceRef]):
    """Every sentence's :class:`SentenceRef`, as four integer arrays, and ``kinds``: the kinds
    of question each could answer (:func:`retrieval.text.answer_types.sentence_kinds`, uint8)."""

    def __init__(
        self, article: np.ndarray, paragraph: np.ndarray, start: np.ndarray, end: np.ndarray, kinds: np.ndarray
    ):
        self.article, self.paragraph, self.start, self.end = article, paragraph, start, end
        self.kinds = kinds

    def __len__(self) -> int:
        return len(self.article)

    @overload
    def __getitem__(self, i: int) -> SentenceRef: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[SentenceRef, ...]: ...
    def __getitem__(self, i):
        return _item(self, i, self._row, "sentence")

    def _row(self, i: int) -> SentenceRef:
        return SentenceRef(int(self.article[i]), int(self.paragraph[i]), int(self.start[i]), int(self.end[i]))

    def __iter__(self) -> Iterator[SentenceRef]:
        return (self[i] for i in range(len(self)))

    def same_paragraph(self, a: int, b: int) -> bool:
        """Are sentences ``a`` and ``b`` in the same paragraph of the same article? (Read from the
        arrays: the composer asks dozens of times a question, and two SentenceRefs cost 10 times more.)"""
        return bool(self.article[a] == self.article[b] and self.paragraph[a] == self.paragraph[b])

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "sentences.article": self.article,
            "sentences.paragraph": self.paragraph,
            "sentences.start": self.start,
            "sentences.end": self.end,
            "sentences.kinds": self.kinds,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SentenceRefs:
        return cls(
            arrays["sentences.article"],
            arrays["sentences.paragraph"],
            arrays["sentences.start"],
            arrays["sentences.end"],
            arrays["sentences.kinds"],
        )


class Terms(Sequence[tuple[str, ...]]):
    """Each sentence's segmented words, as columns of a vocabulary (CSR), decoded on demand."""

    def __init__(self, indptr: np.ndarray, ids: np.ndarray, vocab: Vocabulary):
        self.indptr, self.ids, self.vocab = indptr, ids, vocab

    @classmethod
    def encode(
        cls, sentences: Sequence[Sequence[str]], vocab: Vocabulary, column: dict[str, int] | None = None
    ) -> Terms:
        """``sentences`` as columns of ``vocab``, which must hold every word (``column``:
        :meth:`Vocabulary.column_of`, when the caller has it)."""
        column = vocab.column_of() if column is None else column
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        indptr = np.zeros(len(sentences) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(lengths)
        ids = np.fromiter(
            map(column.__getitem__, chain.from_iterable(sentences)), dtype=np.int32, count=int(indptr[-1])
        )
        return cls(indptr, ids, vocab)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @overload
    def __getitem__(self, i: int) -> tuple[str, ...]: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[tuple[str, ...], ...]: ...
    def __getitem__(self, i):
        return _item(self, i, self._row, "sentence")

    def _row(self, i: int) -> tuple[str, ...]:
        term = self.vocab.term
        return tuple(term(int(c)) for c in self.ids[self.indptr[i] : self.indptr[i + 1]])

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return (self[i] for i in range(len(self)))


class CombinedTerms(Sequence[tuple[str, ...]]):
    """Each sentence's words in an updated index: the saved index's sentences, then the added
    ones (``added``, columns of the same, extended, vocabulary)."""

    def __init__(self, base: Terms, added: Terms):
        self.base, self.added, self.vocab = base, added, added.vocab

    def __len__(self) -> int:
        return len(self.base) + len(self.added)

    def __getitem__(self, i):
        return _item(self, i, self._row, "sentence")

    def _row(self, i: int) -> tuple[str, ...]:
        n = len(self.base)
        return self.base[i] if i < n else self.added[i - n]

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return (self[i] for i in range(len(self)))


class Articles(Sequence[Article]):
    """The indexed articles; ``paragraph(a, p)`` reads one paragraph without building the article."""

    def paragraph(self, article: int, paragraph: int) -> str:
        raise NotImplementedError

    def identity(self, article: int) -> tuple[str, str]:
        """(doc_id, origin) of article ``article``, without reading its paragraphs where it can."""
        found = self[article]
        return found.doc_id, found.origin

    def __iter__(self) -> Iterator[Article]:
        return (self[i] for i in range(len(self)))

    def arrays(self) -> dict[str, np.ndarray]:
        """Citation fields (one JSON list per article, as a UTF-8 buffer plus offsets, ending with
        the article's section headings), paragraphs (compressed: :func:`retrieval.index.texts.pack`)
        and where each paragraph comes from: its PDF page (0: not known) and its section (a
        position in its article's headings; -1: none)."""
        meta: list[bytes] = []
        texts: list[bytes] = []
        first = [0]
        pages: list[int] = []
        sections: list[int] = []
        for a in self:
            headings: dict[str, int] = {}
            n = len(a.paragraphs)
            pages.extend([page or 0 for page in a.pages] if a.pages else [0] * n)
            sections.extend(
                [-1 if s is None else headings.setdefault(s, len(headings)) for s in a.sections]
                if a.sections
                else [-1] * n
            )
            meta.append(
                json.dumps(
                    [a.doc_id, a.title, a.source, a.date, a.url, a.origin, list(headings)], ensure_ascii=False
                ).encode("utf-8", "surrogatepass")
            )
            texts.extend(p.encode("utf-8", "surrogatepass") for p in a.paragraphs)
            first.append(len(texts))
        return {
            "articles.meta": np.frombuffer(b"".join(meta), dtype=np.uint8),
            "articles.meta_offsets": offsets(meta),
            "articles.first_paragraph": np.asarray(first, dtype=np.int64),
            "articles.page": np.asarray(pages, dtype=np.int32),
            "articles.section": np.asarray(sections, dtype=np.int32),
        } | pack_texts(texts, "articles.text")


class CombinedArticles(Articles):
    """A saved index's articles followed by those added since (an updated index): article
    ``len(base) + i`` is ``added[i]``."""

    def __init__(self, base: Articles, added: Sequence[Article]):
        self.base, self.added = base, tuple(added)

    def __len__(self) -> int:
        return len(self.base) + len(self.added)

    def __getitem__(self, i):
        return _item(self, i, self._row, "article")

    def _row(self, i: int) -> Article:
        n = len(self.base)
        return self.base[i] if i < n else self.added[i - n]

    def identity(self, article: int) -> tuple[str, str]:
        n = len(self.base)
        return (
            self.base.identity(article)
            if article < n
            else (self.added[article - n].doc_id, self.added[article - n].origin)
        )

    def paragraph(self, article: int, paragraph: int) -> str:
        n = len(self.base)
        if article < n:
            return self.base.paragraph(article, paragraph)
        return self.added[article - n].paragraphs[paragraph]

    def arrays(self) -> dict[str, np.ndarray]:
        raise ValueError("an updated index is saved as its base and its changes (retrieval.index.update)")


class ArticleList(Articles):
    """Articles held as objects (a freshly built index)."""

    def __init__(self, articles: Iterable[Article]):
        self._articles = tuple(articles)

    def __len__(self) -> int:
        return len(self._articles)

    def __getitem__(self, i):
        return self._articles[i]

    def paragraph(self, article: int, paragraph: int) -> str:
        return self._articles[article].paragraphs[paragraph]


# Decoded paragraphs kept per loaded index (StoredArticles).
PARAGRAPHS_KEPT = 1024


class StoredArticles(Articles):
    """Articles read from :meth:`Articles.arrays` (a loaded index): each is built when asked for."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self._arrays = {k: v for k, v in arrays.items() if k.startswith("articles.")}
        self._meta, self._meta_offsets = arrays["articles.meta"], arrays["articles.meta_offsets"]
        self._text = PackedTexts(arrays, "articles.text")
        self._first = arrays["articles.first_paragraph"]
        self._pages, self._sections = arrays["articles.page"], arrays["articles.section"]
        if len(self._meta_offsets) != len(self._first) or not int(self._first[-1]) == len(self._text) == len(
            self._pages
        ) == len(self._sections):
            raise ValueError("the article arrays disagree on the number of articles or paragraphs")
        # A question reads the same sentences several times (answer-type checks, quotes, their
        # neighbours): the paragraphs read last are kept decoded.
        self._paragraph = lru_cache(maxsize=PARAGRAPHS_KEPT)(self._decode)
        self._identities: list[tuple[str, str]] | None = None

    def __len__(self) -> int:
        return len(self._first) - 1

    def _decode(self, j: int) -> str:
        return self._text[j].decode("utf-8", "surrogatepass")

    def paragraph(self, article: int, paragraph: int) -> str:
        first, last = int(self._first[article]), int(self._first[article + 1])
        if not 0 <= paragraph < last - first:
            raise IndexError("paragraph index out of range")
        return self._paragraph(first + paragraph)

    def __getitem__(self, i):
        return _item(self, i, self._row, "article")

    def _citation(self, i: int) -> list[Any]:
        """[doc_id, title, source, date, url, origin, headings] of article ``i``."""
        raw = self._meta[self._meta_offsets[i] : self._meta_offsets[i + 1]].tobytes().decode("utf-8", "surrogatepass")
        return json.loads(raw)

    def identity(self, article: int) -> tuple[str, str]:
        if not 0 <= article < len(self):
            raise IndexError("article index out of range")
        if self._identities is None:
            # Every update plans against all of them (1M sentences: 40k articles, 0.7 s to parse):
            # parsed once for the life of the loaded index, which updates keep as their base.
            self._identities = [(row[0], row[5]) for row in map(self._citation, range(len(self)))]
        return self._identities[article]

    def _row(self, i: int) -> Article:
        doc_id, title, source, date, url, origin, headings = self._citation(i)
        first, last = int(self._first[i]), int(self._first[i + 1])
        paragraphs = tuple(self._paragraph(j) for j in range(first, last))
        pages = tuple(int(page) or None for page in self._pages[first:last])
        sections = tuple(headings[k] if k >= 0 else None for k in self._sections[first:last].tolist())
        return Article(
            doc_id=doc_id,
            title=title,
            source=source,
            date=date,
            url=url,
            paragraphs=paragraphs,
            origin=origin,
            pages=pages,
            sections=sections,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(self._arrays)


class _Selected(Articles):
    """``articles[order[i]]`` for each ``i`` (the live articles of an updated index)."""

    def __init__(self, articles: Articles, order: np.ndarray):
        self._articles, self._order = articles, order

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, i):
        return _item(self, i, lambda j: self._articles[int(self._order[j])], "article")

    def identity(self, article: int) -> tuple[str, str]:
        return self._articles.identity(int(self._order[article]))

    def paragraph(self, article: int, paragraph: int) -> str:
        return self._articles.paragraph(int(self._order[article]), paragraph)

    def arrays(self) -> dict[str, np.ndarray]:
        raise ValueError("an updated index is saved as its base and its changes (retrieval.index.update)")


# The BM25 fields of a SentenceIndex, in the order they are saved.
FIELDS = ("bm25", "fold", "article_bm25", "article_fold", "article_words", "pairs", "fold_pairs")


@dataclass
class SentenceIndex:
    """Articles, their sentences (as spans of original text) and BM25 fields over them.

    ``terms`` holds each sentence's segmented words; ``bm25`` scores the word
    field (words plus the syllables of compounds, see :func:`query.expand`)
    and ``fold`` the diacritic-free syllable field (:func:`query.fold_terms`).
    """

    articles: Articles
    sentences: SentenceRefs
    terms: Terms
    bm25: Bm25
    fold: Bm25
    # The same two fields over whole articles (title + body), for article-level evidence.
    article_bm25: Bm25
    article_fold: Bm25
    # Articles' exact words (no syllable expansion): which word an article really uses.
    # Its vocabulary also encodes ``terms``.
    article_words: Bm25
    # Syllable-bigram (phrase) field; None when retrieval.bigram_weight is 0.
    pairs: Bm25 | None = None
    # The same without diacritics; None when retrieval.accentless_bigram_weight is 0.
    fold_pairs: Bm25 | None = None
    # Each article's title words (columns of ``terms``' vocabulary): with ``terms``, every
    # field's tokens of any article can be made again (:mod:`retrieval.index.update`).
    titles: Terms | None = None
    # Whether the word field adds the syllables of compounds (retrieval.expand_compounds).
    expand_compounds: bool = True
    # An updated index (retrieval.index.update.apply_changes): the saved index it is based on
    # and the changes since; None for an index as built or loaded.
    changes: Any = None
    # The identity of the file this index was loaded from or saved as (retrieval.index.store).
    stored: str | None = None

    @property
    def sentence_article_ids(self) -> np.ndarray:
        """Article number of each sentence, as an array for vectorised scoring."""
        return self.sentences.article

    def text(self, i: int) -> str:
        s = self.sentences
        return self.articles.paragraph(int(s.article[i]), int(s.paragraph[i]))[int(s.start[i]) : int(s.end[i])]

    def sentence_article(self, i: int) -> Article:
        return self.articles[int(self.sentences.article[i])]

    def live_ids(self) -> Sequence[int]:
        """The ids (in ``articles``) of the articles a rebuild would index, in its order."""
        if self.changes is None:
            return range(len(self.articles))
        return self.changes.live_order.tolist()

    @property
    def live_articles(self) -> Articles:
        """The articles a rebuild of the corpus would index, in its order: ``articles``
        without those removed by an update, and those added where they belong."""
        if self.changes is None:
            return self.articles
        return _Selected(self.articles, self.changes.live_order)

    def arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(metadata for JSON, named flat arrays): everything :meth:`from_arrays` needs."""
        if self.changes is not None:
            raise ValueError("an updated index is saved as its base and its changes (retrieval.index.update)")
        if self.titles is None:
            raise ValueError("an index without its titles' terms cannot be saved")
        meta: dict[str, Any] = {"fields": {}, "expand_compounds": self.expand_compounds}
        arrays = self.articles.arrays() | self.sentences.arrays()
        arrays |= {
            "terms.indptr": self.terms.indptr,
            "terms.ids": self.terms.ids,
            "titles.indptr": self.titles.indptr,
            "titles.ids": self.titles.ids,
        }
        saved: dict[int, str] = {}  # id of each vocabulary saved so far -> the field that saved it
        for name in FIELDS:
            field = getattr(self, name)
            if field is not None:
                meta["fields"][name], field_arrays = field.arrays(name, saved.get(id(field.vocab)))
                saved.setdefault(id(field.vocab), name)
                arrays |= field_arrays
        return meta, arrays

    @classmethod
    def from_arrays(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> SentenceIndex:
        """The index :meth:`arrays` described (arrays may be read-only memory maps).
        Raises KeyError or ValueError when something is missing or inconsistent."""
        vocabularies: dict[str, Vocabulary] = {}
        fields: dict[str, Any] = {
            name: Bm25.from_arrays(name, params, arrays, vocabularies) for name, params in meta["fields"].items()
        }
        if set(fields) - set(FIELDS) or not set(FIELDS[:5]) <= set(fields):
            raise ValueError(f"unexpected fields: {sorted(fields)}")
        vocab = fields["article_words"].vocab
        index = cls(
            articles=StoredArticles(arrays),
            sentences=SentenceRefs.from_arrays(arrays),
            terms=Terms(arrays["terms.indptr"], arrays["terms.ids"], vocab),
            titles=Terms(arrays["titles.indptr"], arrays["titles.ids"], vocab),
            expand_compounds=bool(meta["expand_compounds"]),
            **fields,
        )
        index.check()
        return index

    def check(self) -> None:
        """Cheap consistency checks of the arrays' shapes (raises ValueError)."""
        n = len(self.sentences)
        sizes = {
            len(self.sentences.paragraph),
            len(self.sentences.start),
            len(self.sentences.end),
            len(self.sentences.kinds),
            len(self.terms),
            self.bm25.n_docs,
            self.fold.n_docs,
        }
        sizes |= {f.n_docs for f in (self.pairs, self.fold_pairs) if f is not None}
        if sizes != {n}:
            raise ValueError("the sentence arrays disagree on the number of sentences")
        if self.titles is None or {
            self.article_bm25.n_docs,
            self.article_fold.n_docs,
            self.article_words.n_docs,
            len(self.titles),
        } != {len(self.articles)}:
            raise ValueError("the article arrays disagree on the number of articles")
        for name in FIELDS:
            f = getattr(self, name)
            if f is None:
                continue
            v = len(f.vocab)
            if not (
                len(f.indptr) == v + 1 == len(f.idf) + 1 == len(f.max_weight) + 1
                and len(f.indices) == len(f.codes) == int(f.indptr[-1])
                and len(f.vocab.offsets) == v + 1
                and len(f.vocab.hashes) == v
            ):
                raise ValueError(f"field {name}: inconsistent arrays")
            if not 0 < f.segment <= 1 << 16 or f.indices.dtype != np.uint16 or (f.n_docs > f.segment) != f.segmented:
                raise ValueError(f"field {name}: inconsistent segments")
            if f.segmented and not (len(f.seg_ptr) == v + 1 and len(f.seg_of) == len(f.seg_end) == int(f.seg_ptr[-1])):
                raise ValueError(f"field {name}: inconsistent segment runs")
