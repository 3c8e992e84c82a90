"""The answering service: the one object every front end (CLI, console, Telegram) calls.

It is built once at start-up from the typed :class:`Config`: the saved index is
loaded when its fingerprint matches the corpus and settings, and rebuilt (and
saved) otherwise.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from . import messages
from .compose import Composer, Result
from .config import Config
from .errors import IndexFormatError
from .index import SentenceIndex, build_index
from .ingest import Article, load_corpus
from .rank import rank
from .segment import Segmenter, underthesea_version
from .store import fingerprint, index_path, load_index, save_index

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexInfo:
    """How the index was obtained, for the operator."""

    path: Path
    rebuilt: bool
    reason: str
    seconds: float
    saved: bool


class AnswerService:
    """Answers questions from one corpus. Thread-safe for concurrent ``answer`` calls."""

    def __init__(self, index: SentenceIndex, segmenter: Segmenter, cfg: Config, info: IndexInfo | None = None):
        self.index = index
        self.segmenter = segmenter
        self.cfg = cfg
        # Abbreviations are segmented once, like any other text.
        abbreviations = {
            "_".join(segmenter.terms(short)): segmenter.terms(long)
            for short, long in cfg.retrieval.abbreviations.items()
            if segmenter.terms(short)
        }
        self.composer = Composer(cfg.answer, cfg.retrieval, abbreviations)
        self.info = info

    @classmethod
    def open(
        cls,
        cfg: Config,
        corpus: Path | None = None,
        *,
        segmenter: Segmenter | None = None,
        segmenter_id: str | None = None,
        rebuild: bool = False,
        progress: bool | None = None,
    ) -> AnswerService:
        """Load the saved index for ``corpus`` (default: the config's) or build and save it."""
        corpus = Path(corpus or cfg.corpus).resolve()
        segmenter = segmenter or Segmenter()
        seg_id = segmenter_id or f"underthesea-{underthesea_version()}"
        started = time.perf_counter()
        fp = fingerprint(cfg, corpus, seg_id)
        path = index_path(cfg, corpus)
        index: SentenceIndex | None = None
        reason = "rebuild requested"
        if not rebuild:
            if not path.exists():
                reason = "no saved index"
            else:
                try:
                    index = load_index(path, fp)
                except IndexFormatError as exc:
                    reason = str(exc)
        loaded = index is not None
        saved = False
        if index is None:
            log.info("building index for %s (%s)", corpus, reason)
            articles = load_corpus(corpus, cfg.ingest).articles
            r = cfg.retrieval
            index = build_index(
                articles, segmenter.sentence_spans, segmenter.terms,
                k1=r.k1, b=r.b, epsilon=r.epsilon, progress=progress, with_pairs=r.bigram_weight > 0,
                expand_compounds=r.expand_compounds, with_fold_pairs=r.accentless_bigram_weight > 0,
            )
            try:
                save_index(index, path, fp)
                saved = True
            except OSError as exc:
                log.warning("could not save the index to %s (%s); serving it from memory", path, exc)
        info = IndexInfo(path, rebuilt=not loaded, reason="loaded" if loaded else reason,
                         seconds=time.perf_counter() - started, saved=saved)
        log.info(
            "index ready: %d articles, %d sentences, %s in %.2fs",
            len(index.articles), len(index.sentences), "loaded" if loaded else "built", info.seconds,
        )
        return cls(index, segmenter, cfg, info)

    @property
    def articles(self) -> tuple[Article, ...]:
        return self.index.articles

    def answer(self, question: str, max_answers: int | None = None) -> Result:
        """Answer one question; never raises for any string input.

        ``max_answers`` overrides ``answer.max_answers`` (the Telegram "Xem thêm"
        button asks for more answers and pages through them).
        """
        if not isinstance(question, str):
            question = "" if question is None else str(question)
        notes: list[str] = []
        text = question.strip()
        limit = self.cfg.answer.max_question_chars
        if len(text) > limit:
            text = text[:limit]
            notes.append("truncated")
        query = self.composer.query(text, self.segmenter.terms(text))
        k = max(self.cfg.retrieval.top_k, 2 * (max_answers or 0))
        hits = rank(self.index, query, text, self.cfg.retrieval, k)
        decision = self.composer.decide(self.index, query, hits, max_answers)
        if decision.answered:
            message = messages.answer_text(decision.answers)
        else:
            message = {
                "empty": messages.EMPTY,
                "no_content": messages.NO_CONTENT,
            }.get(decision.reason, messages.REFUSAL)
            notes.append(decision.reason)
        if "truncated" in notes and decision.reason != "empty":
            message = messages.TRUNCATED.format(limit=limit) + "\n\n" + message
        return Result(
            question=question,
            answered=decision.answered,
            answers=decision.answers,
            message=message,
            notes=tuple(notes),
        )
