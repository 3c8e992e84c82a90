"""End-to-end: ``python -m bot telegram`` as a subprocess against a loopback Bot API stand-in.

Each test uses fresh chat and user ids on the shared bot, so tests do not
see each other's messages or rate limits. Every loop is bounded in time.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from retrieval.answer import messages
from tg_html import assert_valid, visible_text
from tg_support import (
    FAKE_TOKEN,
    REPO,
    SEED_QUESTIONS,
    bot_env,
    bot_message,
    group_chat,
    mention,
    message,
    message_update,
    new_id,
    private_chat,
    private_update,
    report,
    start_bot,
    text_mention,
    user,
    write_bot_config,
)

QUESTIONS = SEED_QUESTIONS
QUIET = 0.8  # seconds to wait when checking that nothing is sent


def answers_to(api, chat_id: int, message_id: int) -> list:
    return [c for c in api.sent(chat_id) if c.reply_to == message_id]


def wait_answer(api, update: dict, count: int = 1, timeout: float = 15.0) -> list:
    msg = update["message"]
    chat_id, mid = msg["chat"]["id"], msg["message_id"]
    calls = api.wait_for(
        lambda: (a := answers_to(api, chat_id, mid)) and len(a) >= count and a,
        timeout,
        f"answer to message {mid} in chat {chat_id}",
    )
    for c in calls:
        assert c.params["parse_mode"] == "HTML"
        assert_valid(c.params["text"])
    return calls


def assert_silent(api, chat_id: int, seconds: float = QUIET) -> None:
    time.sleep(seconds)
    assert api.sent(chat_id) == [], [c.params.get("text") for c in api.sent(chat_id)]


def transcript(title: str, update: dict, call) -> None:
    report(f"--- transcript: {title}")
    report("update sent to the bot: " + json.dumps(update, ensure_ascii=False))
    report(f"{call.method} from the bot: " + json.dumps(call.params, ensure_ascii=False))


# --- Private chats ------------------------------------------------------------------------


def test_private_question_answered_with_quote_and_citation(bot, api):
    uid = new_id()
    update = api.push(private_update(uid, "Bộ trưởng Bộ Kinh tế Phần Lan là ai?"))
    (call,) = wait_answer(api, update)
    text = call.params["text"]
    assert "<blockquote" in text and "Mika Lintila" in text
    assert "<b>Bộ trưởng Bộ Kinh tế Phần Lan</b>" in text  # the question's words in bold
    assert "Hà Nội - Phần Lan trao đổi, hợp tác về xây dựng thành phố thông minh (Báo Công luận, 15/10/2018)" in text
    assert call.params["link_preview_options"] == {"is_disabled": True}
    button = call.params["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"] == "Xem thêm" and len(button["callback_data"].encode()) <= 64
    transcript("private chat", update, call)


def test_more_button_pages_through_the_answers(bot, api):
    uid = new_id()
    update = api.push(private_update(uid, "Hà Nội xây dựng thành phố thông minh như thế nào?"))
    (first,) = wait_answer(api, update)
    assert re.search(r"<blockquote( expandable)?>1\. ", first.params["text"])
    data = first.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    press = {
        "callback_query": {
            "id": str(new_id()),
            "from": user(uid),
            "chat_instance": "ci",
            "data": data,
            "message": bot_message(api, first.result),
        }
    }
    api.push(press)
    second = wait_answer(api, update, count=2)[1]
    assert "Các đoạn trích tiếp theo:" in second.params["text"]
    assert re.search(r"<blockquote( expandable)?>4\. ", second.params["text"])
    api.wait_for(lambda: api.calls_of("editMessageReplyMarkup", chat_id=uid), 5, "the old button removed")
    assert api.calls_of("answerCallbackQuery", callback_query_id=press["callback_query"]["id"])
    api.push(press)  # the same button again: nothing new
    time.sleep(QUIET)
    assert len(answers_to(api, uid, update["message"]["message_id"])) == 2
    # An unknown or expired button gets a toast, not an answer.
    api.push(
        {
            "callback_query": {
                "id": "old1",
                "from": user(uid),
                "chat_instance": "ci",
                "data": "more:zzzz:1",
                "message": bot_message(api, first.result),
            }
        }
    )
    call = api.wait_for(lambda: api.calls_of("answerCallbackQuery", callback_query_id="old1"), 5, "toast")[0]
    assert "hỏi lại" in call.params["text"] or "gửi lại" in call.params["text"]


def test_start_help_sources_and_command_menu(bot, api):
    cmds = api.calls_of("setMyCommands")
    assert cmds, "set_my_commands was not called"
    menu = {c["command"]: c["description"] for c in cmds[-1].params["commands"]}
    assert set(menu) == {"start", "help", "ask", "sources"} and "câu hỏi" in menu["ask"]

    uid = new_id()
    start = api.push(private_update(uid, "/start"))
    text = wait_answer(api, start)[0].params["text"]
    assert text.startswith("Xin chào, Lan!")
    assert len(re.findall(r"^• ", text, flags=re.M)) == 3

    help_ = api.push(private_update(uid, "/help"))
    assert "/ask@VnDocQA_TestBot" in wait_answer(api, help_)[0].params["text"]

    src = api.push(private_update(uid, "/sources"))
    text = wait_answer(api, src)[0].params["text"]
    assert "Các bài viết (5):" in text and text.count("\n") >= 5
    assert "Hà Nội - Phần Lan trao đổi, hợp tác về xây dựng thành phố thông minh (Báo Công luận, 15/10/2018)" in text

    unknown = api.push(private_update(uid, "/xyz"))
    assert "/help" in wait_answer(api, unknown)[0].params["text"]


def test_start_examples_are_answered(bot, api):
    uid = new_id()
    start = api.push(private_update(uid, "/start"))
    text = visible_text(wait_answer(api, start)[0].params["text"])
    examples = re.findall(r"^• (.+)$", text, flags=re.M)
    assert len(examples) == 3
    for q in examples:
        update = api.push(private_update(uid, q))
        answer = wait_answer(api, update)[0].params["text"]
        assert "<blockquote" in answer, (q, answer)


def test_refusal_suggests_rephrasing_and_sources(bot, api):
    uid = new_id()
    update = api.push(private_update(uid, "Giá vé máy bay đi Paris tháng sau là bao nhiêu?"))
    (call,) = wait_answer(api, update)
    text = call.params["text"]
    assert "<blockquote" not in text and "/sources" in text and "reply_markup" not in call.params


def test_html_in_the_question_is_harmless(bot, api):
    uid = new_id()
    q = '<b>Hà Nội</b> có bao nhiêu dân? & <script>alert("x")</script> <a href="javascript:x">&amp; < > &'
    update = api.push(private_update(uid, q))
    (call,) = wait_answer(api, update)
    assert "<script" not in call.params["text"] and "javascript" not in call.params["text"]
    # User text that is echoed (the name in /start) is escaped.
    name = '<i>Lan</i> & "Co" <script>'
    start = api.push(message_update(private_chat(uid, name), user(uid, name), "/start"))
    text = wait_answer(api, start)[0].params["text"]
    assert "&lt;i&gt;Lan&lt;/i&gt; &amp;" in text and "<script" not in text
    assert name in visible_text(text)


def test_7000_character_message_is_cut_with_a_note(bot, api):
    uid = new_id()
    q = ("Hà Nội có bao nhiêu dân? " * 400)[:7000]
    update = api.push(private_update(uid, q))
    calls = wait_answer(api, update)
    text = calls[0].params["text"]
    assert "Câu hỏi quá dài" in text and "1000" in text
    assert all(len(c.params["text"]) <= 4096 for c in calls)


def test_non_text_gets_a_hint_in_private(bot, api):
    uid = new_id()
    sticker = {
        "file_id": "CAAC",
        "file_unique_id": "u1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    update = api.push(private_update(uid, None, sticker=sticker))
    assert "chữ" in wait_answer(api, update)[0].params["text"]
    voice = api.push(private_update(uid, None, voice={"file_id": "v", "file_unique_id": "v1", "duration": 2}))
    wait_answer(api, voice)


def test_edited_message_is_not_answered_again(bot, api):
    uid = new_id()
    update = api.push(private_update(uid, "Hà Nội có bao nhiêu dân?"))
    wait_answer(api, update)
    edited = dict(update["message"], text="Hà Nội có bao nhiêu người dân?", edit_date=int(time.time()))
    api.push({"edited_message": edited})
    time.sleep(QUIET)
    assert len(api.sent(uid)) == 1


def test_user_rate_limit_answers_once_politely(bot, api):
    uid = new_id()
    updates = api.push_many([private_update(uid, QUESTIONS[i % len(QUESTIONS)]) for i in range(13)])
    api.wait_for(lambda: len(api.sent(uid)) >= 11, 20, "10 answers and one notice")
    time.sleep(QUIET)
    texts = [c.params["text"] for c in api.sent(uid)]
    notices = [t for t in texts if "hỏi hơi nhanh" in t]
    assert len(texts) == 11 and len(notices) == 1, texts
    assert re.search(r"khoảng \d+ giây", notices[0])
    assert len({c.reply_to for c in api.sent(uid)}) == 11 and updates


def test_one_failing_update_does_not_stop_the_bot(bot, api):
    uid = new_id()
    api.fail_next_send(uid)
    first = api.push(private_update(uid, "Hà Nội có bao nhiêu dân?"))
    (apology,) = wait_answer(api, first)
    assert apology.params["text"] == messages.ERROR == "Xin lỗi, đã có lỗi khi xử lý câu hỏi. Bạn hãy thử lại sau."
    second = api.push(private_update(uid, "Đại sứ Mỹ tại Việt Nam tên là gì?"))
    assert "<blockquote" in wait_answer(api, second)[0].params["text"]
    log = bot.log_text()
    assert "failed to handle update" in log and "Traceback" in log and "injected failure" in log.lower()
    assert bot.proc.poll() is None


# --- Groups -----------------------------------------------------------------------------------


def test_group_mention_after_emoji_answered_as_reply(bot, api):
    chat = group_chat(-100 * new_id())
    text = "Mọi người ơi 👋😀 @vndocqa_testbot Đại sứ Mỹ tại Việt Nam tên là gì?"
    update = api.push(message_update(chat, user(new_id()), text, entities=[mention(text, "@vndocqa_testbot")]))
    (call,) = wait_answer(api, update)
    assert call.reply_to == update["message"]["message_id"]
    assert "Ted Osius" in call.params["text"]
    assert "message_thread_id" not in call.params
    transcript("group chat (mention after emoji)", update, call)


def test_group_text_mention_and_forum_topic(bot, api):
    chat = group_chat(-100 * new_id(), forum=True)
    bot_user = api.bot_user
    text = "Hỏi đáp tài liệu ơi, Hà Nội có bao nhiêu dân?"
    update = api.push(
        message_update(
            chat, user(new_id()), text, thread_id=77, entities=[text_mention(text, "Hỏi đáp tài liệu", bot_user)]
        )
    )
    (call,) = wait_answer(api, update)
    assert call.params["message_thread_id"] == 77
    assert "triệu" in call.params["text"]


def test_group_reply_to_the_bot_is_answered(bot, api):
    chat = group_chat(-100 * new_id())
    asker = user(new_id())
    text = "@VnDocQA_TestBot Hà Nội có bao nhiêu dân?"
    first = api.push(message_update(chat, asker, text, entities=[mention(text, "@VnDocQA_TestBot")]))
    (answer,) = wait_answer(api, first)
    follow = api.push(
        message_update(chat, asker, "Đại sứ Mỹ tại Việt Nam tên là gì?", reply_to=bot_message(api, answer.result))
    )
    (call,) = wait_answer(api, follow)
    assert "Ted Osius" in call.params["text"]


def test_group_ask_command_with_bot_name(bot, api):
    chat = group_chat(-100 * new_id())
    update = api.push(message_update(chat, user(new_id()), "/ask@VnDocQA_TestBot Hà Nội có bao nhiêu dân?"))
    assert "<blockquote" in wait_answer(api, update)[0].params["text"]
    plain = api.push(message_update(chat, user(new_id()), "/ask Đại sứ Mỹ tại Việt Nam tên là gì?"))
    assert "Ted Osius" in wait_answer(api, plain)[0].params["text"]
    empty = api.push(message_update(chat, user(new_id()), "/ask@VnDocQA_TestBot"))
    assert "/ask" in wait_answer(api, empty)[0].params["text"]


def test_group_chatter_is_ignored(bot, api):
    chat = group_chat(-100 * new_id())
    other = user(new_id())
    someone = message(chat, user(new_id()), "Hà Nội có bao nhiêu dân?")
    photo = [{"file_id": "p", "file_unique_id": "p1", "width": 10, "height": 10}]
    api.push_many(
        [
            message_update(chat, other, "Hà Nội có bao nhiêu dân?"),
            message_update(
                chat,
                other,
                "@other_bot Hà Nội có bao nhiêu dân?",
                entities=[{"type": "mention", "offset": 0, "length": 10}],
            ),
            message_update(chat, other, "/ask@other_bot Hà Nội có bao nhiêu dân?"),
            message_update(chat, other, "Đúng rồi", reply_to=someone),
            message_update(chat, other, None, photo=photo, caption="@VnDocQA_TestBot ảnh này?"),
            message_update(
                chat,
                user(new_id(), is_bot=True),
                "@VnDocQA_TestBot Hà Nội có bao nhiêu dân?",
                entities=[{"type": "mention", "offset": 0, "length": 16}],
            ),
        ]
    )
    assert_silent(api, chat["id"], 1.5)


# --- Load ---------------------------------------------------------------------------------------


def test_burst_of_300_questions_from_60_chats(bot, api):
    updates = []
    for c in range(60):
        if c < 50:
            uid = new_id()
            make = lambda q, uid=uid: private_update(uid, q)  # noqa: E731
        else:
            chat = group_chat(-100 * new_id())
            make = lambda q, chat=chat: message_update(  # noqa: E731
                chat, user(new_id()), f"@VnDocQA_TestBot {q}", entities=[{"type": "mention", "offset": 0, "length": 16}]
            )
        for i in range(5):
            updates.append(make(QUESTIONS[(c + i) % len(QUESTIONS)]))
    keys = [(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in updates]
    chats = {k[0] for k in keys}
    log_start = len(bot.log_text())
    started = time.monotonic()
    api.push_many(updates)

    def answered() -> dict:
        counts: dict = {}
        for c in api.sent():
            key = (c.params["chat_id"], c.reply_to)
            counts[key] = counts.get(key, 0) + 1
        return counts

    api.wait_for(lambda: all(k in answered() for k in keys), 90, "300 answers")
    elapsed = time.monotonic() - started
    rss = bot.rss_kib()
    time.sleep(QUIET)
    counts = answered()
    assert all(counts[k] == 1 for k in keys), "some update was answered twice"
    assert sum(1 for c in api.sent() if c.params["chat_id"] in chats) == 300
    for c in api.sent():
        if c.params["chat_id"] in chats:
            assert_valid(c.params["text"])
            assert c.params["text"] != messages.ERROR  # an answer, not an apology
    assert "failed to handle update" not in bot.log_text()[log_start:]
    report(
        f"burst: 300 questions from 60 chats (50 private, 10 groups) answered exactly once in {elapsed:.2f}s "
        f"({300 / elapsed:.0f}/s; the flood limit allows ~30 messages/s)"
    )
    report(f"bot RSS after the burst: {rss} kB" if rss else "bot RSS: /proc not readable")


# --- Whole-run checks ------------------------------------------------------------------------


def test_every_message_sent_so_far_is_valid_telegram_html(bot, api):
    sent = api.sent()
    assert len(sent) > 300
    for call in sent + api.calls_of("editMessageText"):
        assert_valid(call.params["text"])
        assert len(call.params["text"]) <= 4096


def test_the_token_is_never_logged(bot, api):
    log = bot.log_text()
    assert "answered update=" in log
    assert FAKE_TOKEN not in log and FAKE_TOKEN.split(":")[1] not in log


# --- Separate processes: allowlist, SIGTERM, bad tokens --------------------------------------------


def test_allowlist_serves_only_listed_chats(own_api, tmp_path, tg_cache):
    api = own_api
    allowed_user, other_user, allowed_group = new_id(), new_id(), -100 * new_id()
    proc = start_bot(api, tmp_path, tg_cache, telegram={"allowed_chat_ids": [allowed_user, allowed_group]})
    try:
        denied = api.push(private_update(other_user, "Hà Nội có bao nhiêu dân?"))
        denied_group = api.push(
            message_update(group_chat(-100 * new_id()), user(new_id()), "/ask@VnDocQA_TestBot Hà Nội có bao nhiêu dân?")
        )
        ok = api.push(private_update(allowed_user, "Hà Nội có bao nhiêu dân?"))
        ok_group = api.push(message_update(group_chat(allowed_group), user(new_id()), "/ask Hà Nội có bao nhiêu dân?"))
        wait_answer(api, ok)
        wait_answer(api, ok_group)
        assert_silent(api, other_user)
        assert api.sent(denied_group["message"]["chat"]["id"]) == [] and denied
        start = api.push(private_update(other_user, "/start"))
        text = wait_answer(api, start)[0].params["text"]
        assert str(other_user) in text and "<blockquote" not in text
    finally:
        proc.terminate()


def test_sigterm_stops_cleanly_and_debug_logs_hide_the_token(own_api, tmp_path, tg_cache):
    api = own_api
    proc = start_bot(api, tmp_path, tg_cache, log_level="DEBUG")
    uid = new_id()
    wait_answer(api, api.push(private_update(uid, "Hà Nội có bao nhiêu dân?")))
    rc, seconds = proc.terminate(timeout=10)
    assert rc == 0, proc.log_text()[-2000:]
    assert seconds < 5
    log = proc.log_text()
    assert "Traceback" not in log
    assert "<redacted>" in log  # python-telegram-bot logged the Bot API URL at DEBUG, masked
    assert FAKE_TOKEN not in log and FAKE_TOKEN.split(":")[1] not in log
    report(f"SIGTERM: exit code {rc} after {seconds:.2f}s")


def test_sigterm_during_start_up_is_a_clean_exit(own_api, tmp_path):
    """A stop signal while the index is being built (docker stop at start-up) still exits with 0."""
    config = write_bot_config(tmp_path, tmp_path / "fresh-cache")
    log_path = tmp_path / "bot.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "telegram", "--config", str(config)],
            cwd=REPO,
            env=bot_env(own_api),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        while "building index" not in log_path.read_text(encoding="utf-8", errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert rc == 0, log[-2000:]
    assert "Traceback" not in log
    assert "stopped by SIGTERM during start-up" in log or "Application started" in log


def run_cli(env: dict, config, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "telegram", "--config", str(config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("token", [None, "", "not-a-token", "123456789:short"])
def test_missing_or_malformed_token_is_one_line_and_exit_2(tmp_path, tg_cache, token):
    config = write_bot_config(tmp_path, tg_cache)
    env = bot_env(None, token=token)
    result = run_cli(env, config)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "TELEGRAM_BOT_TOKEN" in errors[0]
    if token:
        assert token not in result.stderr


def test_token_rejected_by_the_server_is_exit_2_without_the_token(own_api, tmp_path, tg_cache):
    api = own_api
    config = write_bot_config(tmp_path, tg_cache)
    wrong = "987654321:AAWrong-token_rejected_by_the_stand_in"
    env = bot_env(api, token=wrong)
    result = run_cli(env, config)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "rejected TELEGRAM_BOT_TOKEN" in result.stderr
    assert wrong not in result.stderr and wrong.split(":")[1] not in result.stderr
