"""The answering service: the one object every front end (CLI, console, Telegram) calls.

Past 400 lines because opening, answering and updating share one served index and swap it
together: the service is the one place that holds it, so every change to it is made here.

It is built once at start-up from the typed :class:`Config`: the saved index is
loaded when its fingerprint matches the corpus and settings, and rebuilt (and
saved) otherwise. When that rebuild fails, the last good index is served.

While it runs, :meth:`AnswerService.update` brings the index up to date with
files added, changed or removed: only those are read and segmented, the new
index is saved and swapped in whole. A question is answered from the index
that was served when it started (one reference, read once), so answering
never waits for an update and never sees half of one.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.answer import messages
from retrieval.answer.compose import Composer, Outcome, Result
from retrieval.config import Config
from retrieval.errors import BotError, ConfigError, CorpusError, IndexFormatError, describe_error
from retrieval.index.build import build_index
from retrieval.index.segcache import Segmented, segment_corpus
from retrieval.index.sentences import Articles, SentenceIndex
from retrieval.index.store import compat_key, fingerprint, index_path, load_index, load_last_good, save_index
from retrieval.index.update import MERGE_SENTENCES, UpdateError, apply_changes, needs_merge, rebase, start_merge
from retrieval.ingest.corpus import Article, load_corpus
from retrieval.search.backend import SearchBackend
from retrieval.search.correct import Corrector
from retrieval.search.rerank import rank
from retrieval.text.answer_types import TypeRules
from retrieval.text.lexicon import DeferredLexicon, Lexicon
from retrieval.text.normalize import normalize
from retrieval.text.segment import Segmenter, underthesea_version
from retrieval.text.variants import variants_for
from retrieval.updates.changes import Change, Plan, UpdateReport, plan_update

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


@dataclass(frozen=True)
class Served:
    """The index being served and what is derived from it, swapped as one reference."""

    index: SentenceIndex
    corrector: Corrector
    generation: int  # 0 for the index the service opened with, then one more per update that changed it


@dataclass(frozen=True)
class Source:
    """Where the served index comes from, for updates (:meth:`AnswerService.open` knows it)."""

    corpus: Path
    path: Path  # the saved index
    segmenter_id: str
    segmentation_key: str  # the segmentation cache's key: segmenter and spelling variants
    compat: str
    # The corpus files' digests as last fingerprinted (store.fingerprint): updates read only what changed.
    digests: dict[str, tuple[tuple[int, ...], bytes]] = field(default_factory=dict, compare=False, repr=False)


def valid_unicode(text: str) -> str:
    """``text`` without lone surrogates, which a Python str may hold (undecodable command-line
    bytes, a JSON ``\\ud800`` escape) but UTF-8 and the segmenter cannot: they become U+FFFD,
    and a surrogate pair becomes the character it encodes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


@dataclass(frozen=True)
class _Opened:
    """What :meth:`AnswerService.open` found or built."""

    index: SentenceIndex
    reason: str
    saved: bool = False
    fingerprint: str | None = None  # what the saved file says the index was built from
    stale: bool = False


def _save(index: SentenceIndex, path: Path, fp: str, compat: str) -> bool:
    """Save ``index`` (atomically; an updated index as its changes beside its base); False, with a
    warning, when it cannot be: it is served from memory."""
    try:
        save_index(index, path, fp, compat)
        return True
    except (OSError, ValueError) as exc:  # ValueError: changes whose base is not the file at ``path``
        log.warning("could not save the index to %s (%s); serving it from memory", path, exc)
        return False


@dataclass(frozen=True)
class _Merge:
    """A merge of the saved base and its changes running in another process (start_merge)."""

    process: subprocess.Popen
    start: SentenceIndex  # the index the merge started from
    fingerprint: str  # what the merged base is saved under


def _stale_stand_in(path: Path, compat: str, reason: str) -> _Opened | None:
    """The saved index, out of date but intact and compatible, to serve while an update catches up."""
    try:
        index = load_last_good(path, compat)
    except IndexFormatError as exc:
        log.info("the saved index %s cannot be served while it is brought up to date: %s", path, exc)
        return None
    log.warning(
        "the saved index is out of date (%s): serving it (%d articles) while it is brought up to date "
        "in the background",
        reason,
        len(index.articles),
    )
    return _Opened(index, f"{reason}; served while it is brought up to date", stale=True)


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
        source: Source | None = None,
        fingerprint: str | None = None,
    ):
        self._served = Served(index, Corrector(index.fold), 0)
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
        self.source = source
        # The fingerprint the served index was saved under (None: unknown, e.g. a stale index served).
        self._fingerprint = fingerprint
        self._updating = threading.Lock()  # one update at a time
        self._merge: _Merge | None = None
        # Changes holding this many sentences are merged into a new base, in another process.
        self.merge_sentences = MERGE_SENTENCES
        self.last_update: UpdateReport | None = None

    @property
    def index(self) -> SentenceIndex:
        """The index served now (an update may replace it: read it once per use)."""
        return self._served.index

    @property
    def generation(self) -> int:
        """How many updates changed the index since the service opened (caches of answers key on it)."""
        return self._served.generation

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
        stale_ok: bool = False,
    ) -> AnswerService:
        """Load the saved index for ``corpus`` (default: the config's) or build and save it.

        When the corpus changed but cannot be indexed any more (the folder is
        gone, no file is loadable, building fails), the index saved by the last
        good build is served instead, with a warning naming the reason, if it is
        intact and compatible (:func:`~retrieval.index.store.load_last_good`);
        otherwise the error is raised. A bad ``config.yaml`` is never papered
        over, and ``rebuild=True`` (``bot index``) never falls back.

        ``stale_ok``: when the corpus changed since the index was saved (an update
        interrupted by a restart, files added while the bot was stopped), serve the
        saved index at once, marked stale, instead of rebuilding before the first
        answer; the caller brings it up to date with ``update(Change.everything())``
        (the front ends that follow the corpus do).
        """
        corpus = Path(corpus or cfg.corpus).resolve()
        lexicon = DeferredLexicon()  # read while the index loads
        variants = variants_for(cfg.retrieval.equivalents)
        segmenter = (segmenter or Segmenter()).rewriting(variants)
        seg_id = segmenter_id or f"underthesea-{underthesea_version()}"
        started = time.perf_counter()
        path = index_path(cfg, corpus)
        compat = compat_key(cfg, seg_id)
        source = Source(corpus, path, seg_id, f"{seg_id}+variants-{variants.digest}", compat)
        stages: list[tuple[str, float]] = []
        try:
            opened = cls._load_or_build(cfg, source, segmenter, rebuild, progress, stages, stale_ok)
        except ConfigError:
            raise
        except Exception as exc:  # any failure to rebuild falls back to the last good index
            if rebuild:  # `bot index`: the operator asked for a new index, not the old one
                raise
            opened = _Opened(
                cls._last_good(path, compat, corpus, exc),
                f"rebuild failed ({describe_error(exc)}); serving the last good index",
                stale=True,
            )
        index, stale = opened.index, opened.stale
        loaded = opened.reason == "loaded"
        info = IndexInfo(
            path,
            rebuilt=not (loaded or stale),
            reason=opened.reason,
            seconds=time.perf_counter() - started,
            saved=opened.saved,
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
        return cls(index, segmenter, cfg, info, lexicon=lexicon, source=source, fingerprint=opened.fingerprint)

    @staticmethod
    def _load_or_build(
        cfg: Config,
        source: Source,
        segmenter: Segmenter,
        rebuild: bool,
        progress: bool | None,
        stages: list[tuple[str, float]],
        stale_ok: bool = False,
    ) -> _Opened:
        """The saved index when it matches (or, ``stale_ok``, when it is only out of date), else a
        new one, saved if possible. A build appends each stage's wall seconds to ``stages``."""
        corpus, path = source.corpus, source.path
        fp = fingerprint(cfg, corpus, source.segmenter_id, source.digests)
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
                    return _Opened(load_index(path, fp), "loaded", fingerprint=fp)
                except IndexFormatError as exc:
                    reason = str(exc)
                    stale = _stale_stand_in(path, source.compat, reason) if stale_ok else None
                    if stale is not None:
                        return stale
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
            source.segmentation_key,
            cache_path=path.with_suffix(".segments.sqlite"),
            workers=cfg.build_workers,
            progress=progress,
        )
        stage("segment")
        index = build_index(articles, segmented=segmented, progress=progress, **cfg.retrieval.index_settings())
        stage("index")
        saved = _save(index, path, fp, source.compat)
        stage("save")
        log.info("build stages: %s", ", ".join(f"{name} {seconds:.1f}s" for name, seconds in stages))
        return _Opened(index, reason, saved, fp if saved else None)

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
            describe_error(failure),
            path,
            len(index.articles),
        )
        if not isinstance(failure, (BotError, OSError)):
            log.debug("the rebuild failed with", exc_info=failure)
        return index

    @property
    def corrector(self) -> Corrector:
        return self._served.corrector

    def use_index(self, index: SentenceIndex) -> None:
        """Answer from ``index`` from now on (e.g. an updated index: :func:`retrieval.index.update.apply_changes`).
        Questions already being answered finish on the index they started with."""
        self._served = Served(index, Corrector(index.fold), self._served.generation + 1)

    @property
    def articles(self) -> Articles:
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
        served = self._served  # this question's index, whatever an update swaps in meanwhile
        index = served.index
        text = self.clean_question(question)
        limit = self.cfg.answer.max_question_chars
        truncated = len(text) > limit
        text = text[:limit]
        words = self._words(text, served.corrector)
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
        return tuple(self.composer.content_terms(self._words(text, self._served.corrector)))

    def _words(self, text: str, corrector: Corrector) -> tuple[str, ...]:
        """A question's segmented words: chat forms rewritten, typing slips corrected (against the
        words of the index being used)."""
        return corrector.words(self.segmenter.terms(self.question_forms(normalize(text))))

    def idf(self, term: str) -> float | None:
        """The sentence index's IDF of ``term`` (None: no sentence holds it)."""
        return self.index.bm25.idf_of(term)

    # --- Keeping the index current ------------------------------------------------------

    def update(self, change: Change) -> UpdateReport:
        """Bring the served index up to date with ``change`` (files of the corpus added, changed or
        deleted, or :meth:`Change.everything`): only those files are read and segmented, the new
        index is built (:meth:`_apply`), swapped in, and saved. Blocks until done; one update at a
        time. Questions meanwhile are answered from the index they started with, never waiting.

        Raises (the previous index stays served): CorpusError when nothing loadable would be left,
        ValueError for a service not opened by :meth:`open`, any error of reading or building.
        A file that cannot be read is not an error: it is reported in ``skipped`` and keeps its
        previous article. The saved index's fingerprint is taken before anything is read, so a
        file that changes during the update makes the next start update again, never serve it stale.
        """
        if self.source is None:
            raise ValueError("update() needs a service made by AnswerService.open (it knows the corpus)")
        source = self.source
        with self._updating:
            started = time.perf_counter()
            clock = started
            stages: list[tuple[str, float]] = []

            def stage(name: str) -> None:
                nonlocal clock
                now = time.perf_counter()
                stages.append((name, now - clock))
                clock = now

            self._take_merge()
            served = self._served
            fp = fingerprint(self.cfg, source.corpus, source.segmenter_id, source.digests)
            if change.rescan and fp == self._fingerprint:  # the saved index was built from these very files
                live = served.index.bm25.n_live
                report = UpdateReport(
                    articles=len(served.index.live_ids()),
                    sentences=live,
                    sentences_before=live,
                    seconds=time.perf_counter() - started,
                    saved=True,
                )
                self.last_update = report
                return report
            plan = plan_update(
                served.index,
                source.corpus,
                change,
                self.cfg.ingest,
                lambda articles: self._segment(articles, prune=False),
                document_cache=source.path.with_suffix(".documents.sqlite"),
            )
            stage("read and segment")
            if plan.changed and not plan.order:
                raise CorpusError(f"no loadable article would be left in {source.corpus}; keeping the index")
            index = served.index
            if plan.changed:
                index = self._apply(served.index, plan)
                stage("index")
                self._served = Served(index, Corrector(index.fold), served.generation + 1)
            saved = fp == self._fingerprint and not plan.changed
            if not saved:  # the index changed, or only the files did (the same articles): record it
                saved = _save(index, source.path, fp, source.compat)
                self._fingerprint = fp if saved else None
                stage("save")
            if saved and needs_merge(index, self.merge_sentences) and self._merge is None:
                log.info("starting a merge of the index's changes into a new base (another process)")
                self._merge = _Merge(start_merge(source.path, fp, source.compat), index, fp)
            added, replaced, removed = plan.summaries()
            report = UpdateReport(
                added,
                replaced,
                removed,
                plan.skipped,
                len(index.live_ids()),
                index.bm25.n_live,
                served.index.bm25.n_live,
                time.perf_counter() - started,
                saved,
                tuple(stages),
            )
            self.last_update = report
            return report

    def _take_merge(self) -> None:
        """Serve the merged base once a merge has finished, with the changes made since it started
        (rebase). A failed merge is one warning: the changes stay as they are and are served."""
        merge, source = self._merge, self.source
        if merge is None or source is None or merge.process.poll() is None:
            return
        self._merge = None
        if merge.process.returncode != 0:
            log.warning(
                "merging the index's changes failed (exit code %s); serving them unmerged", merge.process.returncode
            )
            return
        try:
            merged = load_index(source.path, merge.fingerprint)
        except IndexFormatError as exc:  # e.g. a newer base saved meanwhile
            log.warning("the merged index cannot be loaded (%s); serving the changes unmerged", exc)
            return
        served = self._served
        index = rebase(served.index, merge.start, merged)
        self._served = Served(index, Corrector(index.fold), served.generation + 1)
        if self._fingerprint is not None:
            _save(index, source.path, self._fingerprint, source.compat)
        log.info("serving the merged index (%d articles)", len(index.live_ids()))

    def _apply(self, index: SentenceIndex, plan: Plan) -> SentenceIndex:
        """``index`` with ``plan``'s changes: its added and replaced articles in, its removed and
        replaced ones out, without a rebuild (:func:`~retrieval.index.update.apply_changes`: the
        scores a rebuild would give). A change too large for that, or one the update cannot place
        as a rebuild would (an article inserted in the middle of a JSONL file), is rebuilt from
        the segmentation cache: no file read again, no unchanged article segmented again."""
        added_ids = {article.doc_id for article, _ in plan.added}
        added_sentences = sum(len(seg.sentences) for _, seg in plan.added)
        if added_sentences < MERGE_SENTENCES:
            try:
                return apply_changes(index, added=plan.added, removed=plan.removed - added_ids)
            except UpdateError as exc:
                log.info("rebuilding the index instead of updating it: %s", exc)
        articles = plan.articles(index)
        segmented = self._segment(articles, prune=True)
        return build_index(articles, segmented=segmented, progress=False, **self.cfg.retrieval.index_settings())

    def _segment(self, articles: Sequence[Article], prune: bool) -> list[Segmented]:
        """``articles`` segmented in this process through the segmentation cache (an update runs
        beside the answering threads: no worker processes are forked from it)."""
        source = self.source
        assert source is not None
        return segment_corpus(
            articles,
            self.segmenter,
            source.segmentation_key,
            cache_path=source.path.with_suffix(".segments.sqlite"),
            workers=1,
            progress=False,
            prune=prune,
        )

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
