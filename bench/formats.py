"""Throughput of the document readers on the fixtures, per format on 2 cores, and a 1,000-page PDF indexed end to end.

Usage (from the repository root; run it under ``flock /tmp/heavy.lock`` on a shared machine)::

    .venv/bin/python bench/formats.py                  # all three parts
    .venv/bin/python bench/formats.py --pages 200 --min-seconds 0.5 --copies 16

What is measured
----------------
* **fixtures**: every readable file in ``tests/data/docs`` (HTML, PDF, DOCX,
  text), read from memory with ``read_document(path, data)`` again and again
  for at least ``--min-seconds`` per file; per kind: files, total size,
  files/s, MB/s and, for PDFs, pages/s. One process. These files are small (a
  few KB of text), so the figures are dominated by per-file costs (parsing the
  container, trafilatura's page analysis).
* **ingest**: per kind, a folder of ``--copies`` copies of each readable fixture
  of that kind, loaded as a corpus (``load_corpus``: sniffing, reading,
  cleaning into articles; no document cache) in one process and in
  ``--workers`` processes: files/s, MB/s, pages/s.
* **generated PDF** and **end to end**: a ``--pages`` A4 PDF (paragraphs of
  the ward plan and the seeds, each sentence made distinct by a number so the
  segmenter's cache of seen sentences does not flatter the figures; a running
  header, a "Trang n/N" footer, headings; a paragraph on the budget on page
  ``pages // 2 + 37``), written with fpdf2 and DejaVu Sans (the ``fixtures``
  extra). It is read once after a warm-up read (pages/s, MB/s), then indexed
  by ``AnswerService.open`` with the real segmenter on ``build_workers`` (all
  cores): the build's stages; again with one article added (the PDF comes
  from the document cache); a load of the saved index; and the budget
  question answered, cited with its page.

The machine's other load shows in the figures, so compare runs made back to back.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.ingest.formats import Document, UnreadableDocument, read_document  # noqa: E402

DOCS = ROOT / "tests" / "data" / "docs"
KINDS = {"html": (".html",), "pdf": (".pdf",), "docx": (".docx",), "text": (".txt",)}


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
    for name, (files, size, total_s, total_pages) in sorted(totals.items()):
        pages_rate = f"{total_pages / total_s:8.0f}" if total_pages else f"{'-':>8}"
        print(
            f"{name:10} {files:5.0f} {size / 1024:7.1f} {files / total_s:9.1f} {size / total_s / 2**20:7.2f} "
            f"{pages_rate}"
        )


# The paragraph the end-to-end question finds, on a known page of the generated PDF.
NEEDLE = (
    "Tổng kinh phí thực hiện Kế hoạch chuyển đổi số năm 2024 là 1.850 triệu đồng, "
    "trong đó ngân sách phường bảo đảm 1.200 triệu đồng."
)
NEEDLE_QUESTION = "Tổng kinh phí thực hiện Kế hoạch chuyển đổi số là bao nhiêu?"


def _distinct_paragraphs(source) -> Iterator[str]:
    """The ward plan's and the seeds' paragraphs over and over, every sentence made distinct by a
    number (the segmenter caches the terms of sentences it has seen, which would flatter the figures)."""
    pool = [text.replace("|", "") for kind, text in source.WARD_PLAN_BODY if kind == "p"]
    for seed in sorted((ROOT / "seeds").glob("*.txt")):
        pool += [
            line.strip()
            for line in seed.read_text(encoding="utf-8").splitlines()
            if len(line.split()) >= 20 and line.strip()[-1:] in ".!?"
        ]
    for k in itertools.count(1):
        sentences = re.split(r"(?<=[.!?])\s+", pool[k % len(pool)])
        yield " ".join(f"{s[:-1]} (điểm {k}.{j}){s[-1]}" for j, s in enumerate(sentences, start=1))


def _make_pdf(pages: int, folder: Path) -> Path | None:
    """A ``pages``-page plan: a running header, a "Trang n/N" footer, distinct indented paragraphs,
    bold headings every third paragraph, and :data:`NEEDLE` on page ``pages // 2 + 37`` (or the last)."""
    try:
        import fpdf  # noqa: F401
    except ImportError:
        print("generated PDF: skipped (pip install -e '.[fixtures]' for fpdf2)")
        return None
    spec = importlib.util.spec_from_file_location("make_fixtures", DOCS / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    source = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(source)
    t = source.Typesetter(
        size=11,
        top=70,
        bottom=80,
        header="UBND phường Phúc Xá - Kế hoạch số 45/KH-UBND ngày 20/02/2024",
        footer="Trang {page}/{pages}",
    )
    t.pdf.set_title("Kế hoạch chuyển đổi số (bản dài)")
    needle_page = min(pages, pages // 2 + 37)
    for number, text in enumerate(_distinct_paragraphs(source)):
        if needle_page and len(t.pages) == needle_page:
            t.paragraph(NEEDLE, indent=28)
            needle_page = 0
        t.paragraph(text, indent=28)
        if len(t.pages) > pages:
            t.pages.pop()
            path = folder / f"generated_{pages}_pages.pdf"
            path.write_bytes(t.render())
            return path
        if number % 3 == 2:
            t.line(f"Mục {number // 3 + 1} của kế hoạch", style="B")
    raise AssertionError("unreachable")


def bench_generated_pdf(path: Path, made: float) -> None:
    data = path.read_bytes()
    read_document(path, data)  # warm-up
    start = time.perf_counter()
    document = read_document(path, data)
    seconds = time.perf_counter() - start
    read_pages = _pages(document)
    print(
        f"\ngenerated PDF: {read_pages} pages, {len(data) / 2**20:.1f} MB (written in {made:.1f} s), "
        f"{len(document.blocks)} paragraphs; read in {seconds:.2f} s: "
        f"{read_pages / seconds:.0f} pages/s, {len(data) / seconds / 2**20:.2f} MB/s"
    )


def _readable(kind: str) -> list[Path]:
    found = []
    for path in sorted(DOCS.rglob("*")):
        if path.suffix in KINDS[kind] and "broken" not in path.parts:
            try:
                read_document(path)
            except UnreadableDocument:
                continue
            found.append(path)
    return found


def _pdf_pages(path: Path) -> int:
    import pypdfium2

    document = pypdfium2.PdfDocument(str(path))
    try:
        return len(document)
    finally:
        document.close()


def bench_ingest(copies: int, workers: int) -> None:
    """Each kind's fixtures, ``copies`` times over, loaded as a corpus in 1 and in ``workers`` processes."""
    from retrieval.config import load_config
    from retrieval.ingest.corpus import load_corpus

    rules = load_config(ROOT / "config.yaml").ingest
    print(
        f"\n{'ingest':8} {'files':>6} {'MB':>6} {'procs':>5} {'seconds':>8} {'files/s':>8} {'MB/s':>6} {'pages/s':>8}"
    )
    for kind in KINDS:
        sources = _readable(kind)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            size = pages = 0
            for n in range(copies):
                for source in sources:
                    target = folder / f"{n:04d}_{source.name}"
                    shutil.copy(source, target)
                    size += target.stat().st_size
                    pages += _pdf_pages(source) if kind == "pdf" else 0
            files = copies * len(sources)
            for procs in dict.fromkeys((1, workers)):
                start = time.perf_counter()
                loaded = load_corpus(folder, rules, workers=procs)
                seconds = time.perf_counter() - start
                assert len(loaded.articles) == files, loaded.skipped[:3]
                rate = f"{pages / seconds:8.0f}" if pages else f"{'-':>8}"
                print(
                    f"{kind:8} {files:6d} {size / 2**20:6.1f} {procs:5d} {seconds:8.2f} {files / seconds:8.1f} "
                    f"{size / seconds / 2**20:6.2f} {rate}"
                )


def bench_end_to_end(pdf: Path) -> None:
    """The generated PDF indexed by the service (real segmenter), re-indexed with an article added, loaded."""
    import dataclasses

    from retrieval.config import load_config
    from retrieval.service import AnswerService

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        shutil.copy(pdf, folder)
        cfg = dataclasses.replace(load_config(ROOT / "config.yaml"), cache_dir=Path(tmp) / "cache")
        runs = []
        start = time.perf_counter()
        service = AnswerService.open(cfg, folder, rebuild=True, progress=False)
        runs.append(("first build", time.perf_counter() - start, service.info, len(service.index.sentences)))
        (folder / "ghi_chu.txt").write_text("Ghi chú\n\nPhường Phúc Xá có 12 tổ dân phố.\n", encoding="utf-8")
        start = time.perf_counter()
        service = AnswerService.open(cfg, folder, progress=False)
        runs.append(("an article added", time.perf_counter() - start, service.info, len(service.index.sentences)))
        start = time.perf_counter()
        service = AnswerService.open(cfg, folder, progress=False)
        runs.append(("saved index loaded", time.perf_counter() - start, service.info, len(service.index.sentences)))
        start = time.perf_counter()
        result = service.answer(NEEDLE_QUESTION)
        answered = time.perf_counter() - start
    print(
        f"\nend to end: {pdf.name}, {pdf.stat().st_size / 2**20:.1f} MB, "
        f"{cfg.build_workers or os.cpu_count()} build processes"
    )
    for name, seconds, info, sentences in runs:
        assert info is not None  # open() says how it obtained the index
        stages = ", ".join(f"{stage} {s:.1f}s" for stage, s in info.stages) or info.reason
        print(f"  {name:20} {seconds:6.1f} s  {sentences} sentences ({stages})")
    if result.answers:
        a = result.answers[0]
        print(f"  {NEEDLE_QUESTION} -> «{a.quote}» (trang {a.page}), {answered * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="pages of the generated PDF (0: none)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="time spent reading each fixture")
    parser.add_argument("--copies", type=int, default=32, help="copies of each fixture in the ingest part (0: none)")
    parser.add_argument("--workers", type=int, default=2, help="processes of the ingest part")
    parser.add_argument("--skip-fixtures", action="store_true", help="leave out the one-process fixture reads")
    args = parser.parse_args()
    if args.pages < 0 or args.min_seconds <= 0 or args.copies < 0 or args.workers < 1:
        parser.error("--pages and --copies must be >= 0, --min-seconds > 0, --workers >= 1")
    if not args.skip_fixtures:
        bench_fixtures(args.min_seconds)
    if args.copies:
        bench_ingest(args.copies, args.workers)
    if args.pages:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            pdf = _make_pdf(args.pages, Path(folder))
            if pdf is not None:
                bench_generated_pdf(pdf, time.perf_counter() - start)
                bench_end_to_end(pdf)


if __name__ == "__main__":
    main()
