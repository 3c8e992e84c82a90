"""The Telegram front end's environment: the token, a self-hosted Bot API server, the webhook
secret, the administrators.

The token comes only from ``TELEGRAM_BOT_TOKEN`` (never config.yaml); every
check raises :class:`ConfigError` with a message that says how to fix it and
never contains the value itself.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from retrieval.config import TelegramConfig
from retrieval.errors import ConfigError

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
BASE_URL_ENV = "TELEGRAM_BASE_URL"
ADMINS_ENV = "TELEGRAM_ADMINS"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
USER_ID_PATTERN = re.compile(r"^[1-9][0-9]{0,18}$")


def read_token(env: Mapping[str, str]) -> str:
    """The bot token from ``TELEGRAM_BOT_TOKEN``; ConfigError (without the value) when missing or malformed."""
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(f"{TOKEN_ENV} is not set: put the token from @BotFather in the environment")
    if not TOKEN_PATTERN.match(token):
        raise ConfigError(
            f"{TOKEN_ENV} does not look like a bot token (expected <digits>:<30+ letters, digits, _ or ->)"
        )
    return token


def read_base_url(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``(base_url, base_file_url)`` for a self-hosted Bot API server, from ``TELEGRAM_BASE_URL``.

    ``http://127.0.0.1:8081/bot`` gives ``http://127.0.0.1:8081/file/bot`` for files.
    """
    url = env.get(BASE_URL_ENV, "").strip()
    if not url:
        return None, None
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{BASE_URL_ENV} must be an http(s) URL such as http://127.0.0.1:8081/bot, got {url!r}")
    if url.endswith("/bot"):
        return url, url[: -len("bot")] + "file/bot"
    return url, f"{parts.scheme}://{parts.netloc}/file/bot"


def read_admins(tg: TelegramConfig, env: Mapping[str, str]) -> frozenset[int]:
    """The administrators' Telegram user ids (``/stats``): telegram.admins and those in
    ``TELEGRAM_ADMINS`` (separated by commas, spaces allowed); ConfigError for anything else."""
    admins = set(tg.admins)
    for n, part in enumerate(env.get(ADMINS_ENV, "").split(","), start=1):
        part = part.strip()
        if not part:
            continue
        if not USER_ID_PATTERN.match(part):
            raise ConfigError(
                f"{ADMINS_ENV} must be Telegram user ids (digits) separated by commas, such as "
                f"123456789,987654321; entry {n} is not"
            )
        admins.add(int(part))
    return frozenset(admins)


def webhook_secret(tg: TelegramConfig, env: Mapping[str, str]) -> str:
    """The webhook secret token from the environment variable named by telegram.webhook_secret_env."""
    secret = env.get(tg.webhook_secret_env, "").strip()
    if not SECRET_PATTERN.match(secret):
        raise ConfigError(
            f"webhook mode needs a secret token in the environment variable {tg.webhook_secret_env} "
            "(1-256 characters: letters, digits, _ and -)"
        )
    return secret


def check_webhook(tg: TelegramConfig, base_url: str | None = None) -> None:
    """The webhook URL must be https:// for Telegram; a self-hosted Bot API server
    (``base_url`` from TELEGRAM_BASE_URL, run with --local) also accepts http://."""
    parts = urlsplit(tg.webhook_url)
    if base_url:
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(
                "telegram.webhook_url must be the http(s):// URL the Bot API server at "
                f"{BASE_URL_ENV} calls (webhook mode)"
            )
    elif parts.scheme != "https" or not parts.hostname:
        raise ConfigError(
            "telegram.webhook_url must be the public https:// URL Telegram calls (webhook mode; "
            f"http:// only with a self-hosted Bot API server in {BASE_URL_ENV})"
        )
    if importlib.util.find_spec("tornado") is None:
        raise ConfigError(
            "telegram.mode is 'webhook' but the webhook server is not installed: "
            "pip install 'python-telegram-bot[webhooks]' (or use mode: polling)"
        )


def _name(cache_dir: Path, token: str, base_url: str | None, suffix: str) -> Path:
    """A file of this bot on this Bot API server in ``cache_dir``: named by the bot's id (the
    token's public part, before the colon) and the server, since a self-hosted Bot API server
    numbers its updates itself."""
    server = hashlib.sha256((base_url or DEFAULT_BASE_URL).encode()).hexdigest()[:12]
    return cache_dir / f"telegram-{token.split(':', 1)[0]}-{server}-{suffix}"


def journal_path(cache_dir: Path, token: str, base_url: str | None) -> Path:
    """Where the fetched and handled updates of this bot are kept (:mod:`bot.telegram.journal`)."""
    return _name(cache_dir, token, base_url, "updates.sqlite")


def legacy_journal_path(cache_dir: Path, token: str, base_url: str | None) -> Path:
    """The handled update ids as earlier versions kept them (a JSON file), taken over once."""
    return _name(cache_dir, token, base_url, "handled.json")


def lock_path(cache_dir: Path, token: str, base_url: str | None) -> Path:
    """The lock that keeps a second process of this bot from sharing the journal."""
    return _name(cache_dir, token, base_url, "instance.lock")


def secrets_to_hide(token: str, secret: str | None) -> list[str]:
    """What no log line may show: the token, its secret part, the webhook secret."""
    return [token, token.split(":", 1)[1]] + ([secret] if secret else [])
