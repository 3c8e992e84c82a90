"""The answering service as the front ends use it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_support import open_ws, with_cache, write_article, write_jsonl_corpus
from retrieval.answer import messages
from retrieval.answer.compose import Outcome, Result
from retrieval.errors import CorpusError

QUESTIONS = [
    "Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?",
    "Hà Nội thiết lập mạng dùng chung đến bao nhiêu phường xã?",
    "ASOCIO có những quốc gia thành viên tích cực nào?",
    "Trung tâm dữ liệu lớn của Hà Nội",
    "Làm thế nào để nấu bún chả ngon?",
    "",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_answer_never_raises(ws_service, text):
    result = ws_service.answer(text)
    assert isinstance(result, Result)
    assert result.message
    assert result.answered == bool(result.answers)
    json.dumps(result.to_dict(), ensure_ascii=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.sampled_from(
            [
                "Hà",
                "Nội",
                "thông",
                "minh",
                "ai",
                "là",
                "gì",
                "bao",
                "nhiêu",
                "?",
                "…",
                "ASOCIO",
                "1.200",
                "12/2015",
                "đâu",
                "khi",
                "nào",
                "ha",
                "noi",
            ]
        ),
        max_size=12,
    )
)
def test_answer_on_word_salad_keeps_invariants(ws_service, words):
    result = ws_service.answer(" ".join(words))
    scores = [a.score for a in result.answers]
    assert scores == sorted(scores, reverse=True)
    assert len(result.answers) <= ws_service.cfg.answer.max_answers
    if not result.answered:
        assert result.message in (messages.EMPTY, messages.NO_CONTENT, messages.REFUSAL)


def test_concurrent_answers_match_sequential(ws_service):
    expected = [ws_service.answer(q) for q in QUESTIONS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(ws_service.answer, QUESTIONS * 5))
    assert got == expected * 5


@pytest.mark.parametrize("question", QUESTIONS[:4])
def test_more_answers_page_on_from_the_default_ones(ws_service, question):
    default = ws_service.answer(question)
    more = ws_service.answer(question, max_answers=9)
    assert default.answered and more.answered
    assert len(more.answers) <= 9
    assert more.answers[: len(default.answers)] == default.answers


def test_refusal_notes(ws_service):
    result = ws_service.answer("Làm thế nào để nấu bún chả ngon?")
    assert not result.answered
    assert result.outcome is Outcome.NOT_FOUND
    assert result.message == messages.REFUSAL


def test_info_describes_the_index(cfg, seed_copy):
    service = open_ws(cfg, seed_copy)
    info = service.info
    assert info.path.parent == cfg.cache_dir and info.path.is_file()
    assert info.rebuilt and info.saved and info.seconds >= 0
    assert info.reason == "no saved index"
    assert len(service.articles) == 5
    # A build reports its stages, in order; they account for (nearly) all of its time.
    assert [name for name, _ in info.stages] == ["ingest", "segment", "index", "save"]
    assert all(seconds >= 0 for _, seconds in info.stages)
    assert sum(seconds for _, seconds in info.stages) <= info.seconds
    assert open_ws(cfg, seed_copy).info.stages == ()  # loaded: nothing was built


def test_open_uses_the_config_corpus_by_default(cfg, seed_copy):
    service = open_ws(with_cache(cfg, cfg.cache_dir, corpus=seed_copy))
    assert len(service.articles) == 5


def test_open_missing_corpus_is_a_corpus_error(cfg, tmp_path):
    with pytest.raises(CorpusError):
        open_ws(cfg, tmp_path / "missing")


def test_open_corpus_without_articles_is_a_corpus_error(cfg, tmp_path):
    write_article(tmp_path / "corpus", "empty.txt", "")
    with pytest.raises(CorpusError):
        open_ws(cfg, tmp_path / "corpus")
    assert not cfg.cache_dir.exists() or not any(cfg.cache_dir.glob("index-*"))


def test_open_jsonl_corpus(cfg, tmp_path):
    path = write_jsonl_corpus(tmp_path / "corpus.jsonl")
    service = open_ws(cfg, path)
    assert [a.doc_id for a in service.articles] == ["bai-cau", "bai-pho", "bai-mua", "bai-lua"]
    result = service.answer("Cầu Kỳ Lân dài bao nhiêu mét?")
    assert result.answered and result.answers[0].doc_id == "bai-cau"
    assert open_ws(cfg, path).info.reason == "loaded"
