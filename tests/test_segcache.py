"""The corpus segmentation stage: parallel workers and the per-article cache."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from retrieval.index import segcache
from retrieval.index.build import build_index
from retrieval.index.segcache import MIN_PARALLEL_ARTICLES, Segmented, article_key, segment_corpus
from retrieval.ingest.corpus import Article
from retrieval.text.segment import Segmenter


def _sentences(text: str) -> list[str]:
    return [s.strip() + "." for s in text.split(".") if s.strip()]


class CountingSegmenter(Segmenter):
    """A whitespace segmenter that counts the texts it was asked to segment."""

    def __init__(self) -> None:
        self.calls = 0

        def words(text: str) -> list[str]:
            self.calls += 1
            return text.split()

        super().__init__(word_tokenize=words, sent_tokenize=_sentences)
        self.prepared = 0

    def prepare_bulk(self) -> None:
        self.prepared += 1
        super().prepare_bulk()


def make_articles(n: int, prefix: str = "doc") -> list[Article]:
    return [
        Article(
            doc_id=f"{prefix}{i:04d}",
            title=f"Tiêu đề số {i}",
            source=None,
            date=None,
            url=None,
            paragraphs=(f"Câu một của bài {i}. Câu hai nói về chủ đề {i % 7}.", f"Đoạn hai của bài {i}."),
            origin=f"{prefix}{i}.txt",
        )
        for i in range(n)
    ]


def test_parallel_segmentation_equals_sequential():
    articles = make_articles(MIN_PARALLEL_ARTICLES * 2)
    seg = Segmenter(word_tokenize=str.split, sent_tokenize=_sentences)
    one = segment_corpus(articles, seg, "ws", workers=1)
    two = segment_corpus(articles, seg, "ws", workers=2)
    assert one == two
    assert len(one) == len(articles)
    # Spans index the original paragraphs.
    for article, s in zip(articles, two):
        for p, start, end, _ in s.sentences:
            assert article.paragraphs[p][start:end].endswith(".")


def test_only_changed_articles_are_segmented_again(tmp_path, caplog):
    cache = tmp_path / "seg.sqlite"
    articles = make_articles(20)
    seg = CountingSegmenter()
    first = segment_corpus(articles, seg, "ws", cache_path=cache, workers=1)
    assert seg.calls > 0

    seg.calls = 0
    again = segment_corpus(articles, seg, "ws", cache_path=cache, workers=1)
    assert again == first and seg.calls == 0

    changed = list(articles)
    changed[3] = dataclasses.replace(changed[3], paragraphs=("Một câu hoàn toàn mới.",))
    new = make_articles(1, prefix="new")[0]
    changed.append(dataclasses.replace(new, title="Một bài hoàn toàn mới"))
    with caplog.at_level(logging.INFO, logger="retrieval.index.segcache"):
        result = segment_corpus(changed, seg, "ws", cache_path=cache, workers=1)
    assert "segmenting 2 of 21 articles" in caplog.text
    # At most the two articles' titles and sentences were segmented (the
    # Segmenter's own LRU cache may answer some of them), nothing else.
    expected = sum(1 + len(s.sentences) for s in (result[3], result[-1]))
    assert 0 < seg.calls <= expected
    assert result[:3] == first[:3] and result[4:20] == first[4:20]


def test_the_cache_is_keyed_by_content_not_by_name(tmp_path):
    cache = tmp_path / "seg.sqlite"
    seg = CountingSegmenter()
    segment_corpus(make_articles(3), seg, "ws", cache_path=cache, workers=1)
    seg.calls = 0
    renamed = [dataclasses.replace(a, doc_id="renamed-" + a.doc_id) for a in make_articles(3)]
    segment_corpus(renamed, seg, "ws", cache_path=cache, workers=1)
    assert seg.calls == 0


def test_segmenter_identity_is_part_of_the_key():
    article = make_articles(1)[0]
    assert article_key(article, "underthesea-9.5.0") != article_key(article, "underthesea-9.6.0")


def test_corrupt_cache_file_is_set_aside_and_rebuilt(tmp_path, caplog):
    cache = tmp_path / "seg.sqlite"
    cache.write_bytes(b"this is not an sqlite database" * 100)
    articles = make_articles(5)
    seg = Segmenter(word_tokenize=str.split, sent_tokenize=_sentences)
    with caplog.at_level(logging.WARNING, logger="retrieval.index.segcache"):
        result = segment_corpus(articles, seg, "ws", cache_path=cache, workers=1)
    assert len(result) == 5 and "unreadable" in caplog.text
    assert segment_corpus(articles, seg, "ws", cache_path=cache, workers=1) == result


def test_build_index_from_segmented_equals_build_from_functions():
    articles = make_articles(10)
    seg = Segmenter(word_tokenize=str.split, sent_tokenize=_sentences)
    params = {"k1": 1.5, "b": 0.75, "epsilon": 0.25}
    direct = build_index(articles, seg.sentence_spans, seg.terms, **params)
    staged = build_index(articles, segmented=segment_corpus(articles, seg, "ws", workers=1), **params)
    assert list(direct.sentences) == list(staged.sentences) and list(direct.terms) == list(staged.terms)
    q = ["câu", "chủ", "đề"]
    assert (direct.bm25.scores(q) == staged.bm25.scores(q)).all()


def test_segmented_round_trips_through_json():
    s = Segmented(("tiêu", "đề"), ((0, 0, 10, ("hà_nội", "1.200")), (1, 3, 8, ())))
    assert Segmented.from_json(s.to_json()) == s


def test_build_index_needs_a_way_to_segment():
    with pytest.raises(ValueError):
        build_index(make_articles(1), k1=1.5, b=0.75, epsilon=0.25)


def test_reindexing_after_one_changed_file_segments_only_that_article(cfg, seed_copy, caplog):
    from qa_support import open_ws

    first = open_ws(cfg, seed_copy)
    assert first.info.reason != "loaded"
    target = sorted(seed_copy.glob("*.txt"))[4]  # 004 ends with its body, no related-news block
    target.write_text(target.read_text(encoding="utf-8") + "\nMột câu mới được thêm vào bài.\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="retrieval.index.segcache"):
        second = open_ws(cfg, seed_copy)
    assert second.info.reason != "loaded"  # the corpus changed: the index was rebuilt ...
    assert "segmenting 1 of 5 articles (4 from the cache)" in caplog.text  # ... segmenting one article
    assert second.answer("Một câu mới được thêm vào bài").answered


class FailingSegmenter(CountingSegmenter):
    """Fails on the text of one article, as a build interrupted half-way would."""

    def __init__(self, fail_on: str) -> None:
        super().__init__()
        words = self._words

        def failing(text: str) -> list[str]:
            if fail_on in text:
                raise RuntimeError("interrupted")
            return words(text)

        self._words = failing


def test_an_interrupted_build_keeps_the_batches_already_segmented(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(segcache, "CACHE_BATCH", 4)
    cache = tmp_path / "seg.sqlite"
    articles = make_articles(20)
    with pytest.raises(RuntimeError):
        segment_corpus(articles, FailingSegmenter("bài 10."), "ws", cache_path=cache, workers=1)
    seg = CountingSegmenter()
    with caplog.at_level(logging.INFO, logger="retrieval.index.segcache"):
        resumed = segment_corpus(articles, seg, "ws", cache_path=cache, workers=1)
    # Articles 0-7 were written (two batches of 4); 8 and 9 were segmented but not yet written.
    assert "segmenting 12 of 20 articles (8 from the cache)" in caplog.text
    assert resumed == segment_corpus(articles, CountingSegmenter(), "ws", workers=1)


def test_batched_cache_writes_keep_every_article(tmp_path, monkeypatch):
    monkeypatch.setattr(segcache, "CACHE_BATCH", 3)
    cache = tmp_path / "seg.sqlite"
    articles = make_articles(MIN_PARALLEL_ARTICLES + 5)
    first = segment_corpus(articles, CountingSegmenter(), "ws", cache_path=cache, workers=2)
    seg = CountingSegmenter()
    assert segment_corpus(articles, seg, "ws", cache_path=cache, workers=2) == first
    assert seg.calls == 0


def test_terms_are_one_string_per_word():
    seg = Segmenter(word_tokenize=str.split, sent_tokenize=_sentences)
    first = seg.terms("Hà Nội mùa thu")
    second = seg.terms("Mùa thu ở Hà Nội")  # a different text, new strings from the tokenizer
    assert first[2] == second[0] == "mùa" and first[2] is second[0]
    # Read back from the cache, too.
    cached = Segmented.from_json(Segmented(first, ()).to_json())
    again = Segmented.from_json(Segmented(("mùa",), ()).to_json())
    assert cached.title_terms[2] is again.title_terms[0] is first[2]


def test_the_bulk_path_is_prepared_once_and_only_when_there_is_work(tmp_path):
    cache = tmp_path / "seg.sqlite"
    articles = make_articles(MIN_PARALLEL_ARTICLES * 2)
    seg = CountingSegmenter()
    segment_corpus(articles, seg, "ws", cache_path=cache, workers=2)
    assert seg.prepared == 1
    segment_corpus(articles, seg, "ws", cache_path=cache, workers=2)
    assert seg.prepared == 1  # everything cached: underthesea's faster path is not loaded


@pytest.mark.parametrize("n", [1, segcache.MIN_BULK_ARTICLES - 1, segcache.MIN_BULK_ARTICLES])
def test_the_bulk_path_is_set_up_only_for_many_articles(n):
    """A running bot taking one document does not keep the bulk path's tables for good."""
    segmenter = CountingSegmenter()
    segment_corpus(make_articles(n), segmenter, "count", workers=1, progress=False)
    assert segmenter.prepared == (1 if n >= segcache.MIN_BULK_ARTICLES else 0)
