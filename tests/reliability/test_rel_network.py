"""Network faults and restarts, end to end: the real bot process against the loopback stand-in
Bot API server, which answers 429 / 500 / 502, times out, drops connections, returns malformed
JSON, or goes away altogether, then recovers.

Checked by update ids: every update is answered at most once; updates that arrive while the
server (or the bot) is down are answered once it is back; the bot keeps running and says in
its log what it retried and what it gave up.
"""

from __future__ import annotations

import time

from rel_support import duplicated, replies_by_update, report, wait_until

from tg_support import group_chat, message_update, new_id, private_update, start_bot, user

QUESTIONS = [
    "Hà Nội có bao nhiêu dân?",
    "Bộ trưởng Bộ Kinh tế Phần Lan là ai?",
    "Đại sứ Mỹ tại Việt Nam tên là gì?",
    "Khẩu hiệu của ASOCIO là gì?",
    "Doanh nghiệp Phần Lan có thế mạnh trong lĩnh vực nào?",
]
FAULT_BOT = {"user_rate_limit": 1000, "send_retry_seconds": 20}


def _questions(api, n: int) -> list[dict]:
    """Push ``n`` questions, each from a new private chat."""
    return api.push_many([private_update(new_id(), QUESTIONS[i % len(QUESTIONS)]) for i in range(n)])


def _wait_answered(api, updates: list[dict], timeout: float, what: str) -> dict:
    wait_until(lambda: (r := replies_by_update(api, updates)) and all(r.values()) and r, timeout, what)
    time.sleep(0.5)  # anything sent twice would arrive now
    return replies_by_update(api, updates)


def _assert_once(replies: dict) -> None:
    assert not duplicated(replies), f"answered twice: {duplicated(replies)}"
    assert all(len(calls) == 1 for calls in replies.values()), {u: len(c) for u, c in replies.items()}
    for calls in replies.values():
        assert "<blockquote" in calls[0].params["text"], calls[0].params["text"][:200]


def _log_since(bot, start: int) -> str:
    return bot.log_text()[start:]


def test_bot_api_faults_are_retried_or_given_up_and_nothing_is_answered_twice(fake_api, tmp_path, rel_cache):
    api = fake_api
    bot = start_bot(api, tmp_path, rel_cache, telegram=FAULT_BOT)
    cases: list[str] = []
    try:
        # 1. Replies refused by the server (nothing delivered): retried until delivered.
        mark = len(bot.log_text())
        for kind in ("429", "500", "502", "502-html"):
            api.inject("sendMessage", kind)
        updates = _questions(api, 6)
        replies = _wait_answered(api, updates, 30, "replies after 429/500/502")
        _assert_once(replies)
        log = _log_since(bot, mark)
        assert {k for m, k in api.faults_served if m == "sendMessage"} >= {"429", "500", "502", "502-html"}
        assert log.count("retrying in") >= 3 and " at attempt " in log, log[-3000:]
        cases.append("sendMessage 429 (retry_after 1) / 500 / 502 (JSON and HTML page): retried, each answered once")

        # 2. At the same time: replies that may have been delivered (a late answer, a dropped
        #    connection, an unreadable answer: the message went out, the bot cannot know, so it is
        #    not sent again), and fetching updates that fails every way (the updates handed out in
        #    an unreadable answer, then in a dropped one, then refused with 429 and 502): they are
        #    fetched again and answered once. One of the questions comes from a group.
        mark = len(bot.log_text())
        for kind in ("timeout", "drop", "malformed"):
            api.inject("sendMessage", kind)
        group = group_chat(-100 * new_id())
        updates = [*_questions(api, 2), api.push(message_update(group, user(new_id()), "/ask " + QUESTIONS[0]))]
        wait_until(lambda: api.pending_faults() == 0, 10, "the three replies hit")  # one waits 5 s to time out
        for kind in ("malformed", "drop", "429", "502-html"):
            api.inject("getUpdates", kind)
        updates += _questions(api, 3)
        replies = _wait_answered(api, updates, 40, "replies after send and fetch faults")
        _assert_once(replies)
        assert api.pending_faults() == 0
        assert [k for m, k in api.faults_served if m == "getUpdates"] == ["malformed", "drop", "429", "502-html"]
        hit = [c for calls in replies.values() for c in calls if c.fault]
        assert sorted(c.fault for c in hit) == ["drop", "malformed", "timeout"]
        wait_until(lambda: _log_since(bot, mark).count("may have been delivered") >= 3, 10, "three give-up lines")
        log = _log_since(bot, mark)
        assert log.count("gave up sending") == 3, log[-3000:]
        assert log.count("fetching updates failed") >= 3, log[-3000:]
        cases.append(
            "sendMessage answer lost (read timeout / connection dropped / malformed JSON) after the "
            "message went out: not retried, no duplicate, one 'gave up sending' line each"
        )
        cases.append(
            "getUpdates answered with malformed JSON, dropped, 429, 502 page: the updates are fetched "
            "again and answered once; one 'fetching updates failed' line per failure"
        )

        # 3. The server goes away (connection refused) while a reply is being retried and while
        #    updates keep arriving; once it is back, every update is answered exactly once.
        mark = len(bot.log_text())
        api.inject("sendMessage", "429", retry_after=1)
        api.inject("sendMessage", "429", retry_after=1)
        api.inject("sendMessage", "429", retry_after=1)
        in_flight = _questions(api, 1)
        wait_until(lambda: ("sendMessage", "429") in api.faults_served[-3:], 10, "the reply hitting 429")
        api.go_down()
        down_at = time.monotonic()
        during = _questions(api, 10)
        time.sleep(3.0)
        api.come_back()
        back_at = time.monotonic()
        replies = _wait_answered(api, in_flight + during, 40, "replies after the outage")
        recovered = time.monotonic() - back_at
        _assert_once(replies)
        log = _log_since(bot, mark)
        assert "ConnectError" in log, log[-3000:]
        assert "fetching updates failed" in log
        cases.append(
            f"Bot API unreachable for {back_at - down_at:.1f}s (connection refused): the reply in flight "
            f"retried and delivered, the 10 updates that arrived meanwhile answered once, "
            f"{recovered:.1f}s after the server was back"
        )

        assert bot.proc.poll() is None, "the bot stopped"
        whole = bot.log_text()
        assert "Traceback" not in whole, whole[-4000:]
    finally:
        rc, _ = bot.terminate()
    assert rc == 0
    for line in cases:
        report("network fault: " + line)


def test_restart_answers_waiting_updates_once_and_never_repeats_one(fake_api, tmp_path, rel_cache):
    """Updates handled but never confirmed to Telegram (the bot killed first) come back after a
    restart and are skipped; updates that arrived while the bot was down are answered."""
    api = fake_api
    first = start_bot(api, tmp_path / "a", rel_cache, telegram=FAULT_BOT)
    api.lose_confirmations = True  # as if the bot died before each next getUpdates reached Telegram
    handled = _questions(api, 5)
    replies = _wait_answered(api, handled, 30, "the first answers")
    _assert_once(replies)
    first.proc.kill()  # kill -9: no clean shutdown, nothing confirmed
    first.proc.wait(timeout=10)
    while_down = _questions(api, 3)
    api.lose_confirmations = False

    second = start_bot(api, tmp_path / "b", rel_cache, telegram=FAULT_BOT)
    try:
        replies = _wait_answered(api, handled + while_down, 30, "answers after the restart")
        _assert_once(replies)
        log = second.log_text()
        skipped = [line for line in log.splitlines() if "it was handled before a restart" in line]
        assert len(skipped) == len(handled), log[-3000:]
        assert {int(line.split("skipping update ")[1].split(":")[0]) for line in skipped} == {
            u["update_id"] for u in handled
        }
        rc, _ = second.terminate()
        assert rc == 0
        # A clean stop and start: what arrives in between is answered once, nothing older again.
        later = _questions(api, 3)
        third = start_bot(api, tmp_path / "c", rel_cache, telegram=FAULT_BOT)
        try:
            replies = _wait_answered(api, handled + while_down + later, 30, "answers after a clean restart")
            _assert_once(replies)
        finally:
            third.terminate()
    finally:
        if second.proc.poll() is None:
            second.terminate()
    report(
        f"restart: {len(handled)} updates answered but never confirmed, bot killed (SIGKILL): after the "
        f"restart they were skipped (log: 'skipping update N: it was handled before a restart'); "
        f"{len(while_down)} updates sent while it was down answered once; a clean restart repeated nothing"
    )
