"""Log hygiene for the Telegram front end: secrets masked everywhere, known noise in one line.

Every root log handler gets a formatter that masks the token and the webhook
secret (python-telegram-bot logs the Bot API URL, which contains the token, at
DEBUG level), tracebacks included. python-telegram-bot's tracebacks for
faults the bot survives and reports itself become one line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram.error import InvalidToken

from .delivery import one_line


class RedactingFormatter(logging.Formatter):
    """Wraps a handler's formatter and masks secrets in everything it writes (tracebacks too)."""

    def __init__(self, inner: logging.Formatter | None, secrets_: Sequence[str]) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.secrets = sorted({s for s in secrets_ if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record), self.secrets)


def redact(text: str, secrets_: Sequence[str]) -> str:
    for secret in secrets_:
        text = text.replace(secret, "<redacted>")
    return text


class _NoInvalidTokenTraceback(logging.Filter):
    """python-telegram-bot logs a rejected token with a traceback; run_telegram reports it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InvalidToken))


class _NetworkFaultsInOneLine(logging.Filter):
    """python-telegram-bot logs an unreadable Bot API answer with a traceback; it is a network
    fault the bot survives (and logs itself): keep one line."""

    PREFIXES = ("Can not load invalid JSON data",)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(record.msg, str) and record.msg.startswith(self.PREFIXES) and exc is not None:
            record.msg = f"{record.msg} (%s)"
            args = record.args if isinstance(record.args, tuple) else ()
            record.args = (*(a[:200] if isinstance(a, str) else a for a in args), one_line(exc))
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class _WebhookRefusalsInOneLine(logging.Filter):
    """python-telegram-bot logs a refused webhook request (missing or wrong secret token) at DEBUG
    with a traceback and the token offered, which may be a near miss of the real one (an old
    secret, a typo): keep one line without either."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Request had the wrong secret token: %s":
            record.msg, record.args = "Request had the wrong secret token", ()
        elif record.exc_info and _is_client_error(record.exc_info[1]):
            record.msg = f"{record.msg}: %s"
            record.args = (*(record.args or ()), record.exc_info[1])
            record.exc_info = record.exc_text = None
        return True


def _is_client_error(exc: BaseException | None) -> bool:
    try:
        from tornado.web import HTTPError
    except ImportError:  # no webhook server installed
        return False
    return isinstance(exc, HTTPError) and 400 <= exc.status_code < 500


def _add_filter(logger_name: str, kind: type[logging.Filter]) -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, kind) for f in logger.filters):
        logger.addFilter(kind())


def protect_logs(secrets_: Sequence[str]) -> None:
    """Mask ``secrets_`` in every root log handler; quiet the HTTP client loggers."""
    for handler in logging.getLogger().handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter, secrets_))
    # httpx logs every request URL, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    _add_filter("telegram.ext", _NoInvalidTokenTraceback)
    _add_filter("telegram.request.BaseRequest", _NetworkFaultsInOneLine)
    _add_filter("telegram.ext.Updater", _WebhookRefusalsInOneLine)  # the webhook server logs here
