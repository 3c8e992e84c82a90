"""Fixtures for the Telegram front end: a loopback Bot API stand-in and the bot as a subprocess.

Nothing here reaches Telegram or any non-loopback address: the bot gets
``TELEGRAM_BASE_URL=http://127.0.0.1:<port>/bot`` and no proxy settings.
Factories and the process helper live in :mod:`tg_support`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tg_fakeapi import FakeBotAPI
from tg_support import FAKE_TOKEN, REPORT, BotProcess, start_bot


@pytest.fixture(scope="session")
def tg_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index cache for every bot process of the session (built once)."""
    return tmp_path_factory.mktemp("tg-cache")


@pytest.fixture(scope="session")
def api() -> FakeBotAPI:
    server = FakeBotAPI(FAKE_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def own_api() -> FakeBotAPI:
    """A stand-in server of its own, for a test that starts its own bot process."""
    server = FakeBotAPI(FAKE_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def bot(api: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory, tg_cache: Path) -> BotProcess:
    """The bot with the project's settings, shared by the end-to-end tests (use fresh chat ids)."""
    process = start_bot(api, tmp_path_factory.mktemp("bot-main"), tg_cache)
    yield process
    if process.proc.poll() is None:
        process.terminate()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT:
        terminalreporter.section("telegram front end")
        for line in REPORT:
            terminalreporter.write_line(line)
