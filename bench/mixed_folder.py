"""A mixed folder of documents (HTML, PDF, DOCX, legacy-encoded text) asked through the command line.

Usage (from the repository root)::

    .venv/bin/python bench/mixed_folder.py [--keep DIR]

Builds a folder from the fixtures in ``tests/data/docs`` (3 news pages with
their site around them, 3 PDFs of 2+ pages: a two-line title, a plan, a scan
without a text layer; 3 DOCX with tables; a TCVN3 and a VNI text; a
Windows-1258 text), adds broken files (an encrypted PDF, a zip-bomb DOCX, a
DOCX that is no zip, a page without text, a 0-byte file, a 51 MB file) and
non-documents (an image, an archive, an executable), then runs
``python -m bot ask --json --corpus FOLDER`` once with two questions per
readable document on its standard input (one result per line). It prints a
Markdown table: each document's extracted title, date and source, and for
each question the cited document, the citation as a user reads it
(:func:`retrieval.answer.messages.citation`, with the page or section) and
whether the answer came from the document the question is about; then the
warnings the build logged. Exit code 1 when a question is answered from
another document or not at all.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.answer.messages import citation, format_date  # noqa: E402

DOCS = ROOT / "tests" / "data" / "docs"

# fixture -> the two questions it answers (and a word the quote must hold).
QUESTIONS: dict[str, list[tuple[str, str]]] = {
    "html/congluan_ha_noi_phan_lan.html": [
        ("Bộ trưởng Bộ Kinh tế Phần Lan tên là gì?", "Mika Lintila"),
        ("Hà Nội có dân số bao nhiêu?", "10 triệu"),
    ],
    "html/kinhtedothi_dai_su_my.html": [
        ("Đại sứ Mỹ tại Việt Nam tên là gì?", "Ted Osius"),
        ("Hà Nội ký văn bản ghi nhớ với tập đoàn nào?", "Microsoft"),
    ],
    "html/hanoi_asocio.html": [
        ("Các tổ hợp trung tâm dữ liệu có tổng công suất bao nhiêu?", "1.200 MW"),
        ("Khẩu hiệu của ASOCIO là gì?", "Định hình lại kỷ nguyên mới"),
    ],
    "pdf/tin_phuong_hai_dong_tieu_de.pdf": [
        ("Năm 2023 phường Phúc Xá tiếp nhận bao nhiêu hồ sơ trực tuyến?", "1.245"),
        ("Điểm hỗ trợ dịch vụ công được bố trí những thiết bị gì?", "máy tính"),
    ],
    "pdf/ke_hoach_chuyen_doi_so.pdf": [
        ("Cơ sở dữ liệu nào được xây dựng trên địa bàn phường?", "hộ kinh doanh cá thể"),
        ("Những lĩnh vực nào được ưu tiên số hóa hồ sơ?", "ưu tiên"),
    ],
    "pdf/ban_scan_khong_chu.pdf": [],  # no text layer: a warning, nothing to ask
    "docx/quyet_dinh_thanh_lap_to.docx": [
        ("Ai giữ nhiệm vụ tổ trưởng trong Tổ công nghệ số?", "Nguyễn Văn An"),
        ("Tổ công nghệ số báo cáo UBND phường trước ngày nào hằng tháng?", "25"),
    ],
    "docx/bao_cao_so_ket.docx": [
        ("Bộ phận một cửa đã tiếp nhận bao nhiêu hồ sơ?", "1.126"),
        ("Lĩnh vực hộ tịch có bao nhiêu hồ sơ trực tuyến?", "Hộ tịch"),
    ],
    "docx/thong_bao_font_vntime.docx": [
        ("Công dân cần mang theo giấy tờ gì khi đến trình bày khiếu nại?", "căn cước"),
        ("Ai tiếp công dân ngày 25/4/2024?", "Phó Chủ tịch"),
    ],
    "text/hoi_nghi_tcvn3.txt": [
        ("Hội nghị Thành phố thông minh Việt Nam - Châu Á 2023 khai mạc ở đâu?", "Trung tâm Hội nghị Quốc gia"),
        ("Chủ tịch Hội đồng sáng lập VINASA là ai?", "Trương Gia Bình"),
    ],
    "text/tiem_chung_vni.txt": [
        ("Tiêm chủng mở rộng tháng 5 dành cho trẻ em bao nhiêu tuổi?", "dưới 5 tuổi"),
        ("Sau khi tiêm trẻ được theo dõi bao lâu?", "30 phút"),
    ],
    "text/sot_xuat_huyet_cp1258.txt": [
        ("Phường Phúc Xá ghi nhận bao nhiêu ca mắc sốt xuất huyết?", "17 ca"),
        ("Chiến dịch diệt bọ gậy thu gom được bao nhiêu rác thải?", "3 tấn"),
    ],
}
BROKEN = [
    "broken/mat_khau.pdf",
    "broken/zip_bomb.docx",
    "broken/not_a_zip.docx",
    "html/empty_page.html",
    "misc/empty.txt",
]
ENCODING = {
    "text/hoi_nghi_tcvn3.txt": "TCVN3",
    "text/tiem_chung_vni.txt": "VNI",
    "text/sot_xuat_huyet_cp1258.txt": "Windows-1258",
}


def build_folder(folder: Path) -> None:
    for name in list(QUESTIONS) + BROKEN:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DOCS / name, folder / name)
    with open(folder / "pdf" / "ban_do_lon.pdf", "wb") as fh:  # 51 MB, sparse: over ingest.max_file_mb
        fh.truncate(51 << 20)
    shutil.copy(DOCS / "misc/image_named_as.html", folder / "misc" / "anh_dai_dien.html")  # a PNG
    (folder / "misc" / "luu_tru.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (folder / "misc" / "cai_dat.exe").write_bytes(b"MZ\x90\x00" + bytes(60))


def ask(folder: Path, work: Path, questions: list[str]) -> tuple[list[dict], list[str], str]:
    config = work / "config.yaml"
    config.write_text(f"corpus: {folder}\ncache_dir: {work / 'cache'}\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "--config", str(config)],
        input="\n".join(questions) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    warnings = [line.split(" WARNING ", 1)[1] for line in proc.stderr.splitlines() if " WARNING " in line]
    built = next((line for line in proc.stderr.splitlines() if "index ready" in line), "")
    return results, warnings, built


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, help="build the folder here (kept) instead of a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = args.keep or work / "tai_lieu"
        if folder.exists():
            shutil.rmtree(folder)
        build_folder(folder)
        asked = [(doc, q, expect) for doc, qs in QUESTIONS.items() for q, expect in qs]
        results, warnings, built = ask(folder, work, [q for _, q, _ in asked])
    wrong = 0
    print("| document | kind | title | date | source | question | cited | citation | right |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (doc, question, expect), result in zip(asked, results):
        doc_id = doc.rsplit(".", 1)[0]
        kind = ENCODING.get(doc, doc.rsplit(".", 1)[1].upper())
        first = result["answers"][0] if result["answers"] else None
        right = first is not None and first["doc_id"] == doc_id and expect in first["quote"]
        wrong += not right
        if first:
            cited = first["doc_id"]
            cite = citation(
                first["title"], first["source"], first["date"], page=first["page"], section=first["section"]
            )
            meta = (first["title"], format_date(first["date"]) or "–", first["source"] or "–")
        else:
            cited, cite, meta = "–", "(refused)", ("?", "?", "?")
        print(
            f"| {doc_id} | {kind} | {meta[0]} | {meta[1]} | {meta[2]} | {question} | {cited} | {cite} | "
            f"{'yes' if right else 'NO'} |"
        )
    for doc in (d for d, qs in QUESTIONS.items() if not qs):
        print(
            f"| {doc.rsplit('.', 1)[0]} | {doc.rsplit('.', 1)[1].upper()} | – | – | – | (none: skipped, see the "
            "warnings) | – | – | – |"
        )
    print(f"\n{len(asked) - wrong}/{len(asked)} questions answered from their own document. {built.strip()}")
    print("\nWarnings logged while indexing the folder:\n")
    for line in warnings:
        print(f"- {line.replace(str(folder) + '/', '')}")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
