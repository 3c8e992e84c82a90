"""The local console: commands, questions, and the read loop."""

from __future__ import annotations

import io

import pytest

from bot.console import Session, handle_line, run_console
from bot.insights.log import NullQuestionLog
from retrieval.answer import messages

QUESTION = "Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?"


def test_help(ws_service):
    assert handle_line(Session(ws_service, NullQuestionLog()), "/help") == messages.CONSOLE_HELP
    assert handle_line(Session(ws_service, NullQuestionLog()), "  /HELP  ") == messages.CONSOLE_HELP


def test_sources_lists_every_title(ws_service):
    reply = handle_line(Session(ws_service, NullQuestionLog()), "/sources")
    assert reply.splitlines()[0] == messages.SOURCES_TITLE.format(n=len(ws_service.articles))
    for n, article in enumerate(ws_service.articles, start=1):
        assert f"{n}. {messages.citation(article.title, article.source, article.date)}" in reply


@pytest.mark.parametrize("line", ["/quit", "/exit", "/q", "/QUIT", "  /quit  "])
def test_quit(ws_service, line):
    assert handle_line(Session(ws_service, NullQuestionLog()), line) is None


def test_unknown_command(ws_service):
    reply = handle_line(Session(ws_service, NullQuestionLog()), "/foo bar")
    assert reply.startswith("Không có lệnh /foo.")
    assert messages.CONSOLE_HELP in reply


def test_question_gets_the_service_message(ws_service):
    assert handle_line(Session(ws_service, NullQuestionLog()), QUESTION + "\n") == ws_service.answer(QUESTION).message
    assert handle_line(Session(ws_service, NullQuestionLog()), QUESTION).startswith(messages.ANSWER_INTRO)


def test_empty_line_asks_for_a_question(ws_service):
    assert handle_line(Session(ws_service, NullQuestionLog()), "\n") == messages.EMPTY


def test_run_console_answers_each_line_until_eof(ws_service):
    stdin = io.StringIO(f"{QUESTION}\n/help\n\nLàm thế nào để nấu bún chả ngon?")  # no final newline
    stdout = io.StringIO()
    assert run_console(ws_service, stdin=stdin, stdout=stdout) == 0
    out = stdout.getvalue()
    assert out.startswith(messages.CONSOLE_WELCOME.format(n=len(ws_service.articles)))
    assert ws_service.answer(QUESTION).message in out
    assert messages.CONSOLE_HELP in out
    assert messages.EMPTY in out
    assert out.rstrip().endswith(messages.REFUSAL)


def test_run_console_stops_at_quit(ws_service):
    stdin = io.StringIO(f"/quit\n{QUESTION}\n")
    stdout = io.StringIO()
    assert run_console(ws_service, stdin=stdin, stdout=stdout) == 0
    assert messages.ANSWER_INTRO not in stdout.getvalue()


def test_run_console_keeps_going_after_an_error(ws_service, monkeypatch):
    calls = []

    def flaky(question, max_answers=None):
        calls.append(question)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return original(question, max_answers)

    original = ws_service.answer
    monkeypatch.setattr(ws_service, "answer", flaky)
    stdout = io.StringIO()
    run_console(ws_service, stdin=io.StringIO(f"{QUESTION}\n{QUESTION}\n"), stdout=stdout)
    out = stdout.getvalue()
    assert messages.ERROR in out
    assert messages.ANSWER_INTRO in out
    assert len(calls) == 2


def test_good_and_bad_rate_the_last_answer(ws_service, tmp_path):
    from bot.insights.log import QuestionLog
    from bot.insights.store import open_for_reading

    log = QuestionLog(tmp_path / "q.sqlite")
    session = Session(ws_service, log)
    assert handle_line(session, "/good") == messages.NOTHING_TO_RATE
    assert handle_line(session, QUESTION).startswith(messages.ANSWER_INTRO)
    assert handle_line(session, "/bad") == messages.RATED_BAD
    assert handle_line(session, "/good") == messages.RATED_GOOD  # a vote can be changed
    assert log.close(5)
    db = open_for_reading(tmp_path / "q.sqlite")
    ((kind, question, answered),) = db.execute("SELECT chat_kind, question, answered FROM questions").fetchall()
    assert (kind, question, answered) == ("console", QUESTION, 1)
    assert db.execute("SELECT value FROM votes").fetchall() == [(1,)]
