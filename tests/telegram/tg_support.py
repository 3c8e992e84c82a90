"""Helpers for the Telegram front end tests: the bot as a subprocess, update factories,
and the summary lines printed after the run.

Nothing here reaches Telegram or any non-loopback address: the bot gets
``TELEGRAM_BASE_URL=http://127.0.0.1:<port>/bot`` and no proxy settings.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tg_fakeapi import FakeBotAPI

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
# Looks like a real token (digits ":" 35 characters) but is only known to the stand-in server.
FAKE_TOKEN = "123456789:AAFake-token_for_loopback_tests_0nly"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
START_TIMEOUT = 60.0
# Questions the seed articles answer, asked by the end-to-end and load tests.
SEED_QUESTIONS = (
    "Hà Nội có bao nhiêu dân?",
    "Bộ trưởng Bộ Kinh tế Phần Lan là ai?",
    "Đại sứ Mỹ tại Việt Nam tên là gì?",
    "Bao nhiêu công ty Mỹ muốn tham gia phát triển thành phố thông minh tại Hà Nội?",
    "Các trung tâm dữ liệu ở Hà Nội có tổng công suất bao nhiêu?",
    "Thành phố nào có phong trào khởi nghiệp sáng tạo lớn thứ 2 nước Mỹ?",
    "Hà Nội ký văn bản ghi nhớ với tập đoàn nào để xây dựng khung chính phủ điện tử?",
    "Doanh nghiệp Phần Lan có thế mạnh trong lĩnh vực nào?",
)

_ids = itertools.count(10_000)


def new_id() -> int:
    """A fresh positive id (users, private chats, message ids)."""
    return next(_ids)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- Update factories ----------------------------------------------------------------


def user(uid: int, first_name: str = "Lan", *, is_bot: bool = False) -> dict:
    return {"id": uid, "is_bot": is_bot, "first_name": first_name, "language_code": "vi"}


def private_chat(uid: int, first_name: str = "Lan") -> dict:
    return {"id": uid, "type": "private", "first_name": first_name}


def group_chat(chat_id: int, *, forum: bool = False, kind: str = "supergroup") -> dict:
    chat = {"id": chat_id, "type": kind, "title": "Nhóm hỏi đáp"}
    if forum:
        chat["is_forum"] = True
    return chat


def mention(text: str, handle: str) -> dict:
    """A ``mention`` entity for ``handle`` in ``text``, offsets in UTF-16 code units."""
    start = text.index(handle)
    return {"type": "mention", "offset": utf16_len(text[:start]), "length": utf16_len(handle)}


def text_mention(text: str, name: str, user_obj: dict) -> dict:
    start = text.index(name)
    return {"type": "text_mention", "offset": utf16_len(text[:start]), "length": utf16_len(name), "user": user_obj}


def message(
    chat: dict,
    sender: dict,
    text: str | None = None,
    *,
    entities: list[dict] | None = None,
    reply_to: dict | None = None,
    thread_id: int | None = None,
    message_id: int | None = None,
    **extra: Any,
) -> dict:
    """A Message object as Telegram sends it; a leading /command gets its bot_command entity."""
    msg: dict[str, Any] = {
        "message_id": message_id or new_id(),
        "date": int(time.time()),
        "chat": chat,
        "from": sender,
    }
    if text is not None:
        msg["text"] = text
        ents = list(entities or [])
        if text.startswith("/"):
            ents.insert(0, {"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])})
        if ents:
            msg["entities"] = ents
    if reply_to is not None:
        msg["reply_to_message"] = reply_to
    if thread_id is not None:
        msg["message_thread_id"] = thread_id
        msg["is_topic_message"] = True
    msg.update(extra)
    return msg


def message_update(*args: Any, **kwargs: Any) -> dict:
    return {"message": message(*args, **kwargs)}


def private_update(uid: int, text: str | None, **kwargs: Any) -> dict:
    return message_update(private_chat(uid), user(uid), text, **kwargs)


def bot_message(api: FakeBotAPI, sent_result: dict) -> dict:
    """The bot's own message (as returned by sendMessage), to reply to."""
    return {**sent_result, "from": api.bot_user}


# --- The bot as a subprocess -------------------------------------------------------------


def write_bot_config(
    folder: Path,
    cache_dir: Path,
    *,
    log_level: str = "INFO",
    telegram: dict | None = None,
    corpus: Path | None = None,
    settings: dict | None = None,
    insights: dict | None = None,
) -> Path:
    """The project's config.yaml with the seeds (or ``corpus``) as an absolute corpus path, the
    cache in tmp, and ``settings`` (top-level keys) merged in. The question log goes in
    ``folder`` unless ``insights`` says otherwise."""
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    data["corpus"] = str(corpus or SEEDS)
    data["cache_dir"] = str(cache_dir)
    data["log_level"] = log_level
    data.update(settings or {})
    data.setdefault("telegram", {}).update(telegram or {})
    data.setdefault("insights", {}).update({"question_log": str(folder / "questions.sqlite"), **(insights or {})})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for the bot's webhook listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def bot_env(api: FakeBotAPI | None, token: str | None = FAKE_TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.pop("TELEGRAM_BOT_TOKEN", None)
    env.pop("TELEGRAM_BASE_URL", None)
    env.pop("TELEGRAM_ADMINS", None)
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    if api is not None:
        env["TELEGRAM_BASE_URL"] = api.base_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class BotProcess:
    proc: subprocess.Popen
    api: FakeBotAPI
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def rss_kib(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def terminate(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds until exit)."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise AssertionError(f"bot did not stop within {timeout}s of SIGTERM\n{self.log_text()[-3000:]}") from None
        return rc, time.monotonic() - started


def start_bot(
    api: FakeBotAPI,
    folder: Path,
    cache_dir: Path,
    *,
    log_level: str = "INFO",
    telegram: dict | None = None,
    env: dict[str, str] | None = None,
    corpus: Path | None = None,
    settings: dict | None = None,
    insights: dict | None = None,
) -> BotProcess:
    """Start ``python -m bot telegram`` against ``api`` and wait until it is ready.

    Ready means: polling for updates, or in webhook mode (``telegram["mode"] ==
    "webhook"``) the webhook registered with ``api`` and its listener accepting
    connections. ``env`` adds environment variables (e.g. the webhook secret, TELEGRAM_ADMINS);
    ``corpus`` replaces the seeds, ``settings`` sets top-level keys (watch, watch_debounce_seconds).
    """
    config = write_bot_config(
        folder, cache_dir, log_level=log_level, telegram=telegram, corpus=corpus, settings=settings, insights=insights
    )
    log_path = folder / "bot.log"
    log_file = log_path.open("wb")
    if (telegram or {}).get("mode") == "webhook":
        hooks_before = len(api.calls_of("setWebhook"))
        host, port = telegram["webhook_listen"], telegram["webhook_port"]
        what = "register its webhook and listen"

        def ready() -> bool:
            return len(api.calls_of("setWebhook")) > hooks_before and port_open(host, port)
    else:
        polls_before = len(api.calls_of("getUpdates"))
        what = "start polling"

        def ready() -> bool:
            return len(api.calls_of("getUpdates")) > polls_before

    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "telegram", "--config", str(config)],
        cwd=REPO,
        env={**bot_env(api), **(env or {})},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log_file.close()
    bot = BotProcess(proc, api, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"bot exited with {proc.returncode} during start-up:\n{bot.log_text()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait(timeout=5)
            raise AssertionError(f"bot did not {what} within {START_TIMEOUT}s:\n{bot.log_text()[-3000:]}")
        time.sleep(0.05)
    return bot


# --- Figures worth reading after a run (burst timing, memory, transcripts) ------------------

REPORT: list[str] = []


def report(line: str) -> None:
    """Add a line to the summary printed at the end of the test run."""
    REPORT.append(line)
