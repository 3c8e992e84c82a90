"""Real operations, end to end: the real bot process against the loopback stand-in Bot API server,
tried as an operator and a hostile group member would (issue #20).

1. a command flood in a group does not hold back another member's answer; every kind of update
   counts against the sender's limit;
2. SIGTERM under a flood backlog, or during a 40 s retry_after, ends the process within the grace,
   and what was fetched but not answered is answered after the restart, once; so is what a
   SIGKILL in the middle of a flood left;
3. a token revoked while running ends the process: one ``error:`` line, exit code 2;
4. a second instance on the same cache folder is refused at start; two instances polling with one
   token: the one whose 409s persist exits with code 1, naming the cause;
5. a group that became a supergroup gets its answer at the new id; a blocked bot and a missing chat
   are one warning line each, without traceback or apology; the bot's removal is logged once.

Figures go to the "reliability" summary. Every wait is bounded.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from contextlib import contextmanager

from rel_support import percentile, replies_by_update, report, wait_until

from tg_support import (
    FAKE_TOKEN,
    REPO,
    bot_env,
    bot_message,
    group_chat,
    message_update,
    new_id,
    private_update,
    start_bot,
    user,
    write_bot_config,
)

BOT = "VnDocQA_TestBot"
QUESTIONS = [
    "Hà Nội có bao nhiêu dân?",
    "Bộ trưởng Bộ Kinh tế Phần Lan là ai?",
    "Đại sứ Mỹ tại Việt Nam tên là gì?",
    "Khẩu hiệu của ASOCIO là gì?",
    "Doanh nghiệp Phần Lan có thế mạnh trong lĩnh vực nào?",
]
LIMITED = "hỏi hơi nhanh"


def _mention(chat: dict, sender: dict, question: str) -> dict:
    text = f"@{BOT} {question}"
    return message_update(chat, sender, text, entities=[{"type": "mention", "offset": 0, "length": len(BOT) + 1}])


def _latency(api, update: dict) -> float:
    (first, *_) = replies_by_update(api, [update])[update["update_id"]]
    return first.at - api.pushed_at[update["update_id"]]


def _answered_once(api, updates: list[dict]) -> dict[int, int]:
    """update_id -> how many messages replied to it (1 for every update is the goal)."""
    return {u: len(calls) for u, calls in replies_by_update(api, updates).items()}


@contextmanager
def stopped_at_the_end(bot):
    """Whatever happens in the test, the bot process does not outlive it."""
    try:
        yield bot
    finally:
        if bot.proc.poll() is None:
            bot.proc.kill()
            bot.proc.wait(timeout=10)


def _log_lines(bot, needle: str) -> list[str]:
    return [line for line in bot.log_text().splitlines() if needle in line]


# --- 1. Fair queues --------------------------------------------------------------------------------


def test_command_flood_in_a_group_does_not_hold_back_another_member(fake_api, tmp_path, rel_cache):
    api = fake_api
    # The group budget: 4 at once, then one every 0.5 s (Telegram's is 20, then one every 3 s).
    bot = start_bot(
        api,
        tmp_path,
        rel_cache,
        telegram={"user_rate_limit": 4, "group_rate_limit": 4, "group_rate_window": 2, "max_messages_per_second": 0},
    )
    try:
        group = group_chat(-100 * new_id())
        flooders = [user(new_id(), "Spam"), user(new_id(), "Spam")]
        commands = [f"/help@{BOT}", f"/start@{BOT}", f"/sources@{BOT}", f"/ask@{BOT}"]
        flood = api.push_many([message_update(group, f, commands[i % 4]) for i in range(15) for f in flooders])
        members = [user(new_id(), "Lan"), user(new_id(), "Minh"), user(new_id(), "Hoa")]
        asked = []
        for i, q in enumerate(QUESTIONS[:4]):  # three other members ask while the flood waits; one asks again
            time.sleep(0.7)
            asked.append(api.push(_mention(group, members[i % 3], q)))
        wait_until(lambda: all(replies_by_update(api, asked).values()), 20, "the member's answers")
        latencies = [_latency(api, u) for u in asked]
        # The flood drains at the group's pace: each flooder gets its 4 replies and one notice, nothing more.
        wait_until(lambda: len(api.sent(group["id"])) >= 2 * 5 + len(asked), 20, "the flood's replies")
        time.sleep(1.5)
        to_flooders = [c for c in api.sent(group["id"]) if c.reply_to in {u["message"]["message_id"] for u in flood}]
        notices = [c for c in to_flooders if LIMITED in c.params["text"]]
        drained = max(c.at for c in api.sent(group["id"])) - min(api.pushed_at[u["update_id"]] for u in flood)
        assert len(to_flooders) == 2 * 5 and len(notices) == 2, [c.params["text"][:40] for c in to_flooders]
        assert all("<blockquote" in replies_by_update(api, [u])[u["update_id"]][0].params["text"] for u in asked)
        assert max(latencies) < 1.2, latencies  # the next free slot, not the end of the flood
        assert drained > 3.0
        assert "Traceback" not in bot.log_text()
    finally:
        bot.terminate()
    report(
        f"fair queues: 2 members flooded a group with 30 commands (/help, /start, /sources, /ask; limit 4 per "
        f"60 s each: 4 replies and one notice each, 20 dropped), the group's budget 4 at once then one per "
        f"0.5 s; 4 questions of 3 other members during the flood answered in p50 {percentile(latencies, 50):.2f} s, "
        f"max {max(latencies):.2f} s (the flood took {drained:.1f} s to drain)"
    )


def test_every_kind_of_update_counts_against_the_senders_limit(fake_api, tmp_path, rel_cache):
    api = fake_api
    bot = start_bot(api, tmp_path, rel_cache, telegram={"user_rate_limit": 3, "max_messages_per_second": 0})
    sticker = {
        "file_id": "CAAC",
        "file_unique_id": "u1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    kinds = {
        "/start": lambda uid: private_update(uid, "/start"),
        "/help": lambda uid: private_update(uid, "/help"),
        "/sources": lambda uid: private_update(uid, "/sources"),
        "unknown command": lambda uid: private_update(uid, "/xyz"),
        "sticker": lambda uid: private_update(uid, None, sticker=sticker),
        "question": lambda uid: private_update(uid, QUESTIONS[0]),
        "/ask": lambda uid: private_update(uid, f"/ask {QUESTIONS[1]}"),
    }
    try:
        senders = {kind: new_id() for kind in kinds}
        for kind, make in kinds.items():
            api.push_many([make(senders[kind]) for _ in range(8)])
        # Button presses: one question (1 of 3), then the same "Xem thêm" button pressed 8 times.
        presser = new_id()
        asked = api.push(private_update(presser, "Hà Nội xây dựng thành phố thông minh như thế nào?"))
        (answer,) = wait_until(lambda: api.sent(presser), 10, "the presser's answer")
        data = answer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        presses = [
            {
                "callback_query": {
                    "id": f"p{i}-{presser}",
                    "from": user(presser),
                    "chat_instance": "ci",
                    "data": data,
                    "message": bot_message(api, answer.result),
                }
            }
            for i in range(8)
        ]
        api.push_many(presses)
        wait_until(lambda: all(len(api.sent(uid)) >= 4 for uid in senders.values()), 20, "3 replies and a notice each")
        wait_until(lambda: len(api.calls_of("answerCallbackQuery")) >= 8, 10, "every press answered")
        time.sleep(1.0)
        counts = {}
        for kind, uid in senders.items():
            texts = [c.params["text"] for c in api.sent(uid)]
            counts[kind] = len(texts)
            assert len(texts) == 4 and sum(LIMITED in t for t in texts) == 1, (kind, texts)
        toasts = [c.params.get("text") or "" for c in api.calls_of("answerCallbackQuery")]
        assert len(api.sent(presser)) == 2 and asked  # the answer and one more page
        assert sum(LIMITED in t for t in toasts) == 8 - 2, toasts  # 1 question + 2 presses within 3
    finally:
        bot.terminate()
    report(
        f"fair queues: 8 of each kind from one user each (limit 3 per 60 s): {', '.join(kinds)} -> 3 replies "
        f"and one notice, the other 4 dropped; 'Xem thêm' pressed 8 times after a question: 2 within the limit, "
        f"6 refused with the limit toast"
    )


# --- 2. Stopping within a bound, nothing lost, nothing twice ---------------------------------------------


def _group_flood(api, n: int) -> list[dict]:
    group = group_chat(-100 * new_id())
    return api.push_many([_mention(group, user(new_id()), QUESTIONS[i % len(QUESTIONS)]) for i in range(n)])


def _restart_and_check(api, tmp_path, rel_cache, updates: list[dict], what: str) -> tuple[int, dict]:
    """A new process on the same cache: every update answered exactly once over both runs."""
    again = start_bot(
        api,
        tmp_path / "after",
        rel_cache,
        telegram={
            "max_messages_per_second": 0,
            "user_rate_limit": 100,
            "group_rate_limit": 100,
            "group_rate_window": 1,
        },
    )
    try:
        wait_until(lambda: all(replies_by_update(api, updates).values()), 30, what)
        time.sleep(1.0)
        counts = _answered_once(api, updates)
        replayed = _log_lines(again, "fetched before the last stop but not answered")
    finally:
        again.terminate()
    assert all(n == 1 for n in counts.values()), counts
    return len(replayed), counts


def test_sigterm_under_a_flood_backlog_stops_within_the_grace_and_answers_the_rest_after(fake_api, tmp_path, rel_cache):
    api = fake_api
    # A slow group budget: 4 at once, then one every 5 s; 30 questions make a backlog.
    bot = start_bot(
        api,
        tmp_path / "before",
        rel_cache,
        telegram={"user_rate_limit": 100, "group_rate_limit": 4, "group_rate_window": 20, "max_messages_per_second": 0},
    )
    with stopped_at_the_end(bot):
        updates = _group_flood(api, 30)
        wait_until(lambda: sum(1 for c in replies_by_update(api, updates).values() if c) >= 4, 15, "the first 4")
        time.sleep(0.5)
        rc, seconds = bot.terminate(timeout=15)
    answered_before = sum(1 for c in replies_by_update(api, updates).values() if c)
    log = bot.log_text()
    abandoned = _log_lines(bot, "abandoned the reply to update")
    assert rc == 0 and seconds < 8.0, (rc, seconds, log[-2000:])
    assert "Traceback" not in log
    assert len(abandoned) == 30 - answered_before and all(
        "will be answered after the restart" in line for line in abandoned
    ), abandoned[:3]
    assert all(f"chat {updates[0]['message']['chat']['id']}" in line for line in abandoned)
    replayed, _ = _restart_and_check(api, tmp_path, rel_cache, updates, "the rest after the restart")
    assert replayed == 1
    report(
        f"shutdown: SIGTERM with {30 - answered_before} group replies waiting for the group's budget: exit "
        f"code {rc} after {seconds:.2f} s (grace 8 s); one 'abandoned the reply to update N in chat C' line each; "
        f"after the restart all {30 - answered_before} answered, every one of the 30 questions exactly once"
    )


def test_sigterm_during_a_40_s_retry_after_stops_at_once_and_answers_after_the_restart(fake_api, tmp_path, rel_cache):
    api = fake_api
    bot = start_bot(api, tmp_path / "before", rel_cache, telegram={"max_messages_per_second": 0})
    try:
        api.inject("sendMessage", "429", times=3, retry_after=40)
        updates = api.push_many([private_update(new_id(), q) for q in QUESTIONS[:3]])
        # Each reply is refused, or waits for the first refusal's retry_after (every reply does).
        wait_until(lambda: ("sendMessage", "429") in api.faults_served, 10, "a 429")
        time.sleep(0.5)
    finally:
        rc, seconds = bot.terminate(timeout=15)
    api.clear_faults()
    log = bot.log_text()
    assert rc == 0 and seconds < 5.0, (rc, seconds, log[-2000:])  # not the 40 s, well within the 8 s grace
    assert "Traceback" not in log, log[-2000:]
    assert not any(replies_by_update(api, updates).values()), api.faults_served
    assert len(_log_lines(bot, "abandoned the reply to update")) == 3, log[-2000:]
    _restart_and_check(api, tmp_path, rel_cache, updates, "the 3 answers after the restart")
    report(
        f"shutdown: SIGTERM while replies wait out a 429 with retry_after 40: exit code {rc} after "
        f"{seconds:.2f} s; the 3 questions answered after the restart, once each"
    )


def test_sigterm_with_a_reply_on_the_wire_abandons_it_when_the_grace_ends_and_never_sends_it_twice(
    fake_api, tmp_path, rel_cache
):
    api = fake_api
    bot = start_bot(api, tmp_path / "before", rel_cache, telegram={"shutdown_grace_seconds": 2})
    with stopped_at_the_end(bot):
        api.inject("sendMessage", "timeout", delay=20)  # delivered, but the answer is held back
        update = api.push(private_update(new_id(), QUESTIONS[4]))
        wait_until(lambda: api.pending_faults() == 0, 10, "the reply on the wire")
        rc, seconds = bot.terminate(timeout=15)
    (line,) = _log_lines(bot, "abandoned the reply to update")
    assert rc == 0 and 0.8 < seconds < 4.0, (rc, seconds)  # the grace less a second, then closing
    assert f"update {update['update_id']} in chat {update['message']['chat']['id']}" in line
    assert "may have been delivered, so it is not answered again" in line
    again = start_bot(api, tmp_path / "after", rel_cache)
    try:
        time.sleep(1.5)
        assert _answered_once(api, [update]) == {update["update_id"]: 1}
    finally:
        again.terminate()
    report(
        f"shutdown: SIGTERM while a reply's request is on the wire (its answer held back 20 s; "
        f"telegram.shutdown_grace_seconds 2): exit code {rc} after {seconds:.2f} s; the reply abandoned with "
        f"one line, not sent again after the restart (it had arrived)"
    )


def test_sigkill_in_the_middle_of_a_flood_then_every_question_is_answered_once(fake_api, tmp_path, rel_cache):
    api = fake_api
    bot = start_bot(
        api,
        tmp_path / "before",
        rel_cache,
        telegram={"user_rate_limit": 100, "group_rate_limit": 4, "group_rate_window": 20, "max_messages_per_second": 0},
    )
    with stopped_at_the_end(bot):
        updates = _group_flood(api, 40)
        wait_until(lambda: sum(1 for c in replies_by_update(api, updates).values() if c) >= 4, 15, "the first 4")
        time.sleep(1.0)  # between two of the group's slots (5 s apart): nothing on the wire
        bot.proc.kill()
        bot.proc.wait(timeout=10)
    before = sum(1 for c in replies_by_update(api, updates).values() if c)
    replayed, counts = _restart_and_check(api, tmp_path, rel_cache, updates, "every question after the restart")
    assert replayed == 1 and len(counts) == 40
    report(
        f"restart: SIGKILL in the middle of a flood of 40 group questions ({before} answered, the rest waiting "
        f"for the group's budget): after the restart {40 - before} answered, all 40 exactly once"
    )


# --- 3. and 4. Conditions the bot cannot survive ------------------------------------------------------------


def test_a_token_revoked_while_running_ends_the_process_with_one_error_line(fake_api, tmp_path, rel_cache):
    api = fake_api
    bot = start_bot(api, tmp_path, rel_cache)
    with stopped_at_the_end(bot):
        first = api.push(private_update(new_id(), QUESTIONS[0]))
        wait_until(lambda: replies_by_update(api, [first])[first["update_id"]], 10, "an answer")
        revoked_at = time.monotonic()
        api.revoke()
        try:
            rc = bot.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running 15 s after the token was revoked\n{bot.log_text()[-2000:]}") from None
        seconds = time.monotonic() - revoked_at
    log = bot.log_text()
    errors = [line for line in log.splitlines() if line.startswith("error:")]
    assert rc == 2, log[-2000:]
    assert len(errors) == 1 and "401" in errors[0] and "TELEGRAM_BOT_TOKEN" in errors[0], errors
    assert "Traceback" not in log and FAKE_TOKEN not in log and FAKE_TOKEN.split(":")[1] not in log
    report(
        f"token revoked while running: the process ended {seconds:.1f} s later with exit code {rc} and '{errors[0]}'"
    )


def test_a_second_instance_on_the_same_cache_folder_is_refused_at_start(fake_api, tmp_path, rel_cache):
    api = fake_api
    first = start_bot(api, tmp_path / "a", rel_cache)
    try:
        config = write_bot_config(tmp_path / "b", rel_cache)
        started = time.monotonic()
        second = subprocess.run(
            [sys.executable, "-m", "bot", "telegram", "--config", str(config)],
            cwd=REPO,
            env=bot_env(api),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        seconds = time.monotonic() - started
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert second.returncode == 2, second.stderr[-2000:]
        assert len(lines) == 1 and lines[0].startswith("error: another instance of this bot (pid "), lines
        assert f"pid {first.pid})" in lines[0] and str(rel_cache) in lines[0]
        update = api.push(private_update(new_id(), QUESTIONS[2]))
        wait_until(lambda: replies_by_update(api, [update])[update["update_id"]], 10, "the first one still answers")
    finally:
        first.terminate()
    report(
        f"second instance with the same token and cache folder: exit code 2 after {seconds:.1f} s with "
        f"'{lines[0]}'; the first keeps answering"
    )


def test_two_instances_polling_with_one_token_end_with_a_clear_error(fake_api, tmp_path, rel_cache):
    api = fake_api
    for cache in (tmp_path / "cache-a", tmp_path / "cache-b"):  # their own cache folders: no lock between them
        cache.mkdir()
        for index in rel_cache.glob("index-*.bin"):  # the seeds' index, if built already
            shutil.copy(index, cache)
    first = start_bot(api, tmp_path / "a", tmp_path / "cache-a")
    with stopped_at_the_end(first):
        second = start_bot(api, tmp_path / "b", tmp_path / "cache-b", telegram={"conflict_exit_seconds": 3})
        with stopped_at_the_end(second):
            started = time.monotonic()
            try:
                rc = second.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"the second instance kept fighting\n{second.log_text()[-2000:]}") from None
            seconds = time.monotonic() - started
        log = second.log_text()
        errors = [line for line in log.splitlines() if line.startswith("error:")]
        assert rc == 1, log[-2000:]
        assert len(errors) == 1 and "409 Conflict" in errors[0] and "another process is polling" in errors[0]
        assert "Traceback" not in log
        assert first.proc.poll() is None
        update = api.push(private_update(new_id(), QUESTIONS[3]))
        wait_until(lambda: replies_by_update(api, [update])[update["update_id"]], 15, "the first one answers alone")
        first.terminate()
    report(
        f"409 Conflict (two processes polling with one token, telegram.conflict_exit_seconds 3): the second "
        f"exited {seconds:.1f} s after starting to poll, exit code {rc}, '{errors[0][:160]}…'; "
        f"the first answers on ({api.conflicts} getUpdates ended by 409 in all)"
    )


# --- 5. Chat changes ------------------------------------------------------------------------------------------


def test_migrated_group_blocked_bot_missing_chat_and_removal(fake_api, tmp_path, rel_cache):
    api = fake_api
    bot = start_bot(api, tmp_path, rel_cache, telegram={"max_messages_per_second": 0})
    try:
        old, new = -new_id(), -100 * new_id()
        group = group_chat(old, kind="group")
        asker = user(new_id())
        api.stamp(message_update(group, asker, "hi"))  # the stand-in learns the chat
        api.migrate(old, new)
        first = api.push(_mention(group, asker, QUESTIONS[0]))
        (moved,) = wait_until(lambda: api.sent(new), 10, "the answer at the supergroup's id")
        later = api.push(_mention(group, asker, QUESTIONS[1]))  # sent from the old id before the move was seen
        wait_until(lambda: len(api.sent(new)) >= 2, 10, "the second answer")
        assert len(api.calls_of("sendMessage", chat_id=old)) == 1  # one 400, then the new id from then on
        assert "<blockquote" in moved.params["text"] and first and later

        blocked, missing = new_id(), -100 * new_id()
        api.block(blocked)
        api.block(missing, 400, "Bad Request: chat not found")
        mark = len(bot.log_text())
        api.push(private_update(blocked, QUESTIONS[2]))
        api.push(_mention(group_chat(missing), user(new_id()), QUESTIONS[3]))
        wait_until(lambda: len(_log_lines(bot, "out of reach")) >= 2, 10, "two warnings")
        kicked = {
            "my_chat_member": {
                "chat": group_chat(-100 * new_id()),
                "from": user(new_id(), "Admin"),
                "date": int(time.time()),
                "old_chat_member": {"status": "member", "user": api.bot_user},
                "new_chat_member": {"status": "kicked", "user": api.bot_user, "until_date": 0},
            }
        }
        api.push(kicked)
        wait_until(lambda: _log_lines(bot, "the bot was removed from chat"), 10, "the removal logged")
        time.sleep(0.8)
        log = bot.log_text()[mark:]
        assert len(api.calls_of("sendMessage", chat_id=blocked)) == 1  # no apology attempt
        assert len(api.calls_of("sendMessage", chat_id=missing)) == 1
        assert "Traceback" not in log and "failed to handle update" not in log
        warnings = [line for line in log.splitlines() if "out of reach" in line]
        assert len(warnings) == 2 and all(" WARNING " in line for line in warnings)
        assert len(_log_lines(bot, "the bot was removed from chat")) == 1
        assert len(_log_lines(bot, f"chat {old} became the supergroup {new}")) == 1
    finally:
        rc, _ = bot.terminate()
    assert rc == 0
    report(
        f"chat changes: a group that became a supergroup got its answer at the new id (one 400, then the new "
        f"id from then on); a blocked bot and a missing chat: one WARNING each ('{warnings[0].split(': ', 1)[1]}'), "
        f"no traceback, no apology; the bot's removal logged once"
    )
