"""End to end on the real seeds with real underthesea: the quality floor on the dev questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_support import DEV_QUESTIONS
from retrieval.evaluate import evaluate, format_report, load_questions

pytestmark = pytest.mark.slow

HIT_AT_1_FLOOR = 0.95  # issue #4: dev Hit@1 >= 0.95
OFF_TOPIC_COUNT = 4


@pytest.fixture(scope="module")
def dev_questions():
    if not DEV_QUESTIONS.is_file():
        pytest.skip(f"dev questions not found: {DEV_QUESTIONS} (the shared eval folder is not checked out)")
    return load_questions(DEV_QUESTIONS)


@pytest.fixture(scope="module")
def dev_report(real_service, dev_questions):
    return evaluate(real_service.answer, dev_questions)


def test_dev_set_is_the_expected_one(dev_questions):
    assert len(dev_questions) >= 20
    assert sum(not q.answerable for q in dev_questions) == OFF_TOPIC_COUNT


def test_dev_hit_at_1_floor(dev_report):
    # A hit at rank 1 means the first quote holds the expected fact AND cites one of the
    # question's articles (retrieval.evaluate.is_hit).
    assert dev_report.hit_at_1 >= HIT_AT_1_FLOOR, "\n" + format_report(dev_report)


def test_dev_off_topic_questions_are_refused(real_service, dev_questions):
    off_topic = [q for q in dev_questions if not q.answerable]
    assert len(off_topic) == OFF_TOPIC_COUNT
    results = {q.id: real_service.answer(q.question) for q in off_topic}
    answered = {qid: r.answers[0].quote[:80] for qid, r in results.items() if r.answered}
    assert answered == {}
    assert all(r.answers == () for r in results.values())


def test_dev_answers_are_verbatim_and_cited(real_service, dev_questions, seed_texts):
    for q in dev_questions:
        result = real_service.answer(q.question)
        assert result.answered == bool(result.answers)
        scores = [a.score for a in result.answers]
        assert scores == sorted(scores, reverse=True)
        for answer in result.answers:
            assert answer.quote in seed_texts[answer.doc_id], (q.id, answer.quote[:80])


# Off-topic questions beyond the dev set. "Thủ đô của Pháp" is a known limitation:
# the seeds talk about "Thủ đô" (Hà Nội), and underthesea sometimes leaves "pháp"
# of "giải pháp" as a word of its own, so the article seems to cover the question.
@pytest.mark.parametrize(
    "question",
    [
        "Ai là tổng thống Pháp?",
        "Tổng thống Mỹ hiện nay là ai?",
        pytest.param(
            "Thủ đô của Pháp là gì?",
            marks=pytest.mark.xfail(
                reason="known limitation: 'Thủ đô' and a stray 'pháp' word are in the seeds", strict=True
            ),
        ),
    ],
)
def test_more_off_topic_questions_are_refused(real_service, question):
    result = real_service.answer(question)
    assert not result.answered, [a.quote[:80] for a in result.answers]


@pytest.mark.parametrize(
    "question",
    [
        "Giá xăng RON 95 hôm nay là bao nhiêu?",
        "Làm thế nào để nấu bún chả ngon?",
        "Đội tuyển nào vô địch World Cup 2022?",
        "Cá thể đồi mồi thả ở Cà Mau nặng bao nhiêu kg?",
        "Ngân hàng MB bị yêu cầu siết kiểm soát nội bộ ở chi nhánh nào?",
    ],
)
def test_off_topic_and_boilerplate_questions_are_refused(real_service, question):
    assert not real_service.answer(question).answered


# --- Questions written for the refusal work (tests/data/eval/) -----------------------------------

DATA = Path(__file__).parent / "data" / "eval"
# Measured by bench/refusal.py at the shipped strictness: 25/35 off-topic refused, chat Hit@1 37/48
# with 3 refused. Issue #19 asks for >= 90% and >= 0.85 with at most 1 in 20: not reached yet
# (docs/quality.md says what limits it); these floors keep what is reached.
OFF_TOPIC_REFUSED_FLOOR = 0.70
CHAT_HIT_AT_1_FLOOR = 0.75
CHAT_REFUSED_CEILING = 4 / 48


def test_new_off_topic_questions_are_mostly_refused(real_service):
    questions = load_questions(DATA / "seeds_offtopic.yaml")
    assert len(questions) >= 25 and not any(q.answerable for q in questions)
    answered = [q.question for q in questions if real_service.answer(q.question).answered]
    refused = 1 - len(answered) / len(questions)
    assert refused >= OFF_TOPIC_REFUSED_FLOOR, answered


def test_chat_style_questions_are_answered(real_service):
    """Held out from every fitting and tuning: no diacritics, short forms, particles, typos."""
    questions = load_questions(DATA / "seeds_chat.yaml")
    assert len(questions) >= 25 and all(q.answerable for q in questions)
    report = evaluate(real_service.answer, questions)
    assert report.hit_at_1 >= CHAT_HIT_AT_1_FLOOR, "\n" + format_report(report)
    assert report.answerable_refused / len(questions) <= CHAT_REFUSED_CEILING, "\n" + format_report(report)
