"""Shared by the tests of retrieval.ingest.formats: the fixture folder and the texts its files were made from."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

from retrieval.ingest.formats.base import Document

DOCS = Path(__file__).resolve().parent / "data" / "docs"
SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@cache
def fixture_source() -> ModuleType:
    """tests/data/docs/make_fixtures.py, for the texts the fixtures hold (it needs fpdf2 only to write)."""
    spec = importlib.util.spec_from_file_location("make_fixtures", DOCS / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed_paragraph(prefix: str, line: int) -> str:
    """One line (a paragraph) of a seed article, by 1-based line number."""
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    return path.read_text(encoding="utf-8").splitlines()[line - 1].strip()


def all_text(document: Document) -> str:
    return "\n".join(block.text for block in document.blocks)
