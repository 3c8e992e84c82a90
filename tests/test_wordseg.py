"""The fast word segmentation gives underthesea's own words and feature strings."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_support import REPO
from retrieval.text import wordseg
from retrieval.text.normalize import fold_diacritics, normalize

underthesea = pytest.importorskip("underthesea")
XQUAD = REPO.parent / "shared" / "eval" / "xquad" / "xquad.vi.json"


@pytest.fixture(scope="module")
def fast():
    tokenizer = wordseg.load()
    assert isinstance(tokenizer, wordseg.WordTokenizer), "the check on the sample sentences failed"
    return tokenizer


@pytest.fixture(scope="module")
def library():
    """underthesea's own pieces: word_tokenize, its tokenizer and its featurizer."""
    import underthesea.pipeline.word_tokenize as wt
    from underthesea.pipeline.word_tokenize.regex_tokenize import tokenize

    wt.word_tokenize("Hà Nội")
    return wt.word_tokenize, tokenize, wt.word_tokenize_model.featurizer.process


@pytest.fixture(scope="module")
def seed_lines(seed_texts):
    """Every non-blank line of the seed articles (front matter, titles, paragraphs)."""
    return [line for text in seed_texts.values() for line in text.splitlines() if line.strip()]


def _assert_same(fast, library, texts):
    word_tokenize, tokenize, featurize = library
    for text in texts:
        assert fast(text) == word_tokenize(text), text
        tokens = tokenize(text, use_token_normalize=True, fixed_words=[])
        assert [list(row) for row in fast._features(tokens)] == featurize([[[t] for t in tokens]])[0], text


def test_same_words_and_features_as_underthesea_on_the_seeds(fast, library, seed_lines):
    texts = seed_lines
    assert len(texts) > 50
    _assert_same(fast, library, texts + [normalize(t) for t in texts])


def test_same_words_as_underthesea_on_xquad(fast, library):
    """Every XQuAD paragraph, its sentences and questions, as typed and without diacritics."""
    if not XQUAD.exists():
        pytest.skip(f"XQuAD not found: {XQUAD}")
    from underthesea import sent_tokenize

    data = json.loads(XQUAD.read_text(encoding="utf-8"))
    texts = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            texts.append(paragraph["context"])
            texts += sent_tokenize(paragraph["context"])
            texts += [qa["question"] for qa in paragraph["qas"]]
    assert len(texts) > 2500
    word_tokenize = library[0]
    for text in texts + [fold_diacritics(t) for t in texts[::5]]:
        assert fast(text) == word_tokenize(text), text


# Letters with and without diacritics, both cases, digits, punctuation, and
# characters whose case rules are unusual (final sigma, dotted I, titlecase
# digraph, sharp s), spaces and emoji.
_ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯáàảãạÁÀẢÃẠ0123456789.,;:!?()[]\"'-–/%$…ΣΑςßİǅ😀 \t\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=_ALPHABET, max_size=60))
def test_same_as_underthesea_on_any_text(fast, library, text):
    _assert_same(fast, library, [text])


def test_empty_and_blank_text_have_no_words(fast):
    assert fast("") == []
    assert fast("   \n\t ") == []


def test_single_syllable_and_short_sentences_are_padded_like_underthesea(fast, library):
    # One and two syllables: every window template is BOS or EOS somewhere.
    _assert_same(fast, library, ["ừ", "Hà", "Hà Nội", "a b", "Đi.", "1 2 3"])


def test_the_syllable_cache_starts_again_when_full(fast, library, seed_lines, monkeypatch):
    monkeypatch.setattr(wordseg, "SYLLABLE_CACHE", 8)
    fast._features._cache.clear()
    texts = seed_lines[:20]
    _assert_same(fast, library, texts)
    tokenize = library[1]
    assert len(fast._features._cache) <= max(8, *(len(set(tokenize(t))) for t in texts))


def test_templates_of_an_unknown_form_are_refused():
    assert wordseg.parse_templates(["T[0]", "T[-1,1].lower", "T[2].is_in_dict"]) is not None
    for name in ("T[0][1]", "T[1,0]", "W[0]", "T[0].upper", "T[0]=x"):
        assert wordseg.parse_templates(["T[0]", name]) is None, name


def test_unsupported_templates_fall_back_to_underthesea(monkeypatch, caplog):
    monkeypatch.setattr(wordseg, "parse_templates", lambda names: None)
    with caplog.at_level(logging.WARNING, logger="retrieval.text.wordseg"):
        tokenizer = wordseg.load()
    assert tokenizer is underthesea.word_tokenize
    assert "templates" in caplog.text


def test_a_failed_check_falls_back_to_underthesea(monkeypatch, caplog):
    real = wordseg.CrfFeatures.__call__

    def off_by_one(self, tokens):
        rows = real(self, tokens)
        return rows[1:] + rows[:1]

    monkeypatch.setattr(wordseg.CrfFeatures, "__call__", off_by_one)
    with caplog.at_level(logging.WARNING, logger="retrieval.text.wordseg"):
        tokenizer = wordseg.load()
    assert tokenizer is underthesea.word_tokenize
    assert "differs" in caplog.text


def test_a_broken_model_folder_falls_back_to_underthesea(monkeypatch, caplog):
    import joblib

    def missing(path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(joblib, "load", missing)
    with caplog.at_level(logging.WARNING, logger="retrieval.text.wordseg"):
        tokenizer = wordseg.load()
    assert tokenizer is underthesea.word_tokenize
    assert "unavailable" in caplog.text


def test_a_segmenter_switches_to_the_fast_path_for_bulk_work_only_with_underthesea():
    from retrieval.text.segment import Segmenter

    seg = Segmenter()
    before = seg.terms("Hà Nội có bao nhiêu dân?")
    seg.prepare_bulk()
    assert isinstance(seg._words, wordseg.WordTokenizer)
    seg.terms.cache_clear()
    assert seg.terms("Hà Nội có bao nhiêu dân?") == before == ("hà_nội", "có", "bao_nhiêu", "dân")

    injected = Segmenter(word_tokenize=str.split)
    injected.prepare_bulk()
    assert injected._words is str.split


def test_threads_sharing_a_full_cache_get_underthesea_words(fast, library, seed_lines, monkeypatch):
    """The service may segment questions from several threads; a cache that keeps
    filling up and starting again must not lose an entry under another thread."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(wordseg, "SYLLABLE_CACHE", 8)
    texts = seed_lines[:60]
    expected = [library[0](t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(fast, texts)) == expected
