"""Unit tests of the Telegram front end's edges: token, base URL, webhook settings, log redaction."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from bot.telegram import answers, settings
from bot.telegram.redact import RedactingFormatter
from bot.telegram.state import AnswerCache, BotState, Pending, QuestionStore, Where
from retrieval.config import TelegramConfig
from retrieval.errors import ConfigError

TOKEN = "123456789:AAFake-token_for_loopback_tests_0nly"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "abc",
        "123:short",
        "12a:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "123456789:AAFake token with spaces 0123456789",
    ],
)
def test_bad_tokens_are_config_errors_without_the_value(value):
    with pytest.raises(ConfigError) as err:
        settings.read_token({"TELEGRAM_BOT_TOKEN": value})
    assert "TELEGRAM_BOT_TOKEN" in str(err.value)
    if value.strip():
        assert value.strip() not in str(err.value)


def test_good_token_is_read_and_stripped():
    assert settings.read_token({"TELEGRAM_BOT_TOKEN": f"  {TOKEN}\n"}) == TOKEN


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", (None, None)),
        ("http://127.0.0.1:8081/bot", ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")),
        ("https://tg.example.vn/api/bot", ("https://tg.example.vn/api/bot", "https://tg.example.vn/api/file/bot")),
        ("http://127.0.0.1:8081/custom/", ("http://127.0.0.1:8081/custom/", "http://127.0.0.1:8081/file/bot")),
    ],
)
def test_base_url(value, expected):
    assert settings.read_base_url({"TELEGRAM_BASE_URL": value}) == expected


@pytest.mark.parametrize("value", ["127.0.0.1:8081/bot", "ftp://x/bot", "http:///bot"])
def test_bad_base_url(value):
    with pytest.raises(ConfigError, match="TELEGRAM_BASE_URL"):
        settings.read_base_url({"TELEGRAM_BASE_URL": value})


def test_answer_cache_forgets_results_of_an_older_index():
    cache, computed = AnswerCache(), []

    def compute(text):
        def run():
            computed.append(text)
            return text, ()

        return run

    cache.get("a", compute("a1"), generation=0)
    assert cache.get("a", compute("a2"), generation=0) == ("a1", ())
    assert cache.get("a", compute("a3"), generation=1) == ("a3", ())  # an update changed the index
    assert computed == ["a1", "a3"] and len(cache) == 1


def test_webhook_secret_from_the_named_variable():
    tg = dataclasses.replace(TelegramConfig(), mode="webhook", webhook_secret_env="MY_SECRET")
    assert settings.webhook_secret(tg, {"MY_SECRET": "abc_DEF-123"}) == "abc_DEF-123"
    for bad in ({}, {"MY_SECRET": "has space"}, {"MY_SECRET": "x" * 257}):
        with pytest.raises(ConfigError, match="MY_SECRET"):
            settings.webhook_secret(tg, bad)


def test_webhook_needs_https_url():
    tg = dataclasses.replace(TelegramConfig(), mode="webhook", webhook_url="http://bot.example.vn/hook")
    with pytest.raises(ConfigError, match="webhook_url"):
        settings.check_webhook(tg)


def test_redacting_formatter_masks_token_in_messages_and_tracebacks():
    formatter = RedactingFormatter(logging.Formatter("%(message)s"), [TOKEN, TOKEN.split(":")[1]])
    try:
        raise RuntimeError(f"url http://127.0.0.1/bot{TOKEN}/getMe")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "Set Bot API URL: %s",
            (f"https://api.telegram.org/bot{TOKEN}",),
            sys.exc_info(),
        )
    out = formatter.format(record)
    assert TOKEN not in out and TOKEN.split(":")[1] not in out
    assert out.count("<redacted>") == 2 and "RuntimeError" in out


def test_question_store_is_bounded_and_keys_fit_callback_data():
    store = QuestionStore(capacity=3)
    keys = [store.add(Pending(f"q{i}", Where(1, None, i))) for i in range(5)]
    assert store.get(keys[0]) is None and store.get(keys[1]) is None
    assert store.get(keys[4]).question == "q4"
    data = f"more:{keys[4]}:999"
    assert len(data.encode()) <= 64 and answers.MORE_DATA.match(data)


def make_state(limit: int = 10) -> BotState:
    from bot.telegram.ratelimit import SlidingWindowLimiter

    return BotState(
        service=None,
        tg=TelegramConfig(),
        max_question_chars=1000,  # type: ignore[arg-type]
        limiter=SlidingWindowLimiter(limit, 60),
    )


def test_claim_page_once_per_page_and_same_chat_only():
    state = make_state()
    key = state.questions.add(Pending("Hà Nội?", Where(5, None, 1)))
    claim = answers.claim_page(state, f"more:{key}:1", chat_id=5, user_id=9)
    assert claim.pending is not None and claim.page == 1 and claim.toast is None
    assert answers.claim_page(state, f"more:{key}:1", chat_id=5, user_id=9) == answers.PageClaim()  # pressed twice
    assert answers.claim_page(state, f"more:{key}:2", chat_id=6, user_id=9).toast  # another chat
    assert answers.claim_page(state, "more:unknown:2", chat_id=5, user_id=9).toast
    assert answers.claim_page(state, "garbage", chat_id=5, user_id=9).toast
    assert answers.claim_page(state, None, chat_id=5, user_id=9).toast


def test_claim_page_respects_the_user_limit():
    state = make_state(limit=1)
    key = state.questions.add(Pending("Hà Nội?", Where(5, None, 1)))
    assert answers.claim_page(state, f"more:{key}:1", chat_id=5, user_id=9).pending
    refused = answers.claim_page(state, f"more:{key}:2", chat_id=5, user_id=9)
    assert refused.pending is None and "giây" in refused.toast
    assert answers.claim_page(state, f"more:{key}:2", chat_id=5, user_id=10).pending  # another user


def test_webhook_without_the_webhooks_extra_is_a_clear_error():
    import importlib.util

    tg = dataclasses.replace(TelegramConfig(), mode="webhook", webhook_url="https://bot.example.vn/hook")
    if importlib.util.find_spec("tornado") is not None:
        settings.check_webhook(tg)  # installed: nothing to complain about
        return
    with pytest.raises(ConfigError, match=r"python-telegram-bot\[webhooks\]"):
        settings.check_webhook(tg)


def test_a_stop_signal_raised_inside_a_codec_is_still_named():
    """A SIGTERM during start-up can land while a corpus file is decoded: CPython re-raises
    it with the codec's words around it; the log line still names the signal."""
    import codecs

    from bot.telegram.app import _signal_name, _Stopped

    def decode(data, errors="strict"):
        raise _Stopped("SIGTERM")

    def search(name):
        return codecs.CodecInfo(name="stop-test", encode=None, decode=decode) if name == "stop_test" else None

    codecs.register(search)
    try:
        with pytest.raises(_Stopped) as raised:
            b"x".decode("stop_test")
    finally:
        codecs.unregister(search)
    assert str(raised.value) != "SIGTERM"  # the wrapped message
    assert _signal_name(raised.value) == "SIGTERM"
    assert _signal_name(_Stopped("SIGINT")) == "SIGINT"


# --- Insights: administrators, votes, buttons, error counts --------------------------------------------


def test_admins_from_the_config_and_the_environment():
    tg = dataclasses.replace(TelegramConfig(), admins=(111,))
    assert settings.read_admins(tg, {}) == {111}
    assert settings.read_admins(tg, {"TELEGRAM_ADMINS": " 222 , 333,,"}) == {111, 222, 333}
    assert settings.read_admins(TelegramConfig(), {"TELEGRAM_ADMINS": ""}) == frozenset()
    for bad in ("222;333", "abc", "-5", "12 34", "0", "1e5", "@nguoi_quan_tri"):
        with pytest.raises(ConfigError, match="TELEGRAM_ADMINS") as err:
            settings.read_admins(tg, {"TELEGRAM_ADMINS": f"222,{bad}"})
        assert "entry 2" in str(err.value) and bad not in str(err.value).split(";")[-1]


def test_stats_refusal_only_lets_an_administrator_in_a_private_chat():
    from bot.telegram import format as fmt
    from bot.telegram.stats import StatsSettings, refusal

    s = StatsSettings(admins=frozenset({7}))
    assert refusal(s, 7, private=True) is None
    assert refusal(s, 7, private=False) == fmt.STATS_IN_PRIVATE
    assert refusal(s, 8, private=True) == refusal(s, None, private=True) == fmt.ADMINS_ONLY


class RecordingLog:
    """Stands in for the question log: keeps the votes."""

    def __init__(self) -> None:
        self.votes: list[tuple[str, int, int]] = []

    def vote(self, answer_id: str, user: int, value: int) -> bool:
        self.votes.append((answer_id, user, value))
        return True


def test_a_vote_is_logged_counted_and_within_the_user_limit():
    from bot.insights.store import feedback_data, new_answer_id
    from bot.telegram import format as fmt

    state = make_state(limit=2)
    state.question_log = RecordingLog()  # type: ignore[assignment]
    answer = new_answer_id()
    assert answers.claim_vote(state, feedback_data(answer, 1), user_id=9) == fmt.VOTE_THANKS
    assert answers.claim_vote(state, feedback_data(answer, -1), user_id=9) == fmt.VOTE_THANKS
    assert "giây" in answers.claim_vote(state, feedback_data(answer, 1), user_id=9)  # a third press: limited
    assert state.question_log.votes == [(answer, 9, 1), (answer, 9, -1)]
    exposition = state.metrics.exposition().decode()
    assert 'docqa_feedback_total{vote="up"} 1.0' in exposition and 'docqa_feedback_total{vote="down"} 1.0' in exposition


def test_the_buttons_under_an_answer_are_one_row():
    from bot.insights.store import parse_feedback_data

    (row,) = answers.answer_markup(("k", 1), "a" * 16).inline_keyboard
    assert [b.text for b in row] == ["Xem thêm", "👍", "👎"]
    assert row[0].callback_data == "more:k:1" and parse_feedback_data(row[2].callback_data) == ("a" * 16, -1)
    assert [b.text for b in answers.answer_markup(None, "a" * 16).inline_keyboard[0]] == ["👍", "👎"]
    assert [b.text for b in answers.answer_markup(("k", 2), None).inline_keyboard[0]] == ["Xem thêm"]
    assert answers.answer_markup(None, None) is None


def test_a_failed_bot_api_call_is_counted_once():
    from telegram.error import BadRequest

    from bot.telegram.delivery import DeliveryFailed, counted_once

    kinds: list[str] = []
    count = counted_once(lambda exc: kinds.append(type(exc).__name__))
    rejected = BadRequest("message is too long")
    count(rejected)  # the sender
    count(rejected)  # the error handler, for the same failure
    count(DeliveryFailed("gave up"))  # its cause was counted
    count(BadRequest("another"))
    assert kinds == ["BadRequest", "BadRequest"]
