"""Fixtures for the reliability tests: faults, restarts, load and abuse.

The Telegram helpers live in ``tests/telegram``; that folder is put on
``sys.path`` here so they can be imported when only this folder is run.
Nothing reaches a non-loopback address.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

_TELEGRAM_TESTS = str(Path(__file__).resolve().parents[1] / "telegram")
if _TELEGRAM_TESTS not in sys.path:
    sys.path.insert(0, _TELEGRAM_TESTS)

from rel_support import RELIABILITY_REPORT  # noqa: E402

from tg_fakeapi import FakeBotAPI  # noqa: E402
from tg_support import FAKE_TOKEN  # noqa: E402


@pytest.fixture(scope="session")
def rel_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index cache for the bot processes of these tests (the index is built once)."""
    return tmp_path_factory.mktemp("rel-cache")


@pytest.fixture
def fake_api() -> FakeBotAPI:
    """A stand-in Bot API server of the test's own (faults injected into it stay in the test)."""
    server = FakeBotAPI(FAKE_TOKEN).start()
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RELIABILITY_REPORT:
        terminalreporter.section("reliability")
        for line in RELIABILITY_REPORT:
            terminalreporter.write_line(line)
