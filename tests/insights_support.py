"""Factories shared by the tests of bot/questionlog.py, bot/report.py and bot/metrics.py."""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.compose import Answer, Result


def make_result(question: str, doc_ids: Sequence[str] = (), *, notes: Sequence[str] = ("weak",)) -> Result:
    """An answered result quoting ``doc_ids`` (best first), or a refusal with ``notes`` when there are none."""
    answers = tuple(
        Answer(quote=f"Câu trích từ {d}.", doc_id=d, title=f"Bài {d}", source=None, date=None, url=None,
               score=10.0 - i)
        for i, d in enumerate(doc_ids)
    )
    return Result(question=question, answered=bool(answers), answers=answers,
                  message="...", notes=() if answers else tuple(notes))


def words(text: str) -> list[str]:
    """A whitespace splitter standing in for the bot's word segmentation (punctuation dropped)."""
    return re.findall(r"\w+", text.lower())
