"""Property-based: whatever a user types, the answering service and the Telegram formatter
never raise, keep their documented shape, quote the articles verbatim, and every HTML
message is valid Telegram HTML within 4096 characters.

The service runs with the real underthesea segmenter (hostile text reaches its
tokenizers too). Inputs: arbitrary Unicode including lone surrogates, NFD and
stacked combining marks, zero-width and bidi controls, emoji (astral, ZWJ
sequences), control characters, HTML-like markup, very long text, only
punctuation, only stopwords.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.telegram import format as fmt
from bot.telegram.answers import answer_page
from bot.telegram.ratelimit import SlidingWindowLimiter
from bot.telegram.state import BotState
from qa_support import CONFIG_YAML
from retrieval.answer import messages
from retrieval.answer.compose import Answer, Outcome, Result
from retrieval.config import load_config
from tg_html import problems, utf16_len, visible_text

pytestmark = pytest.mark.slow

_STOPWORDS = list(load_config(CONFIG_YAML).answer.stopwords)
_WORDS = [
    "Hà",
    "Nội",
    "thành",
    "phố",
    "thông",
    "minh",
    "Đại",
    "sứ",
    "Mỹ",
    "ASOCIO",
    "Phần",
    "Lan",
    "dữ",
    "liệu",
    "công",
    "ty",
    "bao",
    "nhiêu",
    "ai",
    "là",
    "gì",
    "ở",
    "đâu",
    "khi",
    "nào",
    "năm",
    "2020",
    "1.200",
    "12/2015",
]
_INVISIBLE = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2069",
    "\u061c",
    "\u00ad",
]
_CONTROL = [chr(c) for c in [*range(0, 32), 127, 0x85, 0x2028, 0x2029]]
_EMOJI = ["😀", "👋🏽", "👨‍👩‍👧‍👦", "🇻🇳", "❤️", "🧑🏻‍💻", "𝕳𝖆 𝕹𝖔𝖎", "𠀀", "\U0010fffd"]
_MARKUP = [
    "<b>",
    "</b>",
    "<blockquote>",
    "</blockquote>",
    '<a href="javascript:alert(1)">',
    "&amp;",
    "&lt;",
    "&",
    "<",
    ">",
    "<script>",
    "<tg-spoiler>",
    "]]>",
    "<!--",
    '"',
    "'",
]
_PUNCT = "?!.,;:…-–—()[]{}\"'«»/\\*&<>#@%^~`|_+=“”‘’"


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


_word = st.sampled_from(_WORDS).flatmap(lambda w: st.sampled_from([w, _nfd(w), w.upper(), w.lower()]))
_noise = st.one_of(
    st.sampled_from(_INVISIBLE + _CONTROL + _EMOJI + _MARKUP),
    st.characters(min_codepoint=0x300, max_codepoint=0x36F),  # combining marks, stacked on anything
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
    st.characters(exclude_categories=()),  # anything at all, surrogates included
)
_mixed = st.lists(st.one_of(_word, _noise, st.just(" ")), max_size=40).map("".join)
_QUESTIONS = [
    "Hà Nội có bao nhiêu dân?",
    "Đại sứ Mỹ tại Việt Nam tên là gì?",
    "Bộ trưởng Bộ Kinh tế Phần Lan là ai?",
    "Khẩu hiệu của ASOCIO là gì?",
    "Các trung tâm dữ liệu ở Hà Nội có tổng công suất bao nhiêu?",
    "Hà Nội ký văn bản ghi nhớ với tập đoàn nào để xây dựng khung chính phủ điện tử?",
]


@st.composite
def _wrapped_question(draw) -> str:
    """A real question with noise slipped between (or into) its words, maybe in NFD."""
    words = draw(st.sampled_from(_QUESTIONS)).split(" ")
    for _ in range(draw(st.integers(0, 4))):
        words.insert(draw(st.integers(0, len(words))), draw(_noise))
    text = " ".join(words)
    return _nfd(text) if draw(st.booleans()) else text


HOSTILE = st.one_of(
    _wrapped_question(),
    _wrapped_question(),  # twice: answered questions are where quotes can go wrong
    st.text(alphabet=st.characters(exclude_categories=()), max_size=200),
    _mixed,
    _mixed.map(_nfd),
    st.text(alphabet=_PUNCT + " \t\n", max_size=80),  # only punctuation
    st.lists(st.sampled_from(_STOPWORDS), min_size=1, max_size=12).map(" ".join),  # only stopwords
    st.lists(st.sampled_from(_STOPWORDS + _PUNCT.split()), min_size=1, max_size=12).map(" ".join),
    st.tuples(_mixed, st.integers(1_000, 30_000)).map(lambda t: (t[0] or "Hà Nội ") * (t[1] // max(1, len(t[0])))),
)

PROPERTY_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _articles_by_id(service) -> dict:
    return {a.doc_id: a for a in service.articles}


def check_result(service, question: str, result: Result, max_answers: int) -> None:
    """The documented shape of a result, and quotes that are the articles' own text."""
    assert isinstance(result, Result)
    assert result.question == question
    assert isinstance(result.message, str) and result.message.strip()
    assert result.answered == bool(result.answers)
    assert isinstance(result.outcome, Outcome) and result.answered == (result.outcome is Outcome.ANSWERED)
    assert len(result.answers) <= max_answers
    scores = [a.score for a in result.answers]
    assert scores == sorted(scores, reverse=True)
    articles = _articles_by_id(service)
    for answer in result.answers:
        article = articles[answer.doc_id]
        assert answer.quote and answer.quote == answer.quote.strip()
        assert any(answer.quote in p for p in article.paragraphs), "a quote that is not the article's text"
        assert (answer.title, answer.source, answer.date, answer.url) == (
            article.title,
            article.source,
            article.date,
            article.url,
        )
    if not result.answered:
        body = result.message
        if result.truncated and result.outcome is not Outcome.EMPTY:
            body = body.split("\n\n", 1)[1]
        assert body in (messages.EMPTY, messages.NO_CONTENT, messages.refusal_text(result.suggestions))
    data = result.to_dict()
    assert set(data) == {"question", "answered", "answers", "message", "suggestions"}
    json.dumps(data, ensure_ascii=False)


_BLOCK = re.compile(r"<blockquote(?: expandable)?>(.*?)</blockquote>", re.DOTALL)


def check_pages(state: BotState, question: str) -> list[str]:
    """Render every page of ``question`` as the bot does; check the HTML and the quotes."""
    shown: list[str] = []
    texts: list[str] = []
    result = None
    for page in range(state.tg.max_total_answers // state.tg.answers_per_message + 1):
        rendered = answer_page(state, question, page)
        result = state.answers.get(question, lambda: pytest.fail("the result is cached"))[0]
        for text in rendered.messages:
            assert not problems(text), (problems(text), text[:300])
            assert utf16_len(text) <= 4096
            texts.append(text)
            shown += [visible_text(b) for b in _BLOCK.findall(text)]
        if not rendered.has_more:
            break
    quotes = [unicodedata.normalize("NFC", a.quote) for a in result.answers]
    assert len(shown) == len(quotes)
    for seen, quote in zip(shown, quotes):
        seen = re.sub(r"^\d+\. ", "", seen)
        if seen.endswith(fmt.ELLIPSIS) and seen != quote:  # a quote longer than a message, cut
            assert quote.startswith(seen[: -len(fmt.ELLIPSIS)].rstrip())
        else:
            assert seen == quote
    return texts


@pytest.fixture(scope="module")
def tg_state(real_service):
    cfg = real_service.cfg
    return BotState(
        service=real_service,
        tg=cfg.telegram,
        max_question_chars=cfg.answer.max_question_chars,
        limiter=SlidingWindowLimiter(10, 60),
    )


@PROPERTY_SETTINGS
@given(question=HOSTILE)
def test_service_answers_anything_with_verbatim_quotes(real_service, question):
    result = real_service.answer(question)
    event("answered" if result.answered else f"refused ({result.outcome})")
    check_result(real_service, question, result, real_service.cfg.answer.max_answers)
    more = real_service.answer(question, max_answers=9)
    check_result(real_service, question, more, 9)


@PROPERTY_SETTINGS
@given(question=HOSTILE)
def test_every_telegram_page_is_valid_html_with_verbatim_quotes(tg_state, question):
    check_pages(tg_state, question)


@pytest.mark.parametrize(
    "question, answerable",
    [
        ("Hà Nội có bao nhiêu dân?", True),
        ("Đại sứ Mỹ tại Việt Nam tên là gì?", True),
        (_nfd("Bộ trưởng Bộ Kinh tế Phần Lan là ai?"), True),
        ("Hà\u200b Nội\u202e có bao nhiêu\u0000 dân?👨‍👩‍👧‍👦", True),
        ("Hà Nội xây dựng thành phố thông minh như thế nào? " * 300, True),
        ("<b>Hà Nội</b> &amp; thành phố thông minh </blockquote>", None),  # markup words may count against it
        ("\ud83d\ude00 Đại sứ Mỹ \udcff tên là gì?", None),  # a surrogate pair and a lone surrogate
    ],
)
def test_real_questions_in_hostile_wrapping(tg_state, question, answerable):
    """Not only refusals: hostile text around a real question still gives valid, verbatim answers."""
    texts = check_pages(tg_state, question)
    if answerable:
        assert any("<blockquote" in t for t in texts)


# --- The formatter on its own: any article text, any user name, any entity offsets --------------------

_any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)
_long_text = st.one_of(_any_text, st.tuples(_any_text, st.integers(1, 40)).map(lambda t: t[0] * t[1]))
_url = st.one_of(
    st.none(),
    st.just("https://vnexpress.net/a?b=1&c=<2>"),
    st.just("javascript:alert(1)"),
    _any_text.map(lambda t: "https://x.vn/" + t),
)
_answer = st.builds(
    Answer,
    quote=_long_text.filter(lambda t: t.strip()).map(str.strip),
    doc_id=st.just("doc"),
    title=_any_text.map(lambda t: t or "Bài"),
    source=st.one_of(st.none(), _any_text),
    date=st.one_of(st.none(), st.dates().map(lambda d: d.isoformat())),
    url=_url,
    score=st.floats(0, 100),
)


@st.composite
def _results(draw):
    answers = tuple(draw(st.lists(_answer, max_size=9)))
    truncated = draw(st.booleans())
    message = draw(st.one_of(st.just(messages.REFUSAL), _any_text.filter(lambda t: t.strip())))
    return Result(
        question=draw(_any_text),
        answers=answers,
        message=message,
        outcome=Outcome.ANSWERED if answers else draw(st.sampled_from(list(Outcome)[1:])),
        truncated=truncated,
    )


@settings(max_examples=150, deadline=None)
@given(
    result=_results(),
    terms=st.lists(st.one_of(_any_text, st.sampled_from(["hà_nội", "thông_minh", "mỹ"])), max_size=6),
    per_page=st.integers(1, 5),
)
def test_result_pages_are_valid_for_any_article_text(result, terms, per_page):
    for page in range(4):
        rendered = fmt.result_page(result, terms, page=page, per_page=per_page, max_question_chars=1000)
        for text in rendered.messages:
            assert utf16_len(text) <= 4096
            assert not [p for p in problems(text) if not p.startswith("no visible text")], (problems(text), text[:300])
        if not rendered.has_more:
            break


@settings(max_examples=150, deadline=None)
@given(quote=_long_text, terms=st.lists(_any_text, max_size=5))
def test_highlight_keeps_the_quote_verbatim(quote, terms):
    marked = fmt.highlight(quote, terms)
    assert html.unescape(re.sub(r"</?b>", "", marked)) == unicodedata.normalize("NFC", quote)


@settings(max_examples=100, deadline=None)
@given(name=_any_text, examples=st.lists(_any_text, max_size=5), text=_long_text)
def test_greeting_and_plain_messages_are_valid(name, examples, text):
    for message in (fmt.start_message(5, name or None, examples), fmt.plain(text or "x")):
        assert utf16_len(message) <= 4096
        assert not [p for p in problems(message) if not p.startswith("no visible text")], problems(message)


class _Entity:
    def __init__(self, type_: str, offset: int, length: int, user_id: int | None = None) -> None:
        self.type, self.offset, self.length = type_, offset, length
        self.user = type("U", (), {"id": user_id})() if user_id is not None else None


@settings(max_examples=150, deadline=None)
@given(
    text=_any_text,
    raw=st.lists(
        st.tuples(
            st.sampled_from(["mention", "text_mention", "bold", "bot_command"]),
            st.integers(-5, 400),
            st.integers(0, 50),
        ),
        max_size=5,
    ),
    replied=st.booleans(),
)
def test_addressing_never_raises_on_any_text_and_entities(text, raw, replied):
    entities = [_Entity(kind, offset, length, 42 if kind == "text_mention" else None) for kind, offset, length in raw]
    question = fmt.group_question(text, entities, username="VnDocQA_TestBot", bot_id=42, replied_to_bot=replied)
    assert question is None or isinstance(question, str)
    assert isinstance(fmt.command_argument(text, raw[0][2] if raw else 4), str)
    assert isinstance(fmt.strip_spans(text, fmt.mention_spans(text, entities, None, 42)), str)
