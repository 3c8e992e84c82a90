"""Throughput of the document readers (``retrieval.ingest.formats``) on the fixtures and on a 1,000-page PDF.

Usage (from the repository root)::

    .venv/bin/python bench/formats.py                  # fixtures, then a generated 1,000-page PDF
    .venv/bin/python bench/formats.py --pages 200 --min-seconds 0.5

What is measured
----------------
* **fixtures**: every readable file in ``tests/data/docs`` (HTML, PDF, DOCX,
  text), read from memory with ``read_document(path, data)`` again and again
  for at least ``--min-seconds`` per file; per kind: files, total size,
  files/s, MB/s and, for PDFs, pages/s. These files are small (a few KB of
  text), so the figures are dominated by per-file costs (parsing the
  container, trafilatura's page analysis).
* **generated PDF**: ``--pages`` A4 pages of the ward plan text (a running
  header, a "Trang n/N" footer, indented paragraphs) written with fpdf2 and
  the DejaVu Sans font into a temporary folder (needs the ``fixtures``
  extra: ``pip install -e '.[fixtures]'``), then read once after a warm-up
  read: pages/s and MB/s.

One process, one thread; the machine's other load shows in the figures, so
compare runs made back to back.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.ingest.formats import Document, UnreadableDocument, read_document  # noqa: E402

DOCS = ROOT / "tests" / "data" / "docs"


def _pages(document: Document) -> int:
    return max((b.page or 0 for b in document.blocks), default=0)


def _time_reads(path: Path, data: bytes, min_seconds: float) -> tuple[int, float, int]:
    """(reads, seconds, pages of one read) for repeated reads of one file."""
    pages = _pages(read_document(path, data))  # warm-up, and the page count
    reads, start = 0, time.perf_counter()
    while True:
        read_document(path, data)
        reads += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return reads, elapsed, pages


def bench_fixtures(min_seconds: float) -> None:
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])  # files, bytes, seconds/read, pages
    for path in sorted(p for p in DOCS.rglob("*") if p.is_file() and p.suffix != ".py"):
        data = path.read_bytes()
        try:
            kind = read_document(path, data).kind
        except UnreadableDocument:
            continue  # the broken fixtures
        reads, seconds, pages = _time_reads(path, data, min_seconds)
        row = totals[str(kind)]
        row[0] += 1
        row[1] += len(data)
        row[2] += seconds / reads
        row[3] += pages
    print(f"{'fixtures':10} {'files':>5} {'KB':>7} {'files/s':>9} {'MB/s':>7} {'pages/s':>8}")
    for kind, (files, size, seconds, pages) in sorted(totals.items()):
        pages_rate = f"{pages / seconds:8.0f}" if pages else f"{'-':>8}"
        print(f"{kind:10} {files:5.0f} {size / 1024:7.1f} {files / seconds:9.1f} {size / seconds / 2**20:7.2f} "
              f"{pages_rate}")


def _make_pdf(pages: int, folder: Path) -> Path | None:
    try:
        import fpdf  # noqa: F401
    except ImportError:
        print("generated PDF: skipped (pip install -e '.[fixtures]' for fpdf2)")
        return None
    spec = importlib.util.spec_from_file_location("make_fixtures", DOCS / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    source = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(source)
    t = source.Typesetter(size=11, top=70, bottom=80,
                          header="UBND phường Phúc Xá - Kế hoạch số 45/KH-UBND ngày 20/02/2024",
                          footer="Trang {page}/{pages}")
    t.pdf.set_title("Kế hoạch chuyển đổi số (bản dài)")
    paragraphs = [text.replace("|", "") for kind, text in source.WARD_PLAN_BODY if kind == "p"]
    while True:
        for number, text in enumerate(paragraphs):
            t.paragraph(text, indent=28)
            if len(t.pages) > pages:
                t.pages.pop()
                path = folder / f"generated_{pages}_pages.pdf"
                path.write_bytes(t.render())
                return path
            if number % 3 == 2:
                t.line("Mục tiếp theo của kế hoạch", style="B")


def bench_generated_pdf(pages: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = _make_pdf(pages, Path(folder))
        if path is None:
            return
        made = time.perf_counter() - start
        data = path.read_bytes()
        read_document(path, data)  # warm-up
        start = time.perf_counter()
        document = read_document(path, data)
        seconds = time.perf_counter() - start
    read_pages = _pages(document)
    print(f"generated PDF: {read_pages} pages, {len(data) / 2**20:.1f} MB (written in {made:.1f} s), "
          f"{len(document.blocks)} paragraphs; read in {seconds:.2f} s: "
          f"{read_pages / seconds:.0f} pages/s, {len(data) / seconds / 2**20:.2f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="pages of the generated PDF (0: none)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="time spent reading each fixture")
    args = parser.parse_args()
    if args.pages < 0 or args.min_seconds <= 0:
        parser.error("--pages must be >= 0 and --min-seconds > 0")
    bench_fixtures(args.min_seconds)
    if args.pages:
        bench_generated_pdf(args.pages)


if __name__ == "__main__":
    main()
