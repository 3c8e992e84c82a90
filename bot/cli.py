"""Command line: ``python -m bot {run,ask,console,index,add,remove,eval,report,config,telegram}``.

This is the edge: configuration is loaded here once, the answering service is
built here once, and library errors become one clear line and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

from retrieval.answer.compose import Result
from retrieval.config import Config, load_config
from retrieval.config_listing import effective_settings, format_value, settings_markdown
from retrieval.errors import BotError
from retrieval.evaluate import evaluate, format_report, load_questions
from retrieval.service import AnswerService, valid_unicode

if TYPE_CHECKING:
    from retrieval.updates.changes import UpdateReport

log = logging.getLogger("bot")

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_config_path() -> Path | None:
    """``./config.yaml`` when there is one, else the project's (in a source checkout), else
    None: no config file, every setting at its default."""
    for path in (Path.cwd() / "config.yaml", REPO_ROOT / "config.yaml"):
        if path.is_file():
            return path
    return None


def _setup_logging(level: str, log_format: str = "text") -> None:
    """Log lines to stderr: text, or one JSON object per line (insights.log_format: json). The
    Telegram front end later wraps the formatter to mask its secrets (bot.telegram.redact)."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if log_format == "json":
        from .insights.metrics import JsonFormatter

        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    # httpx logs every request URL, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # trafilatura warns "discarding data: None" about a page without text, without naming it:
    # the corpus reader's own warning names the file and the reason.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    # watchfiles logs every batch of file events ("3 changes detected"); the update says what changed.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)


def _config_path(args: argparse.Namespace) -> Path | None:
    return Path(args.config) if args.config else default_config_path()


def _config(args: argparse.Namespace) -> Config:
    path = _config_path(args)
    cfg = load_config(path)
    _setup_logging(cfg.log_level, cfg.insights.log_format)
    if path is None:
        log.info("no config.yaml here or beside the project: every setting at its default")
    return cfg


def _service(args: argparse.Namespace, cfg: Config, progress: bool = False, stale_ok: bool = False) -> AnswerService:
    corpus = Path(args.corpus) if getattr(args, "corpus", None) else None
    return AnswerService.open(cfg, corpus, progress=progress, stale_ok=stale_ok)


def _emit(result: Result, as_json: bool, one_line: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    elif one_line:
        sys.stdout.write(" ".join(result.message.split()) + "\n")
    else:
        sys.stdout.write(result.message + "\n")
    sys.stdout.flush()


def cmd_ask(args: argparse.Namespace) -> int:
    cfg = _config(args)
    with _service(args, cfg) as service:
        if args.question is not None:
            # Bytes of the command line that are not UTF-8 arrive as lone surrogates: make them U+FFFD,
            # so the question echoed in --json output is valid UTF-8 whatever the locale.
            _emit(service.answer(valid_unicode(args.question)), args.json, one_line=False)
            return 0
        # Batch: one question per stdin line, one result per line, in order.
        cast(io.TextIOWrapper, sys.stdin).reconfigure(encoding="utf-8", errors="replace")
        for line in sys.stdin:
            question = line.rstrip("\r\n")
            try:
                result = service.answer(question)
            except Exception:  # one bad question must not end the batch
                log.exception("failed to answer %r", question[:200])
                from retrieval.answer import messages
                from retrieval.answer.compose import Outcome, Result

                result = Result(question=question, answers=(), message=messages.ERROR, outcome=Outcome.ERROR)
            _emit(result, args.json, one_line=True)
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from retrieval.updates.watch import follow

    from .console import run_console
    from .insights.log import open_question_log

    cfg = _config(args)
    with _service(args, cfg, stale_ok=cfg.watch) as service:
        following = follow(service, cfg)
        try:
            return run_console(service, history=cfg.cache_dir / "console_history", question_log=open_question_log(cfg))
        finally:
            following.close()


def cmd_report(args: argparse.Namespace) -> int:
    """What people asked, what the bot could not answer, and how its answers were rated."""
    from zoneinfo import ZoneInfo

    from retrieval.index.atomic import write_atomically

    from .insights import render, report
    from .insights.store import open_for_reading

    cfg = _config(args)
    try:
        since = report.parse_since(args.since)
    except ValueError as exc:
        raise BotError(str(exc)) from None
    open_for_reading(cfg.question_log_path).close()  # a clear error before the index is loaded
    with _service(args, cfg) as service:
        built = report.build_report(
            cfg.question_log_path, since, *report.service_inputs(service), tz=ZoneInfo(cfg.insights.report_timezone)
        )
    if args.out:
        try:
            write_atomically(Path(args.out), render.to_html(built).encode("utf-8"))
        except OSError as exc:
            raise BotError(f"cannot write the report to {args.out}: {exc.strerror or exc}") from None
        print(f"report written to {args.out}", file=sys.stderr)
    if args.json:
        print(render.to_json(built))
    elif not args.out:
        print(render.to_text(built))
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    cfg = _config(args)
    corpus = Path(args.corpus) if args.corpus else None
    with AnswerService.open(cfg, corpus, rebuild=True, progress=True) as service:
        n_articles, n_sentences = len(service.articles), len(service.index.sentences)
    info = service.info
    assert info is not None  # open() always says how it obtained the index
    print(
        f"indexed {n_articles} articles, {n_sentences} sentences "
        f"in {info.seconds:.1f}s -> {info.path}" + ("" if info.saved else " (NOT saved, see warning)")
    )
    return 0 if info.saved else 1


def _document_bytes(item: str, cfg: Config) -> tuple[str, bytes]:
    """(name, content) of an ``add`` argument: a web page fetched (http/https) or a file read."""
    from retrieval.updates import fetch
    from retrieval.updates.intake import IntakeError

    if fetch.is_url(item):
        page = fetch.fetch_page(item, max_bytes=cfg.fetch_max_mb << 20, timeout=cfg.fetch_timeout_seconds)
        return page.name, page.text.encode("utf-8")
    path = Path(item)
    try:
        if not path.is_file():
            raise IntakeError(f"{item}: no such file (or not a regular file)")
        if path.stat().st_size > cfg.ingest.max_file_mb << 20:
            raise IntakeError(f"{item}: larger than {cfg.ingest.max_file_mb} MB (ingest.max_file_mb)")
        return path.name, path.read_bytes()
    except OSError as exc:
        raise IntakeError(f"cannot read {item}: {exc.strerror or exc}") from None


def cmd_add(args: argparse.Namespace) -> int:
    """Copy documents (or fetch web pages) into the corpus folder and update the saved index."""
    from retrieval.answer.messages import citation
    from retrieval.updates import intake
    from retrieval.updates.changes import Change

    cfg = _config(args)
    with _service(args, cfg) as service:
        source, info = service.source, service.info
        assert source is not None and info is not None  # open() always knows the corpus and the index file
        folder = intake.corpus_folder(source.corpus)
        # Every document is read before anything is written: one that cannot be read changes nothing.
        checked = [intake.check_document(*_document_bytes(item, cfg), cfg.ingest) for item in args.items]
        names = [c.name for c in checked]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice:
            raise intake.IntakeError(f"two of the documents would both be stored as {twice}: add them one at a time")
        taken = [n for n in names if (folder / n).exists() or (folder / n).is_symlink()]
        if taken and not args.replace:
            raise intake.NameTaken(folder / taken[0])
        written = [intake.store(folder, c.name, c.data, replace=args.replace) for c in checked]
        report = service.update(Change.of(written))
        for path in written:
            doc_id = intake.doc_id_of(folder, path)
            found = report.find(doc_id)
            if found is None:
                print(f"unchanged {doc_id} ({path.name}: the same content as before)")
                continue
            verb = "replaced" if found in report.replaced else "added"
            print(f"{verb} {doc_id}: {citation(found.title, None, found.date)}, {found.sentences} sentences")
        return _index_summary(report, info.path)


def _index_summary(report: UpdateReport, path: Path) -> int:
    """The index after ``add`` or ``remove``, in one line; the exit code (1: it could not be saved)."""
    print(
        f"index: {report.articles} articles, {report.sentences} sentences in {report.seconds:.1f}s -> "
        f"{path}" + ("" if report.saved else " (NOT saved, see warning)")
    )
    return 0 if report.saved else 1


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete documents from the corpus folder by doc_id and update the saved index."""
    from retrieval.updates import intake
    from retrieval.updates.changes import Change

    cfg = _config(args)
    with _service(args, cfg) as service:
        source, info = service.source, service.info
        assert source is not None and info is not None  # open() always knows the corpus and the index file
        folder = intake.corpus_folder(source.corpus)
        paths = [intake.document_file(service.articles, folder, doc_id)[0] for doc_id in args.doc_ids]
        for path in paths:
            intake.delete(path)
        report = service.update(Change.of(paths))
        for doc_id, path in zip(args.doc_ids, paths):
            print(f"removed {doc_id} ({path.relative_to(folder.resolve())})")
        return _index_summary(report, info.path)


def cmd_eval(args: argparse.Namespace) -> int:
    cfg = _config(args)
    questions = load_questions(args.questions_file)
    with _service(args, cfg) as service:
        report = evaluate(service.answer, questions)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    """Print the effective configuration, key by key, and where each value comes from."""
    if args.markdown:
        sys.stdout.write(settings_markdown())
        return 0
    path = _config_path(args)
    settings = effective_settings(path)
    print(f"# config file: {path.resolve() if path else 'none (every setting at its default)'}")
    width = max(len(s.key) for s in settings)
    for s in settings:
        value = format_value(s.value)
        if len(value) > 100 and not args.full:
            value = value[:97] + "..."
        print(f"{s.key:<{width}} = {value}  # {'set in the file' if s.from_file else 'default'}")
    return 0


def cmd_telegram(args: argparse.Namespace) -> int:
    from .telegram.app import run_telegram

    cfg = _config(args)
    return run_telegram(cfg, corpus=Path(args.corpus) if args.corpus else None)


def cmd_run(args: argparse.Namespace) -> int:
    """The main job: the Telegram bot when a token is set, else the console on the seeds."""
    if os.environ.get("TELEGRAM_BOT_TOKEN", "").strip():
        return cmd_telegram(args)
    print("TELEGRAM_BOT_TOKEN is not set: starting the local console.", file=sys.stderr)
    return cmd_console(args)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="path to config.yaml (default: ./config.yaml or the project's)")
    common.add_argument("--corpus", help="folder of .txt/.md articles or a JSONL file (default: from config)")

    parser = argparse.ArgumentParser(prog="python -m bot", description="Vietnamese document Q&A bot")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("run", parents=[common], help="Telegram bot if TELEGRAM_BOT_TOKEN is set, else console")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("ask", parents=[common], help="answer one question, or one per stdin line")
    p.add_argument("question", nargs="?", help="the question; omit it to read one per line from stdin")
    p.add_argument("--json", action="store_true", help="print the result as JSON (one object per line)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("console", parents=[common], help="interactive console")
    p.set_defaults(func=cmd_console)

    p = sub.add_parser("index", parents=[common], help="build and save the index")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("add", parents=[common], help="add documents or web pages to the corpus folder and index them")
    p.add_argument(
        "items",
        nargs="+",
        metavar="PATH_OR_URL",
        help="a document (HTML, PDF, DOCX, TXT, MD: the kind is read from its content) or an "
        "http(s) page, stored as Markdown with its title, source, date and URL",
    )
    p.add_argument("--replace", action="store_true", help="replace a document of the same name")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", parents=[common], help="delete documents from the corpus folder and the index")
    p.add_argument(
        "doc_ids",
        nargs="+",
        metavar="DOC_ID",
        help="the document's doc_id: its path in the corpus folder without extension",
    )
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("eval", parents=[common], help="evaluate on a questions file (YAML or JSONL)")
    p.add_argument("questions_file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("report", parents=[common], help="what people asked and what the bot could not answer")
    p.add_argument("--since", default="7d", help="the period: hours, days or weeks such as 24h, 7d, 2w (default 7d)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--out", help="write the report as one self-contained HTML file")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("config", help="print the effective configuration and where each value comes from")
    p.add_argument("--config", help="path to config.yaml (default: ./config.yaml or the project's)")
    p.add_argument("--full", action="store_true", help="print long values whole")
    p.add_argument(
        "--markdown", action="store_true", help="print every key's default and meaning (docs/configuration.md)"
    )
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("telegram", parents=[common], help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    p.set_defaults(func=cmd_telegram)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args(["run", *(argv if argv is not None else sys.argv[1:])])
    try:
        return args.func(args)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stays open as stdout until the process ends
        return 0
