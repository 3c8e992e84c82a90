"""Vietnamese word lists behind the default settings (:mod:`retrieval.config`).

They are language facts, not tuning: question words and particles, function
words, titles and surnames that mark a person, words that make a sentence lean on
the one before it, and the boilerplate markers of Vietnamese news sites. Every
list can be replaced in ``config.yaml`` (``python -m bot config`` shows the
effective values); these are what the code uses when it does not.

One module past 400 lines because it is data: the language's word lists, read together,
each the default of the config key that can replace it.
"""

from __future__ import annotations

# A line equal to one of these starts a site's related-news, comment or footer area.
CUT_MARKERS: tuple[str, ...] = (
    "Tin khác",
    "Tin liên quan",
    "Tin cùng chuyên mục",
    "Bài liên quan",
    "Bài viết liên quan",
    "Có thể bạn quan tâm",
    "Nên xem",
    "Đọc thêm",
    "Xem thêm",
    "Các bài mới đăng",
    "Các bài đã đăng",
    "Viết bình luận",
    "Bình luận",
    "Ý kiến bạn đọc",
    "Gửi bình luận",
    "Phiên bản di động",
)


# Lines dropped wherever they are (regular expressions, case-insensitive): captions with their
# credit, form fields.
DROP_LINE_PATTERNS: tuple[str, ...] = (
    r"\bẢnh\s*:",
    r"\|\s*$",
    r"^\s*\(?\s*ảnh\s*(minh họa|minh hoạ)\s*\)?\s*$",
    r"^[^.!?]{1,40}:\s*(\(\*\))?\s*$",
)


# Source credit lines; group `source` is the name.
SOURCE_LINE_PATTERNS: tuple[str, ...] = (
    r"^\s*\(?theo\s+(?P<source>[^.!?]+?)\)?\s*$",
    r"^\s*(?P<source>(báo|tạp chí|cổng thông tin điện tử|thông tấn xã|đài truyền hình|đài phát thanh)\s+[^.!?]+?)\s*$",
    r"^\s*nguồn\s*:\s*(?P<source>.+?)\s*$",
)


# Agency tags that open a lead paragraph, and the source they stand for.
SOURCE_ALIASES: dict[str, str] = {
    "CLO": "Báo Công luận",
    "HNP": "Cổng thông tin điện tử Hà Nội",
    "TTXVN": "Thông tấn xã Việt Nam",
    "VOV": "Đài Tiếng nói Việt Nam",
}


# Question words and chat particles: left out of the scores.
QUESTION_WORDS: tuple[str, ...] = (
    "là",
    "gì",
    "ai",
    "nào",
    "đâu",
    "sao",
    "mấy",
    "bao_nhiêu",
    "bao_giờ",
    "khi_nào",
    "ở_đâu",
    "thế_nào",
    "như_thế_nào",
    "tại_sao",
    "vì_sao",
    "nhỉ",
    "vậy",
    "hả",
    "ạ",
    "à",
    "ơi",
    "nhé",
    "làm_sao",
    "bao_lâu",
    "nhiêu",
    "bao",
)


# Abbreviations people type, and what they stand for (added to a question that uses them).
ABBREVIATIONS: dict[str, str] = {
    "HN": "Hà Nội",
    "TP": "thành phố",
    "TPHCM": "Thành phố Hồ Chí Minh",
    "HCM": "Hồ Chí Minh",
    "UBND": "Ủy ban nhân dân",
    "HĐND": "Hội đồng nhân dân",
    "CNTT": "công nghệ thông tin",
    "TTHC": "thủ tục hành chính",
    "TT&TT": "Thông tin và Truyền thông",
    "TTTT": "Thông tin và Truyền thông",
    "KT-XH": "kinh tế - xã hội",
    "CQĐT": "chính quyền điện tử",
    "CPĐT": "chính phủ điện tử",
    "DN": "doanh nghiệp",
    "VN": "Việt Nam",
    "ĐH": "đại học",
    "BCĐ": "Ban Chỉ đạo",
    "NQ": "Nghị quyết",
}


# Titles next to a capitalised run that make it a person.
PERSON_TITLES: tuple[str, ...] = (
    "ông",
    "bà",
    "ngài",
    "anh",
    "chị",
    "cô",
    "chú",
    "đồng chí",
    "đại sứ",
    "chủ tịch",
    "phó chủ tịch",
    "bộ trưởng",
    "thứ trưởng",
    "giám đốc",
    "tổng giám đốc",
    "tổng thống",
    "thủ tướng",
    "bí thư",
    "trưởng ban",
    "tiến sĩ",
    "giáo sư",
    "kỹ sư",
    "bác sĩ",
    "nhà văn",
    "ca sĩ",
    "vua",
    "hoàng đế",
    "tướng",
    "linh mục",
    "giáo hoàng",
    "nghệ sĩ",
    "nhạc sĩ",
    "họa sĩ",
    "luật sư",
)


# Common surnames that open a person's name (those that are also common place-name syllables left
# out).
SURNAMES: tuple[str, ...] = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Trương",
    "Đinh",
    "Trịnh",
    "Đoàn",
    "Lương",
    "Tạ",
    "Lưu",
    "Tô",
    "Quách",
    "Thái",
)


# Words after which a capitalised run is a place, never a person.
PLACE_TITLES: tuple[str, ...] = (
    "TP",
    "thành phố",
    "tỉnh",
    "quận",
    "huyện",
    "thị xã",
    "xã",
    "phường",
    "đường",
    "phố",
    "sông",
    "núi",
    "hồ",
    "biển",
    "đảo",
    "vịnh",
    "nước",
    "quốc gia",
    "thủ đô",
    "vùng",
    "miền",
    "châu",
    "bang",
    "làng",
)


# Question and function words: they say nothing about what a question is about.
STOPWORDS: tuple[str, ...] = (
    "là",
    "gì",
    "ai",
    "nào",
    "đâu",
    "sao",
    "mấy",
    "bao_nhiêu",
    "bao_giờ",
    "khi_nào",
    "ở_đâu",
    "thế_nào",
    "như_thế_nào",
    "tại_sao",
    "vì_sao",
    "có",
    "không",
    "của",
    "và",
    "với",
    "các",
    "những",
    "được",
    "bị",
    "cho",
    "trong",
    "tại",
    "ở",
    "về",
    "từ",
    "đến",
    "tới",
    "thì",
    "mà",
    "này",
    "đó",
    "ấy",
    "nhỉ",
    "vậy",
    "hả",
    "ạ",
    "à",
    "ơi",
    "nhé",
    "một",
    "để",
    "do",
    "bởi",
    "theo",
    "trên",
    "dưới",
    "đã",
    "đang",
    "sẽ",
    "rồi",
    "còn",
    "hay",
    "hoặc",
    "cũng",
    "như",
    "làm_sao",
    "bao_lâu",
    "hôm_nay",
    "tên",
    "gọi",
    "người",
    "nhiêu",
    "bao",
    "khi",
    # Phrases of asking: how a question is put, not what it is about. Only words whose syllables,
    # without diacritics, are not also common content ("nói" would drop "nội", "hỏi" "hội").
    "gọi_là",
    "điều",
    "những_gì",
    "ra_sao",
    "phải",
    "biết",
    "cho_biết",
    "giúp",
    "xin",
    "ad",
    "admin",
)


# A sentence that opens with one of these is quoted with the sentence before it.
DEPENDENT_OPENERS: tuple[str, ...] = (
    "Theo đó",
    "Trong đó",
    "Vì vậy",
    "Do đó",
    "Do vậy",
    "Bởi vậy",
    "Tuy nhiên",
    "Đồng thời",
    "Ngoài ra",
    "Bên cạnh đó",
    "Cùng với đó",
    "Điều này",
    "Việc này",
    "Đây là",
    "Đó là",
    "Như vậy",
    "Qua đó",
    "Từ đó",
    "Trên cơ sở đó",
    "Nhờ đó",
    "Khi đó",
    "Sau đó",
    "Họ",
    "Nó",
    "Chúng",
    "Ví dụ",
    "Chẳng hạn",
    "Cụ thể",
)


# Pronouns that need the sentence before unless a name follows.
PRONOUN_OPENERS: tuple[str, ...] = (
    "Ông",
    "Bà",
    "Anh",
    "Chị",
    "Cô",
    "Em",
)


# A question word followed by one of these refers back to the sentence before.
DEMONSTRATIVES: tuple[str, ...] = (
    "này",
    "đó",
    "ấy",
)


# Spellings of one meaning, canonical form first (retrieval.text.variants): symbols and units
# written out, places and their short forms. Rewritten in articles and questions alike.
EQUIVALENTS: tuple[tuple[str, ...], ...] = (
    ("phần trăm", "%"),
    ("độ C", "°C", "℃", "độ xê"),
    ("ki-lô-mét", "km", "kilômét", "kilomet"),
    ("mét vuông", "m2", "m²"),
    ("ki-lô-gam", "kg", "kilôgam", "kilogam"),
    ("đô la", "USD", "đô-la", "$"),
    ("Hà Nội", "HN"),
    (
        "Thành phố Hồ Chí Minh",
        "TP.HCM",
        "TP. HCM",
        "TP HCM",
        "TPHCM",
        "HCM",
        "TP Hồ Chí Minh",
        "TP. Hồ Chí Minh",
        "Sài Gòn",
        "Saigon",
    ),
    ("Đà Nẵng", "ĐN"),
    ("Luân Đôn", "London"),
    ("Mát-xcơ-va", "Moscow", "Matxcơva"),
)


# Short and chat forms people type in questions, canonical form first: rewritten before a
# question's words are segmented (questions only: articles do not write them, and some are
# other things there, such as "DC" in "Washington DC").
QUESTION_FORMS: tuple[tuple[str, ...], ...] = (
    ("không", "ko", "hok", "hông", "khum", "kh"),
    ("được", "dc", "đc", "đk"),
    ("gì", "j"),
    ("bao nhiêu", "bn", "bnhieu", "bao nhiu"),
    ("số lượng", "sl"),
    ("người", "ng"),
    ("mọi người", "mn", "mng"),
    ("công ty", "cty"),
    ("học sinh", "hs"),
    ("sinh viên", "sv"),
    ("giáo viên", "gv"),
    ("với", "vs"),
    ("như thế nào", "ntn"),
    ("trước", "trc"),
    ("biết", "bít", "bik"),
    ("thành phố", "tp"),
    ("Việt Nam", "vn"),
)
