"""Following the corpus on disk: files saved, copied in or deleted reach the updater once they settle.

:class:`CorpusWatcher` watches the corpus folder (recursively), or the folder of
a JSONL file or single document (for that file alone), with watchfiles: file
system events (inotify, FSEvents, ReadDirectoryChangesW) where the system has
them, polling where it does not (or when ``force_polling``, or when watching
with events fails, e.g. at the inotify watch limit). Hidden files and folders
are ignored, as the corpus reader ignores them (an editor's ``.swp``, an
upload's temporary file). A path is handed on once it has not changed for the
quiet period (:class:`Debouncer`): an editor saving three times or a copy in
progress makes one update, of the finished file.

:func:`follow` wires it for a front end: an :class:`~retrieval.updates.worker.Updater`
for the service, the watcher when ``watch`` is on, and a first check that the
served index matches the corpus (files changed while the bot was stopped, an
update a crash interrupted).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from retrieval.config import Config
from retrieval.errors import describe_error
from retrieval.service import AnswerService
from retrieval.updates.changes import Change
from retrieval.updates.worker import Updater

log = logging.getLogger(__name__)

# How often, at most, the watcher looks at its quiet paths (milliseconds).
TICK_MS = 200
# watchfiles' own grouping of raw events before handing them here (milliseconds).
STEP_MS = 50
# Polling: how often the folder is listed, where file system events are unavailable (milliseconds).
POLL_MS = 300


class Debouncer:
    """Paths that changed, each handed out once it has not changed for ``quiet`` seconds."""

    def __init__(self, quiet: float, clock: Callable[[], float] = time.monotonic) -> None:
        if quiet < 0:
            raise ValueError("the quiet period must be >= 0 seconds")
        self.quiet = quiet
        self._clock = clock
        self._last: dict[Path, float] = {}

    def add(self, paths: Iterable[Path]) -> None:
        """``paths`` changed now."""
        now = self._clock()
        for path in paths:
            self._last[path] = now

    def due(self) -> set[Path]:
        """The paths quiet for the whole period (handed out once)."""
        now = self._clock()
        ready = {p for p, at in self._last.items() if now - at >= self.quiet}
        for path in ready:
            del self._last[path]
        return ready

    def __len__(self) -> int:
        return len(self._last)


class CorpusWatcher:
    """Calls ``on_change`` with the settled changes of the corpus ``corpus``, from a thread of its own."""

    def __init__(
        self, corpus: Path, on_change: Callable[[Change], object], quiet: float, *, force_polling: bool | None = None
    ) -> None:
        self.corpus = corpus
        self.on_change = on_change
        self.force_polling = force_polling
        self._debouncer = Debouncer(quiet)
        self._tick_ms = max(STEP_MS, min(TICK_MS, int(quiet * 1000 / 4) or STEP_MS))
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="corpus-watch", daemon=True)

    def start(self, timeout: float = 5.0) -> CorpusWatcher:
        """Start watching; returns once the watch is set up (or ``timeout`` seconds have passed)."""
        self._thread.start()
        self._ready.wait(timeout)
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _target(self) -> tuple[Path, bool, Callable[[object, str], bool]]:
        """(what to watch, recursively or not, which paths count)."""
        if self.corpus.is_dir():
            root = self.corpus

            def keep(change: object, path: str) -> bool:
                try:
                    parts = Path(path).relative_to(root).parts
                except ValueError:
                    return False
                # A folder is "modified" when a file in it comes or goes (polling reports that too):
                # the file's own event names it; the folder's would make the update re-read all of it.
                if getattr(change, "name", "") == "modified" and os.path.isdir(path):
                    return False
                return bool(parts) and not any(part.startswith(".") for part in parts)

            return root, True, keep
        target = self.corpus

        def keep_file(_change: object, path: str) -> bool:
            return Path(path) == target

        return target.parent, False, keep_file

    def _run(self) -> None:
        try:
            from watchfiles import watch  # imported in the thread: the front ends start without it
        except ImportError as exc:  # a broken install: answering goes on, the operator is told once
            log.error("cannot follow %s for changes: %s (pip install watchfiles)", self.corpus, exc)
            self._ready.set()
            return

        root, recursive, keep = self._target()
        polling = self.force_polling
        while not self._stop.is_set():
            try:
                batches = watch(
                    root,
                    watch_filter=keep,
                    debounce=max(STEP_MS, self._tick_ms),
                    step=STEP_MS,
                    stop_event=self._stop,
                    rust_timeout=self._tick_ms,
                    yield_on_timeout=True,
                    raise_interrupt=False,
                    force_polling=polling,
                    poll_delay_ms=POLL_MS,
                    recursive=recursive,
                    ignore_permission_denied=True,
                )
                for changes in batches:  # the first batch (perhaps empty: a tick) comes once the watch is set up
                    if not self._ready.is_set():
                        log.info(
                            "following %s for changes (%s; a file is read once unchanged for %gs)",
                            self.corpus,
                            "polling" if polling else "file system events",
                            self._debouncer.quiet,
                        )
                        self._ready.set()
                    self._debouncer.add(Path(path) for _, path in changes)
                    due = self._debouncer.due()
                    if due:
                        self.on_change(Change.of(due))
                return
            except Exception as exc:  # noqa: BLE001 - events unavailable (watch limit...): poll instead
                if polling or self._stop.is_set():
                    log.warning("stopped following %s for changes (%s)", self.corpus, describe_error(exc))
                    self._ready.set()
                    return
                log.warning(
                    "cannot follow %s with file system events (%s); polling it every %d ms instead",
                    self.corpus,
                    describe_error(exc),
                    POLL_MS,
                )
                polling = True


@dataclass
class Following:
    """A front end's background updates: the updater, and the watcher when ``watch`` is on."""

    updater: Updater
    watcher: CorpusWatcher | None = None

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.updater.close()


def follow(service: AnswerService, cfg: Config) -> Following:
    """Keep ``service`` current while a front end runs: an updater for it (uploads and commands
    submit to it too); with ``watch`` on, the corpus followed on disk and, once the watch is set
    up, one check of the whole corpus (cheap when the saved index's fingerprint matches it)."""
    updater = Updater(service)
    watcher = None
    if cfg.watch and service.source is not None:
        watcher = CorpusWatcher(service.source.corpus, updater.submit, cfg.watch_debounce_seconds).start()
    if watcher is not None or (service.info is not None and service.info.stale):
        updater.submit(Change.everything())
    return Following(updater, watcher)
