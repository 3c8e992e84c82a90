"""Insights end to end (issue #24): the real bot process against the loopback stand-in Bot API server.

Questions asked in private and in a group are logged with salted hashes only (the raw ids and
names are in neither the database files nor the bot's log); 👍 then 👎 leaves one vote; /stats
answers administrators only, with a photo; the metrics endpoint counts the questions and
``/healthz`` says when the bot is ready; with the log off there are no vote buttons; JSON log
lines still mask the token; a database locked by another process for 10 s costs one warning
and no answer. Every wait is bounded.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.telegram import format as fmt
from tg_fakeapi import FakeBotAPI
from tg_support import (
    FAKE_TOKEN,
    REPO,
    SEED_QUESTIONS,
    BotProcess,
    bot_env,
    bot_message,
    free_port,
    group_chat,
    message_update,
    new_id,
    private_chat,
    private_update,
    report,
    start_bot,
    user,
    write_bot_config,
)

# Distinctive ids and names: found in a file's bytes only if they were written there.
ASKER, ASKER_NAME = 5_550_001_234_567, ("Thảo", "Khổng", "thao_kiem_thu_rieng")
MEMBER, MEMBER_NAME = 5_550_007_654_321, ("Diệp", "Ưng", "diep_kiem_thu_nhom")
GROUP = -1_005_550_009_876_543
ADMIN_FROM_CONFIG, ADMIN_FROM_ENV = 5_550_000_000_111, 5_550_000_000_222
BOT = "VnDocQA_TestBot"


def named_user(uid: int, names: tuple[str, str, str]) -> dict:
    first, last, username = names
    return {**user(uid, first), "last_name": last, "username": username}


def mention_update(chat: dict, sender: dict, question: str) -> dict:
    return message_update(
        chat, sender, f"@{BOT} {question}", entities=[{"type": "mention", "offset": 0, "length": len(BOT) + 1}]
    )


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def question_counts(port: int) -> dict[str, float]:
    """docqa_questions_total by outcome, from /metrics."""
    status, text = get(port, "/metrics")
    assert status == 200
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "docqa_questions_total":
                out[s.labels["outcome"]] = out.get(s.labels["outcome"], 0) + s.value
            elif s.name in ("docqa_question_log_written_total", "docqa_feedback_total", "docqa_index_articles"):
                out[s.name + "".join(f":{v}" for v in s.labels.values())] = s.value
    return out


def db_rows(path: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def buttons(call) -> list[dict]:
    markup = call.params.get("reply_markup") or {"inline_keyboard": []}
    assert len(markup["inline_keyboard"]) <= 1  # one row
    return markup["inline_keyboard"][0] if markup["inline_keyboard"] else []


def press(api: FakeBotAPI, presser: dict, answer, data: str) -> str:
    """Press the button with callback ``data`` under ``answer``; the toast text."""
    query_id = f"q{new_id()}"
    api.push(
        {
            "callback_query": {
                "id": query_id,
                "from": presser,
                "chat_instance": "ci",
                "data": data,
                "message": bot_message(api, answer.result),
            }
        }
    )
    (toast,) = api.wait_for(lambda: api.calls_of("answerCallbackQuery", callback_query_id=query_id), 10, "toast")
    return toast.params.get("text") or ""


# --- The bot with the question log and the metrics on -------------------------------------------------


@pytest.fixture(scope="module")
def insights_api() -> FakeBotAPI:
    server = FakeBotAPI(FAKE_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def insights_bot(insights_api, tmp_path_factory, tg_cache) -> tuple[BotProcess, Path, int]:
    folder = tmp_path_factory.mktemp("insights-bot")
    port = free_port()
    bot = start_bot(
        insights_api,
        folder,
        tg_cache,
        env={"TELEGRAM_ADMINS": f" {ADMIN_FROM_ENV} ,"},
        telegram={"admins": [ADMIN_FROM_CONFIG], "max_messages_per_second": 0},
        insights={"metrics_port": port},
    )
    yield bot, folder / "questions.sqlite", port
    if bot.proc.poll() is None:
        rc, _ = bot.terminate()
        assert rc == 0


def test_questions_are_logged_with_hashes_only_and_a_changed_vote_is_one_vote(insights_bot, insights_api):
    bot, db, port = insights_bot
    api = insights_api
    before = question_counts(port)
    asker, member = named_user(ASKER, ASKER_NAME), named_user(MEMBER, MEMBER_NAME)
    private = api.push(message_update(private_chat(ASKER, ASKER_NAME[0]), asker, SEED_QUESTIONS[1]))
    in_group = api.push(mention_update(group_chat(GROUP), member, SEED_QUESTIONS[2]))
    refused = api.push(message_update(private_chat(ASKER, ASKER_NAME[0]), asker, "Giá vàng SJC hôm nay bao nhiêu?"))
    (answer,) = api.wait_for(
        lambda: [c for c in api.sent(ASKER) if c.reply_to == private["message"]["message_id"]], 15, "the private answer"
    )
    (group_answer,) = api.wait_for(lambda: api.sent(GROUP), 15, "the group answer")
    assert group_answer.reply_to == in_group["message"]["message_id"]
    (refusal,) = api.wait_for(
        lambda: [c for c in api.sent(ASKER) if c.reply_to == refused["message"]["message_id"]], 15, "the refusal"
    )
    row = buttons(answer)
    assert [b["text"] for b in row][-2:] == ["👍", "👎"] and row[0]["text"] in ("Xem thêm", "👍")
    assert [b["text"] for b in buttons(group_answer)][-2:] == ["👍", "👎"]
    assert buttons(refusal) == []  # a refusal has nothing to rate
    up, down = row[-2]["callback_data"], row[-1]["callback_data"]
    assert press(api, asker, answer, up) == fmt.VOTE_THANKS == "Cảm ơn bạn đã góp ý!"
    assert press(api, asker, answer, down) == fmt.VOTE_THANKS  # changed: still one vote
    answer_id = up.split(":")[1]

    def logged() -> bool:
        return len(db_rows(db, "SELECT 1 FROM questions")) >= 3 and db_rows(
            db, "SELECT value FROM votes WHERE answer_id = ?", answer_id
        ) == [(-1,)]

    api.wait_for(logged, 10, "the three questions and the vote in the log")
    rows = db_rows(
        db,
        "SELECT answer_id, chat_kind, user_hash, chat_hash, question, answered, reason, latency_ms "
        "FROM questions ORDER BY ts",
    )
    by_question = {r[4]: r for r in rows}
    mine = by_question[SEED_QUESTIONS[1]]
    theirs = by_question[SEED_QUESTIONS[2]]
    assert mine[0] == answer_id and mine[1] == "private" and mine[5] == 1 and mine[6] == "answered"
    assert theirs[1] == "group" and theirs[5] == 1
    assert by_question["Giá vàng SJC hôm nay bao nhiêu?"][5:7] == (0, "not_found")
    for r in (mine, theirs):
        assert len(r[2]) == len(r[3]) == 32 and r[2] != r[3] and r[7] >= 0
    assert mine[2] != theirs[2]
    assert db_rows(db, "SELECT count(*) FROM votes") == [(1,)]

    # No raw id, as text or as an 8-byte integer, and no name, in the database files or the log.
    raw = [str(abs(x)).encode() for x in (ASKER, MEMBER, GROUP)]
    raw += [struct.pack(f"{order}q", x) for x in (ASKER, MEMBER, GROUP) for order in "<>"]
    raw += [n.encode() for n in (*ASKER_NAME, *MEMBER_NAME)]
    files = [p for p in (db, db.with_name(db.name + "-wal")) if p.exists()]
    assert any(SEED_QUESTIONS[1].encode() in p.read_bytes() for p in files)  # the search does see the rows
    for path in [*files, bot.log_path]:
        data = path.read_bytes()
        found = [r for r in raw if r in data]
        assert not found, f"{found} in {path.name}"
    assert "answered update=" in bot.log_text()

    after = question_counts(port)
    assert after.get("answered", 0) - before.get("answered", 0) == 2
    assert after.get("refused", 0) - before.get("refused", 0) == 1
    assert after["docqa_feedback_total:up"] >= 1 and after["docqa_feedback_total:down"] >= 1
    assert after["docqa_question_log_written_total"] >= 4
    report(
        f"insights: a private and a group question and a refusal logged as private/group rows with 32-hex "
        f"hashes; 👍 then 👎 on one answer -> one vote of -1; no raw id or name in "
        f"{', '.join(p.name for p in files)}"
        f" or the log; /metrics: answered +{after['answered'] - before.get('answered', 0):.0f}, "
        f"refused +{after['refused'] - before.get('refused', 0):.0f}"
    )


def test_stats_for_administrators_only(insights_bot, insights_api):
    bot, _db, _port = insights_bot
    api = insights_api
    outsider = new_id()
    refused = api.push(private_update(outsider, "/stats"))
    (refusal,) = api.wait_for(lambda: api.sent(outsider), 10, "the refusal")
    assert refusal.params["text"] == fmt.ADMINS_ONLY and refusal.reply_to == refused["message"]["message_id"]
    help_ = api.push(private_update(outsider, "/help"))
    api.wait_for(lambda: len(api.sent(outsider)) >= 2, 10, "help")
    assert "/stats" not in api.sent(outsider)[1].params["text"] and help_

    api.push(private_update(ADMIN_FROM_CONFIG, "Hà Nội có bao nhiêu dân?"))  # something to count today
    api.wait_for(lambda: api.sent(ADMIN_FROM_CONFIG), 10, "the admin's answer")
    for admin in (ADMIN_FROM_CONFIG, ADMIN_FROM_ENV):
        started = time.monotonic()
        api.push(private_update(admin, "/stats"))
        (photo,) = api.wait_for(lambda a=admin: api.photos(a), 30, "the chart")
        seconds = time.monotonic() - started
        text = [c.params["text"] for c in api.sent(admin) if "Thống kê" in c.params["text"]]
        assert len(text) == 1 and text[0].startswith("📊 Thống kê 7 ngày"), text
        assert "Câu hỏi: " in text[0] and "Theo ngày:" in text[0]
        assert photo.params["photo"].startswith(b"\x89PNG")
    admin_help = api.push(private_update(ADMIN_FROM_ENV, "/help"))
    (call,) = api.wait_for(
        lambda: [c for c in api.sent(ADMIN_FROM_ENV) if c.reply_to == admin_help["message"]["message_id"]],
        10,
        "the admin's help",
    )
    assert "/stats" in call.params["text"]
    group = -100 * new_id()
    asked = api.push(message_update(group_chat(group), user(ADMIN_FROM_ENV), f"/stats@{BOT}"))
    (in_group,) = api.wait_for(lambda: api.sent(group), 10, "the reply in the group")
    assert in_group.reply_to == asked["message"]["message_id"]
    assert in_group.params["text"] == fmt.plain(fmt.STATS_IN_PRIVATE)
    time.sleep(0.5)
    assert api.photos(outsider) == [] and api.photos(group) == []
    menu = {c["command"] for c in api.calls_of("setMyCommands")[-1].params["commands"]}
    assert "stats" not in menu  # the public menu is unchanged
    assert "Traceback" not in bot.log_text()
    report(
        f"/stats: a non-administrator got '{fmt.ADMINS_ONLY}' and no photo; the administrators (one from "
        f"telegram.admins, one from TELEGRAM_ADMINS) got the text and a PNG chart ({len(photo.params['photo'])} "
        f"bytes) {seconds:.2f} s after asking; in a group: '{fmt.STATS_IN_PRIVATE}'"
    )


def test_a_database_locked_for_10_s_costs_one_warning_and_no_answer(insights_bot, insights_api):
    bot, db, _port = insights_bot
    api = insights_api
    mark = len(bot.log_text())
    (rows_before,) = db_rows(db, "SELECT count(*) FROM questions")[0]
    script = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True)\n"
        "time.sleep(10); c.execute('COMMIT')\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script, str(db)], stdout=subprocess.PIPE, text=True)
    updates = []
    try:
        assert holder.stdout.readline().strip() == "locked"
        locked_at = time.monotonic()
        while time.monotonic() - locked_at < 12:  # questions flow during the 10 s and after
            updates.append(api.push(private_update(new_id(), SEED_QUESTIONS[len(updates) % len(SEED_QUESTIONS)])))
            time.sleep(0.1)
    finally:
        assert holder.wait(timeout=30) == 0
    keys = {(u["message"]["chat"]["id"], u["message"]["message_id"]): u["update_id"] for u in updates}

    def reply_times() -> dict[int, float]:
        return {
            keys[(c.params["chat_id"], c.reply_to)]: c.at
            for c in api.sent()
            if (c.params["chat_id"], c.reply_to) in keys
        }

    done = api.wait_for(lambda: (t := reply_times()) and len(t) == len(updates) and t, 20, "every answer")
    latencies = sorted(done[u["update_id"]] - api.pushed_at[u["update_id"]] for u in updates)
    questions = {u["message"]["text"] for u in updates}
    api.wait_for(
        lambda: (
            db_rows(db, "SELECT count(*) FROM questions")[0][0] == rows_before + len(updates)
            and "is written again" in bot.log_text()[mark:]
        ),
        30,
        "every question in the log",
    )
    log = bot.log_text()[mark:]
    warnings = [line for line in log.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "cannot write the question log" in warnings[0] and "locked" in warnings[0], warnings
    assert latencies[-1] < 2.0, latencies[-5:]
    assert questions and "Traceback" not in log
    report(
        f"question log locked by another process for 10 s while {len(updates)} questions arrived (10/s): all "
        f"answered, reply p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; "
        f"one WARNING ('cannot write the question log … ({warnings[0].split(' (', 1)[1]}'), then 'written "
        f"again' and all {len(updates)} rows in the log"
    )


# --- Start-up, the off switch and JSON logs: a bot of their own -----------------------------------------


def test_healthz_metrics_off_switch_and_json_logs(own_api, tmp_path, tg_cache):
    """/healthz is 503 until the index is loaded and the Bot API answers, then 200; with the log off no
    vote buttons and no database; log lines are JSON objects without the token."""
    api = own_api
    port = free_port()
    api.go_down()  # the Bot API unreachable at first: getMe is retried
    config = write_bot_config(
        tmp_path,
        tg_cache,
        log_level="DEBUG",
        insights={"log_questions": False, "metrics_port": port, "log_format": "json"},
    )
    log_path = tmp_path / "bot.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "telegram", "--config", str(config)],
            cwd=REPO,
            env=bot_env(api),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    bot = BotProcess(proc, api, log_path)
    seen: list[tuple[int, dict]] = []
    try:

        def health() -> tuple[int, dict] | None:
            try:
                status, body = get(port, "/healthz")
            except OSError:
                assert proc.poll() is None, bot.log_text()[-2000:]
                return None
            seen.append((status, json.loads(body)))
            return seen[-1]

        api.wait_for(lambda: (h := health()) and h[1]["index_loaded"], 60, "the index loaded")
        assert seen[0] == (503, {"status": "unavailable", "index_loaded": False, "telegram": False}), seen[:3]
        assert seen[-1][0] == 503 and seen[-1][1]["telegram"] is False  # the Bot API is still down
        api.come_back()
        api.wait_for(lambda: api.calls_of("getUpdates"), 30, "polling")
        _status, body = api.wait_for(lambda: (h := health()) and h[0] == 200 and h, 10, "healthy")
        assert body["index_loaded"] and body["telegram"] and body["index_age_seconds"] >= 0
        assert question_counts(port)["docqa_index_articles"] == 5

        uid = new_id()
        before = question_counts(port)
        api.push(private_update(uid, SEED_QUESTIONS[0]))
        api.push(private_update(uid, "Làm thế nào để nấu phở bò?"))
        answers = api.wait_for(lambda: len(s := api.sent(uid)) >= 2 and s, 15, "two replies")
        assert all(b["text"] not in ("👍", "👎") for c in answers for b in buttons(c))
        after = question_counts(port)
        assert after["answered"] - before["answered"] == 1 and after["refused"] - before["refused"] == 1
        assert not (tmp_path / "questions.sqlite").exists()
        rc, _ = bot.terminate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert rc == 0
    lines = [line for line in bot.log_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(records[0])
    text = bot.log_text()
    assert "<redacted>" in text and FAKE_TOKEN not in text and FAKE_TOKEN.split(":")[1] not in text
    report(
        f"/healthz during start-up: {' -> '.join(str(s) for s in dict.fromkeys(s for s, _ in seen))} "
        f"(503 until the index was loaded and getMe answered); insights.log_questions false: no 👍/👎, no "
        f"database; log_format json: {len(records)} JSON lines, the token masked"
    )


def test_a_bad_telegram_admins_is_one_error_line_at_start(own_api, tmp_path, tg_cache):
    config = write_bot_config(tmp_path, tg_cache)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "telegram", "--config", str(config)],
        cwd=REPO,
        env={**bot_env(own_api), "TELEGRAM_ADMINS": "123456789, @lan"},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(errors) == 1 and "TELEGRAM_ADMINS" in errors[0] and "entry 2" in errors[0], result.stderr
    assert own_api.calls == []  # refused before reaching the Bot API
