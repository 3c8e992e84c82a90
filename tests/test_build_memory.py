"""Building in bounded memory gives the same index: a field's postings built a block of documents at
a time equal those of one pass over every token (the algorithm they replaced, kept here as the
reference), bit for bit; the corpus is read as it is needed. The peak memory itself is measured by
``bench/build_memory.py`` (a 200 MB JSONL), not here."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import retrieval.index.bm25 as bm25_module
from retrieval.index.bm25 import Bm25
from retrieval.index.vocabulary import Vocabulary, narrow
from retrieval.ingest import corpus as corpus_module
from retrieval.ingest.corpus import load_corpus

PARAMS = {"k1": 1.5, "b": 0.75, "epsilon": 0.25}
ARRAYS = (
    "indptr",
    "indices",
    "codes",
    "table",
    "idf",
    "max_weight",
    "seg_ptr",
    "seg_of",
    "seg_end",
    "pair_tf",
    "pair_dl",
)


def reference(docs, segment, k1=1.5, b=0.75, epsilon=0.25, shared=None):
    """The arrays of the one-pass construction (every token's key at once), as it was."""
    first_seen: dict[str, int] = {}
    for doc in docs:
        for t in doc:
            first_seen.setdefault(t, len(first_seen))
    terms = list(first_seen)
    ids = np.array([first_seen[t] for doc in docs for t in doc], dtype=np.int64)
    lengths = np.array([len(d) for d in docs], dtype=np.int64)
    n = len(docs)
    remap = None
    if shared is None:
        v = len(terms)
    else:
        vocab, column = shared
        remap = np.array([column[t] for t in terms], dtype=np.int64)
        ids = remap[ids]
        v = len(vocab)
    doc_len = lengths.astype(np.float64)
    avgdl = float(doc_len.sum() / n) if n else 0.0
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    keys, counts = np.unique(ids * max(n, 1) + rows, return_counts=True)
    cols = keys // max(n, 1)
    rows = keys - cols * max(n, 1)
    indptr = np.zeros(v + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(np.bincount(cols, minlength=v))
    out = {
        "indptr": narrow(indptr),
        "indices": (rows % segment).astype(np.uint16),
        "seg_ptr": None,
        "seg_of": None,
        "seg_end": None,
    }
    if n > segment:
        seg = rows // segment
        first = np.flatnonzero(np.diff(cols, prepend=-1) | np.diff(seg, prepend=-1))
        out["seg_of"] = seg[first].astype(np.uint16 if n <= segment << 16 else np.int32)
        out["seg_end"] = narrow(np.append(first[1:], rows.size))
        seg_ptr = np.zeros(v + 1, dtype=np.int64)
        seg_ptr[1:] = np.cumsum(np.bincount(cols[first], minlength=v))
        out["seg_ptr"] = narrow(seg_ptr)
    df = np.diff(indptr)

    def idf_of(d):
        if d.size == 0:
            return d.copy()
        idf = np.array([math.log(n - f + 0.5) - math.log(f + 0.5) for f in d], dtype=np.float64)
        idf[idf < 0] = epsilon * (sum(idf.tolist()) / len(idf))
        return idf

    if remap is None:
        idf = idf_of(df.astype(np.float64))
    else:
        idf = np.zeros(v, dtype=np.float64)
        idf[remap] = idf_of(df[remap].astype(np.float64))
    norm = k1 * (1 - b + b * doc_len[rows] / (avgdl or 1.0))
    tf = counts.astype(np.float64)
    part = tf * (k1 + 1) / (tf + norm)
    # Codes point into the table of distinct (term frequency, document length) pairs, sorted;
    # the table holds each pair's part (the format an incremental update recomputes).
    pair_keys, codes = np.unique((counts.astype(np.int64) << 32) | lengths[rows], return_inverse=True)
    table = np.zeros(pair_keys.size, dtype=np.float64)
    table[codes] = part
    weights = idf[cols] * part
    max_weight = np.zeros(v, dtype=np.float64)
    if weights.size:
        held = np.flatnonzero(df)
        max_weight[held] = np.maximum.reduceat(weights, indptr[held])
    out.update(
        idf=idf,
        table=table,
        codes=codes.astype(np.uint16 if table.size <= 1 << 16 else np.uint32),
        max_weight=max_weight,
        pair_tf=(pair_keys >> 32).astype(np.int32),
        pair_dl=(pair_keys & 0xFFFFFFFF).astype(np.int32),
    )
    return out


def _docs(rng: np.random.Generator, n: int, vocab: int, longest: int) -> list[list[str]]:
    words = [f"w{i}" for i in range(vocab)]
    # Zipf-like: a few frequent words (in most documents), many rare ones; some empty documents.
    return [
        [words[min(vocab - 1, int(rng.zipf(1.3)) - 1)] for _ in range(int(rng.integers(0, longest)))] for _ in range(n)
    ]


def _assert_same(field: Bm25, expected: dict) -> None:
    for name in ARRAYS:
        got, want = getattr(field, name), expected[name]
        if want is None:
            assert got is None, name
        else:
            assert got.dtype == want.dtype and got.shape == want.shape, name
            assert np.array_equal(got, want), name


@pytest.mark.parametrize(
    ("n", "segment", "block_tokens", "longest"),
    [
        (0, 64, 50, 5),  # no document
        (40, 64, 10_000, 30),  # one block, one segment
        (300, 64, 10_000, 20),  # several segments, blocks cut at their boundaries
        (300, 64, 37, 20),  # blocks much smaller than a segment: a term's run spans blocks
        (300, 1000, 1, 12),  # one document per block
        (500, 7, 100, 8),  # many small segments
    ],
)
def test_blocks_build_the_arrays_of_one_pass(monkeypatch, n, segment, block_tokens, longest):
    monkeypatch.setattr(bm25_module, "SEGMENT", segment)
    monkeypatch.setattr(bm25_module, "BLOCK_TOKENS", block_tokens)
    rng = np.random.default_rng(n + segment)
    docs = _docs(rng, n, 200, longest)
    _assert_same(Bm25(docs, **PARAMS), reference(docs, segment))
    _assert_same(Bm25(iter(docs), **PARAMS), reference(docs, segment))  # read once, as a generator
    # A field over a larger shared vocabulary (the word fields share the articles').
    extra = [f"x{i}" for i in range(50)]
    vocab = Vocabulary.from_terms(extra + sorted({t for d in docs for t in d}))
    shared = (vocab, vocab.column_of())
    _assert_same(Bm25(docs, **PARAMS, shared=shared), reference(docs, segment, shared=shared))


def test_negative_weights_keep_their_maximum(monkeypatch):
    """Terms in almost every document have a negative IDF floor when the mean IDF is negative."""
    monkeypatch.setattr(bm25_module, "BLOCK_TOKENS", 3)
    docs = [["a", "b"], ["a", "b"], ["a", "b"], ["a"], ["a", "c"]]
    field = Bm25(docs, **PARAMS)
    _assert_same(field, reference(docs, bm25_module.SEGMENT))
    assert (field.max_weight < 0).any()


def test_jsonl_is_read_as_the_workers_need_it(tmp_path, repo_config, monkeypatch):
    """The lines are taken one at a time (never the whole file), numbered as before."""
    lines = [
        json.dumps({"id": f"a{i}", "title": f"Bài {i}", "text": f"Hà Nội có {i} hồ nước đẹp."}, ensure_ascii=False)
        for i in range(600)
    ]
    lines[10] = "{bad"
    path = tmp_path / "corpus.jsonl"
    path.write_text("\ufeff" + "\n".join(lines[:300]) + "\r\n\n" + "\u2028".join(lines[300:]) + "\n", encoding="utf-8")
    taken = []
    real = corpus_module._jsonl_lines

    def counting(p):
        for item in real(p):
            taken.append(item[0])
            yield item

    monkeypatch.setattr(corpus_module, "_jsonl_lines", counting)
    stream = corpus_module._read_all(lambda item: item[0], counting(path), workers=1)
    assert next(stream) == 1 and len(taken) == corpus_module.MIN_PARALLEL_ITEMS  # a first batch only
    loaded = load_corpus(path, repo_config.ingest, workers=1)
    assert len(loaded.articles) == 599
    assert [s.origin.rsplit(":", 1)[1] for s in loaded.skipped] == ["11"]
    assert loaded.articles[-1].origin.endswith(":601")  # the blank line counts, as splitlines counts it
    monkeypatch.setattr(corpus_module, "MIN_PARALLEL_ITEMS", 2)
    assert load_corpus(path, repo_config.ingest, workers=2) == loaded
