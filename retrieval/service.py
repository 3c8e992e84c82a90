"""The answering service: the one object every front end (CLI, console, Telegram) calls.

It is built once at start-up from the typed :class:`Config`: the saved index is
loaded when its fingerprint matches the corpus and settings, and rebuilt (and
saved) otherwise. When that rebuild fails, the last good index is served.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.answer import messages
from retrieval.answer.compose import Composer, Outcome, Result
from retrieval.config import Config
from retrieval.errors import BotError, ConfigError, IndexFormatError
from retrieval.index.build import build_index
from retrieval.index.segcache import segment_corpus
from retrieval.index.sentences import SentenceIndex
from retrieval.index.store import compat_key, fingerprint, index_path, load_index, load_last_good, save_index
from retrieval.ingest.corpus import Article, load_corpus
from retrieval.search.backend import SearchBackend
from retrieval.search.correct import Corrector
from retrieval.search.rerank import rank
from retrieval.text.answer_types import TypeRules
from retrieval.text.lexicon import DeferredLexicon, Lexicon
from retrieval.text.normalize import normalize
from retrieval.text.segment import Segmenter, underthesea_version
from retrieval.text.variants import variants_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexInfo:
    """How the index was obtained, for the operator."""

    path: Path
    rebuilt: bool
    reason: str
    seconds: float
    saved: bool
    # True when a rebuild failed and the last good index (of an older corpus) is served.
    stale: bool = False
    # Wall seconds of each build stage ("ingest", "segment", "index", "save"); empty when loaded.
    stages: tuple[tuple[str, float], ...] = ()


def valid_unicode(text: str) -> str:
    """``text`` without lone surrogates, which a Python str may hold (undecodable command-line
    bytes, a JSON ``\\ud800`` escape) but UTF-8 and the segmenter cannot: they become U+FFFD,
    and a surrogate pair becomes the character it encodes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _describe(exc: BaseException) -> str:
    """One line for the log: the message of our own errors, else the exception's type and text."""
    text = " ".join(str(exc).split())
    if isinstance(exc, BotError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class AnswerService:
    """Answers questions from one corpus. Thread-safe for concurrent ``answer`` calls.

    ``backend`` runs the search (default: a new :class:`SearchBackend`, owned by this
    service); :meth:`close` releases it. ``lexicon``: the ordinary Vietnamese words the
    answer-or-refuse decision tells from names (default: underthesea's dictionary)."""

    def __init__(
        self,
        index: SentenceIndex,
        segmenter: Segmenter,
        cfg: Config,
        info: IndexInfo | None = None,
        *,
        backend: SearchBackend | None = None,
        lexicon: Lexicon | None = None,
    ):
        # The index and its spelling corrector, swapped together (use_index): a question reads both once.
        self._serving = (index, Corrector(index.fold))
        self.backend = backend or SearchBackend()
        # Questions are rewritten the way the index's articles were (one spelling per meaning).
        self.segmenter = segmenter.rewriting(variants_for(cfg.retrieval.equivalents))
        self.cfg = cfg
        self.question_forms = variants_for(cfg.retrieval.question_forms)
        # Abbreviations are segmented once, like any other text.
        abbreviations = {
            "_".join(segmenter.terms(short)): segmenter.terms(long)
            for short, long in cfg.retrieval.abbreviations.items()
            if segmenter.terms(short)
        }
        self.composer = Composer(cfg.answer, cfg.retrieval, abbreviations, lexicon=lexicon or DeferredLexicon())
        self.type_rules = TypeRules.from_config(cfg.retrieval)  # built once, used by every question
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
        """Load the saved index for ``corpus`` (default: the config's) or build and save it.

        When the corpus changed but cannot be indexed any more (the folder is
        gone, no file is loadable, building fails), the index saved by the last
        good build is served instead, with a warning naming the reason, if it is
        intact and compatible (:func:`~retrieval.index.store.load_last_good`);
        otherwise the error is raised. A bad ``config.yaml`` is never papered
        over, and ``rebuild=True`` (``bot index``) never falls back.
        """
        corpus = Path(corpus or cfg.corpus).resolve()
        lexicon = DeferredLexicon()  # read while the index loads
        variants = variants_for(cfg.retrieval.equivalents)
        segmenter = (segmenter or Segmenter()).rewriting(variants)
        seg_id = segmenter_id or f"underthesea-{underthesea_version()}"
        started = time.perf_counter()
        path = index_path(cfg, corpus)
        compat = compat_key(cfg, seg_id)
        stale = False
        stages: list[tuple[str, float]] = []
        try:
            index, reason, saved = cls._load_or_build(
                cfg, corpus, segmenter, seg_id, path, compat, rebuild, progress, stages
            )
        except ConfigError:
            raise
        except Exception as exc:  # any failure to rebuild falls back to the last good index
            if rebuild:  # `bot index`: the operator asked for a new index, not the old one
                raise
            index = cls._last_good(path, compat, corpus, exc)
            reason, saved, stale = f"rebuild failed ({_describe(exc)}); serving the last good index", False, True
        loaded = reason == "loaded"
        info = IndexInfo(
            path,
            rebuilt=not (loaded or stale),
            reason=reason,
            seconds=time.perf_counter() - started,
            saved=saved,
            stale=stale,
            stages=tuple(stages) if not (loaded or stale) else (),
        )
        log.info(
            "index ready: %d articles, %d sentences, %s in %.2fs",
            len(index.live_articles),
            index.bm25.n_live,
            "loaded" if loaded else "last good index (stale)" if stale else "built",
            info.seconds,
        )
        return cls(index, segmenter, cfg, info, lexicon=lexicon)

    @staticmethod
    def _load_or_build(
        cfg: Config,
        corpus: Path,
        segmenter: Segmenter,
        seg_id: str,
        path: Path,
        compat: str,
        rebuild: bool,
        progress: bool | None,
        stages: list[tuple[str, float]],
    ) -> tuple[SentenceIndex, str, bool]:
        """(index, reason, saved): the saved index when it matches, else a new one, saved if possible.
        A build appends each stage's wall seconds to ``stages``."""
        fp = fingerprint(cfg, corpus, seg_id)
        reason = "rebuild requested"
        if not rebuild:
            if not path.exists():
                reason = "no saved index"
            else:
                # The model loads while the file is checked (in a forked child for a large file,
                # see store._verify); joined before any build, whose worker processes fork.
                warm = threading.Thread(target=segmenter.warm_up, name="load-model", daemon=True)
                warm.start()
                try:
                    return load_index(path, fp), "loaded", False
                except IndexFormatError as exc:
                    reason = str(exc)
                finally:
                    warm.join()
        log.info("building index for %s (%s)", corpus, reason)
        clock = time.perf_counter()

        def stage(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            stages.append((name, now - clock))
            clock = now

        articles = load_corpus(
            corpus,
            cfg.ingest,
            workers=cfg.build_workers,
            cache_path=path.with_suffix(".documents.sqlite"),
            progress=progress,
        ).articles
        stage("ingest")
        segmented = segment_corpus(
            articles,
            segmenter,
            f"{seg_id}+variants-{variants_for(cfg.retrieval.equivalents).digest}",
            cache_path=path.with_suffix(".segments.sqlite"),
            workers=cfg.build_workers,
            progress=progress,
        )
        stage("segment")
        index = build_index(articles, segmented=segmented, progress=progress, **cfg.retrieval.index_settings())
        stage("index")
        try:
            save_index(index, path, fp, compat)
            saved = True
        except OSError as exc:
            log.warning("could not save the index to %s (%s); serving it from memory", path, exc)
            saved = False
        stage("save")
        log.info("build stages: %s", ", ".join(f"{name} {seconds:.1f}s" for name, seconds in stages))
        return index, reason, saved

    @staticmethod
    def _last_good(path: Path, compat: str, corpus: Path, failure: Exception) -> SentenceIndex:
        """The index of the last good build, standing in for a failed rebuild; re-raises ``failure``
        when there is none (or it is damaged, or from another version or retrieval settings)."""
        if not path.exists():
            raise failure
        try:
            index = load_last_good(path, compat)
        except IndexFormatError as exc:
            log.info("the saved index %s cannot stand in for the failed rebuild: %s", path, exc)
            raise failure from None
        log.warning(
            "could not rebuild the index for %s: %s; serving the last good index (%s, %d articles) "
            "until the corpus can be indexed again",
            corpus,
            _describe(failure),
            path,
            len(index.articles),
        )
        if not isinstance(failure, (BotError, OSError)):
            log.debug("the rebuild failed with", exc_info=failure)
        return index

    @property
    def index(self) -> SentenceIndex:
        """The index questions are answered from now."""
        return self._serving[0]

    @property
    def corrector(self) -> Corrector:
        return self._serving[1]

    def use_index(self, index: SentenceIndex) -> None:
        """Answer from ``index`` from now on (an updated index: :func:`retrieval.index.update.apply_changes`).
        Questions already being answered finish on the index they started with."""
        self._serving = (index, Corrector(index.fold))

    @property
    def articles(self) -> Sequence[Article]:
        """The indexed articles in corpus order (a sequence; a loaded index builds each one when it
        is read); without those an update removed."""
        return self.index.live_articles

    def answer(self, question: str, max_answers: int | None = None) -> Result:
        """Answer one question; never raises for any string input.

        ``max_answers`` overrides ``answer.max_answers`` (the Telegram "Xem thêm"
        button asks for more answers and pages through them).
        """
        if not isinstance(question, str):
            question = "" if question is None else str(question)
        text = self.clean_question(question)
        limit = self.cfg.answer.max_question_chars
        truncated = len(text) > limit
        text = text[:limit]
        index, corrector = self._serving  # one index for the whole question, whatever use_index does meanwhile
        words = self._words(text, corrector)
        query = self.composer.query(text, words)
        k = max(self.cfg.retrieval.top_k, 2 * (max_answers or 0))
        hits = rank(self.backend, index, query, text, self.cfg.retrieval, k, self.type_rules)
        decision = self.composer.decide(index, query, hits, text, max_answers)
        if decision.answered:
            message = messages.answer_text(decision.answers)
        elif decision.outcome is Outcome.EMPTY:
            message = messages.EMPTY
        elif decision.outcome is Outcome.NO_CONTENT:
            message = messages.NO_CONTENT
        else:
            message = messages.refusal_text(decision.suggestions)
        if truncated and decision.outcome is not Outcome.EMPTY:
            message = messages.TRUNCATED.format(limit=limit) + "\n\n" + message
        # A large index's compiled first stage starts loading now, in the background: once the
        # first answer is ready, which numba's imports (they hold the interpreter lock) would slow.
        self.backend.warm_up_after_first_answer(index)
        return Result(
            question=question,
            answers=decision.answers,
            message=message,
            outcome=decision.outcome,
            truncated=truncated,
            highlight=tuple(self.composer.content_terms(words)),
            suggestions=decision.suggestions,
            confidence=decision.judgement.probability if decision.judgement else None,
            evidence=decision.judgement.evidence if decision.judgement else None,
        )

    def content_words(self, question: str) -> tuple[str, ...]:
        """The question's content words, segmented as for answering (what the report groups by)."""
        text = self.clean_question(question)[: self.cfg.answer.max_question_chars]
        return tuple(self.composer.content_terms(self._words(text)))

    def _words(self, text: str, corrector: Corrector | None = None) -> tuple[str, ...]:
        """A question's segmented words: chat forms rewritten, typing slips corrected."""
        return (corrector or self.corrector).words(self.segmenter.terms(self.question_forms(normalize(text))))

    def idf(self, term: str) -> float | None:
        """The sentence index's IDF of ``term`` (None: no sentence holds it)."""
        return self.index.bm25.idf_of(term)

    def close(self) -> None:
        """Release the search backend's worker thread (answering still works, on one core)."""
        self.backend.close()

    def __enter__(self) -> AnswerService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def clean_question(question: str) -> str:
        """The question as answered (before any cut): valid Unicode, without surrounding spaces."""
        return valid_unicode(question).strip()
