"""Every front end releases the engine (AnswerService.close: the search backend's thread) when it
ends, by an error too: the CLI's ask, console, eval, index, add and remove, and the Telegram bot
(report opens it the same way)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot import cli
from qa_support import write_config
from retrieval.answer import messages
from retrieval.answer.compose import Outcome, Result
from retrieval.service import AnswerService, IndexInfo, Served, Source


class Backend:
    """A search backend that counts its closes."""

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def fake_service(tmp_path: Path, fail: bool = False) -> AnswerService:
    """An AnswerService with the real close and context manager, and no index."""
    service = AnswerService.__new__(AnswerService)
    service.backend = Backend()
    service._served = Served(SimpleNamespace(live_articles=[], sentences=[]), None, 0)
    service.info = IndexInfo(tmp_path / "index.bin", rebuilt=True, reason="built", seconds=0.1, saved=True)
    service.source = Source(tmp_path, tmp_path / "index.bin", "seg", "seg+variants", "compat")

    def answer(question: str, max_answers: int | None = None) -> Result:
        if fail:
            raise RuntimeError("the engine failed")
        return Result(question=question, answers=(), message=messages.REFUSAL, outcome=Outcome.NOT_FOUND)

    service.answer = answer
    return service


class Opened:
    """The fake services AnswerService.open handed out; ``fail``: theirs raise when asked."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path, self.fail = tmp_path, False
        self.services: list[AnswerService] = []

    def open(self, cfg: object, corpus: object = None, **kwargs: object) -> AnswerService:
        self.services.append(fake_service(self.tmp_path, fail=self.fail))
        return self.services[-1]

    def closes(self) -> list[int]:
        return [s.backend.closed for s in self.services]


@pytest.fixture
def opened(tmp_path, monkeypatch) -> Opened:
    opened = Opened(tmp_path)
    monkeypatch.setattr(AnswerService, "open", staticmethod(opened.open))
    return opened


def config(tmp_path: Path) -> str:
    return str(write_config(tmp_path, {"cache_dir": str(tmp_path / "cache")}))


@pytest.mark.parametrize(
    "argv",
    [
        ["ask", "Ai là đại sứ?"],
        ["ask", "--json"],  # the batch, from stdin
        ["console"],
        ["index"],
    ],
)
def test_each_command_closes_the_service(tmp_path, monkeypatch, capsys, opened, argv):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("Câu hỏi?\n".encode())))
    assert cli.main([*argv, "--config", config(tmp_path)]) == 0
    assert opened.closes() == [1]


@pytest.mark.parametrize(
    "argv",
    [
        ["add", "no_such_file.txt"],  # refused before anything is written
        ["remove", "no_such_doc"],
    ],
)
def test_add_and_remove_close_the_service_when_they_fail(tmp_path, capsys, opened, argv):
    assert cli.main([*argv, "--config", config(tmp_path)]) != 0
    assert opened.closes() == [1]


def test_eval_closes_the_service(tmp_path, capsys, opened):
    questions = tmp_path / "q.yaml"
    questions.write_text("- id: q1\n  question: Ai là đại sứ?\n  docs: [a]\n  expect: Osius\n", encoding="utf-8")
    assert cli.main(["eval", str(questions), "--config", config(tmp_path)]) == 0
    assert opened.closes() == [1]


def test_a_failing_answer_still_closes_the_service(tmp_path, capsys, opened):
    opened.fail = True
    with pytest.raises(RuntimeError, match="the engine failed"):
        cli.main(["ask", "Ai là đại sứ?", "--config", config(tmp_path)])
    assert opened.closes() == [1]


def test_telegram_closes_the_service_when_start_up_fails(tmp_path, monkeypatch, opened):
    from bot.telegram import app

    def no_application(*args, **kwargs):
        raise RuntimeError("no Bot API here")

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:" + "A" * 35)
    monkeypatch.setattr(app, "build_application", no_application)
    cfg = cli.load_config(Path(config(tmp_path)))
    with pytest.raises(RuntimeError, match="no Bot API here"):
        app.run_telegram(cfg)
    assert opened.closes() == [1]
