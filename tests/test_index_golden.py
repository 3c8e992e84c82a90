"""The saved index's format version guards what its arrays hold.

A saved index is served again only when its header's ``FORMAT_VERSION`` (with the
settings, the corpus and the library versions) matches: no list of source files
is hashed, so moving or re-formatting a module never forces a rebuild. The price
is that a change to the code deciding the arrays (ingestion, cleaning,
segmentation glue, term functions, the BM25 fields, the layout) must bump the
version. These tests fail when the arrays built from the seeds change while the
version stays the same.

When one fails after a deliberate change: bump ``retrieval.index.store.FORMAT_VERSION``
and put the printed digest under the new version here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from qa_support import SEEDS, ws_segmenter
from retrieval.config import Config
from retrieval.index.build import build_index
from retrieval.index.segcache import segment_corpus
from retrieval.index.sentences import SentenceIndex
from retrieval.index.store import FORMAT_VERSION
from retrieval.ingest.corpus import load_corpus
from retrieval.text.variants import variants_for

# Digest of the arrays built from the seeds, per format version and segmenter.
GOLDEN = {
    # 12: each paragraph's PDF page and section (articles.page, articles.section, and each
    # article's headings in articles.meta).
    12: {
        "whitespace": "4bb44403ec6cc9057ab86373e16a848a624f503e424871343c21961723579ac6",
        "underthesea": "be2107e43f8cfc58921fe58cac36092328c6a3b49b5c03ae2c9b99a42e74c1bc",
    },
    # 13: incremental updates (retrieval.index.update): codes into a table of distinct (tf, dl)
    # pairs (pair_tf, pair_dl), each field's summed length (total), largest part per term
    # (max_part) and first-seen order (order, for a field over another's vocabulary); the
    # articles' title words (titles.*) and the expand_compounds flag.
    13: {
        "whitespace": "8e95ea03008b2610a3cd4520d4a5753ab926f6b7fcdeeac4be9676d858bbbca8",
        "underthesea": "846d3dceff98dc93bb2068ee293d277b6f1e85d384acb93574ad1a18550ae318",
    },
}

# Fixed build settings: the digest must not move when config.yaml's defaults do.
SETTINGS = {"k1": 1.5, "b": 0.75, "epsilon": 0.25, "with_pairs": True, "with_fold_pairs": True}


def index_digest(index: SentenceIndex) -> str:
    """SHA-256 of everything the index holds. The articles' compressed text is replaced by
    the text itself: zstd's output may change with the library, the text may not. Their
    citation fields (``articles.meta``) are hashed with each file path relative to the
    seeds folder, so the digest does not depend on where the repository is checked out."""
    meta, arrays = index.arrays()
    h = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
    for name in sorted(arrays):
        if name.startswith("articles.text.") or name.startswith("articles.meta"):
            continue
        array = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        h.update(array.tobytes())
    for article in index.articles:
        h.update(
            json.dumps(
                [
                    article.doc_id,
                    article.title,
                    article.source,
                    article.date,
                    article.url,
                    Path(article.origin).relative_to(SEEDS).as_posix(),
                    list(article.paragraphs),
                    list(article.pages),
                    list(article.sections),
                ],
                ensure_ascii=False,
            ).encode()
        )
    return h.hexdigest()


def _seed_index(repo_config, segmenter, segmenter_id: str) -> SentenceIndex:
    """The seeds indexed as the service indexes them (spellings rewritten by the default table)."""
    segmenter = segmenter.rewriting(variants_for(Config().retrieval.equivalents))
    articles = load_corpus(SEEDS, repo_config.ingest).articles
    segmented = segment_corpus(articles, segmenter, segmenter_id, workers=1, progress=False)
    return build_index(articles, segmented=segmented, progress=False, **SETTINGS)


def _check(kind: str, digest: str) -> None:
    expected = GOLDEN.get(FORMAT_VERSION, {}).get(kind)
    assert expected == digest, (
        f"the {kind}-segmented seed index changed (digest {digest}) but FORMAT_VERSION is still "
        f"{FORMAT_VERSION}: bump it in retrieval/index/store.py so saved indexes are rebuilt, "
        "and record the digest in tests/test_index_golden.py"
    )


def test_whitespace_segmented_seed_index_matches_its_format_version(repo_config):
    _check("whitespace", index_digest(_seed_index(repo_config, ws_segmenter(), "test-ws")))


@pytest.mark.slow
def test_underthesea_segmented_seed_index_matches_its_format_version(repo_config):
    from retrieval.text.segment import Segmenter

    _check("underthesea", index_digest(_seed_index(repo_config, Segmenter(), "underthesea")))


def test_the_digest_sees_a_changed_array(repo_config):
    index = _seed_index(repo_config, ws_segmenter(), "test-ws")
    before = index_digest(index)
    index.sentences.kinds = index.sentences.kinds.copy()
    index.sentences.kinds[0] ^= 1
    assert index_digest(index) != before
