"""End-to-end: ``python -m bot telegram`` in webhook mode, against a loopback Bot API stand-in.

The bot registers its webhook with the stand-in (``setWebhook`` with the URL and
secret token), and the test plays Telegram: it posts updates straight to the
bot's webhook listener on 127.0.0.1. An ``http://`` webhook URL is fine here
because the bot talks to a self-hosted Bot API server (``TELEGRAM_BASE_URL``),
which, unlike api.telegram.org, accepts plain HTTP webhooks.
Every wait is bounded; nothing leaves the loopback interface.
"""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import subprocess
import sys
import time

import pytest

from tg_fakeapi import FakeBotAPI
from tg_html import assert_valid
from tg_support import (
    FAKE_TOKEN,
    REPO,
    BotProcess,
    bot_env,
    bot_message,
    free_port,
    new_id,
    private_update,
    report,
    start_bot,
    user,
    write_bot_config,
)

SECRET_ENV = "TG_TEST_WEBHOOK_SECRET"
HOOK_PATH = "tg/hook"
QUIET = 0.8  # seconds to wait when checking that nothing is sent
CITATION = "Hà Nội - Phần Lan trao đổi, hợp tác về xây dựng thành phố thông minh (Báo Công luận, 15/10/2018)"


class WebhookBot:
    """The bot process in webhook mode, its listener and its secret."""

    def __init__(self, process: BotProcess, port: int, secret: str) -> None:
        self.process, self.port, self.secret = process, port, secret
        self.url = f"http://127.0.0.1:{port}/{HOOK_PATH}"

    def post(self, update: dict, secret: str | None = None, *, path: str = f"/{HOOK_PATH}") -> int:
        """POST ``update`` as Telegram would; the HTTP status the listener answers."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", path, body=json.dumps(update, ensure_ascii=False).encode("utf-8"), headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()


@pytest.fixture(scope="module")
def hook_api() -> FakeBotAPI:
    server = FakeBotAPI(FAKE_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hook_bot(hook_api: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory, tg_cache) -> WebhookBot:
    port = free_port()
    secret = secrets.token_urlsafe(32)
    telegram = {
        "mode": "webhook",
        "webhook_listen": "127.0.0.1",
        "webhook_port": port,
        "webhook_url": f"http://127.0.0.1:{port}/{HOOK_PATH}",
        "webhook_secret_env": SECRET_ENV,
    }
    started = time.monotonic()
    # DEBUG: python-telegram-bot then logs setWebhook's parameters, secret included (to be masked).
    process = start_bot(
        hook_api,
        tmp_path_factory.mktemp("bot-webhook"),
        tg_cache,
        log_level="DEBUG",
        telegram=telegram,
        env={SECRET_ENV: secret},
    )
    report(f"webhook mode: bot ready (webhook set, listener up) {time.monotonic() - started:.2f}s after start")
    bot = WebhookBot(process, port, secret)
    yield bot
    if process.proc.poll() is None:
        process.terminate()


def test_webhook_is_registered_with_url_and_secret(hook_bot, hook_api):
    (call,) = hook_api.calls_of("setWebhook")
    assert call.params["url"] == hook_bot.url
    assert call.params["secret_token"] == hook_bot.secret
    assert call.params["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    assert hook_api.calls_of("getMe") and hook_api.calls_of("setMyCommands")
    assert not hook_api.calls_of("getUpdates")  # no polling in webhook mode


def test_update_posted_to_the_webhook_is_answered(hook_bot, hook_api):
    uid = new_id()
    update = hook_api.stamp(private_update(uid, "Bộ trưởng Bộ Kinh tế Phần Lan là ai?"))
    assert hook_bot.post(update, hook_bot.secret) == 200
    mid = update["message"]["message_id"]
    (call,) = hook_api.wait_for(lambda: hook_api.sent(uid), 15, f"an answer in chat {uid}")
    assert call.reply_to == mid
    assert call.params["parse_mode"] == "HTML"
    text = call.params["text"]
    assert_valid(text)
    assert "<blockquote" in text and "Mika Lintila" in text
    assert CITATION in text
    time.sleep(QUIET)
    assert len(hook_api.sent(uid)) == 1  # answered once


def test_more_button_pressed_through_the_webhook(hook_bot, hook_api):
    uid = new_id()
    update = hook_api.stamp(private_update(uid, "Hà Nội xây dựng thành phố thông minh như thế nào?"))
    assert hook_bot.post(update, hook_bot.secret) == 200
    (first,) = hook_api.wait_for(lambda: hook_api.sent(uid), 15, f"an answer in chat {uid}")
    data = first.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    press = hook_api.stamp(
        {
            "callback_query": {
                "id": str(new_id()),
                "from": user(uid),
                "chat_instance": "ci",
                "data": data,
                "message": bot_message(hook_api, first.result),
            }
        }
    )
    assert hook_bot.post(press, hook_bot.secret) == 200
    second = hook_api.wait_for(lambda: (s := hook_api.sent(uid)) and len(s) >= 2 and s[1], 15, "the next page")
    assert_valid(second.params["text"])
    assert "Các đoạn trích tiếp theo:" in second.params["text"]
    assert hook_api.calls_of("answerCallbackQuery", callback_query_id=press["callback_query"]["id"])


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", "SECRET"], ids=["missing", "empty", "wrong", "case"])
def test_webhook_post_without_the_right_secret_is_rejected(hook_bot, hook_api, secret):
    uid = new_id()
    update = hook_api.stamp(private_update(uid, "Hà Nội có bao nhiêu dân?"))
    wrong = hook_bot.secret.upper() if secret == "SECRET" else secret
    assert wrong != hook_bot.secret
    assert hook_bot.post(update, wrong) == 403
    time.sleep(QUIET)
    assert hook_api.sent(uid) == []
    assert hook_bot.process.proc.poll() is None


def test_webhook_other_path_is_not_found(hook_bot, hook_api):
    uid = new_id()
    update = hook_api.stamp(private_update(uid, "Hà Nội có bao nhiêu dân?"))
    assert hook_bot.post(update, hook_bot.secret, path="/other") == 404
    time.sleep(QUIET)
    assert hook_api.sent(uid) == []


def test_webhook_sigterm_exits_0_and_logs_hide_token_and_secret(hook_bot, hook_api):
    # Last in the module: stops the shared webhook bot.
    rc, seconds = hook_bot.process.terminate(timeout=10)
    log = hook_bot.process.log_text()
    assert rc == 0, log[-2000:]
    assert seconds < 5
    assert "Traceback" not in log
    assert "answered update=" in log
    assert FAKE_TOKEN not in log and FAKE_TOKEN.split(":")[1] not in log
    assert hook_bot.secret not in log
    # Refused posts are one line each, without the token offered (the "case" one is a near miss).
    assert "Request had the wrong secret token" in log and "Request did not include the secret token" in log
    assert "wrong-secret" not in log and hook_bot.secret.upper() not in log
    # python-telegram-bot logged setWebhook's parameters at DEBUG: the secret was there, masked.
    assert any("setWebhook" in line and "<redacted>" in line for line in log.splitlines())
    report(f"webhook mode SIGTERM: exit code {rc} after {seconds:.2f}s")


# --- Incomplete webhook settings: one line, exit code 2, nothing started -----------------------------


def run_cli(env: dict, config, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "telegram", "--config", str(config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("webhook_url", "secret", "base_url", "expected"),
    [
        ("", "s3cret-value", True, "telegram.webhook_url"),
        ("http://127.0.0.1:{port}/tg/hook", None, True, SECRET_ENV),
        ("http://127.0.0.1:{port}/tg/hook", "not a valid secret!", True, SECRET_ENV),
        ("http://127.0.0.1:{port}/tg/hook", "s3cret-value", False, "https://"),
        ("ftp://127.0.0.1/tg/hook", "s3cret-value", True, "telegram.webhook_url"),
    ],
    ids=["no-url", "no-secret", "bad-secret", "http-without-own-bot-api-server", "not-http"],
)
def test_incomplete_webhook_settings_are_one_line_exit_2(
    own_api, tmp_path, tg_cache, webhook_url, secret, base_url, expected
):
    port = free_port()
    telegram = {
        "mode": "webhook",
        "webhook_listen": "127.0.0.1",
        "webhook_port": port,
        "webhook_url": webhook_url.format(port=port),
        "webhook_secret_env": SECRET_ENV,
    }
    config = write_bot_config(tmp_path, tg_cache, telegram=telegram)
    env = bot_env(own_api if base_url else None)
    env.pop(SECRET_ENV, None)
    if secret is not None:
        env[SECRET_ENV] = secret
    result = run_cli(env, config)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], result.stderr
    assert FAKE_TOKEN not in result.stderr and (not secret or secret not in result.stderr)
    assert own_api.calls == []  # refused before any Bot API call


def test_webhook_port_in_use_is_one_error_line_and_exit_1(own_api, tmp_path, tg_cache):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        telegram = {
            "mode": "webhook",
            "webhook_listen": "127.0.0.1",
            "webhook_port": port,
            "webhook_url": f"http://127.0.0.1:{port}/{HOOK_PATH}",
            "webhook_secret_env": SECRET_ENV,
        }
        config = write_bot_config(tmp_path, tg_cache, telegram=telegram)
        result = run_cli({**bot_env(own_api), SECRET_ENV: "s3cret-value"}, config)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0] and "in use" in errors[0], result.stderr
    assert "s3cret-value" not in result.stderr and FAKE_TOKEN not in result.stderr
