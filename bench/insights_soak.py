"""What the question log costs a reply: the same soak through real bot processes, two with the log
on and two with it off, taking blocks of questions in turn.

Usage (from the repository root; four bot processes and their stand-in Bot API servers on 127.0.0.1)::

    .venv/bin/python bench/insights_soak.py                 # 5,000 questions to each bot
    .venv/bin/python bench/insights_soak.py --questions 1000 --block 100
    .venv/bin/python bench/insights_soak.py --sides off,off # the noise between two processes
    .venv/bin/python bench/insights_soak.py --write         # and put the figures in docs/insights.md

Each bot is ``python -m bot telegram`` against its own loopback stand-in Bot API server
(tests/telegram/tg_fakeapi.py), with no flood limit and no per-user or group limit in the way.
All get the same questions, as the reliability soak asks them (tests/reliability/test_rel_load.py):
500 chats, one in ten a group (asked by mention), ten questions each, one in ten worded anew; at
most ``--window`` questions wait for their answer at any time. The questions go in blocks of
``--block``, to each bot in turn (a different bot first each block), so every setting sees the
same machine load. Two bots per setting, started on, off, off, on: the first process started
answered about 10% slower than the others whatever its setting, which two bots alone would read
as the log's cost. A reply's latency is from the update's queuing at the stand-in server to the
bot's sendMessage reaching it. At the end the log-on bots' databases are counted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "telegram")]

from tg_fakeapi import FakeBotAPI  # noqa: E402
from tg_support import (  # noqa: E402
    FAKE_TOKEN,
    SEED_QUESTIONS,
    BotProcess,
    group_chat,
    message_update,
    new_id,
    private_update,
    start_bot,
    user,
)

QUESTIONS = [
    *SEED_QUESTIONS,
    "Khẩu hiệu của ASOCIO là gì?",
    "Chủ tịch ASOCIO là ai?",
    "Giá vàng hôm nay bao nhiêu?",
    "Làm thế nào để nấu phở bò?",
]
PER_CHAT = 10
GROUP_SHARE = 10
DOC = REPO / "docs" / "insights.md"
BEGIN, END = "<!-- bench/insights_soak.py --write: begin -->", "<!-- bench/insights_soak.py --write: end -->"


def write_figures(lines: list[str], doc: Path = DOC) -> None:
    """Put ``lines`` between the markers in docs/insights.md (what was there is replaced)."""
    text = doc.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(head + BEGIN + "\n" + "\n".join(lines) + "\n" + END + tail, encoding="utf-8")


def soak_questions(total: int) -> list[tuple[int, bool, str]]:
    """``(chat number, is a group, text)``, round robin over the chats, one in ten worded anew."""
    chats = max(1, total // PER_CHAT)
    fresh = itertools.count(1)
    out = []
    for turn in range(PER_CHAT):
        for n in range(chats):
            q = QUESTIONS[(n + turn) % len(QUESTIONS)]
            if (n + turn) % 10 == 0:
                q = f"{q[:-1]} vào năm {1900 + next(fresh)}?"
            out.append((n, n % GROUP_SHARE == 0, q))
    return out[:total]


class Side:
    """One bot and its stand-in server; the chats it is asked from (ids of its own)."""

    def __init__(self, name: str, api: FakeBotAPI, bot: BotProcess, chats: int, db: Path | None) -> None:
        self.name, self.api, self.bot, self.db = name, api, bot, db
        self.chats = [-100 * new_id() if n % GROUP_SHARE == 0 else new_id() for n in range(chats)]
        self.pushed: dict[tuple[int, int], int] = {}  # (chat, message id) -> update id
        self.answered: dict[int, float] = {}
        self.seen = 0

    def update(self, chat_number: int, is_group: bool, text: str) -> dict:
        chat_id = self.chats[chat_number]
        if is_group:
            return message_update(
                group_chat(chat_id),
                user(new_id()),
                f"@VnDocQA_TestBot {text}",
                entities=[{"type": "mention", "offset": 0, "length": 16}],
            )
        return private_update(chat_id, text)

    def collect(self) -> None:
        sent = self.api.sent()
        for call in sent[self.seen :]:
            uid = self.pushed.get((call.params["chat_id"], call.reply_to))
            if uid is not None and uid not in self.answered:
                self.answered[uid] = call.at
        self.seen = len(sent)

    def run_block(self, block: list[tuple[int, bool, str]], window: int, timeout: float = 120.0) -> None:
        """Ask ``block``, at most ``window`` waiting at any time, until every one is answered."""
        pending = list(block)
        target = len(self.pushed) + len(block)
        deadline = time.monotonic() + timeout
        while len(self.answered) < target:
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: {len(self.answered)}/{target} answered after {timeout:.0f}s")
            while pending and len(self.pushed) - len(self.answered) < window:
                update = self.api.push(self.update(*pending.pop(0)))
                self.pushed[(update["message"]["chat"]["id"], update["message"]["message_id"])] = update["update_id"]
            self.collect()
            time.sleep(0.005)

    def latencies(self) -> list[float]:
        return sorted(self.answered[u] - self.api.pushed_at[u] for u in self.pushed.values())


def logged_rows(db: Path, expected: int, timeout: float = 10.0) -> int:
    """The rows in the question log at ``db`` once ``expected`` are there (or ``timeout`` passed)."""
    deadline = time.monotonic() + timeout
    while True:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            (rows,) = conn.execute("SELECT count(*) FROM questions").fetchone()
        finally:
            conn.close()
        if rows >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def percentile(ordered: list[float], p: float) -> float:
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=5000, help="questions to each bot (default 5000)")
    parser.add_argument("--block", type=int, default=250, help="questions per block (default 250)")
    parser.add_argument("--window", type=int, default=100, help="questions waiting at most (default 100)")
    parser.add_argument("--write", action="store_true", help="put the figures in docs/insights.md")
    parser.add_argument(
        "--sides",
        default="on,off,off,on",
        help="the question log of each bot, started in this order (default on,off,off,on: the "
        "first-started process answered some 10%% slower in either setting; off,off shows the "
        "noise between two processes)",
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="insights-soak-"))
    cache = work / "cache"
    limits = {
        "max_messages_per_second": 0,
        "user_rate_limit": 100_000,
        "group_rate_limit": 100_000,
        "group_rate_window": 1,
    }
    sides: list[Side] = []
    apis: list[FakeBotAPI] = []
    questions = soak_questions(args.questions)
    chats = max(1, args.questions // PER_CHAT)
    try:
        for n, setting in enumerate(args.sides.split(",")):
            on = setting.strip() == "on"
            name = f"log {'on' if on else 'off'}"
            api = FakeBotAPI(FAKE_TOKEN).start()
            apis.append(api)
            started = time.monotonic()
            folder = work / f"bot-{n}"
            bot = start_bot(api, folder, cache, telegram=limits, insights={"log_questions": on})
            print(f"{name}: bot ready in {time.monotonic() - started:.1f}s", flush=True)
            sides.append(Side(name, api, bot, chats, folder / "questions.sqlite" if on else None))
        started = time.monotonic()
        for k, i in enumerate(range(0, len(questions), args.block)):
            block = questions[i : i + args.block]
            for side in sides[k % len(sides) :] + sides[: k % len(sides)]:  # each bot first in turn
                side.run_block(block, args.window)
        elapsed = time.monotonic() - started
        command = f"bench/insights_soak.py --questions {args.questions} --block {args.block} --window {args.window}"
        figures = [
            f"`{command}`: {len(questions):,} questions to each of {len(sides)} bots (question log "
            f"{args.sides}, in the order started), in blocks of {args.block} taken by each bot in turn, at most "
            f"{args.window} waiting ({elapsed:.0f} s in all, {os.cpu_count()} cores):",
            "",
            "| question log | reply p50 | reply p95 | max | answered | each bot's p50 |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name in dict.fromkeys(side.name for side in sides):
            mine = [side for side in sides if side.name == name]
            lat = sorted(x for side in mine for x in side.latencies())
            each = ", ".join(f"{percentile(side.latencies(), 50) * 1000:.0f} ms" for side in mine)
            figures.append(
                f"| {name.split()[1]} | {percentile(lat, 50) * 1000:.1f} ms | "
                f"{percentile(lat, 95) * 1000:.1f} ms | {lat[-1] * 1000:.0f} ms | {len(lat):,} | {each} |"
            )
        held = [f"{logged_rows(side.db, len(questions)):,}" for side in sides if side.db is not None]
        if held:
            figures += ["", f"The log-on bots' question logs then held {' and '.join(held)} rows."]
        print("\n".join(figures))
        for side in sides:
            log = side.bot.log_text()
            if "Traceback" in log or " WARNING " in log:
                print(f"{side.name}: the bot's log has a warning or a traceback: {side.bot.log_path}")
        if args.write:
            write_figures(figures)
            print(f"figures written to {DOC.relative_to(REPO)}")
    finally:
        for side in sides:
            if side.bot.proc.poll() is None:
                side.bot.terminate()
        for api in apis:
            api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
