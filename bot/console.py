"""The local console: type a question, read the quoted answer and its citations."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from retrieval.answer import messages
from retrieval.service import AnswerService

from .insights.log import NullQuestionLog, QuestionSink
from .insights.store import ChatKind

log = logging.getLogger(__name__)

PROMPT = "Câu hỏi> "


def _setup_history(path: Path) -> None:
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            readline.read_history_file(path)
        readline.set_history_length(1000)
    except OSError as exc:
        log.warning("console history unavailable: %s", exc)
        return
    import atexit

    def save() -> None:
        try:
            readline.write_history_file(path)
        except OSError as exc:
            log.warning("could not save console history: %s", exc)

    atexit.register(save)


@dataclass
class Session:
    """One console session: the service, the question log, and the last answer (for /good, /bad)."""

    service: AnswerService
    log: QuestionSink
    last_answer: str | None = None


def handle_line(session: Session, line: str) -> str | None:
    """The console's reply to one input line; ``None`` means quit."""
    text = line.strip()
    command = text.split()[0].lower() if text.startswith("/") else ""
    if command in ("/quit", "/exit", "/q"):
        return None
    if command == "/help":
        return messages.CONSOLE_HELP
    if command == "/sources":
        return messages.sources_text(session.service.articles)
    if command in ("/good", "/bad"):
        if session.last_answer is None:
            return messages.NOTHING_TO_RATE
        session.log.vote(session.last_answer, "console", 1 if command == "/good" else -1)
        return messages.RATED_GOOD if command == "/good" else messages.RATED_BAD
    if command:
        return f"Không có lệnh {command}. " + messages.CONSOLE_HELP
    started = time.perf_counter()
    try:
        result = session.service.answer(text)
    except Exception:
        session.log.record(
            text,
            None,
            kind=ChatKind.CONSOLE,
            user="console",
            chat="console",
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        raise
    answer_id = session.log.record(
        text,
        result,
        kind=ChatKind.CONSOLE,
        user="console",
        chat="console",
        latency_ms=(time.perf_counter() - started) * 1000,
    )
    session.last_answer = answer_id if result.answered else None
    return result.message


def run_console(
    service: AnswerService,
    history: Path | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    question_log: QuestionSink | None = None,
) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty()
    if interactive and history is not None:
        _setup_history(history)
    session = Session(service, question_log or NullQuestionLog())
    print(messages.CONSOLE_WELCOME.format(n=len(service.articles)), file=stdout)
    while True:
        try:
            line = input(PROMPT) if interactive else stdin.readline()
        except EOFError:
            break
        except KeyboardInterrupt:
            print(file=stdout)
            break
        if not interactive and line == "":
            break
        try:
            reply = handle_line(session, line)
        except Exception:  # the console keeps going after a bug
            log.exception("failed to answer %r", line[:200])
            reply = messages.ERROR
        if reply is None:
            break
        print(reply + "\n", file=stdout, flush=True)
    session.log.close()
    return 0
