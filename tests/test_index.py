"""BM25 scores (parity with rank-bm25's BM25Okapi), top-k ranking, and the sentence index."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from qa_support import DEV_QUESTIONS, ws_segmenter
from retrieval.index.bm25 import Bm25
from retrieval.index.build import build_index
from retrieval.index.select import Hit, best_candidates
from retrieval.ingest.corpus import Article

PARAMS = [(1.5, 0.75, 0.25), (1.2, 0.5, 0.0), (2.0, 1.0, 0.5), (0.5, 0.0, 0.25), (0.9, 0.3, 1.0)]


def random_corpus(seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """Docs with empty ones, a few very common words (df > n/2) and a long tail; and queries."""
    rng = random.Random(seed)
    common = ["và", "của", "là"]
    tail = [f"w{i}" for i in range(60)]
    docs: list[list[str]] = []
    for _ in range(80):
        n = rng.choice([0, 0, 1, 3, 5, 8, 13, 21])
        doc = [rng.choice(tail) for _ in range(n)]
        if n and rng.random() < 0.95:
            doc += ["và"] * rng.randint(1, 3)  # in more than half of the docs
        if n and rng.random() < 0.5:
            doc += [rng.choice(common)]
        rng.shuffle(doc)
        docs.append(doc)
    queries = [
        [],
        ["và"],
        ["w1", "w1", "w1"],  # repeated token
        ["không_có", "w2"],  # unknown token
        ["và", "của", "là", "w3", "w4"],
        [rng.choice(tail + common + ["lạ"]) for _ in range(12)],
        [rng.choice(tail) for _ in range(5)],
    ]
    return docs, queries


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("k1, b, epsilon", PARAMS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bm25_matches_rank_bm25_exactly(seed, k1, b, epsilon):
    docs, queries = random_corpus(seed)
    ours = Bm25(docs, k1=k1, b=b, epsilon=epsilon)
    reference = BM25Okapi(docs, k1=k1, b=b, epsilon=epsilon)
    # The corpus really exercises the negative-IDF floor.
    assert sum(1 for d in docs if "và" in d) > len(docs) / 2
    assert reference.idf["và"] == reference.epsilon * reference.average_idf
    assert sum(1 for d in docs if not d) >= 5
    for query in queries:
        expected = reference.get_scores(query)
        # rank-bm25 computes 0/0 = NaN for an empty document when b = 1 (its length
        # normalisation is 0); that document simply scores 0.
        nan = np.isnan(expected)
        assert all(not docs[i] for i in np.flatnonzero(nan))
        np.testing.assert_array_equal(ours.scores(query), np.nan_to_num(expected, nan=0.0))
    for word, idf in reference.idf.items():
        assert ours.idf_of(word) == idf


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("k1, b, epsilon", PARAMS)
@pytest.mark.parametrize("seed", [0, 1])
def test_bm25_with_a_shared_vocabulary_matches_rank_bm25_exactly(seed, k1, b, epsilon):
    """A field over another field's (larger) vocabulary, in another column order, scores
    exactly as BM25Okapi on its own documents: its IDFs and their mean (the floor of the
    common words) are its own; the terms it lacks are unknown to it."""
    docs, queries = random_corpus(seed)
    larger = Bm25([["lạ", "khác"], *reversed(docs), ["w999"]])  # other terms, another first-seen order
    shared = (larger.vocab, larger.vocab.column_of())
    ours = Bm25(docs, k1=k1, b=b, epsilon=epsilon, shared=shared)
    alone = Bm25(docs, k1=k1, b=b, epsilon=epsilon)
    reference = BM25Okapi(docs, k1=k1, b=b, epsilon=epsilon)
    assert ours.vocab is larger.vocab and len(ours.vocab) > len(alone.vocab) == ours.n_terms
    assert [larger.vocab.term(c) for c in range(3)] != [alone.vocab.term(c) for c in range(3)]
    for query in [*queries, ["lạ", "w999", "w1"]]:
        expected = np.nan_to_num(reference.get_scores(query), nan=0.0)
        np.testing.assert_array_equal(ours.scores(query), expected)
    for word, idf in reference.idf.items():
        assert ours.idf_of(word) == idf
        col, own = ours.column(word), alone.column(word)
        assert ours.max_weight[col] == alone.max_weight[own]
        np.testing.assert_array_equal(ours.docs_with(word), alone.docs_with(word))
    for word in ("lạ", "khác", "w999"):
        assert word in ours.vocab and ours.column(word) is None
        assert ours.idf_of(word) is None and ours.docs_with(word).size == 0 and not ours.holds(word, 0)
    with pytest.raises(ValueError, match="lacks the term"):
        Bm25([["w1", "chưa_thấy"]], shared=shared)


@pytest.mark.parametrize("short_codes", [1 << 16, 2])
def test_bm25_codes_2_or_4_bytes_same_scores(monkeypatch, short_codes):
    """Weights are stored as codes into the field's table of distinct (term frequency,
    document length) pairs: 2 bytes each, or 4 when the table is longer; the scores are
    BM25Okapi's either way."""
    import retrieval.index.bm25 as index_module

    monkeypatch.setattr(index_module, "SHORT_CODES", short_codes)
    docs, queries = random_corpus(3)
    ours = Bm25(docs, k1=1.5, b=0.5, epsilon=0.25)
    assert ours.codes.dtype == (np.uint16 if short_codes > 2 else np.uint32)
    pairs = (ours.pair_tf.astype(np.int64) << 32) | ours.pair_dl
    assert ours.table.size > 2 and np.all(np.diff(pairs) > 0)
    np.testing.assert_array_equal(ours.parts(ours.avgdl), ours.table)
    reference = BM25Okapi(docs, k1=1.5, b=0.5, epsilon=0.25)
    for query in queries:
        np.testing.assert_array_equal(ours.scores(query), reference.get_scores(query))
    word = max(reference.doc_freqs[0], key=len) if reference.doc_freqs[0] else "và"
    col = ours.column(word)
    np.testing.assert_array_equal(ours.weights(col), reference.get_scores([word])[ours.docs(col)])


@pytest.mark.parametrize("segment", [1 << 16, 80, 7, 1])
def test_bm25_segments_same_scores_documents_and_lookups(monkeypatch, segment):
    """Postings store a document's number within its segment (2 bytes); a field of more
    documents than a segment records, per term, its runs of postings by segment. The
    scores, documents and lookups are the same whatever the segment size, and a segment
    a term skips (runs in segments 0 and 2, none in 1) is handled."""
    import retrieval.index.bm25 as index_module

    monkeypatch.setattr(index_module, "SEGMENT", segment)
    docs, queries = random_corpus(4)
    ours = Bm25(docs, k1=1.5, b=0.5, epsilon=0.25)
    assert ours.indices.dtype == np.uint16 and ours.segment == segment
    assert ours.segmented == (len(docs) > segment)
    if ours.segmented:
        assert len(ours.seg_of) > len(ours.vocab)  # terms with postings in several segments
        runs = [ours.seg_of[ours.seg_ptr[c] : ours.seg_ptr[c + 1]].tolist() for c in range(len(ours.vocab))]
        assert all(r == sorted(set(r)) for r in runs)
        if segment > 1:
            assert any(any(b - a > 1 for a, b in itertools.pairwise(r)) for r in runs)  # a skipped segment
    reference = BM25Okapi(docs, k1=1.5, b=0.5, epsilon=0.25)
    for query in queries:
        np.testing.assert_array_equal(ours.scores(query), reference.get_scores(query))
    for word in {w for doc in docs for w in doc}:
        expected = [i for i, doc in enumerate(docs) if word in doc]
        assert ours.docs_with(word).tolist() == expected
        assert [i for i in range(len(docs)) if ours.holds(word, i)] == expected
        assert not ours.holds(word, -1) and not ours.holds(word, len(docs))
    assert ours.docs_with("zzz").size == 0 and not ours.holds("zzz", 0)


def test_bm25_negative_idf_is_floored():
    docs = [["a", "b"], ["a", "c"], ["a"], ["d"]]
    bm = Bm25(docs, k1=1.5, b=0.75, epsilon=0.25)
    raw = {t: math.log(4 - f + 0.5) - math.log(f + 0.5) for t, f in {"a": 3, "b": 1, "c": 1, "d": 1}.items()}
    mean = sum(raw.values()) / 4
    assert raw["a"] < 0
    assert bm.idf_of("a") == pytest.approx(0.25 * mean)
    assert bm.idf_of("b") == pytest.approx(raw["b"])
    assert bm.idf_of("zzz") is None
    assert bm.max_idf() == pytest.approx(math.log(4.5) - math.log(0.5))


def test_bm25_nonnegative_tells_whether_a_weight_can_be_negative():
    # Mean IDF negative (most terms in most documents): the floored IDF is negative too.
    crowded = Bm25([["a", "b"], ["a", "b"], ["a", "b"], ["c"]], k1=1.5, b=0.75, epsilon=0.25)
    assert crowded.idf.min() < 0 and not crowded.nonnegative
    assert Bm25([["a", "b"], ["a", "c"], ["a"], ["d"]]).nonnegative
    assert Bm25([]).nonnegative


@pytest.mark.parametrize("bad", [dict(k1=-1.0), dict(b=1.5), dict(b=-0.1), dict(epsilon=-0.1)])
def test_bm25_rejects_bad_parameters(bad):
    with pytest.raises(ValueError):
        Bm25([["a"]], **bad)


def test_bm25_empty_collection():
    bm = Bm25([])
    assert bm.scores(["a"]).shape == (0,)
    assert bm.top_k(["a"], 3) == []


def test_bm25_parity_on_seed_sentences_for_every_dev_question(ws_service):
    if not DEV_QUESTIONS.is_file():
        pytest.skip(f"dev questions not found at {DEV_QUESTIONS}")
    from retrieval.evaluate import load_questions

    _assert_seed_parity(ws_service, load_questions(DEV_QUESTIONS))


@pytest.mark.slow
def test_bm25_parity_on_real_underthesea_seed_tokens(real_service):
    if not DEV_QUESTIONS.is_file():
        pytest.skip(f"dev questions not found at {DEV_QUESTIONS}")
    from retrieval.evaluate import load_questions

    _assert_seed_parity(real_service, load_questions(DEV_QUESTIONS))


def _assert_seed_parity(service, questions):
    docs = [list(t) for t in service.index.terms]
    assert docs and all(docs)
    r = service.cfg.retrieval
    bm = Bm25(docs, k1=r.k1, b=r.b, epsilon=r.epsilon)
    reference = BM25Okapi(docs, k1=r.k1, b=r.b, epsilon=r.epsilon)
    checked = 0
    for q in questions:
        terms = list(service.segmenter.terms(q.question))
        ours = bm.scores(terms)
        np.testing.assert_array_equal(ours, reference.get_scores(terms), err_msg=q.question)
        checked += bool(ours.any())
    assert checked >= len(questions) // 2  # the comparison is not all zeros


# --- top_k -------------------------------------------------------------------------------


def expected_top_k(scores: np.ndarray, k: int) -> list[int]:
    positive = [i for i in range(len(scores)) if scores[i] > 0]
    return sorted(positive, key=lambda i: (-scores[i], i))[:k]


@pytest.mark.parametrize("k", [1, 2, 3, 5, 50])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_k_best_first_positive_and_the_best_scores(seed, k):
    docs, queries = random_corpus(seed)
    docs = docs + docs[:20]  # exact duplicates: guaranteed ties
    bm = Bm25(docs)
    for query in queries:
        scores = bm.scores(query)
        hits = bm.top_k(query, k)
        ids = [h.sentence for h in hits]
        assert len(hits) == min(k, int((scores > 0).sum()))
        assert len(set(ids)) == len(ids)
        assert all(h.score > 0 for h in hits)
        assert [h.score for h in hits] == [float(scores[i]) for i in ids]
        # Best first, and equal scores in id order.
        assert [(-h.score, h.sentence) for h in hits] == sorted((-h.score, h.sentence) for h in hits)
        # The k best scores are the ones returned (whichever tied ids were picked).
        assert [h.score for h in hits] == [float(scores[i]) for i in expected_top_k(scores, k)]


def test_top_k_ties_inside_the_result_go_by_lower_id():
    docs = [["a", "x"], ["b"], ["a", "y"], ["c"], ["a", "z"], ["d"], ["e"], ["f"]]
    bm = Bm25(docs)
    hits = bm.top_k(["a"], 10)
    assert [h.sentence for h in hits] == [0, 2, 4]
    assert hits[0].score == hits[1].score == hits[2].score > 0


def test_top_k_tie_at_the_cutoff_keeps_the_lower_id():
    docs = [["c", "a", "g"], ["b", "a"], ["a", "e", "d"]] * 2
    bm = Bm25(docs)
    scores = bm.scores(["a"])
    assert scores[0] == scores[2] == scores[3] == scores[5] < scores[1] == scores[4]
    assert [h.sentence for h in bm.top_k(["a"], 3)] == [1, 4, 0]


def test_top_k_k_larger_than_candidates():
    bm = Bm25([["a", "x"], ["b"], ["c"], ["a"], ["d"]])
    hits = bm.top_k(["a"], 100)
    assert [h.sentence for h in hits] == [3, 0]  # shorter doc first, only the two with "a"


def test_top_k_no_match_and_bad_k():
    bm = Bm25([["a"], ["b"], ["c"]])
    assert bm.top_k(["zzz"], 5) == []
    assert bm.top_k([], 5) == []
    with pytest.raises(ValueError):
        bm.top_k(["a"], 0)


TINY = [
    ["hà_nội", "có", "dân_số", "gần", "10", "triệu", "người"],
    ["hà_nội", "ký", "với", "microsoft"],
    ["đại_sứ", "mỹ", "ted", "osius"],
    ["hà_nội", "hà_nội", "thông_minh"],
    [],
    ["dân_số", "thành_phố"],
]


def test_top_k_pinned_on_tiny_corpus():
    k1, b, eps = 1.5, 0.75, 0.25
    bm = Bm25(TINY, k1=k1, b=b, epsilon=eps)
    query = ["hà_nội", "dân_số", "hà_nội", "lạ"]
    hits = bm.top_k(query, 3)

    # By hand: n=6, avgdl=20/6; df(hà_nội)=3 -> idf 0; df(dân_số)=2 -> idf log(4.5/2.5).
    idf_ds = math.log(4.5) - math.log(2.5)
    avgdl = 20 / 6

    def term(tf, dl, idf):
        return idf * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)))

    expected = {0: term(1, 7, idf_ds), 5: term(1, 2, idf_ds)}
    assert [h.sentence for h in hits] == [5, 0]
    assert [h.score for h in hits] == pytest.approx([expected[5], expected[0]], rel=1e-12)
    # ... and BM25Okapi agrees.
    ref = BM25Okapi(TINY, k1=k1, b=b, epsilon=eps).get_scores(query)
    assert hits == [Hit(5, float(ref[5])), Hit(0, float(ref[0]))]
    assert ref[3] == 0.0 and ref[1] == 0.0  # hà_nội alone carries no weight


# --- the sentence index ------------------------------------------------------------------


def _article(doc_id, *paragraphs):
    return Article(doc_id, f"Bài {doc_id}", None, None, None, tuple(paragraphs), origin=doc_id)


def test_build_index_sentences_point_at_original_text():
    seg = ws_segmenter()
    articles = [
        _article("a", "Câu một của A. Câu hai của A!", "Đoạn hai của A."),
        _article("b", "Chỉ một câu của B"),
    ]
    index = build_index(articles, seg.sentence_spans, seg.terms, k1=1.5, b=0.75, epsilon=0.25)
    assert [index.text(i) for i in range(len(index.sentences))] == [
        "Câu một của A.",
        "Câu hai của A!",
        "Đoạn hai của A.",
        "Chỉ một câu của B",
    ]
    assert [(r.article, r.paragraph) for r in index.sentences] == [(0, 0), (0, 0), (0, 1), (1, 0)]
    assert index.terms[1] == ("câu", "hai", "của", "a")
    assert index.sentence_article(3).doc_id == "b"
    assert index.bm25.n_docs == 4
    # Same paragraph: same article and paragraph number (paragraph 0 of another article is not).
    refs = list(index.sentences)
    for a in range(4):
        for b in range(4):
            same = (refs[a].article, refs[a].paragraph) == (refs[b].article, refs[b].paragraph)
            assert index.sentences.same_paragraph(a, b) is same


def test_seed_index_texts_are_in_their_paragraphs(ws_service):
    index = ws_service.index
    assert len(index.sentences) == len(index.terms) == index.bm25.n_docs
    for i, ref in enumerate(index.sentences):
        paragraph = index.articles[ref.article].paragraphs[ref.paragraph]
        assert index.text(i) == paragraph[ref.start : ref.end]
        assert index.text(i).strip() == index.text(i) != ""


def _reference_candidates(score: np.ndarray, k: int) -> np.ndarray:
    positive = np.flatnonzero(score > 0)
    if positive.size <= k:
        return positive
    kth = np.sort(score[positive])[-k]
    return positive[score[positive] >= kth]


@pytest.mark.parametrize("n", [100, 8 * 1024, 50_000, 50_000 + 77])
@pytest.mark.parametrize("k", [1, 10, 50])
@pytest.mark.parametrize("seed", [0, 1])
def test_best_candidates_equals_the_plain_selection(n, k, seed):
    """Large arrays take the block-maximum shortcut; every case gives the plain answer."""
    rng = np.random.default_rng(seed)
    cases = [
        np.where(rng.random(n) < 0.3, rng.random(n), 0.0),  # mostly zeros
        np.round(rng.random(n) * 4, 1) * (rng.random(n) < 0.5),  # many ties, at the cut-off too
        np.where(rng.random(n) < 0.001, rng.random(n), 0.0),  # fewer positives than blocks
        np.zeros(n),
        -rng.random(n),  # nothing positive
        np.concatenate([np.zeros(n - 3), [1.0, 2.0, 2.0]]),  # the best in the last, partial block
    ]
    for score in cases:
        np.testing.assert_array_equal(best_candidates(score, k), _reference_candidates(score, k))


def test_per_term_pointers_take_4_bytes_when_they_fit():
    """Posting pointers, segment runs and vocabulary offsets are int32 up to 2**31 - 1, int64 beyond."""
    from retrieval.index.vocabulary import narrow as _narrow

    assert _narrow(np.array([0, 5, (1 << 31) - 1])).dtype == np.int32
    wide = _narrow(np.array([0, 1 << 31]))
    assert wide.dtype == np.int64 and wide.tolist() == [0, 1 << 31]
    bm = Bm25([["a", "b"], ["b"], ["c"]])
    assert bm.indptr.dtype == bm.vocab.offsets.dtype == np.int32
