"""The search engine's resources: the compiled kernels' loader, the second core's worker and
each thread's scratch arrays, in one object (:class:`SearchBackend`) that
:class:`retrieval.service.AnswerService` builds and owns.

The first stage (:mod:`retrieval.search.first_stage`) is exact whichever way it runs; the
backend decides how: in numpy, or in compiled code (numba) once the kernels are loaded
for a large index, on one core or split between two. Nothing here lives at module level,
so two services (or two tests) never share a loader, a thread or a buffer.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from retrieval.index.sentences import SentenceIndex
from retrieval.search import first_stage

log = logging.getLogger(__name__)

# From this many sentences on, the first stage runs in compiled code: below it the numpy pass is
# at most a few milliseconds slower, not worth numba's start-up time and memory (1 s, 100-170 MB).
KERNEL_MIN_SENTENCES = 200_000
# From this many sentences on, the kernels search two halves of the index at once, one per
# core: below it, handing half the work to another thread saves less than it costs.
PARALLEL_MIN_SENTENCES = 400_000
# Seconds between the first answer and the start of the kernels' loading: the answer goes out
# first (numba's imports hold the interpreter lock, and slow even the thread that starts them).
LOAD_DELAY = 0.2


class _Scratch(threading.local):
    """One thread's arrays, reused from question to question (a new array's pages are faulted in
    and zeroed by the operating system on every use: slower than overwriting an old one)."""

    dense: tuple[np.ndarray, np.ndarray] | None = None  # the numpy pass's two score arrays
    articles: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the article evidence's three


class SearchBackend:
    """How the first stage runs: the loader of the compiled kernels, the worker thread that
    searches the second half of a large index, and per-thread scratch arrays.

    Life cycle: built with the service (nothing is loaded, no thread is started);
    :meth:`warm_up_after_first_answer` starts loading the kernels in the background once
    the first answer is out; :meth:`close` shuts the worker down. Thread-safe: questions
    may be asked from several threads at once.

    The settings default to the module's constants and the first stage's MaxScore
    settings (:data:`~retrieval.search.first_stage.WINDOW`, ``SEED``, ``SHARE``); tests
    lower the thresholds to run the kernels on small indexes. ``cores``: how many cores
    this process may use (default: asked of the operating system at each question).
    """

    def __init__(
        self,
        *,
        kernel_min_sentences: int = KERNEL_MIN_SENTENCES,
        parallel_min_sentences: int = PARALLEL_MIN_SENTENCES,
        window: int = first_stage.WINDOW,
        seed: int = first_stage.SEED,
        share: float = first_stage.SHARE,
        cores: int | None = None,
        load_delay: float = LOAD_DELAY,
    ):
        if window < 1 or seed < 0 or share < 0 or load_delay < 0:
            raise ValueError("SearchBackend needs window >= 1, seed >= 0, share >= 0 and load_delay >= 0")
        self.kernel_min_sentences = kernel_min_sentences
        self.parallel_min_sentences = parallel_min_sentences
        self.window, self.seed, self.share = window, seed, share
        self.cores = cores
        self.load_delay = load_delay
        self._ready = threading.Event()  # set once the kernels are loaded
        self._lock = threading.Lock()  # guards the fields below
        self._loader: threading.Timer | None = None  # the background load, once started
        self._worker: ThreadPoolExecutor | None = None  # made on first use (after any fork)
        self._closed = False
        self._scratch = _Scratch()

    # --- The compiled kernels -----------------------------------------------------------

    def uses_kernels(self, index: SentenceIndex) -> bool:
        """Is ``index`` large enough for the compiled kernels?"""
        return index.bm25.n_docs >= self.kernel_min_sentences

    def compiled(self, index: SentenceIndex) -> bool:
        """Does the first stage run in compiled code on ``index`` now (large, kernels loaded)?"""
        return self.uses_kernels(index) and self._ready.is_set()

    def load_kernels(self, index: SentenceIndex) -> None:
        """Import the compiled kernels (numba loads here, not at import time) and load their
        machine code for ``index``'s arrays (numba's cache; compiled once when the cache is
        cold), then let the first stage use them. Blocks; :meth:`warm_up_after_first_answer`
        calls it in the background."""
        first_stage.warm_kernels(self, index)
        self._ready.set()

    def warm_up_after_first_answer(self, index: SentenceIndex) -> None:
        """Start loading the kernels for ``index`` (:meth:`load_kernels`) in a background
        thread ``load_delay`` seconds from now; only the first call does anything, and
        nothing for an index too small for the kernels (:meth:`uses_kernels`).

        :meth:`AnswerService.answer <retrieval.service.AnswerService.answer>` calls it once
        its answer is ready: numba's imports hold the interpreter lock for about a second,
        so a loader started earlier would delay the first answer (bench/scale.py's "first
        answer"). Until the kernels are loaded, questions get the numpy pass: the same
        results, slower. A failed load is logged, and the numpy pass keeps answering."""
        if self._loader is not None or not self.uses_kernels(index):
            return
        with self._lock:
            if self._loader is not None or self._closed:
                return
            self._loader = threading.Timer(self.load_delay, self._load_logged, args=(index,))
            self._loader.name, self._loader.daemon = "load-kernels", True
            self._loader.start()

    def _load_logged(self, index: SentenceIndex) -> None:
        started = time.perf_counter()
        try:
            self.load_kernels(index)
        except Exception:  # without the kernels the numpy pass answers
            log.exception("could not load the compiled first stage; every question uses the numpy pass")
            return
        log.info("compiled first stage ready in %.2fs", time.perf_counter() - started)

    def wait_for_kernels(self, timeout: float | None = None) -> bool:
        """Block until the kernels are loaded (True) or ``timeout`` seconds have passed (False)."""
        return self._ready.wait(timeout)

    # --- The second core -----------------------------------------------------------------

    def splits(self, index: SentenceIndex) -> bool:
        """Does the compiled first stage split its work on ``index`` between two cores?"""
        if index.bm25.n_docs < self.parallel_min_sentences or self._closed:
            return False
        cores = self.cores
        if cores is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return cores >= 2

    def submit(self, fn: Callable[..., object], *args: object) -> Future:
        """``fn(*args)`` on the worker thread (one: it searches the other half while this
        thread searches its own); in this thread once the backend is closed."""
        with self._lock:
            if self._worker is None and not self._closed:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="first-stage")
            worker = self._worker
        if worker is not None:
            try:
                return worker.submit(fn, *args)
            except RuntimeError:  # closed meanwhile
                pass
        done: Future = Future()
        done.set_result(fn(*args))
        return done

    def close(self) -> None:
        """Cancel a load that has not started yet and shut the worker thread down (after the
        search it is running). Questions asked afterwards still get their answers, on one core."""
        with self._lock:
            self._closed = True
            loader, worker, self._worker = self._loader, self._worker, None
        if loader is not None:
            loader.cancel()
        if worker is not None:
            worker.shutdown(wait=True)

    # --- Scratch arrays --------------------------------------------------------------------

    def dense_buffers(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Two float64 arrays of ``n`` for this thread's numpy pass, reused from question to question."""
        buffers = self._scratch.dense
        if buffers is None or buffers[0].size != n:
            buffers = self._scratch.dense = (np.empty(n), np.empty(n))
        return buffers

    def release_dense_buffers(self) -> None:
        """Free this thread's numpy-pass arrays (once the kernels answer, it does not run again)."""
        self._scratch.dense = None

    def article_buffers(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Three float64 arrays of ``n`` for this thread's article evidence (the other core writes
        into one of them for the question that passed it), reused from question to question."""
        buffers = self._scratch.articles
        if buffers is None or buffers[0].size != n:
            buffers = self._scratch.articles = (np.empty(n), np.empty(n), np.empty(n))
        return buffers
