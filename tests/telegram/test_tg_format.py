"""Unit tests of bot.telegram.format: HTML rendering, splitting, mentions, highlighting."""

from __future__ import annotations

import html
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.telegram import format as fmt
from retrieval.answer.compose import Answer, Outcome, Result
from tg_html import assert_valid, problems, visible_text


def make_answer(quote: str = "Hà Nội có gần 10 triệu người.", **kw) -> Answer:
    fields = dict(
        doc_id="d1", title="Hà Nội phát triển", source="Báo Công luận", date="2018-10-15", url=None, score=5.0
    )
    fields.update(kw)
    return Answer(quote=quote, **fields)


def make_result(answers=(), *, answered: bool | None = None, message: str = "msg", truncated: bool = False) -> Result:
    answered = bool(answers) if answered is None else answered
    outcome = Outcome.ANSWERED if answered else Outcome.NOT_FOUND
    return Result(question="q", answers=tuple(answers), message=message, outcome=outcome, truncated=truncated)


def entity(kind: str, offset: int, length: int, user_id: int | None = None):
    return SimpleNamespace(
        type=kind, offset=offset, length=length, user=SimpleNamespace(id=user_id) if user_id is not None else None
    )


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- UTF-16 offsets and mentions ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units", "index"),
    [
        ("abc", 0, 0),
        ("abc", 2, 2),
        ("abc", 9, 3),
        ("😀a", 2, 1),  # the emoji is two UTF-16 units
        ("😀a", 3, 2),
        ("Hà Nội 🇻🇳 x", 9, 8),  # a flag is two astral characters (4 units)
        ("Hà Nội 🇻🇳 x", 11, 9),
        ("Hà Nội 🇻🇳 x", 10, 9),  # inside a surrogate pair: the next character
    ],
)
def test_utf16_to_index(text, units, index):
    assert fmt.utf16_to_index(text, units) == index


def test_utf16_len_counts_astral_characters_twice():
    assert fmt.utf16_len("Hà Nội") == 6
    assert fmt.utf16_len("😀🇻🇳") == 6


def test_mention_after_emoji_is_found_and_stripped():
    text = "Chào 👋🏽 bạn 😀 @VnDocQA_Bot Hà Nội có bao nhiêu dân?"
    start = text.index("@")
    ents = [entity("mention", utf16(text[:start]), utf16("@VnDocQA_Bot"))]
    spans = fmt.mention_spans(text, ents, "vndocqa_bot", bot_id=1)
    assert [text[s:e] for s, e in spans] == ["@VnDocQA_Bot"]
    assert fmt.strip_spans(text, spans) == "Chào 👋🏽 bạn 😀 Hà Nội có bao nhiêu dân?"


def test_python_offsets_would_be_wrong_with_emoji():
    # Guard: if offsets were used as Python indices the slice would miss the mention.
    text = "😀😀 @bot hỏi"
    off = utf16("😀😀 ")
    assert text[off : off + 4] != "@bot"
    assert fmt.mention_spans(text, [entity("mention", off, 4)], "bot", 1) == [(3, 7)]


def test_mention_of_another_bot_is_ignored():
    text = "@other_bot Hà Nội có bao nhiêu dân?"
    assert fmt.mention_spans(text, [entity("mention", 0, 10)], "VnDocQA_Bot", 1) == []
    assert (
        fmt.group_question(text, [entity("mention", 0, 10)], username="VnDocQA_Bot", bot_id=1, replied_to_bot=False)
        is None
    )


def test_text_mention_by_user_id():
    text = "Hỏi Đáp ơi, Đại sứ Mỹ tên là gì?"
    ents = [entity("text_mention", 0, utf16("Hỏi Đáp")), entity("text_mention", 0, 3, user_id=42)]
    ents[0].user = SimpleNamespace(id=42)
    spans = fmt.mention_spans(text, ents[:1], "bot", bot_id=42)
    assert spans == [(0, 7)]
    assert fmt.strip_spans(text, spans) == "ơi, Đại sứ Mỹ tên là gì?"
    assert fmt.mention_spans(text, [entity("text_mention", 0, 7, user_id=43)], "bot", bot_id=42) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@bot, Hà Nội có bao nhiêu dân?", "Hà Nội có bao nhiêu dân?"),
        ("Hà Nội có bao nhiêu dân @bot", "Hà Nội có bao nhiêu dân"),
        ("Cho hỏi @bot   Hà Nội có bao nhiêu dân?", "Cho hỏi Hà Nội có bao nhiêu dân?"),
        ("@bot", ""),
        ("@BOT: dân số?", "dân số?"),
    ],
)
def test_group_question_strips_the_mention(text, expected):
    start = text.casefold().index("@bot")
    ents = [entity("mention", utf16(text[:start]), 4)]
    assert fmt.group_question(text, ents, username="Bot", bot_id=1, replied_to_bot=False) == expected


def test_group_question_reply_without_mention():
    assert fmt.group_question("Còn Đà Nẵng?", [], username="bot", bot_id=1, replied_to_bot=True) == "Còn Đà Nẵng?"
    assert fmt.group_question("Chuyện phiếm", [], username="bot", bot_id=1, replied_to_bot=False) is None
    assert fmt.group_question(None, [], username="bot", bot_id=1, replied_to_bot=True) is None


@pytest.mark.parametrize(
    ("text", "length", "expected"),
    [
        ("/ask Hà Nội có bao nhiêu dân?", 4, "Hà Nội có bao nhiêu dân?"),
        ("/ask@VnDocQA_Bot   Đại sứ Mỹ?  ", 16, "Đại sứ Mỹ?"),
        ("/ask", 4, ""),
        ("/ask\ndòng hai", 4, "dòng hai"),
    ],
)
def test_command_argument(text, length, expected):
    assert fmt.command_argument(text, length) == expected


# --- Highlighting -------------------------------------------------------------------------


def test_highlight_bolds_content_words_and_merges_runs():
    quote = "Bộ trưởng Bộ Kinh tế Phần Lan\xa0bày tỏ vui mừng."
    out = fmt.highlight(quote, ["bộ_trưởng", "bộ", "kinh_tế", "phần", "lan"])
    assert out.startswith("<b>Bộ trưởng Bộ Kinh tế Phần Lan</b>")
    assert "vui mừng" in out and out.count("<b>") == 1


def test_highlight_matches_by_normalized_form():
    # NFD input, other case, other tone placement ("hoà" vs "hòa").
    import unicodedata

    quote = unicodedata.normalize("NFD", "Quan hệ HOÀ BÌNH giữa hai nước.")
    out = fmt.highlight(quote, ["hòa_bình"])
    assert "<b>HOÀ BÌNH</b>" in unicodedata.normalize("NFC", out)


def test_highlight_needs_the_whole_term():
    out = fmt.highlight("Hà Nội và Hà Giang", ["hà_nội"])
    assert out == "<b>Hà Nội</b> và Hà Giang"


def test_highlight_terms_with_inner_punctuation():
    out = fmt.highlight("Ngày 15/10, công suất 1.200 MW; COVID-19 lùi.", ["15/10", "1.200", "covid-19", "10"])
    assert "<b>15/10</b>" in out and "<b>1.200</b>" in out and "<b>COVID-19</b>" in out


def test_highlight_escapes_text():
    out = fmt.highlight('a <script> & "b" Hà Nội', ["hà_nội", "script"])
    assert "&lt;<b>script</b>&gt; &amp;" in out
    assert_valid(out)


def test_highlight_without_terms_is_plain_escape():
    assert fmt.highlight("x < y", []) == "x &lt; y"


# --- Answer rendering -----------------------------------------------------------------------


def test_answer_block_quote_and_citation():
    block = fmt.answer_block(make_answer(url="https://example.vn/a?x=1&y=2"), ["hà_nội"], number=2)
    assert block.startswith("<blockquote>2. <b>Hà Nội</b> có gần 10 triệu người.</blockquote>")
    assert '— <a href="https://example.vn/a?x=1&amp;y=2">Hà Nội phát triển (Báo Công luận, 15/10/2018)</a>' in block
    assert_valid(block)


def test_answer_block_cites_the_page_or_section():
    assert "— Hà Nội phát triển (Báo Công luận, 15/10/2018, trang 3)" in fmt.answer_block(make_answer(page=3), [])
    block = fmt.answer_block(make_answer(section="Điều 1. <Thành lập>"), [])
    assert "mục “Điều 1. &lt;Thành lập&gt;”" in block
    assert_valid(block)


def test_answer_block_long_quote_is_expandable():
    block = fmt.answer_block(make_answer("Câu dài. " * 60), [])
    assert block.startswith("<blockquote expandable>")
    assert_valid(block)


def test_answer_block_escapes_article_fields_and_skips_unsafe_urls():
    a = make_answer("x <b>y</b> & z", title="<i>T</i> & co", source="A<B", date=None, url="javascript:alert(1)")
    block = fmt.answer_block(a, [])
    assert "javascript" not in block and "<a " not in block
    assert "&lt;b&gt;y&lt;/b&gt; &amp; z" in block and "&lt;i&gt;T&lt;/i&gt; &amp; co (A&lt;B)" in block
    assert_valid(block)


def test_result_page_numbering_and_pages():
    answers = [make_answer(f"Câu số {i} về Hà Nội.", doc_id=f"d{i}") for i in range(1, 8)]
    result = make_result(answers)
    first = fmt.result_page(result, ["hà_nội"], page=0, per_page=3)
    assert first.has_more and len(first.messages) == 1
    text = first.messages[0]
    assert text.startswith("<b>Theo các bài viết:</b>")
    assert "<blockquote>1. " in text and "<blockquote>3. " in text and "<blockquote>4. " not in text
    third = fmt.result_page(result, [], page=2, per_page=3)
    assert not third.has_more and "<blockquote>7. " in third.messages[0]
    assert fmt.result_page(result, [], page=3, per_page=3).messages == (fmt.NO_MORE,)


def test_single_answer_is_not_numbered():
    page = fmt.result_page(make_result([make_answer()]), [])
    assert "<blockquote>Hà Nội" in page.messages[0] and not page.has_more


def test_refusal_is_the_escaped_message():
    page = fmt.result_page(make_result(message="Xin lỗi <không> & /sources", answered=False), ["x"])
    assert page.messages == ("Xin lỗi &lt;không&gt; &amp; /sources",) and not page.has_more


def test_truncated_question_gets_a_note():
    page = fmt.result_page(make_result([make_answer()], truncated=True), [], max_question_chars=1000)
    assert page.messages[0].startswith("<i>(Câu hỏi quá dài nên chỉ 1000 ký tự đầu được dùng.)</i>")


def test_many_long_answers_split_between_blocks():
    answers = [make_answer("Một câu rất dài về Hà Nội. " * 60, doc_id=f"d{i}") for i in range(6)]
    page = fmt.result_page(make_result(answers), ["hà_nội"], per_page=6)
    assert len(page.messages) >= 2
    for text in page.messages:
        assert_valid(text)
        assert text.count("<blockquote") == text.count("</blockquote>")
    assert sum(t.count("<blockquote") for t in page.messages) == 6


def test_one_huge_quote_is_cut_with_tags_closed():
    page = fmt.result_page(make_result([make_answer("Hà Nội & <x> " * 800)]), ["hà_nội"])
    (text,) = page.messages
    assert utf16(text) <= 4096 and fmt.ELLIPSIS in text
    assert_valid(text)


def test_sources_and_start_and_help_are_valid():
    from retrieval.ingest.corpus import Article

    arts = [
        SimpleNamespace(
            title=f"Bài <{i}> & co", source="Nguồn", date="2020-01-0" + str(i % 9 + 1), url="https://x.vn/" + str(i)
        )
        for i in range(400)
    ]
    msgs = fmt.sources_messages(arts)  # type: ignore[arg-type]
    assert len(msgs) > 1
    for m in msgs:
        assert_valid(m)
    assert "400. " in msgs[-1]
    assert Article  # the real type is what the bot passes
    assert_valid(fmt.start_message(5, "<Lan>", ["Hà Nội có bao nhiêu dân?", "A & B?"]))
    assert_valid(fmt.help_message("VnDocQA_Bot"))
    assert "@VnDocQA_Bot" in fmt.help_message("VnDocQA_Bot")


# --- Splitting -------------------------------------------------------------------------------


def test_pack_blocks_never_splits_a_block():
    blocks = [f"<b>{i}</b> " + "x" * 1500 for i in range(7)]
    msgs = fmt.pack_blocks(blocks)
    assert all(utf16(m) <= 4096 for m in msgs)
    assert sum(m.count("<b>") for m in msgs) == 7
    assert all(m.count("<b>") == m.count("</b>") for m in msgs)


def test_pack_blocks_counts_utf16_units():
    blocks = ["😀" * 1500, "😀" * 1500]  # 3000 units each
    msgs = fmt.pack_blocks(blocks)
    assert len(msgs) == 2


def test_truncate_html_prefers_word_boundary_and_keeps_entities():
    text = "<blockquote>" + "chữ &amp; " * 1000 + "</blockquote>"
    cut = fmt.truncate_html(text, 200)
    assert utf16(cut) <= 200 and cut.endswith("…</blockquote>")
    assert "&am…" not in cut and not cut.split("</blockquote>")[0].endswith("&…")
    assert_valid(cut)


def test_truncate_html_drops_tags_that_would_be_empty():
    text = "a" * 50 + "<b><i>" + "b" * 100 + "</i></b>"
    cut = fmt.truncate_html(text, 56)
    assert "<b>" not in cut and cut.endswith("…")


def test_truncate_html_short_text_unchanged():
    assert fmt.truncate_html("<b>x</b>", 100) == "<b>x</b>"


# Generated HTML the way the formatter builds it: escaped text in allowed, nested tags.
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=300)


@st.composite
def html_blocks(draw, depth: int = 0):
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "b", "i", "a", "bq"] if depth < 2 else ["text"]))
        inner = html.escape(draw(_text), quote=False)
        if kind == "text":
            parts.append(inner)
        elif kind == "a":
            parts.append(f'<a href="https://x.vn/?a=1&amp;b=2">{inner}</a>')
        elif kind == "bq" and depth == 0:
            tag = draw(st.sampled_from(["blockquote", "blockquote expandable"]))
            parts.append(f"<{tag}>{draw(html_blocks(depth + 1))}</blockquote>")
        else:
            name = "b" if kind in {"b", "bq"} else "i"
            parts.append(f"<{name}>{draw(html_blocks(depth + 1))}</{name}>")
    return "".join(parts)


@settings(max_examples=150, deadline=None)
@given(block=html_blocks(), limit=st.integers(20, 600))
def test_truncate_html_is_always_valid_and_short(block, limit):
    cut = fmt.truncate_html(block, limit)
    assert utf16(cut) <= limit
    issues = [p for p in problems(cut) if not p.startswith("no visible text")]
    assert not issues, (issues, cut)
    # What is kept is a prefix of what was written.
    assert visible_text(block).startswith(visible_text(cut).rstrip("…").rstrip()[:50].rstrip())


@settings(max_examples=60, deadline=None)
@given(blocks=st.lists(html_blocks(), min_size=1, max_size=12), limit=st.integers(300, 4096))
def test_pack_blocks_always_valid_and_short(blocks, limit):
    for text in fmt.pack_blocks(blocks, limit):
        assert utf16(text) <= limit
        issues = [p for p in problems(text) if not p.startswith("no visible text")]
        assert not issues, (issues, text)
