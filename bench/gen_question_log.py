"""Synthetic question log: N realistic rows over ~60 days, and the time a report on them takes.

Usage (from the repository root)::

    .venv/bin/python bench/gen_question_log.py --rows 10000 --out /tmp/questions.sqlite
    .venv/bin/python bench/gen_question_log.py --rows 10000 --html /tmp/report.html --png /tmp/stats.png
    .venv/bin/python bench/gen_question_log.py --rows 10000 --segmenter underthesea

The log
-------
Deterministic for a given ``--seed``. Questions about a catalogue of
``len(ARTICLES)`` Vietnamese news articles (a few are never cited), asked from
private chats, groups, the console and the CLI, more in the day and evening
(Vietnam time) than at night and a little more every week. About 20% are
refused: most of them about a handful of topics the catalogue lacks (gold
prices, the weather, the lottery...), the rest scattered one-off questions;
a few are empty, only question words, or failures. About one answer in eight
gets a vote, mostly 👍; the quotes of two articles get mostly 👎. Latencies
are log-normal (answers ~45 ms, refusals ~30 ms) with a slow tail.

The report
----------
The report over the whole period is built with :func:`bot.insights.report.build_report`
and timed: ``terms`` is a lower-cased syllable splitter (``--segmenter
simple``) or the bot's underthesea segmentation (``--segmenter
underthesea``), ``idf`` an IDF computed over the catalogue's titles and the
answerable questions with the same ``terms`` (words of the missing topics are
mostly unknown to it, as they would be to the real index).
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from retrieval.answer.compose import Outcome  # noqa: E402
from bot.insights.store import (  # noqa: E402
    ChatKind,
    Cited,
    LogDatabase,
    QuestionRow,
    VoteRow,
    new_answer_id,
)

VIETNAM = timedelta(hours=7)

# doc_id, title, and questions the article answers.
ARTICLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "tpthongminh-01",
        "Hà Nội - Phần Lan trao đổi, hợp tác về xây dựng thành phố thông minh",
        (
            "Hà Nội hợp tác với Phần Lan về việc gì?",
            "Bộ trưởng Kinh tế Phần Lan là ai?",
            "Phần Lan giúp Hà Nội xây dựng thành phố thông minh như thế nào?",
        ),
    ),
    (
        "tpthongminh-02",
        "Chủ tịch UBND TP Hà Nội và Đại sứ Mỹ chia sẻ tầm nhìn về TP thông minh",
        ("Đại sứ Mỹ nói gì về thành phố thông minh?", "Tầm nhìn thành phố thông minh của Hà Nội là gì?"),
    ),
    (
        "tpthongminh-03",
        "Hợp tác với Tổ chức Công nghiệp Điện toán Châu Á Thái Bình Dương",
        ("Tổ chức Công nghiệp Điện toán Châu Á Thái Bình Dương hỗ trợ gì?", "ASOCIO là tổ chức gì?"),
    ),
    (
        "tpthongminh-04",
        "Milan hỗ trợ Hà Nội xây dựng đô thị thông minh",
        ("Milan hỗ trợ Hà Nội những gì?", "Đô thị thông minh ở Milan có gì đặc biệt?"),
    ),
    (
        "tpthongminh-05",
        "Đà Nẵng triển khai trung tâm điều hành thành phố thông minh",
        (
            "Trung tâm điều hành thông minh Đà Nẵng khai trương khi nào?",
            "Đà Nẵng đầu tư bao nhiêu cho đô thị thông minh?",
        ),
    ),
    (
        "giaothong-01",
        "TP Hồ Chí Minh thí điểm thu phí ô tô vào trung tâm",
        ("Ô tô vào trung tâm TP Hồ Chí Minh phải trả phí bao nhiêu?", "Khi nào thu phí ô tô vào trung tâm?"),
    ),
    (
        "giaothong-02",
        "Tuyến metro số 1 Bến Thành - Suối Tiên chạy thương mại",
        (
            "Metro Bến Thành Suối Tiên dài bao nhiêu km?",
            "Giá vé metro số 1 là bao nhiêu?",
            "Metro số 1 có bao nhiêu nhà ga?",
        ),
    ),
    (
        "giaothong-03",
        "Hà Nội mở rộng làn đường dành riêng cho xe buýt nhanh",
        ("Xe buýt nhanh BRT chạy tuyến nào?", "Làn đường dành riêng cho xe buýt nhanh dài bao nhiêu?"),
    ),
    (
        "giaothong-04",
        "Đường sắt Cát Linh - Hà Đông đón hành khách",
        ("Đường sắt Cát Linh Hà Đông có bao nhiêu ga?", "Tàu Cát Linh Hà Đông chạy mấy phút một chuyến?"),
    ),
    (
        "yte-01",
        "Bệnh viện Bạch Mai ứng dụng bệnh án điện tử",
        ("Bệnh viện Bạch Mai dùng bệnh án điện tử từ khi nào?", "Bệnh án điện tử giúp gì cho bệnh nhân?"),
    ),
    (
        "yte-02",
        "Bộ Y tế hướng dẫn phòng chống sốt xuất huyết",
        ("Làm sao phòng chống sốt xuất huyết?", "Triệu chứng sốt xuất huyết là gì?"),
    ),
    (
        "yte-03",
        "Khám chữa bệnh từ xa kết nối bệnh viện tuyến huyện",
        ("Khám chữa bệnh từ xa là gì?", "Bao nhiêu bệnh viện tham gia khám chữa bệnh từ xa?"),
    ),
    (
        "giaoduc-01",
        "Hà Nội công bố chỉ tiêu tuyển sinh lớp 10",
        ("Chỉ tiêu tuyển sinh lớp 10 Hà Nội năm nay là bao nhiêu?", "Thi vào lớp 10 Hà Nội mấy môn?"),
    ),
    (
        "giaoduc-02",
        "Trường học số: thí điểm sổ liên lạc điện tử",
        ("Sổ liên lạc điện tử là gì?", "Phụ huynh xem sổ liên lạc điện tử ở đâu?"),
    ),
    (
        "giaoduc-03",
        "Chương trình giáo dục phổ thông mới áp dụng cho lớp 1",
        ("Chương trình giáo dục phổ thông mới bắt đầu khi nào?", "Sách giáo khoa lớp 1 mới có gì thay đổi?"),
    ),
    (
        "moitruong-01",
        "Hà Nội lắp đặt trạm quan trắc không khí tự động",
        ("Hà Nội có bao nhiêu trạm quan trắc không khí?", "Chỉ số chất lượng không khí AQI là gì?"),
    ),
    (
        "moitruong-02",
        "Phân loại rác tại nguồn ở TP Hồ Chí Minh",
        ("Phân loại rác tại nguồn bắt đầu khi nào?", "Rác thải được phân thành mấy loại?"),
    ),
    (
        "moitruong-03",
        "Nhà máy điện rác Sóc Sơn đi vào hoạt động",
        ("Nhà máy điện rác Sóc Sơn xử lý bao nhiêu tấn rác mỗi ngày?", "Nhà máy điện rác Sóc Sơn phát bao nhiêu điện?"),
    ),
    (
        "kinhte-01",
        "Việt Nam thu hút vốn đầu tư nước ngoài tăng mạnh",
        ("Vốn đầu tư nước ngoài vào Việt Nam năm nay là bao nhiêu?", "Nước nào đầu tư nhiều nhất vào Việt Nam?"),
    ),
    (
        "kinhte-02",
        "Thanh toán không dùng tiền mặt tăng trưởng nhanh",
        ("Thanh toán không dùng tiền mặt tăng bao nhiêu phần trăm?", "Ví điện tử nào phổ biến nhất?"),
    ),
    (
        "kinhte-03",
        "Khởi nghiệp sáng tạo: Hà Nội hỗ trợ doanh nghiệp công nghệ",
        ("Hà Nội hỗ trợ doanh nghiệp khởi nghiệp như thế nào?", "Quỹ hỗ trợ khởi nghiệp sáng tạo có bao nhiêu tiền?"),
    ),
    (
        "congnghe-01",
        "Mạng 5G được thử nghiệm tại Hà Nội và TP Hồ Chí Minh",
        ("Mạng 5G thử nghiệm ở đâu?", "Tốc độ mạng 5G là bao nhiêu?"),
    ),
    (
        "congnghe-02",
        "Dịch vụ công trực tuyến mức độ 4",
        ("Dịch vụ công trực tuyến mức độ 4 là gì?", "Làm sao nộp hồ sơ dịch vụ công trực tuyến?"),
    ),
    (
        "congnghe-03",
        "Camera giám sát giao thông thông minh tại các nút giao",
        ("Camera giám sát giao thông phát hiện vi phạm thế nào?", "Có bao nhiêu camera giám sát giao thông?"),
    ),
    (
        "congnghe-04",
        "Căn cước công dân gắn chip",
        ("Căn cước công dân gắn chip có lợi ích gì?", "Làm căn cước công dân gắn chip ở đâu?"),
    ),
    (
        "dulich-01",
        "Phố đi bộ Hồ Gươm thu hút du khách",
        ("Phố đi bộ Hồ Gươm mở vào những ngày nào?", "Phố đi bộ Hồ Gươm có những hoạt động gì?"),
    ),
    (
        "dulich-02",
        "Hội An ứng dụng vé tham quan điện tử",
        ("Vé tham quan Hội An giá bao nhiêu?", "Vé điện tử Hội An mua ở đâu?"),
    ),
    (
        "nangluong-01",
        "Điện mặt trời mái nhà phát triển mạnh",
        ("Điện mặt trời mái nhà được mua giá bao nhiêu?", "Lắp điện mặt trời mái nhà cần thủ tục gì?"),
    ),
    (
        "nangluong-02",
        "Đèn đường LED tiết kiệm điện",
        ("Đèn đường LED tiết kiệm bao nhiêu điện?", "Hà Nội thay bao nhiêu đèn đường LED?"),
    ),
    (
        "nongnghiep-01",
        "Nông nghiệp công nghệ cao ở Lâm Đồng",
        ("Lâm Đồng có bao nhiêu héc ta nông nghiệp công nghệ cao?", "Nông nghiệp công nghệ cao là gì?"),
    ),
    # Never cited: nothing in the log asks about them.
    ("luutru-01", "Số hóa tài liệu lưu trữ lịch sử", ()),
    ("vanhoa-01", "Lễ hội ánh sáng tại hồ Tây", ()),
    ("thethao-01", "Nhà thi đấu đa năng Cầu Giấy hoàn thành", ()),
    ("nhao-01", "Chung cư cũ được cải tạo theo quy hoạch mới", ()),
    ("cap-nuoc-01", "Đồng hồ nước thông minh đọc chỉ số từ xa", ()),
)

# Topics the catalogue lacks: (weight, question templates). The operator should see these as the top
# groups. Slots ({when}, {place}...) are filled at random, so most questions are distinct texts, as in a
# real log (and each is segmented: the report's timing is not flattered by repeats).
MISSING_TOPICS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (
        0.30,
        (
            "Giá vàng {brand} {when} bao nhiêu?",
            "giá vàng {when} thế nào",
            "Giá vàng {brand} bao nhiêu một chỉ?",
            "{when} vàng {brand} tăng hay giảm?",
            "Mua vàng {brand} ở {place} giá tốt không?",
        ),
    ),
    (
        0.22,
        (
            "Thời tiết {place} {when} thế nào?",
            "{when} {place} có mưa không?",
            "Dự báo thời tiết {place} cuối tuần",
            "Bão số {n} đổ bộ vào đâu?",
            "Nhiệt độ {place} {when} bao nhiêu độ?",
        ),
    ),
    (
        0.16,
        (
            "Kết quả xổ số miền {region} {when}",
            "Xổ số Vietlott {when} ra số mấy?",
            "Vé số trúng giải đặc biệt được bao nhiêu?",
            "Xổ số miền {region} thứ {weekday}",
        ),
    ),
    (
        0.12,
        (
            "Học phí đại học {school} là bao nhiêu?",
            "Học phí năm {year} có tăng không?",
            "Học phí trường {school} bao nhiêu một năm?",
        ),
    ),
    (
        0.10,
        (
            "Lịch thi đấu V-League vòng {n}",
            "Đội tuyển Việt Nam đá với {team} khi nào?",
            "Tỉ số trận Việt Nam {team} là bao nhiêu?",
            "Lịch thi đấu bóng đá {when}",
        ),
    ),
    (0.10, ("Tỷ giá đô la {when} bao nhiêu?", "{n} đô la Mỹ bằng bao nhiêu tiền Việt?", "Tỷ giá yên Nhật {when}")),
)
SLOTS = {
    "when": ("hôm nay", "sáng nay", "chiều nay", "tối nay", "ngày mai", "tuần này", "ngày {d}/{m}"),
    "brand": ("SJC", "DOJI", "PNJ", "nhẫn 9999", "Bảo Tín Minh Châu", "Phú Quý"),
    "place": (
        "Hà Nội",
        "TP Hồ Chí Minh",
        "Đà Nẵng",
        "Hải Phòng",
        "Cần Thơ",
        "Huế",
        "Nha Trang",
        "Đà Lạt",
        "Quảng Ninh",
        "Nghệ An",
        "Sa Pa",
        "Vũng Tàu",
    ),
    "region": ("Bắc", "Trung", "Nam"),
    "weekday": ("hai", "ba", "tư", "năm", "sáu", "bảy"),
    "school": ("Bách khoa", "Y Hà Nội", "Kinh tế Quốc dân", "Ngoại thương", "FPT", "RMIT", "Sư phạm"),
    "team": ("Thái Lan", "Indonesia", "Malaysia", "Philippines", "Singapore", "Lào"),
}
# One-off refusals: each asked about once or twice.
SCATTERED = (
    "Công thức nấu phở bò ngon?",
    "Ai là người giàu nhất Việt Nam?",
    "Cách đổi giấy phép lái xe quốc tế",
    "Vì sao bầu trời màu xanh?",
    "Bitcoin hôm nay giá bao nhiêu?",
    "Chuyến bay Hà Nội Phú Quốc mất mấy tiếng?",
    "Cách chữa mất ngủ",
    "Điểm chuẩn lớp 10 chuyên Amsterdam năm ngoái",
    "Giờ mở cửa lăng Bác",
    "Tiền điện tháng này tính thế nào?",
    "Lương tối thiểu vùng 1 là bao nhiêu?",
    "Cách làm hộ chiếu online",
)
VAGUE = ("là gì?", "bao nhiêu", "ở đâu vậy", "như thế nào?")
PREFIXES = ("", "", "", "Cho mình hỏi ", "Bot ơi, ", "Xin hỏi ", "Cho tôi hỏi ")
DISLIKED_DOCS = {"kinhte-02", "yte-03"}  # their quotes mostly get 👎


def simple_terms(text: str) -> list[str]:
    """Lower-cased syllables: the bench's stand-in for word segmentation."""
    return re.findall(r"\w+", text.lower())


# Everyday words any news index knows (low IDF), whether or not the catalogue uses them.
EVERYDAY = (
    "là",
    "gì",
    "ai",
    "nào",
    "đâu",
    "sao",
    "mấy",
    "bao nhiêu",
    "khi nào",
    "có",
    "không",
    "của",
    "và",
    "với",
    "các",
    "những",
    "được",
    "cho",
    "trong",
    "tại",
    "ở",
    "về",
    "từ",
    "đến",
    "thì",
    "mà",
    "này",
    "đó",
    "vậy",
    "ơi",
    "nhé",
    "một",
    "để",
    "theo",
    "đã",
    "đang",
    "sẽ",
    "hay",
    "hoặc",
    "cũng",
    "như",
    "làm",
    "hôm nay",
    "ngày mai",
    "ngày",
    "tuần",
    "tháng",
    "năm",
    "tối nay",
    "sáng nay",
    "chiều nay",
    "thứ",
    "hỏi",
    "xin",
    "mình",
    "bạn",
    "tôi",
    "người",
    "tăng",
    "giảm",
    "tốt",
    "mua",
    "bán",
    "giá",
    "tiền",
    "số",
    "đội",
    "học",
    "trường",
    "đại học",
    "mới",
    "cũ",
    "lớn",
    "nhỏ",
    "nhất",
    "thế nào",
    "như thế nào",
    "Việt Nam",
    "Hà Nội",
    "TP Hồ Chí Minh",
    "Đà Nẵng",
)


def bench_idf(terms: Callable[[str], Sequence[str]]) -> Callable[[str], float | None]:
    """IDF over the catalogue (titles and answerable questions, one document each) by ``terms``;
    EVERYDAY words have the IDF of a word in most documents; ``None`` for any other word
    ("bot", "vàng", "xổ số"): the index has never seen it."""
    docs = [title for _, title, _ in ARTICLES] + [q for _, _, qs in ARTICLES for q in qs]
    df = Counter(w for d in docs for w in set(terms(d)))
    n = len(docs)
    table = {w: math.log((n - k + 0.5) / (k + 0.5) + 1) for w, k in df.items()}
    for word in EVERYDAY:
        for term in terms(word):
            table.setdefault(term, 0.1)
    return table.get


def catalogue() -> list[tuple[str, str]]:
    """The ``(doc_id, title)`` pairs the bench's report is built with."""
    return [(doc_id, title) for doc_id, title, _ in ARTICLES]


def _when(rng: random.Random, end: datetime, days: int) -> datetime:
    """A time in the ``days`` days before ``end``: more recent days a little busier, weekends a little
    quieter, Vietnam's daytime and evening much busier than the night."""
    while True:
        # Half spread evenly, half with a density growing towards ``end``: use picks up.
        day = days * (rng.random() if rng.random() < 0.5 else 1 - math.sqrt(rng.random()))
        at = end - timedelta(days=day)
        local = at + VIETNAM
        busy = 0.15 if local.hour < 6 else 1.0 if 8 <= local.hour < 23 else 0.5
        if local.weekday() >= 5:
            busy *= 0.7
        if rng.random() < busy:
            return at


def _fill(rng: random.Random, template: str) -> str:
    """``template`` with its slots filled at random."""

    def pick(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in SLOTS:
            return _fill(rng, rng.choice(SLOTS[name]))
        return str(
            {
                "n": rng.randint(1, 12),
                "d": rng.randint(1, 28),
                "m": rng.randint(1, 12),
                "year": rng.randint(2024, 2027),
            }[name]
        )

    return re.sub(r"\{(\w+)\}", pick, template)


def _vary(rng: random.Random, question: str) -> str:
    """How people type: a polite prefix, lower case, no question mark."""
    text = rng.choice(PREFIXES) + (question[0].lower() + question[1:] if rng.random() < 0.3 else question)
    return text.rstrip("?") if rng.random() < 0.2 else text


def generate(
    rows: int, *, days: int = 60, seed: int = 1, end: datetime | None = None
) -> tuple[list[QuestionRow], list[VoteRow]]:
    """``rows`` questions and their votes (deterministic for ``seed``)."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC)
    answerable = [(doc_id, title, q) for doc_id, title, qs in ARTICLES for q in qs]
    weights = [1 / (1 + i) ** 0.6 for i in range(len(answerable))]  # some articles far more asked about
    users = list(range(10_000_001, 10_000_801))
    groups = [-1_001_000_000_000 - i for i in range(20)]
    questions: list[QuestionRow] = []
    votes: list[VoteRow] = []
    for _ in range(rows):
        at = _when(rng, end, days)
        kind = rng.choices(list(ChatKind), weights=(60, 30, 8, 2))[0]
        user = rng.choice(users) if kind in (ChatKind.PRIVATE, ChatKind.GROUP) else None
        chat = user if kind is ChatKind.PRIVATE else rng.choice(groups) if kind is ChatKind.GROUP else None
        roll = rng.random()
        cited: tuple[Cited, ...] = ()
        if roll < 0.78:
            doc_id, title, text = rng.choices(answerable, weights=weights)[0]
            others = rng.sample(answerable, k=rng.choice((0, 1, 2)))
            cited = tuple(
                Cited(d, round(rng.uniform(8, 25) * (0.9**k), 3), f"{t}: trích đoạn trả lời câu hỏi.")
                for k, (d, t, _) in enumerate([(doc_id, title, text), *others])
            )
            reason, latency = Outcome.ANSWERED, rng.lognormvariate(math.log(45), 0.5)
        elif roll < 0.78 + 0.17:
            topic = rng.choices(MISSING_TOPICS, weights=[w for w, _ in MISSING_TOPICS])[0][1]
            text = _fill(rng, rng.choice(topic)) if rng.random() < 0.88 else rng.choice(SCATTERED)
            reason, latency = Outcome.NOT_FOUND, rng.lognormvariate(math.log(30), 0.5)
        elif roll < 0.995:
            text, reason = rng.choice(VAGUE), Outcome.NO_CONTENT
            latency = rng.lognormvariate(math.log(8), 0.4)
        else:
            text, reason, latency = "Cho hỏi về metro số 1", Outcome.ERROR, rng.uniform(100, 900)
        if rng.random() < 0.01:
            latency *= 20  # the slow tail: a cold cache, a busy machine
        row = QuestionRow(
            answer_id=new_answer_id(),
            at=at,
            kind=kind,
            user=user,
            chat=chat,
            question=_vary(rng, text),
            answered=reason is Outcome.ANSWERED,
            reason=reason,
            cited=cited,
            latency_ms=latency,
        )
        questions.append(row)
        if cited and user is not None and rng.random() < 0.125:
            bad = cited[0].doc_id in DISLIKED_DOCS
            value = -1 if rng.random() < (0.75 if bad else 0.12) else 1
            votes.append(VoteRow(row.answer_id, user, value, at + timedelta(seconds=rng.uniform(5, 600))))
    return questions, votes


def write_log(path: Path, questions: Sequence[QuestionRow], votes: Sequence[VoteRow]) -> None:
    db = LogDatabase(path)
    try:
        for i in range(0, len(questions), 5000):
            db.write(questions[i : i + 5000])
        db.write(votes=votes)
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="the SQLite file (default: a temporary one); replaced")
    parser.add_argument("--segmenter", choices=("simple", "underthesea"), default="simple")
    parser.add_argument("--html", type=Path, help="write the HTML report here")
    parser.add_argument("--png", type=Path, help="write the /stats chart here")
    args = parser.parse_args(argv)

    from bot.insights.render import render_chart_png, to_html, to_json, to_text
    from bot.insights.report import build_report

    workdir = tempfile.TemporaryDirectory()
    path = args.out or Path(workdir.name) / "questions.sqlite"
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    questions, votes = generate(args.rows, days=args.days, seed=args.seed)
    write_log(path, questions, votes)
    print(
        f"generated {len(questions):,} questions and {len(votes):,} votes over {args.days} days "
        f"in {time.perf_counter() - started:.2f}s -> {path} ({path.stat().st_size / 1e6:.1f} MB)"
    )

    if args.segmenter == "underthesea":  # as the bot would call it: content words of its segmentation
        from retrieval.answer.compose import Composer
        from retrieval.config import load_config
        from retrieval.text.segment import Segmenter

        cfg = load_config(REPO / "config.yaml")
        composer, segmenter = Composer(cfg.answer, cfg.retrieval), Segmenter()
        segmenter.warm_up()  # the model's load time is start-up, not report time

        def terms(text: str) -> list[str]:
            return composer.content_terms(segmenter.terms(text))
    else:
        terms = simple_terms
    idf = bench_idf(terms)
    articles = catalogue()
    started = time.perf_counter()
    report = build_report(str(path), timedelta(days=args.days + 1), terms, idf, articles)  # whole days
    built = time.perf_counter() - started
    print(f"report on {report.questions:,} questions ({args.segmenter} segmentation) built in {built:.2f}s")
    for name, render in (("json", to_json), ("text", to_text), ("html", to_html)):
        started = time.perf_counter()
        output = render(report)
        print(f"  to_{name}: {time.perf_counter() - started:.3f}s, {len(output.encode()):,} bytes")
        if name == "html" and args.html:
            args.html.write_text(output, encoding="utf-8")
    started = time.perf_counter()
    png = render_chart_png(report)
    print(f"  render_chart_png: {time.perf_counter() - started:.2f}s, {len(png):,} bytes")
    if args.png:
        args.png.write_bytes(png)
    print()
    print(to_text(report))
    workdir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
