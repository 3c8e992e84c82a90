"""Re-make the document fixtures in this folder (HTML, PDF, DOCX, legacy text, broken files).

Usage, from the repository root (needs the ``fixtures`` extra for fpdf2)::

    .venv/bin/pip install -e '.[fixtures]'
    .venv/bin/python tests/data/docs/make_fixtures.py

Everything is made here from the seed articles (``seeds/``) and from texts
written for these fixtures (a ward office's decisions and plans); nothing is
downloaded. The output is deterministic except where a library stamps the
current time into a file (fpdf2's creation date is pinned; python-docx's
core properties are set explicitly).
"""

from __future__ import annotations

import datetime as dt
import html
import io
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from retrieval.ingest.formats.legacy import Legacy, from_unicode  # noqa: E402

SEEDS = ROOT / "seeds"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
PINNED = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def seed_lines(name: str, numbers: list[int]) -> list[str]:
    """Lines of a seed article by 1-based line number (its body paragraphs)."""
    lines = next(SEEDS.glob(f"{name}_*.txt")).read_text(encoding="utf-8").splitlines()
    return [lines[n - 1].strip() for n in numbers]


# --- HTML ----------------------------------------------------------------------------

NAV = """
<header class="site-header">
  <div class="top-bar"><a href="/">Trang chủ</a> | <a href="/lien-he">Liên hệ</a> | <a href="/rss">RSS</a>
    <form class="search" action="/tim-kiem"><input name="q" placeholder="Tìm kiếm..."><button>Tìm</button></form>
  </div>
  <a class="logo" href="/"><img src="/logo.png" alt="{site}"></a>
  <nav class="main-menu"><ul>
    <li><a href="/thoi-su">Thời sự</a></li><li><a href="/xa-hoi">Xã hội</a></li>
    <li><a href="/kinh-te">Kinh tế</a></li><li><a href="/van-hoa">Văn hóa</a></li>
    <li><a href="/the-thao">Thể thao</a></li><li><a href="/phap-luat">Pháp luật</a></li>
    <li><a href="/dia-phuong">Địa phương</a></li><li><a href="/video">Video</a></li>
  </ul></nav>
</header>
"""

COMMENTS = """
<section class="comments" id="binh-luan">
  <h3>Viết bình luận</h3>
  <form class="comment-form" action="/binh-luan" method="post">
    <label>Họ tên:(*)</label><input name="name">
    <label>Email:(*)</label><input name="email">
    <label>Số điện thoại:</label><input name="phone">
    <label>Nội dung:(*)</label><textarea name="body">Nội dung bình luận của bạn...</textarea>
    <label>Mã xác nhận:</label><input name="captcha"> <a href="#">Lấy lại mã bảo mật</a>
    <button type="submit">Gửi bình luận</button>
  </form>
  <p class="note">Bình luận của bạn sẽ được biên tập trước khi đăng. Vui lòng gõ tiếng Việt có dấu.</p>
</section>
"""

FOOTER = """
<footer class="site-footer">
  <ul class="footer-menu"><li><a href="/gioi-thieu">Giới thiệu</a></li><li><a href="/quang-cao">Liên hệ quảng cáo</a></li>
    <li><a href="/dieu-khoan">Điều khoản sử dụng</a></li></ul>
  <p>© Bản quyền thuộc về {site}. Giấy phép hoạt động báo điện tử số 123/GP-BTTTT do Bộ Thông tin và Truyền thông cấp.</p>
  <p>Địa chỉ: Số 38 Hai Bà Trưng, quận Hoàn Kiếm, Hà Nội. Điện thoại: 024 3933 0000. Email: toasoan@example.vn</p>
  <p>Ghi rõ nguồn "{site}" khi phát hành lại thông tin từ website này.</p>
</footer>
"""


def related(heading: str, teasers: list[tuple[str, str]]) -> str:
    items = "\n".join(
        f'<li><a href="/tin/{i}.html"><img src="/thumb/{i}.jpg" alt=""><h4>{html.escape(t)}</h4></a>'
        f'<p class="sapo">{html.escape(s)}</p></li>'
        for i, (t, s) in enumerate(teasers, start=100)
    )
    return f'<aside class="related"><h3>{heading}</h3><ul>{items}</ul></aside>'


def paragraphs_html(paras: list[str]) -> str:
    return "\n".join(f"<p>{html.escape(p)}</p>" for p in paras)


def page_congluan() -> str:
    """Seed 000 as a news page with og: and article:published_time meta tags and <article>."""
    title = "Hà Nội - Phần Lan trao đổi, hợp tác về xây dựng thành phố thông minh"
    body = seed_lines("000", [5, 7, 9, 14, 16, 18, 20])
    site = "Báo Công luận"
    teasers = [
        (
            "Đồng Nai: Điều chỉnh giá đất tăng hơn gấp đôi",
            "(CLO) Từ 25/3/2019, Đồng Nai sẽ đồng loạt tăng hệ số điều chỉnh giá đất lên mức cao so với năm 2018.",
        ),
        (
            "Những sai phạm tại Chùa Ba Vàng là rõ ràng",
            "(CLO) Ngày 26/3, UBND thành phố Uông Bí, tỉnh Quảng Ninh đã tổ chức Hội nghị thông tin báo chí.",
        ),
        (
            "Cà Mau: Thả cá thể đồi mồi quý hiếm nặng 60kg về môi trường tự nhiên",
            "(CLO) Một cá thể rùa biển quý hiếm vừa được thả về môi trường tự nhiên tại cửa biển Rạch Gốc.",
        ),
    ]
    return f"""<!DOCTYPE html>
<html lang="vi"><head>
<meta charset="utf-8">
<title>{title} | {site}</title>
<meta name="description" content="Ngày 15/10, Chủ tịch UBND TP Hà Nội đã có buổi làm việc với Bộ trưởng Bộ Kinh tế Phần Lan.">
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{site}">
<meta property="og:url" content="https://congluan.example.vn/ha-noi-phan-lan-trao-doi-hop-tac-post12345.html">
<meta property="article:published_time" content="2018-10-15T19:30:00+07:00">
<meta name="author" content="Phóng viên Công luận">
<link rel="canonical" href="https://congluan.example.vn/ha-noi-phan-lan-trao-doi-hop-tac-post12345.html">
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}</script>
<style>.site-header {{ background: #b00; }}</style>
</head><body>
{NAV.format(site=site)}
<div class="breadcrumbs"><a href="/">Trang chủ</a> › <a href="/xa-hoi">Xã hội</a> › <a href="/dia-phuong">Địa phương</a></div>
<main class="container">
<article class="article-detail">
  <h1 class="article-title">{title}</h1>
  <div class="meta"><time datetime="2018-10-15T19:30:00+07:00">Thứ hai, 15/10/2018 19:30 PM</time> - <a href="#binh-luan">0 Trả lời</a></div>
  {paragraphs_html(body[:3])}
  <figure><img src="/anh/chu-tich-phan-lan.jpg" alt="Chủ tịch Nguyễn Đức Chung">
    <figcaption>Chủ tịch Nguyễn Đức Chung trao đổi với Bộ trưởng Bộ Kinh tế Phần Lan Mika Lintila. Ảnh: CGTĐT TP Hà Nội</figcaption></figure>
  <h2>Hà Nội sẵn sàng hợp tác với doanh nghiệp Phần Lan</h2>
  {paragraphs_html(body[3:])}
  <p class="author"><strong>PV</strong></p>
  <div class="share">Chia sẻ: <a href="#">Facebook</a> <a href="#">Zalo</a> <a href="#">In bài</a></div>
</article>
{related("Tin khác", teasers)}
{COMMENTS}
</main>
{FOOTER.format(site=site)}
<script src="/js/app.js"></script>
</body></html>
"""


def page_kinhtedothi() -> str:
    """Seed 001 in a div-based layout: no <article>, meta pubdate and a date span, "Tin liên quan"."""
    title = "Chủ tịch UBND TP Hà Nội và Đại sứ Mỹ chia sẻ tầm nhìn về TP thông minh"
    body = seed_lines("001", [4, 9, 11, 13, 15, 17, 19])
    site = "Kinh tế & Đô thị"
    teasers = [
        ("Hà Nội thí điểm mô hình thu gom rác trực tiếp", "Nhiều quận đã triển khai thu gom rác theo giờ cố định."),
        ("Tết sớm trên phố: Đã thấp thoáng đào, quất", "Những ngày này, phố phường Hà Nội đã rộn ràng sắc xuân."),
        (
            "Quận Thanh Xuân diễn tập chữa cháy tại Khu đô thị Royal City",
            "Buổi diễn tập có sự tham gia của hàng trăm cư dân.",
        ),
        ("Năm 2024: Quận Thanh Xuân thu ngân sách ước đạt 108,91%", "Kết quả thu ngân sách vượt dự toán được giao."),
    ]
    return f"""<!doctype html>
<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{title}</title>
<meta name="pubdate" content="2017-03-22T11:09:00+07:00">
<meta property="og:site_name" content="{site}">
<meta property="og:title" content="{title}">
<link rel="canonical" href="https://kinhtedothi.example.vn/chu-tich-ubnd-tp-ha-noi-va-dai-su-my-279466.html">
<script type="text/javascript">var _ads = [];</script>
</head><body>
<div id="wrapper">
{NAV.format(site=site)}
<div class="path"><a href="/">Trang chủ</a> / <a href="/thoi-su">Thời sự</a> / <a href="/ha-noi">Hà Nội</a></div>
<div class="col-left">
  <div class="box-hot"><h3>Đọc nhiều</h3><ul><li><a href="/1">Giá vàng hôm nay tăng mạnh</a></li>
  <li><a href="/2">Thời tiết Hà Nội cuối tuần có mưa rào</a></li></ul></div>
</div>
<div class="col-main">
  <div class="detail">
    <h1 class="title">{title}</h1>
    <span class="date">22/03/2017 11:09</span>
    <div class="detail-content">
      {paragraphs_html(body[:1])}
      <table class="image"><tr><td><img src="/anh/osius.jpg"></td></tr>
        <tr><td class="caption">Chủ tịch UBND TP Hà Nội Nguyễn Đức Chung và Đại sứ Ted Osius chia sẻ tầm nhìn về TP thông minh</td></tr></table>
      {paragraphs_html(body[1:])}
      <p style="text-align:right"><strong>Theo Kinhtedothi</strong></p>
    </div>
    <div class="tags">Từ khóa: <a href="/tag/tp-thong-minh">TP thông minh</a>, <a href="/tag/dai-su-my">Đại sứ Mỹ</a></div>
  </div>
  {related("Tin liên quan", teasers)}
  <div class="box-other"><h3>Các bài mới đăng</h3><ul><li><a href="/3">Khai mạc Hội nghị Thành phố thông minh</a> (20/12/2024)</li></ul></div>
  {COMMENTS}
</div>
</div>
{FOOTER.format(site=site)}
</body></html>
"""


def page_hanoi_portal() -> str:
    """Seed 002 with JSON-LD NewsArticle metadata (datePublished, author, publisher)."""
    title = "Tăng cường phối hợp với Tổ chức Công nghiệp Điện toán Châu Á Thái Bình Dương xây dựng thành phố thông minh"
    body = seed_lines("002", [3, 4, 5, 6])
    site = "Cổng thông tin điện tử Hà Nội"
    teasers = [
        ("Đặc sắc chương trình nghệ thuật “Tây Hồ toả sáng”", "Nhịp sống Thủ đô 23/12/2024 11:39"),
        ("Quận Hai Bà Trưng: Sẵn sàng vận hành các đơn vị hành chính mới", "Nhịp sống Thủ đô 21/12/2024 22:33"),
        ("Cử tri kiến nghị về chính sách hỗ trợ giải phóng mặt bằng", "Nhịp sống Thủ đô 20/12/2024 18:52"),
    ]
    json_ld = (
        '{"@context": "https://schema.org", "@type": "NewsArticle", '
        f'"headline": "{title}", "datePublished": "2017-11-24T08:15:00+07:00", '
        '"author": {"@type": "Person", "name": "Quỳnh Anh"}, '
        f'"publisher": {{"@type": "Organization", "name": "{site}"}}}}'
    )
    return f"""<!DOCTYPE html>
<html lang="vi"><head>
<meta charset="utf-8">
<title>{title} - {site}</title>
<script type="application/ld+json">{json_ld}</script>
<link rel="canonical" href="https://hanoi.example.gov.vn/tin-tuc/tang-cuong-phoi-hop-asocio.html">
</head><body>
{NAV.format(site=site)}
<ol class="breadcrumb"><li><a href="/">Trang chủ</a></li><li><a href="/tin-tuc">Tin tức</a></li><li>Chính trị</li></ol>
<div class="content">
  <h1>{title}</h1>
  <div class="info"><span>24/11/2017 08:15</span></div>
  <div class="news-body">
    <figure><img src="/a.jpg"><figcaption>Chủ tịch Nguyễn Đức Chung trao đổi với Chủ tịch ASOCIO David Wong</figcaption></figure>
    {paragraphs_html(body)}
    <figure><img src="/b.jpg"><figcaption>Hai bên chụp ảnh lưu niệm tại buổi tiếp</figcaption></figure>
    <p class="source">Theo Quỳnh Anh/{site}</p>
  </div>
  <div class="box-interest"><h3>Có thể bạn quan tâm</h3><ul>
    <li><a href="/x">Luật Thủ đô 2024: Cơ hội để Hà Nội phát triển thương mại văn hóa</a></li>
    <li><a href="/y">Triển lãm “Thiên Quang”: Tôn vinh nghề thủ công truyền thống</a></li></ul></div>
  {related("Tin khác", teasers)}
</div>
{FOOTER.format(site=site)}
</body></html>
"""


def page_empty() -> str:
    """A page with a menu, a footer and no article text at all."""
    site = "Cổng thông tin điện tử phường"
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Đang cập nhật</title></head>
<body>{NAV.format(site=site)}<main><div class="placeholder"></div></main>{FOOTER.format(site=site)}</body></html>
"""


HTML_PAGES = {
    "html/congluan_ha_noi_phan_lan.html": page_congluan,
    "html/kinhtedothi_dai_su_my.html": page_kinhtedothi,
    "html/hanoi_asocio.html": page_hanoi_portal,
    "html/empty_page.html": page_empty,
}


# --- PDF -----------------------------------------------------------------------------

A4 = (595.0, 842.0)
MARGIN = 72.0


class Typesetter:
    """Lays out lines on A4 pages with fpdf2, so line breaks, indents and gaps are exact."""

    def __init__(
        self,
        *,
        size: float = 12,
        top: float = 80,
        bottom: float = 90,
        header: str | None = None,
        footer: str | None = None,
    ) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(unit="pt", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.add_font("DejaVu", "", str(FONT))
        self.pdf.add_font("DejaVu", "B", str(FONT_BOLD))
        self.pdf.set_creation_date(PINNED)
        self.size, self.top, self.bottom = size, top, bottom
        self.header, self.footer = header, footer
        self.pages: list[list[tuple[float, float, str, str, float]]] = []  # (x, y, text, style, size)
        self.y = 0.0
        self.new_page()

    @property
    def width(self) -> float:
        return A4[0] - 2 * MARGIN

    def new_page(self) -> None:
        self.pages.append([])
        self.y = self.top

    def text_width(self, text: str, style: str = "", size: float | None = None) -> float:
        self.pdf.set_font("DejaVu", style, size or self.size)
        return self.pdf.get_string_width(text)

    def line(
        self,
        text: str,
        *,
        x: float = MARGIN,
        style: str = "",
        size: float | None = None,
        align: str = "L",
        leading: float = 1.45,
    ) -> None:
        size = size or self.size
        if self.y + size > A4[1] - self.bottom:
            self.new_page()
        if align == "C":
            x = (A4[0] - self.text_width(text, style, size)) / 2
        self.pages[-1].append((x, self.y + size, text, style, size))
        self.y += size * leading

    def gap(self, points: float) -> None:
        self.y += points

    def wrap(
        self, text: str, first_width: float, width: float, style: str = "", size: float | None = None
    ) -> list[str]:
        """Greedy word wrap; a word written "com-|puting" may be split at "|" with a hyphen."""
        lines: list[str] = []
        current = ""
        limit = first_width
        for word in text.split():
            parts = word.split("|")
            candidate = f"{current} {parts[0] if len(parts) > 1 else word}".strip()
            if len(parts) > 1 and self.text_width(f"{current} {word.replace('|', '')}".strip(), style, size) > limit:
                lines.append(candidate + "-")
                current, limit = parts[1], width
                continue
            word = word.replace("|", "")
            if current and self.text_width(f"{current} {word}", style, size) > limit:
                lines.append(current)
                current, limit = word, width
            else:
                current = f"{current} {word}".strip()
        if current:
            lines.append(current)
        return lines

    def paragraph(
        self, text: str, *, indent: float = 0, after: float = 0, style: str = "", size: float | None = None
    ) -> None:
        for i, line in enumerate(self.wrap(text, self.width - indent, self.width, style, size)):
            self.line(line, x=MARGIN + (indent if i == 0 else 0), style=style, size=size)
        self.gap(after)

    def render(self) -> bytes:
        total = len(self.pages)
        for number, lines in enumerate(self.pages, start=1):
            self.pdf.add_page()
            if self.header:
                self.pdf.set_font("DejaVu", "", 9)
                self.pdf.text(MARGIN, 40, self.header)
            for x, y, text, style, size in lines:
                self.pdf.set_font("DejaVu", style, size)
                self.pdf.text(x, y, text)
            if self.footer:
                self.pdf.set_font("DejaVu", "", 9)
                label = self.footer.format(page=number, pages=total)
                self.pdf.text((A4[0] - self.pdf.get_string_width(label)) / 2, A4[1] - 40, label)
        return bytes(self.pdf.output())


WARD_NEWS = [
    "Sáng 15/3, Ủy ban nhân dân phường Phúc Xá, quận Ba Đình tổ chức lễ ra mắt mô hình Tổ công nghệ số "
    "cộng đồng tại 10 tổ dân phố. Mỗi tổ gồm tổ trưởng tổ dân phố, công an khu vực, đoàn viên thanh niên "
    "và những người có kinh nghiệm sử dụng điện thoại thông minh.",
    "Theo Chủ tịch UBND phường, trong năm 2023 phường đã tiếp nhận 1.245 hồ sơ trực tuyến, chiếm 68% tổng "
    "số hồ sơ thủ tục hành chính. Tuy nhiên, nhiều người cao tuổi vẫn gặp khó khăn khi tạo tài khoản định "
    "danh điện tử và nộp hồ sơ qua Cổng dịch vụ công quốc gia.",
    "Tổ công nghệ số cộng đồng sẽ đến từng hộ gia đình để hướng dẫn cài đặt ứng dụng VNeID, thanh toán "
    "không dùng tiền mặt và tra cứu kết quả giải quyết hồ sơ. Các tổ cũng tiếp nhận phản ánh, kiến nghị "
    "của người dân về chất lượng dịch vụ công trực tuyến.",
    "Phát biểu tại buổi lễ, đại diện Phòng Văn hóa và Thông tin quận Ba Đình đề nghị phường tiếp tục rà "
    "soát, bổ sung thành viên là những người có uy tín tại khu dân cư, đồng thời tổ chức tập huấn định kỳ "
    "hằng quý để các thành viên nắm vững kỹ năng hỗ trợ người dân.",
    "Dịp này, UBND phường đã trao tặng 20 điện thoại thông minh cho các hộ nghèo, hộ cận nghèo và phát động "
    "phong trào “Mỗi gia đình một tài khoản định danh điện tử” đến hết năm 2024.",
    "Mục tiêu đến cuối năm 2024, 100% hộ gia đình trên địa bàn phường có ít nhất một thành viên biết sử dụng "
    "dịch vụ công trực tuyến toàn trình; tỷ lệ hồ sơ trực tuyến đạt trên 80%.",
    "Cũng trong tháng 3, phường sẽ khai trương điểm hỗ trợ dịch vụ công tại bộ phận một cửa, bố trí máy "
    "tính, máy quét và cán bộ trực hướng dẫn vào các ngày thứ Bảy.",
]


def pdf_two_line_title() -> bytes:
    """News of a ward office: a two-line title, a dateline, paragraphs separated by a gap; no metadata title."""
    t = Typesetter(size=14, top=120)
    t.pdf.set_author("UBND phường Phúc Xá")
    t.pdf.set_creation_date(dt.datetime(2024, 3, 16, 9, 0, tzinfo=dt.UTC))
    t.line("Phường Phúc Xá ra mắt mô hình Tổ công nghệ số cộng đồng", style="B", size=17, leading=1.3)
    t.line("hỗ trợ người dân sử dụng dịch vụ công trực tuyến", style="B", size=17)
    t.gap(6)
    t.line("Hà Nội, ngày 15 tháng 3 năm 2024", size=11)
    t.gap(10)
    for para in WARD_NEWS:
        t.paragraph(para, after=9)
    return t.render()


WARD_PLAN_BODY: list[tuple[str, str]] = [
    ("h", "I. MỤC ĐÍCH, YÊU CẦU"),
    ("h", "1. Mục đích"),
    (
        "p",
        "Đẩy mạnh ứng dụng công nghệ thông tin trong hoạt động của Ủy ban nhân dân phường, nâng cao chất "
        "lượng giải quyết thủ tục hành chính, lấy người dân và doanh nghiệp làm trung tâm phục vụ; phấn đấu "
        "đến hết năm 2024 có ít nhất 80% hồ sơ thủ tục hành chính được tiếp nhận và giải quyết trực tuyến.",
    ),
    (
        "p",
        "Xây dựng cơ sở dữ liệu dân cư, đất đai, hộ kinh doanh cá thể trên địa bàn phường, kết nối với hệ "
        "thống thông tin của quận và thành phố, bảo đảm dữ liệu đúng, đủ, sạch, sống.",
    ),
    ("h", "2. Yêu cầu"),
    (
        "p",
        "Các bộ phận chuyên môn và tổ dân phố triển khai nhiệm vụ đúng tiến độ, gắn trách nhiệm người đứng "
        "đầu với kết quả thực hiện; bảo đảm an toàn thông tin và bảo vệ dữ liệu cá nhân của người dân trong "
        "quá trình triển khai.",
    ),
    ("h", "II. NHIỆM VỤ TRỌNG TÂM"),
    (
        "p",
        "Triển khai hệ thống quản lý văn bản và điều hành dùng chung của thành phố, sử dụng chữ ký số cho "
        "100% văn bản đi; thí điểm lưu trữ hồ sơ điện tử trên nền tảng điện toán đám mây (cloud com|puting) "
        "do thành phố cung cấp, không đầu tư máy chủ riêng.",
    ),
    (
        "p",
        "Tuyên truyền, hướng dẫn người dân cài đặt và sử dụng ứng dụng VNeID, Cổng dịch vụ công quốc gia; "
        "phối hợp với Công an phường làm sạch dữ liệu dân cư, cập nhật thông tin của người dân thường trú, "
        "tạm trú trên địa bàn.",
    ),
    (
        "p",
        "Rà soát, số hóa hồ sơ, kết quả giải quyết thủ tục hành chính còn hiệu lực từ năm 2015 đến nay, "
        "ưu tiên các lĩnh vực hộ tịch, chứng thực, đất đai và xây dựng; kết quả số hóa được cập nhật vào "
        "kho dữ liệu điện tử của tổ chức, cá nhân trên Cổng dịch vụ công để người dân không phải nộp lại "
        "giấy tờ đã được cơ quan nhà nước cấp trước đó khi thực hiện thủ tục hành chính mới.",
    ),
    (
        "p",
        "Tổ chức các lớp tập huấn kỹ năng số cho cán bộ, công chức phường và thành viên Tổ công nghệ số "
        "cộng đồng tại 10 tổ dân phố, mỗi quý ít nhất một lớp; lồng ghép nội dung bảo đảm an toàn thông "
        "tin, phòng chống lừa đảo trên không gian mạng và bảo vệ dữ liệu cá nhân.",
    ),
    (
        "p",
        "Triển khai thanh toán không dùng tiền mặt đối với phí, lệ phí thủ tục hành chính tại bộ phận một "
        "cửa; phối hợp với các ngân hàng thương mại trên địa bàn hướng dẫn các hộ kinh doanh mở tài khoản "
        "và sử dụng mã QR trong thanh toán, phấn đấu 70% hộ kinh doanh trên các tuyến phố chính áp dụng "
        "trong năm 2024.",
    ),
    ("h", "III. TỔ CHỨC THỰC HIỆN"),
    (
        "p",
        "Văn phòng HĐND - UBND phường là đầu mối theo dõi, tổng hợp kết quả thực hiện Kế hoạch, báo cáo "
        "Chủ tịch UBND phường trước ngày 15 hằng tháng.",
    ),
    (
        "p",
        "Trong quá trình thực hiện, nếu có khó khăn, vướng mắc, các bộ phận kịp thời báo cáo về Văn phòng "
        "HĐND - UBND phường để tổng hợp, báo cáo Chủ tịch UBND phường xem xét, giải quyết.",
    ),
]


def pdf_ward_plan() -> bytes:
    """A ward plan: running header, "Trang N/M" footer, indented paragraphs without gaps, a hyphenated break."""
    t = Typesetter(
        size=12,
        top=70,
        bottom=270,
        header="UBND phường Phúc Xá - Kế hoạch số 45/KH-UBND ngày 20/02/2024",
        footer="Trang {page}/{pages}",
    )
    t.pdf.set_title("Kế hoạch chuyển đổi số phường Phúc Xá năm 2024")
    t.pdf.set_author("UBND phường Phúc Xá")
    t.pdf.set_creation_date(dt.datetime(2024, 2, 21, 8, 0, tzinfo=dt.UTC))
    t.line("ỦY BAN NHÂN DÂN PHƯỜNG PHÚC XÁ", style="B", align="C")
    t.line("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", style="B", align="C")
    t.line("Độc lập - Tự do - Hạnh phúc", style="B", align="C")
    t.line("Số: 45/KH-UBND", align="C")
    t.line("Phúc Xá, ngày 20 tháng 02 năm 2024", align="C")
    t.gap(8)
    t.line("KẾ HOẠCH", style="B", size=14, align="C")
    t.line("Triển khai chuyển đổi số trên địa bàn phường năm 2024", style="B", align="C")
    t.gap(8)
    for kind, text in WARD_PLAN_BODY:
        if kind == "h":
            t.line(text, style="B")
        else:
            t.paragraph(text, indent=28)
    t.gap(10)
    t.line("TM. ỦY BAN NHÂN DÂN", style="B", x=330)
    t.line("CHỦ TỊCH", style="B", x=370)
    t.gap(30)
    t.line("Nguyễn Văn An", style="B", x=355)
    return t.render()


def pdf_scanned() -> bytes:
    """Two pages without a text layer: a raster "scan" and a page of vector strokes."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    image = Image.new("L", (300, 420), 255)
    draw = ImageDraw.Draw(image)
    for row in range(30, 400, 14):
        draw.rectangle((30, row, 30 + (row * 37) % 220 + 40, row + 6), fill=40)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_creation_date(PINNED)
    pdf.add_page()
    pdf.image(buffer, x=40, y=40, w=515)
    pdf.add_page()
    pdf.set_line_width(2)
    for row in range(80, 760, 18):
        pdf.line(72, row, 72 + (row * 53) % 400 + 50, row)
    return bytes(pdf.output())


def pdf_legacy_tcvn3() -> bytes:
    """A page typed in a .VnTime font: the text layer holds TCVN3 codes read as Windows-1252."""
    t = Typesetter(size=12)
    t.pdf.set_creation_date(PINNED)
    legacy = lambda s: from_unicode(s, Legacy.TCVN3).decode("cp1252")  # noqa: E731
    t.line(legacy("Thông báo lịch tiếp công dân tháng 4"), style="B", size=15, align="C")
    t.gap(8)
    for para in WARD_NEWS[:3]:
        t.paragraph(legacy(para), after=8)
    return t.render()


def pdf_encrypted() -> bytes:
    """A password-protected copy of the ward news (RC4, user password "phucxa")."""
    t = Typesetter(size=13)
    t.line("Văn bản có mật khẩu", style="B", size=16)
    t.paragraph(WARD_NEWS[0])
    t.pdf.set_encryption(owner_password="owner-secret", user_password="phucxa")
    return t.render()


def make_pdf() -> None:
    two_line = pdf_two_line_title()
    write("pdf/tin_phuong_hai_dong_tieu_de.pdf", two_line)
    write("pdf/ke_hoach_chuyen_doi_so.pdf", pdf_ward_plan())
    write("pdf/ban_scan_khong_chu.pdf", pdf_scanned())
    write("pdf/thong_bao_tcvn3.pdf", pdf_legacy_tcvn3())
    write("broken/mat_khau.pdf", pdf_encrypted())
    write("broken/cut_short.pdf", two_line[:700])
    write("misc/pdf_named_as.txt", two_line)


# --- DOCX ----------------------------------------------------------------------------


def _word(title: str, author: str, created: dt.datetime):
    import docx

    document = docx.Document()
    props = document.core_properties
    props.title, props.author, props.created, props.modified = title, author, created, created
    props.last_modified_by, props.revision = author, 1
    return document


def _save(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return _pin_zip_times(buffer.getvalue())


def _pin_zip_times(data: bytes) -> bytes:
    """The same archive with fixed entry times, so re-made fixtures do not differ for nothing."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            info.date_time = (2024, 1, 2, 3, 4, 6)
            target.writestr(info, source.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _table(document, rows: list[list[str]]) -> None:
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.cell(r, c).text = value


def docx_decision() -> bytes:
    """A ward decision: core title and author, a dated header, "Điều n" headings, a table of members."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    d = _word(
        "Quyết định thành lập Tổ công nghệ số cộng đồng phường Phúc Xá",
        "UBND phường Phúc Xá",
        dt.datetime(2024, 3, 4, 8, 30, tzinfo=dt.UTC),
    )
    for text in ("ỦY BAN NHÂN DÂN PHƯỜNG PHÚC XÁ", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"):
        d.add_paragraph().add_run(text).bold = True
    d.add_paragraph("Số: 112/QĐ-UBND")
    d.add_paragraph("Phúc Xá, ngày 01 tháng 3 năm 2024").alignment = WD_ALIGN_PARAGRAPH.RIGHT
    d.add_paragraph("QUYẾT ĐỊNH", style="Title")
    d.add_paragraph("Về việc thành lập Tổ công nghệ số cộng đồng phường Phúc Xá")
    d.add_paragraph("CHỦ TỊCH ỦY BAN NHÂN DÂN PHƯỜNG PHÚC XÁ")
    d.add_paragraph("Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;")
    d.add_paragraph(
        "Căn cứ Kế hoạch số 45/KH-UBND ngày 20/02/2024 của UBND phường về triển khai chuyển đổi số "
        "trên địa bàn phường năm 2024;"
    )
    d.add_paragraph("Xét đề nghị của Văn phòng HĐND - UBND phường.")
    d.add_heading("Điều 1. Thành lập Tổ công nghệ số cộng đồng phường Phúc Xá", level=1)
    d.add_paragraph("Thành lập Tổ công nghệ số cộng đồng phường Phúc Xá gồm các ông, bà có tên sau:")
    _table(
        d,
        [
            ["STT", "Họ và tên", "Chức vụ", "Nhiệm vụ trong Tổ"],
            ["1", "Nguyễn Văn An", "Chủ tịch UBND phường", "Tổ trưởng"],
            ["2", "Trần Thị Bình", "Công chức Văn phòng - Thống kê", "Tổ phó thường trực"],
            ["3", "Lê Minh Cường", "Phó Trưởng Công an phường", "Thành viên"],
            ["", "", "", ""],
            ["4", "Phạm Thu Hà", "Bí thư Đoàn phường", "Thành viên"],
        ],
    )
    d.add_heading("Điều 2. Nhiệm vụ của Tổ", level=1)
    for text in (
        "Hướng dẫn người dân cài đặt, sử dụng ứng dụng VNeID và Cổng dịch vụ công quốc gia.",
        "Hỗ trợ người cao tuổi, người khuyết tật nộp hồ sơ trực tuyến và thanh toán không dùng tiền mặt.",
        "Tổng hợp phản ánh của người dân, báo cáo UBND phường trước ngày 25 hằng tháng.",
    ):
        d.add_paragraph(text, style="List Bullet")
    d.add_heading("Điều 3. Hiệu lực thi hành", level=1)
    d.add_paragraph(
        "Quyết định này có hiệu lực kể từ ngày ký. Văn phòng HĐND - UBND phường, các ông, bà có tên "
        "tại Điều 1 chịu trách nhiệm thi hành Quyết định này."
    )
    return _save(d)


def docx_report() -> bytes:
    """A half-year report: no core title (the first heading is the title), two heading levels, a statistics table."""
    d = _word("", "Văn phòng HĐND - UBND phường", dt.datetime(2024, 7, 5, 10, 0, tzinfo=dt.UTC))
    d.add_heading("Báo cáo sơ kết công tác cải cách hành chính 6 tháng đầu năm 2024", level=1)
    d.add_paragraph(
        "Thực hiện Kế hoạch cải cách hành chính năm 2024, UBND phường Phúc Xá báo cáo kết quả thực "
        "hiện 6 tháng đầu năm như sau."
    )
    d.add_heading("I. Kết quả đạt được", level=1)
    d.add_heading("1. Công tác chỉ đạo, điều hành", level=2)
    d.add_paragraph(
        "UBND phường đã ban hành 05 kế hoạch, 12 văn bản chỉ đạo về cải cách hành chính; 100% văn "
        "bản đi được ký số và gửi trên hệ thống quản lý văn bản điều hành của thành phố."
    )
    d.add_heading("2. Cải cách thủ tục hành chính", level=2)
    d.add_paragraph(
        "Bộ phận một cửa đã tiếp nhận 1.126 hồ sơ, trong đó 842 hồ sơ trực tuyến; 100% hồ sơ được "
        "giải quyết đúng hạn, không có hồ sơ quá hạn."
    )
    _table(
        d,
        [
            ["Lĩnh vực", "Hồ sơ tiếp nhận", "Trực tuyến", "Tỷ lệ (%)"],
            ["Hộ tịch", "512", "401", "78,3"],
            ["Chứng thực", "468", "321", "68,6"],
            ["Đất đai - Xây dựng", "146", "120", "82,2"],
        ],
    )
    d.add_heading("II. Phương hướng, nhiệm vụ 6 tháng cuối năm", level=1)
    d.add_paragraph(
        "Tiếp tục đẩy mạnh tiếp nhận hồ sơ trực tuyến toàn trình, phấn đấu tỷ lệ hồ sơ trực tuyến "
        "cả năm đạt trên 80%; hoàn thành số hóa hồ sơ hộ tịch từ năm 2015 đến nay."
    )
    return _save(d)


TCVN3_NOTICE = [
    "Thực hiện Luật Tiếp công dân, Ủy ban nhân dân phường Phúc Xá thông báo lịch tiếp công dân tháng 4 năm 2024 "
    "như sau.",
    "Chủ tịch UBND phường tiếp công dân định kỳ vào sáng thứ Năm tuần thứ hai và tuần thứ tư của tháng, tại "
    "phòng tiếp công dân, trụ sở UBND phường.",
    "Công dân đến trình bày khiếu nại, tố cáo, kiến nghị, phản ánh mang theo căn cước công dân và các giấy tờ "
    "liên quan.",
]


def docx_legacy_fonts() -> bytes:
    """A notice typed in ABC fonts: .VnTime runs with TCVN3 codes, a .VnTimeH heading, a VNI-Times run,
    a paragraph style in .VnTime, and a Unicode Times New Roman run in the same paragraph."""
    from docx.enum.style import WD_STYLE_TYPE

    d = _word("", "UBND phường Phúc Xá", dt.datetime(2024, 3, 28, 8, 0, tzinfo=dt.UTC))
    tcvn3 = lambda s: from_unicode(s, Legacy.TCVN3).decode("cp1252")  # noqa: E731
    vni = lambda s: from_unicode(s, Legacy.VNI).decode("cp1252")  # noqa: E731
    heading = d.add_heading(level=1)
    heading.add_run(tcvn3("thông báo lịch tiếp công dân tháng 4 năm 2024")).font.name = ".VnTimeH"
    for text in TCVN3_NOTICE[:2]:
        d.add_paragraph().add_run(tcvn3(text)).font.name = ".VnTime"
    body = d.styles.add_style("VnBody", WD_STYLE_TYPE.PARAGRAPH)
    body.base_style = d.styles["Normal"]
    body.font.name = ".VnTime"
    d.add_paragraph(tcvn3(TCVN3_NOTICE[2]), style="VnBody")
    mixed = d.add_paragraph()
    mixed.add_run(tcvn3("Địa chỉ liên hệ: ")).font.name = ".VnTime"
    mixed.add_run("Số 2 phố Phúc Xá, quận Ba Đình, Hà Nội").font.name = "Times New Roman"
    mixed.add_run(vni(" (điện thoại 024 3829 0000).")).font.name = "VNI-Times"
    d.add_heading(level=2).add_run(tcvn3("Lịch tiếp công dân")).font.name = ".VnTime"
    table = d.add_table(rows=3, cols=2)
    for r, (day, who) in enumerate(
        [
            ("Ngày", "Người tiếp"),
            ("Thứ Năm 11/4/2024", "Chủ tịch UBND phường"),
            ("Thứ Năm 25/4/2024", "Phó Chủ tịch UBND phường"),
        ]
    ):
        for c, value in enumerate((day, who)):
            cell = table.cell(r, c)
            cell.paragraphs[0].add_run(tcvn3(value)).font.name = ".VnTime"
    return _save(d)


def docx_zip_bomb() -> bytes:
    """A .docx whose document.xml inflates to 120 MB of spaces (about 120 KB on disk)."""
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        b"<w:body><w:p><w:r><w:t>"
    )
    tail = b"</w:t></w:r></w:p></w:body></w:document>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            zipfile.ZipInfo("[Content_Types].xml", (2024, 1, 2, 3, 4, 6)),
            b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
            compress_type=zipfile.ZIP_DEFLATED,
        )
        info = zipfile.ZipInfo("word/document.xml", (2024, 1, 2, 3, 4, 6))
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as entry:
            entry.write(head)
            chunk = b" " * (1 << 20)
            for _ in range(120):
                entry.write(chunk)
            entry.write(tail)
    return out.getvalue()


def make_docx() -> None:
    write("docx/quyet_dinh_thanh_lap_to.docx", docx_decision())
    write("docx/bao_cao_so_ket.docx", docx_report())
    write("docx/thong_bao_font_vntime.docx", docx_legacy_fonts())
    write("broken/zip_bomb.docx", docx_zip_bomb())
    write("broken/not_a_zip.docx", "Đây là văn bản thường, không phải tệp Word.\n")


# --- text ----------------------------------------------------------------------------


def cp1258(text: str) -> bytes:
    """Windows-1258 as Windows writes it: a precomposed letter where the code page has one,
    else the letter without its tone followed by the combining tone mark."""
    import unicodedata

    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            marks = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in marks if c not in tones))
            out += (base + "".join(c for c in marks if c in tones)).encode("cp1258")
    return bytes(out)


# Texts of their own for the mixed-folder evidence (bench/mixed_folder.py): an old article in
# TCVN3, a notice in VNI and one in Windows-1258, each with a title, a date and facts to ask about.
VACCINATION_NOTICE = [
    "THÔNG BÁO LỊCH TIÊM CHỦNG MỞ RỘNG THÁNG 5 NĂM 2024",
    "Phúc Xá, ngày 25 tháng 4 năm 2024",
    "Trạm Y tế phường Phúc Xá tổ chức tiêm chủng mở rộng cho trẻ em dưới 5 tuổi vào ngày 8 và ngày 9 "
    "tháng 5 năm 2024, từ 7 giờ 30 đến 11 giờ, tại hội trường tổ dân phố số 6.",
    "Các vắc xin được tiêm gồm vắc xin phòng lao, viêm gan B, bạch hầu - ho gà - uốn ván, bại liệt và sởi.",
    "Cha mẹ mang theo sổ tiêm chủng của trẻ và cho trẻ ăn no trước khi tiêm; trẻ đang sốt sẽ được hẹn "
    "tiêm vào đợt sau.",
    "Sau khi tiêm, trẻ được theo dõi 30 phút tại điểm tiêm; mọi thắc mắc xin liên hệ bác sĩ Hoàng Thị Lan, "
    "Trạm trưởng Trạm Y tế phường.",
]
DENGUE_NEWS = [
    "Phường Phúc Xá ra quân diệt bọ gậy phòng chống sốt xuất huyết",
    "Thứ Bảy, 15/06/2024 09:30",
    "Sáng 15/6, UBND phường Phúc Xá phối hợp với Trạm Y tế phường tổ chức chiến dịch vệ sinh môi trường, "
    "diệt bọ gậy phòng chống dịch sốt xuất huyết trên địa bàn 12 tổ dân phố.",
    "Theo Trạm Y tế phường, từ đầu năm đến nay phường ghi nhận 17 ca mắc sốt xuất huyết, tăng 5 ca so với "
    "cùng kỳ năm 2023.",
    "Lực lượng tham gia chiến dịch gồm hơn 200 người; các tổ đã thu gom 3 tấn rác thải và xử lý hơn 400 "
    "dụng cụ chứa nước đọng.",
    "Người dân được khuyến cáo đậy kín các dụng cụ chứa nước, thả cá diệt bọ gậy và đến cơ sở y tế ngay khi "
    "sốt cao liên tục.",
    "Theo Cổng thông tin điện tử quận Ba Đình",
]


def make_evidence_texts() -> None:
    conference = [*seed_lines("003", [3]), "Thứ Năm, 30/11/2023 08:15", *seed_lines("003", [8, 16, 38])]
    write("text/hoi_nghi_tcvn3.txt", from_unicode("\n\n".join(conference) + "\n", Legacy.TCVN3))
    write("text/tiem_chung_vni.txt", from_unicode("\r\n\r\n".join(VACCINATION_NOTICE) + "\r\n", Legacy.VNI))
    write("text/sot_xuat_huyet_cp1258.txt", cp1258("\n\n".join(DENGUE_NEWS) + "\n"))


def make_text() -> None:
    seed = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8").splitlines()
    article = "\n\n".join(seed[n - 1].strip() for n in (1, 5, 7, 9)) + "\n"
    write("text/bai_bao_tcvn3.txt", from_unicode(article, Legacy.TCVN3))
    notice = "THÔNG BÁO LỊCH TIẾP CÔNG DÂN\n\n" + "\n\n".join(TCVN3_NOTICE) + "\n"
    write("text/thong_bao_vni.txt", from_unicode(notice.replace("\n", "\r\n"), Legacy.VNI))
    plan = "\n\n".join(text for kind, text in WARD_PLAN_BODY[:6]).replace("|", "") + "\n"
    write("text/ke_hoach_cp1258.txt", cp1258(plan))
    write("text/ke_hoach_utf16.txt", plan.encode("utf-16"))
    write("misc/empty.txt", b"")
    write("misc/image_named_as.html", _png())


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def write(rel: str, data: bytes | str) -> None:
    path = HERE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    print(f"{rel}: {path.stat().st_size} bytes")


def make_html() -> None:
    for rel, make in HTML_PAGES.items():
        write(rel, make())


def main() -> None:
    make_html()
    make_pdf()
    make_docx()
    make_text()
    make_evidence_texts()


if __name__ == "__main__":
    main()
