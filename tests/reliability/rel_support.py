"""Helpers shared by the reliability tests (imported as ``rel_support``).

The Telegram helpers come from ``tests/telegram`` (``tg_support``,
``tg_fakeapi``, ``tg_html``), put on ``sys.path`` by this folder's conftest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tg_fakeapi import Call, FakeBotAPI, wait_until  # noqa: F401  (re-exported for the tests)

RELIABILITY_REPORT: list[str] = []


def report(line: str) -> None:
    """Add a line to the reliability summary printed after the test run."""
    RELIABILITY_REPORT.append(line)


def replies_by_update(api: FakeBotAPI, updates: Iterable[dict]) -> dict[int, list[Call]]:
    """update_id -> the delivered messages that reply to that update's message."""
    wanted = {(u["message"]["chat"]["id"], u["message"]["message_id"]): u["update_id"] for u in updates}
    out: dict[int, list[Call]] = {uid: [] for uid in wanted.values()}
    for call in api.sent():
        uid = wanted.get((call.params.get("chat_id"), call.reply_to))
        if uid is not None:
            out[uid].append(call)
    return out


def duplicated(replies: dict[int, list[Call]]) -> list[int]:
    """The updates that got some message twice (same text in reply to the same message)."""
    return [
        uid
        for uid, calls in replies.items()
        if max(Counter(c.params.get("text") for c in calls).values(), default=0) > 1
    ]


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]
