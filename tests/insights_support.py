"""Factories shared by the tests of the bot/insights package."""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.answer.compose import Answer, Outcome, Result


def make_result(question: str, doc_ids: Sequence[str] = (), *, outcome: Outcome = Outcome.NOT_FOUND) -> Result:
    """An answered result quoting ``doc_ids`` (best first), or one with ``outcome`` when there are none."""
    answers = tuple(
        Answer(quote=f"Câu trích từ {d}.", doc_id=d, title=f"Bài {d}", source=None, date=None, url=None, score=10.0 - i)
        for i, d in enumerate(doc_ids)
    )
    return Result(question=question, answers=answers, message="...", outcome=Outcome.ANSWERED if answers else outcome)


def words(text: str) -> list[str]:
    """A whitespace splitter standing in for the bot's word segmentation (punctuation dropped)."""
    return re.findall(r"\w+", text.lower())
