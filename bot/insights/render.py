"""The report, presented: plain JSON data, a few Vietnamese lines, one HTML page, a PNG chart.

``to_text`` is for the console and the Telegram ``/stats`` command, ``to_html``
one self-contained file for the operator (inline CSS and SVG, no script, no
link, every text escaped), ``render_chart_png`` the ``/stats`` photo.
"""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from .report import Report


def to_dict(report: Report) -> dict:
    """The report as plain JSON-able data (dates as ISO strings), with the derived shares."""

    def plain(value: object) -> Any:  # JSON data
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    data: dict[str, Any] = plain(asdict(report))
    data["answered_share"] = round(report.share(report.answered), 4)
    data["refused_share"] = round(report.share(report.refused + report.errors), 4)
    for day, item in zip(report.days, data["days"]):
        item["refusal_rate"] = None if day.refusal_rate is None else round(day.refusal_rate, 4)
    return data


def to_json(report: Report) -> str:
    return json.dumps(to_dict(report), ensure_ascii=False, indent=2)


def _int(n: int) -> str:
    """Vietnamese thousands separator: 12.345."""
    return f"{n:,}".replace(",", ".")


def _pct(part: int, whole: int) -> str:
    if not whole:
        return "–"
    share = 100 * part / whole
    return "<1%" if 0 < share < 0.5 else f"{round(share)}%"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{_int(round(value))} ms"


def _dm(day: date) -> str:
    return day.strftime("%d/%m")


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_text(report: Report, days: int = 7, groups: int = 5) -> str:
    """A few Vietnamese lines: totals, votes, latency, the last ``days`` days and the top unanswered topics.
    Plain text (a Telegram front end escapes it like any other text)."""
    r = report
    period = f"{r.start.strftime('%d/%m')}–{r.end.strftime('%d/%m/%Y')}"
    if not r.questions:
        return f"📊 Thống kê {len(r.days)} ngày ({period}): chưa có câu hỏi nào."
    lines = [
        f"📊 Thống kê {len(r.days)} ngày ({period})",
        (
            f"Câu hỏi: {_int(r.questions)} · trả lời {_pct(r.answered, r.questions)} · "
            f"từ chối {_pct(r.refused, r.questions)}" + (f" · lỗi {_pct(r.errors, r.questions)}" if r.errors else "")
        ),
        (
            f"Đánh giá: 👍 {_int(r.up_votes)} · 👎 {_int(r.down_votes)} "
            f"({_pct(r.voted_answers, r.answered)} câu trả lời được đánh giá)"
        ),
        f"Thời gian trả lời: trung vị {_ms(r.latency_p50_ms)} · p95 {_ms(r.latency_p95_ms)}",
        "Theo ngày: " + " · ".join(f"{_dm(d.day)} {_int(d.questions)}" for d in r.days[-days:]),
    ]
    if r.refusal_groups:
        lines.append("Chủ đề chưa trả lời được nhiều nhất:")
        for n, g in enumerate(r.refusal_groups[:groups], start=1):
            lines.append(f"{n}. {', '.join(g.keywords)} — {_int(g.count)} câu, vd: «{_short(g.example)}»")
    return "\n".join(lines)


# --- HTML -------------------------------------------------------------------------------

COLORS = {"answered": "#2563eb", "refused": "#f59e0b", "rate": "#b91c1c", "grid": "#e5e7eb", "text": "#374151"}

_CSS = """
body{font-family:system-ui,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px;color:#111827;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .muted{color:#6b7280}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;min-width:140px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%;font-size:14px} th,td{border-bottom:1px solid #e5e7eb;
padding:5px 8px;text-align:left;vertical-align:top} th{background:#f9fafb} td.n{text-align:right;white-space:nowrap}
svg text{font-family:inherit;font-size:12px;fill:#374151}
"""


# What the codes in the log mean, for the operator's page.
REASON_LABELS = {
    "answered": "trả lời được",
    "not_found": "không có bài phù hợp",
    "no_content": "câu hỏi chưa rõ ý",
    "empty": "tin nhắn trống",
    "error": "lỗi khi trả lời",
}
KIND_LABELS = {"private": "chat riêng", "group": "nhóm", "console": "console", "cli": "dòng lệnh"}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _axis(max_value: int, most: int = 5) -> tuple[int, int]:
    """``(step, top)`` of a count axis: a whole 1, 2, 2.5 or 5 times a power of ten, at most ``most``
    steps from 0 to ``top`` >= ``max_value`` (411 -> 100 up to 500; 4 -> 1 up to 4)."""
    scale = 1
    while True:
        for m in (1, 2, 2.5, 5):
            step = m * scale
            if step == int(step) and math.ceil(max_value / step) <= most:
                return int(step), int(step) * max(1, math.ceil(max_value / step))
        scale *= 10


def chart_svg(report: Report, width: int = 1000, height: int = 320) -> str:
    """Questions per day (answered and refused, stacked) and the refusal rate (line, right axis), as inline SVG."""
    left, right, top, bottom = 56, 56, 30, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    days = report.days
    y_step, y_max = _axis(max((d.questions for d in days), default=0))
    step = plot_w / max(1, len(days))
    bar_w = max(1.0, step * 0.7)
    label = "Số câu hỏi mỗi ngày và tỉ lệ từ chối"
    out = [f'<svg id="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-label="{label}">']
    for value in range(0, y_max + 1, y_step):  # grid lines and the left axis: questions
        y = top + plot_h * (1 - value / y_max)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{COLORS["grid"]}"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_int(value)}</text>')
    for percent in range(0, 101, 25):  # the right axis: refusal rate
        y = top + plot_h * (1 - percent / 100)
        out.append(f'<text x="{left + plot_w + 6}" y="{y + 4:.1f}">{percent}%</text>')
    label_every = max(1, math.ceil(len(days) / 15))
    points: list[tuple[float, float] | None] = []
    for i, d in enumerate(days):
        x = left + i * step + (step - bar_w) / 2
        h_ok = plot_h * d.answered / y_max
        h_no = plot_h * d.refused / y_max
        tip = f"{_dm(d.day)}: {_int(d.questions)} câu hỏi, {_int(d.refused)} bị từ chối"
        out.append(
            f"<g><title>{_e(tip)}</title>"
            f'<rect x="{x:.1f}" y="{top + plot_h - h_ok:.1f}" width="{bar_w:.1f}" height="{h_ok:.1f}" '
            f'fill="{COLORS["answered"]}"/>'
            f'<rect x="{x:.1f}" y="{top + plot_h - h_ok - h_no:.1f}" width="{bar_w:.1f}" height="{h_no:.1f}" '
            f'fill="{COLORS["refused"]}"/></g>'
        )
        if i % label_every == 0:
            out.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_dm(d.day)}</text>'
            )
        rate = d.refusal_rate
        points.append(None if rate is None else (x + bar_w / 2, top + plot_h * (1 - rate)))
    path, pen_down = [], False
    for p in points:  # a day without questions breaks the line
        if p is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{p[0]:.1f},{p[1]:.1f}")
        pen_down = True
    if path:
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{COLORS["rate"]}" stroke-width="2"/>')
    legend = [("answered", "Trả lời"), ("refused", "Từ chối"), ("rate", "Tỉ lệ từ chối (trục phải)")]
    x = left
    for key, label in legend:
        out.append(
            f'<rect x="{x}" y="8" width="12" height="12" fill="{COLORS[key]}"/><text x="{x + 16}" y="18">{label}</text>'
        )
        x += 40 + 7 * len(label)
    out.append("</svg>")
    return "\n".join(out)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{_e(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        if body
        else ('<p class="muted">Không có.</p>')
    )


def to_html(report: Report) -> str:
    """The report as ONE self-contained HTML file: inline CSS and SVG, no script, no link, all text escaped."""
    r = report
    period = f"{r.start.strftime('%d/%m/%Y')} – {r.end.strftime('%d/%m/%Y %H:%M')} ({r.end.tzname() or 'UTC'})"
    cards = [
        ("Câu hỏi", _int(r.questions)),
        ("Trả lời", _pct(r.answered, r.questions)),
        ("Từ chối", _pct(r.refused, r.questions)),
        ("Lỗi", _pct(r.errors, r.questions)),
        ("👍 thích / 👎 chê", f"{_int(r.up_votes)} / {_int(r.down_votes)}"),
        ("Được đánh giá", _pct(r.voted_answers, r.answered)),
        ("Thời gian p50", _ms(r.latency_p50_ms)),
        ("Thời gian p95", _ms(r.latency_p95_ms)),
    ]
    parts = [
        '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Báo cáo hỏi đáp {_e(period)}</title><style>{_CSS}</style></head><body>",
        f'<h1>Báo cáo hỏi đáp</h1><div class="muted">{_e(period)} · {_int(r.articles)} bài viết trong chỉ mục</div>',
        '<div class="cards">' + "".join(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in cards) + "</div>",
        chart_svg(r),
        "<h2>Câu hỏi bị từ chối, theo chủ đề (tài liệu còn thiếu)</h2>",
        _table(
            ["Từ khóa", "Số câu", "Ví dụ"],
            ((", ".join(g.keywords), _int(g.count), " | ".join(g.examples)) for g in r.refusal_groups),
            numeric=[1],
        ),
        "<h2>Câu trả lời bị chê (👎)</h2>",
        _table(
            ["Thời gian", "Câu hỏi", "Câu trích", "Bài viết", "👍 thích", "👎 chê"],
            (
                (d.at.astimezone(r.end.tzinfo).strftime("%d/%m %H:%M"), d.question, d.quote, d.title, d.up, d.down)
                for d in r.disliked
            ),
            numeric=[4, 5],
        ),
        "<h2>Bài viết được trích nhiều nhất</h2>",
        _table(
            ["Bài viết", "Mã", "Số câu trả lời"],
            ((a.title, a.doc_id, _int(a.count)) for a in r.most_cited),
            numeric=[2],
        ),
        f"<h2>Bài viết chưa được trích lần nào ({_int(r.never_cited_total)})</h2>",
        _table(["Bài viết", "Mã"], ((a.title, a.doc_id) for a in r.never_cited)),
        (
            f'<p class="muted">… và {_int(r.never_cited_total - len(r.never_cited))} bài khác.</p>'
            if r.never_cited_total > len(r.never_cited)
            else ""
        ),
        "<h2>Theo ngày</h2>",
        _table(
            ["Ngày", "Câu hỏi", "Trả lời", "Từ chối", "Tỉ lệ từ chối"],
            (
                (
                    d.day.strftime("%d/%m/%Y"),
                    _int(d.questions),
                    _int(d.answered),
                    _int(d.refused),
                    _pct(d.refused, d.questions),
                )
                for d in reversed(r.days)
            ),
            numeric=[1, 2, 3, 4],
        ),
        "<h2>Lý do và nơi hỏi</h2>",
        _table(["Lý do", "Mã", "Số câu"], ((REASON_LABELS.get(k, k), k, _int(n)) for k, n in r.reasons), numeric=[2]),
        _table(
            ["Nơi hỏi", "Mã", "Số câu"], ((KIND_LABELS.get(k, k), k, _int(n)) for k, n in r.chat_kinds), numeric=[2]
        ),
        "</body></html>\n",
    ]
    return "\n".join(parts)


# --- PNG (Telegram /stats) --------------------------------------------------------------------


def render_chart_png(report: Report, width_px: int = 1000, height_px: int = 450) -> bytes:
    """The chart of :func:`chart_svg` as a PNG, for a Telegram photo.

    Drawn with matplotlib (imported here, not at start-up) on a ``Figure`` of its own,
    never pyplot, whose global figure registry is shared state: safe from a worker
    thread. Its bundled DejaVu Sans has the Vietnamese letters, so labels render
    the same on any machine.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = list(range(len(report.days)))
    answered = [d.answered for d in report.days]
    refused = [d.refused for d in report.days]
    ax.bar(xs, answered, color=COLORS["answered"], label="Trả lời", width=0.7)
    ax.bar(xs, refused, bottom=answered, color=COLORS["refused"], label="Từ chối", width=0.7)
    ax.set_ylabel("Số câu hỏi mỗi ngày")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _int(int(v))))
    every = max(1, math.ceil(len(xs) / 12))
    ax.set_xticks(xs[::every], [_dm(d.day) for d in report.days][::every])
    ax.set_xlim(-0.6, len(xs) - 0.4)
    rate_ax = ax.twinx()
    rates = [float("nan") if d.refusal_rate is None else d.refusal_rate for d in report.days]
    rate_ax.plot(xs, rates, color=COLORS["rate"], linewidth=2, marker="o", markersize=3, label="Tỉ lệ từ chối")
    rate_ax.set_ylim(0, 1)
    rate_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    handles = ax.get_legend_handles_labels()[0] + rate_ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=9)
    ax.set_title(
        f"Câu hỏi {report.start.strftime('%d/%m')}–{report.end.strftime('%d/%m/%Y')}: "
        f"{_int(report.questions)} câu, trả lời {_pct(report.answered, report.questions)}"
    )
    for side in ("top",):
        ax.spines[side].set_visible(False)
        rate_ax.spines[side].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
