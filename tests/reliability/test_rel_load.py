"""Load and abuse through the loopback stand-in Bot API server: a soak from many chats (every
question answered exactly once, memory flat after warm-up, update-to-reply latency reported),
a per-user flood that gets the limit message and does not slow anyone else, and an allowlist
that answers nothing from the corpus to other chats.

The soak's size is ``RELIABILITY_SOAK_QUESTIONS`` (default 1,000 questions from 100 chats, about
15 s; ``RELIABILITY_SOAK_QUESTIONS=5000`` is the full soak, 5,000 questions from 500 chats).
The bot runs with ``telegram.max_messages_per_second: 0``: the stand-in server has no flood limit,
and Telegram's 30 messages/s would make the test measure only the limiter. At most
``WINDOW`` questions wait for their answer at any time (a steady, saturating load); 10% of the
questions are new wording (ranked from scratch), the rest repeat questions asked before.
"""

from __future__ import annotations

import itertools
import os
import re
import statistics
import time

import pytest
from rel_support import percentile, replies_by_update, report, rss_kib, wait_until

from bot.telegram import format as fmt
from tg_fakeapi import FakeBotAPI
from tg_support import (
    FAKE_TOKEN,
    SEED_QUESTIONS,
    bot_message,
    group_chat,
    message_update,
    new_id,
    private_chat,
    private_update,
    start_bot,
    user,
)

SOAK_QUESTIONS = int(os.environ.get("RELIABILITY_SOAK_QUESTIONS", "1000"))
PER_CHAT = 10
SOAK_CHATS = max(1, SOAK_QUESTIONS // PER_CHAT)
GROUP_SHARE = 10  # one chat in GROUP_SHARE is a group (questions by mention)
WINDOW = 100  # questions waiting for an answer at most, at any time
QUESTIONS = [
    *SEED_QUESTIONS,
    "Khẩu hiệu của ASOCIO là gì?",
    "Chủ tịch ASOCIO là ai?",
    "Giá vàng hôm nay bao nhiêu?",
    "Làm thế nào để nấu phở bò?",
]
FLOOD = 40
USER_LIMIT = 10


class Chats:
    """The soak's chats (mostly private, some groups) plus the flood test's, all allowed."""

    def __init__(self) -> None:
        self.soak = [(-100 * new_id(), True) if i % GROUP_SHARE == 0 else (new_id(), False) for i in range(SOAK_CHATS)]
        self.flooder, self.bystander = new_id(), new_id()
        self.allowed_group = -100 * new_id()

    @property
    def allowed(self) -> list[int]:
        return [c for c, _ in self.soak] + [self.flooder, self.bystander, self.allowed_group]


@pytest.fixture(scope="module")
def chats() -> Chats:
    return Chats()


@pytest.fixture(scope="module")
def load_api() -> FakeBotAPI:
    server = FakeBotAPI(FAKE_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def load_bot(load_api, chats, tmp_path_factory, rel_cache):
    bot = start_bot(
        load_api,
        tmp_path_factory.mktemp("load-bot"),
        rel_cache,
        telegram={
            "max_messages_per_second": 0,
            "user_rate_limit": USER_LIMIT,
            "user_rate_window": 60,
            "allowed_chat_ids": chats.allowed,
        },
    )
    yield bot
    if bot.proc.poll() is None:
        rc, _ = bot.terminate()
        assert rc == 0


def _soak_updates(chats: Chats) -> list[dict]:
    """Round robin over the chats; every tenth question is worded anew (not asked before)."""
    updates = []
    fresh = itertools.count(1)
    for turn in range(PER_CHAT):
        for n, (chat_id, is_group) in enumerate(chats.soak):
            q = QUESTIONS[(n + turn) % len(QUESTIONS)]
            if (n + turn) % 10 == 0:
                q = f"{q[:-1]} vào năm {1900 + next(fresh)}?"
            if is_group:
                text = f"@VnDocQA_TestBot {q}"
                updates.append(
                    message_update(
                        group_chat(chat_id),
                        user(new_id()),
                        text,
                        entities=[{"type": "mention", "offset": 0, "length": 16}],
                    )
                )
            else:
                updates.append(private_update(chat_id, q))
    return updates[:SOAK_QUESTIONS]


def test_soak_every_question_answered_once_memory_flat(load_bot, load_api, chats):
    api = load_api
    pending = _soak_updates(chats)
    total = len(pending)
    pushed: list[dict] = []
    answered_at: dict[int, float] = {}
    rss: dict[str, int | None] = {}
    marks = {"start": total // 5, "middle": total // 2, "end": total}  # start = after warm-up
    started = time.monotonic()
    deadline = started + max(120.0, total / 10)
    seen = 0
    keys: dict[tuple[int, int], int] = {}
    while len(answered_at) < total:
        assert time.monotonic() < deadline, f"soak not done: {len(answered_at)}/{total} answered"
        while pending and len(pushed) - len(answered_at) < WINDOW:
            update = api.push(pending.pop(0))
            pushed.append(update)
            keys[(update["message"]["chat"]["id"], update["message"]["message_id"])] = update["update_id"]
        sent = api.sent()
        for call in sent[seen:]:
            uid = keys.get((call.params["chat_id"], call.reply_to))
            if uid is not None and uid not in answered_at:
                answered_at[uid] = call.at
        seen = len(sent)
        for name, count in marks.items():
            if name not in rss and len(answered_at) >= count:
                rss[name] = rss_kib(load_bot.pid)
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    time.sleep(1.0)  # a duplicate would arrive now
    replies = replies_by_update(api, pushed)
    counts = [len(calls) for calls in replies.values()]
    duplicates = sum(1 for c in counts if c > 1)
    assert len(replies) == total and all(c >= 1 for c in counts)
    assert duplicates == 0, f"{duplicates} updates answered twice"
    texts = [calls[0].params["text"] for calls in replies.values()]
    assert all("hỏi hơi nhanh" not in t and t != fmt.ERROR for t in texts)
    answered = sum(1 for t in texts if "<blockquote" in t)
    latencies = [answered_at[u["update_id"]] - api.pushed_at[u["update_id"]] for u in pushed]
    p50, p95, worst = percentile(latencies, 50), percentile(latencies, 95), max(latencies)
    log = load_bot.log_text()
    assert "Traceback" not in log and "gave up" not in log
    assert load_bot.proc.poll() is None
    growth = (rss["end"] or 0) - (rss["middle"] or 0)
    report(
        f"soak: {total} questions from {SOAK_CHATS} chats ({SOAK_CHATS // GROUP_SHARE} groups), at most "
        f"{WINDOW} waiting: answered {len(replies)}/{total} exactly once, duplicates {duplicates}, "
        f"{answered} with quotes and {total - answered} refusals, in {elapsed:.1f}s ({total / elapsed:.0f}/s)"
    )
    report(f"soak: update-to-reply p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {worst * 1000:.0f} ms")
    report(
        f"soak: bot RSS after warm-up ({marks['start']} answered) {rss['start']} kB, middle ({marks['middle']}) "
        f"{rss['middle']} kB, end ({marks['end']}) {rss['end']} kB"
    )
    assert growth < 20_000, f"RSS grew by {growth} kB in the second half"


def _reply_times(api: FakeBotAPI, updates: list[dict]) -> list[float]:
    replies = replies_by_update(api, updates)
    return [min(c.at for c in replies[u["update_id"]]) - api.pushed_at[u["update_id"]] for u in updates]


def test_flood_gets_the_limit_message_and_does_not_slow_others(load_bot, load_api, chats):
    api = load_api
    bystander = chats.bystander
    # Baseline: the bystander's reply time with nobody flooding.
    base = [api.push(private_update(bystander, QUESTIONS[i])) for i in range(3)]
    wait_until(lambda: all(replies_by_update(api, base).values()), 20, "baseline answers")
    baseline = _reply_times(api, base)
    # The flood: FLOOD questions at once from one user, while the bystander keeps asking.
    flood = api.push_many([private_update(chats.flooder, QUESTIONS[i % len(QUESTIONS)]) for i in range(FLOOD)])
    during = []
    for i in range(3, 7):
        during.append(api.push(private_update(bystander, QUESTIONS[i])))
        time.sleep(0.1)
    wait_until(lambda: all(replies_by_update(api, during).values()), 20, "the bystander's answers")
    wait_until(lambda: len(api.sent(chats.flooder)) >= USER_LIMIT + 1, 20, "the flooder's answers")
    time.sleep(1.0)
    to_flooder = [c.params["text"] for c in api.sent(chats.flooder)]
    notices = [t for t in to_flooder if "hỏi hơi nhanh" in t]
    assert len(to_flooder) == USER_LIMIT + 1 and len(notices) == 1, to_flooder
    assert re.search(r"khoảng \d+ giây", notices[0])
    replies = replies_by_update(api, flood)
    assert sum(1 for calls in replies.values() if calls) == USER_LIMIT + 1  # the rest: silence
    slowed = _reply_times(api, during)
    assert max(slowed) < max(baseline) + 1.0 and max(slowed) < 2.0, (baseline, slowed)
    report(
        f"flood: one user sent {FLOOD} questions at once (limit {USER_LIMIT} per 60 s): {USER_LIMIT} answered, "
        f"one limit message ('{notices[0]}'), {FLOOD - USER_LIMIT - 1} ignored; another user's reply time "
        f"{statistics.mean(baseline) * 1000:.0f} ms before, {statistics.mean(slowed) * 1000:.0f} ms "
        f"(max {max(slowed) * 1000:.0f} ms) during the flood"
    )


def test_allowlist_answers_nothing_from_the_corpus_to_other_chats(load_bot, load_api, chats):
    api = load_api
    outsider = new_id()
    other_group = -100 * new_id()
    # A question from the allowed group, to forge a "Xem thêm" press from outside.
    inside = api.push(
        message_update(
            group_chat(chats.allowed_group), user(new_id()), "/ask Hà Nội xây dựng thành phố thông minh như thế nào?"
        )
    )
    (answer,) = wait_until(lambda: api.sent(chats.allowed_group), 20, "the allowed group's answer")
    data = answer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    stolen = {**bot_message(api, answer.result), "chat": group_chat(other_group)}
    api.push_many(
        [
            private_update(outsider, "Hà Nội có bao nhiêu dân?"),
            private_update(outsider, "/ask Đại sứ Mỹ tại Việt Nam tên là gì?"),
            private_update(outsider, "/sources"),
            private_update(outsider, "/help"),
            message_update(group_chat(other_group), user(new_id()), "/ask@VnDocQA_TestBot Hà Nội có bao nhiêu dân?"),
            message_update(
                group_chat(other_group),
                user(new_id()),
                "@VnDocQA_TestBot Chủ tịch ASOCIO là ai?",
                entities=[{"type": "mention", "offset": 0, "length": 16}],
            ),
            {
                "callback_query": {
                    "id": "forged",
                    "from": user(outsider),
                    "chat_instance": "x",
                    "data": data,
                    "message": stolen,
                }
            },
            *[private_update(outsider, QUESTIONS[i % len(QUESTIONS)]) for i in range(20)],
        ]
    )
    start = api.push(message_update(private_chat(outsider), user(outsider), "/start"))
    (greeting,) = wait_until(lambda: api.sent(outsider), 20, "the refusal to /start")
    time.sleep(1.0)
    assert [c.params["text"] for c in api.sent(outsider)] == [greeting.params["text"]]
    assert str(outsider) in greeting.params["text"] and greeting.reply_to == start["message"]["message_id"]
    assert api.sent(other_group) == []
    assert not api.calls_of("answerCallbackQuery", callback_query_id="forged")
    assert len(api.sent(chats.allowed_group)) == 1 and inside
    report(
        f"allowlist: a chat outside telegram.allowed_chat_ids sent 23 questions, commands and a forged "
        f"'Xem thêm' press, a group outside it 2 mentions: nothing answered; /start in private got only "
        f"'{greeting.params['text']}'"
    )
