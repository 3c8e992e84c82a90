"""Everything a user reads, in Vietnamese, as plain text (console, CLI ``message``).

The Telegram front end renders the same :class:`~retrieval.answer.compose.Result`
as HTML with its own formatter; the wording lives here.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.answer.compose import Answer, Suggestion
from retrieval.ingest.corpus import Article

REFUSAL = (
    "Xin lỗi, tôi không tìm thấy câu trả lời cho câu hỏi này trong các bài viết hiện có. "
    "Bạn thử diễn đạt lại câu hỏi (dùng từ ngữ có trong bài), hoặc gõ /sources để xem danh sách bài viết."
)
EMPTY = "Bạn hãy nhập một câu hỏi bằng tiếng Việt về nội dung các bài viết (gõ /sources để xem danh sách bài)."
NO_CONTENT = (
    "Câu hỏi chưa nói rõ bạn muốn hỏi về điều gì. Bạn hãy hỏi cụ thể hơn, "
    "ví dụ nêu tên người, nơi chốn hay sự việc cần hỏi."
)
TRUNCATED = "(Câu hỏi quá dài nên chỉ {limit} ký tự đầu được dùng.)"
SUGGESTIONS_INTRO = "Các bài viết gần nhất với câu hỏi:"
ANSWER_INTRO = "Theo các bài viết:"
ERROR = "Xin lỗi, đã có lỗi khi xử lý câu hỏi. Bạn hãy thử lại sau."

CONSOLE_HELP = """Gõ câu hỏi bằng tiếng Việt rồi nhấn Enter. Các lệnh:
  /help     xem hướng dẫn này
  /sources  danh sách các bài viết
  /good     câu trả lời vừa rồi hữu ích
  /bad      câu trả lời vừa rồi không đúng hoặc không hữu ích
  /quit     thoát (hoặc Ctrl-D)"""
NOTHING_TO_RATE = "Chưa có câu trả lời nào để đánh giá."
RATED_GOOD = "Đã ghi nhận 👍 cho câu trả lời vừa rồi. Cảm ơn bạn!"
RATED_BAD = "Đã ghi nhận 👎 cho câu trả lời vừa rồi. Cảm ơn bạn đã góp ý!"
CONSOLE_WELCOME = "Hỏi đáp về {n} bài viết. Gõ /help để xem hướng dẫn, /quit để thoát."
SOURCES_TITLE = "Các bài viết ({n}):"
PAGE = "trang {page}"
SECTION = "mục “{section}”"


def format_date(iso: str | None) -> str | None:
    """ISO ``2018-10-15`` -> ``15/10/2018`` (how dates are written in Vietnamese)."""
    if not iso:
        return None
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def citation(
    title: str, source: str | None, date: str | None, *, page: int | None = None, section: str | None = None
) -> str:
    """``Title (Source, 15/10/2018, trang 3)`` or ``… , mục “2. Yêu cầu”)``: what the document
    tells; missing parts are left out. The one place a citation is worded (console, CLI, Telegram)."""
    where = [PAGE.format(page=page) if page else None, SECTION.format(section=section) if section else None]
    extra = ", ".join(x for x in (source, format_date(date), *where) if x)
    return f"{title} ({extra})" if extra else title


def answer_text(answers: Sequence[Answer]) -> str:
    lines = [ANSWER_INTRO]
    for n, a in enumerate(answers, start=1):
        lines.append("")
        lines.append(f"{n}. «{a.quote}»")
        lines.append(f"   — {citation(a.title, a.source, a.date, page=a.page, section=a.section)}")
        if a.url:
            lines.append(f"   {a.url}")
    return "\n".join(lines)


def refusal_text(suggestions: Sequence[Suggestion]) -> str:
    """The refusal, naming the articles closest to the question when there are any."""
    if not suggestions:
        return REFUSAL
    return "\n".join([REFUSAL, "", SUGGESTIONS_INTRO, *(f"- {s.title}" for s in suggestions)])


def sources_text(articles: Sequence[Article]) -> str:
    lines = [SOURCES_TITLE.format(n=len(articles))]
    for n, a in enumerate(articles, start=1):
        lines.append(f"{n}. {citation(a.title, a.source, a.date)}")
    return "\n".join(lines)
