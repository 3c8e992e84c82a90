"""Ordinary Vietnamese words (underthesea's dictionary), told from names and foreign words."""

from __future__ import annotations

import logging

from retrieval.text import lexicon as lexicon_module
from retrieval.text.lexicon import Lexicon


def test_the_installed_dictionary_knows_ordinary_words_and_not_names():
    lex = Lexicon.load()
    assert lex.common("thương_vong") and lex.common("hà_nội") and lex.common("tư_thục")
    assert not lex.common("broncos") and not lex.common("lindisfarne")
    assert lex.common_folded("thuong") and not lex.common_folded("broncos")


def test_entries_are_index_terms():
    lex = Lexicon.from_lines(["ă,Ă", "ắc-quy", "Hà Nội"])
    assert lex.common("ă") and lex.common("ắc_quy") and lex.common("hà_nội")


def test_without_the_dictionary_every_word_is_specific(monkeypatch, caplog):
    monkeypatch.setattr(lexicon_module, "_dictionary_file", lambda: None)
    with caplog.at_level(logging.WARNING):
        lex = Lexicon.load()
    assert not lex.common("thương_vong")
    assert "not found" in caplog.text


def test_a_deferred_lexicon_answers_as_the_loaded_one():
    from retrieval.text.lexicon import DeferredLexicon

    deferred, loaded = DeferredLexicon(), Lexicon.load()
    for word in ("thương_vong", "hà_nội", "broncos", "tư_thục"):
        assert deferred.common(word) == loaded.common(word)
    assert deferred.syllables == loaded.syllables and set(deferred) == set(loaded)


def test_the_compact_lexicon_answers_as_the_set_of_its_words():
    words = {"hà_nội", "ắc_quy", "thương_vong", "a", "ha"}
    lex = Lexicon(words)
    assert set(lex) == words and len(lex) == len(words)
    for term in ("hà_nội", "hà-nội", "ắc_quy", "a", "ha", "hà", "nội", "hà_nội_", "", "thuong_vong"):
        assert lex.common(term) == (term.replace("-", "_") in words)
    assert lex.syllables == {"ha", "noi", "ac", "quy", "thuong", "vong", "a"}
    assert not Lexicon(()).common("a") and len(Lexicon(())) == 0


def test_the_dictionary_read_line_by_line_is_the_one_read_whole():
    path = lexicon_module._dictionary_file()
    assert path is not None
    whole = Lexicon.from_lines(path.read_text(encoding="utf-8").splitlines())
    loaded = Lexicon.load()
    assert set(loaded) == set(whole) and loaded.syllables == whole.syllables
