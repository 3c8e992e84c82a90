"""The updates of a running bot, one at a time on a thread of their own.

Whoever notices a change (the folder watcher, an admin's upload, ``/reload``)
submits it and gets a future of its :class:`~retrieval.updates.changes.UpdateReport`.
Changes submitted while an update runs are merged into the next one, so a
burst of saves costs one more update, not one each. A failed update logs
one line and leaves the previous index served; its futures get the error.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Protocol

from retrieval.errors import describe_error
from retrieval.updates.changes import Change, UpdateReport

log = logging.getLogger(__name__)


class Updatable(Protocol):
    def update(self, change: Change) -> UpdateReport: ...


class Updater:
    """Runs ``service.update`` on a background thread, merging the changes that wait."""

    def __init__(self, service: Updatable) -> None:
        self.service = service
        self._cond = threading.Condition()
        self._pending = Change()
        self._waiting: list[Future[UpdateReport]] = []
        self._closed = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="index-update", daemon=True)
        self._thread.start()

    def submit(self, change: Change) -> Future[UpdateReport]:
        """Update the index with ``change`` as soon as the update running now (if any) is done."""
        done: Future[UpdateReport] = Future()
        with self._cond:
            if self._closed:
                done.set_exception(RuntimeError("the updater is closed"))
                return done
            self._pending = self._pending | change
            self._waiting.append(done)
            self._cond.notify()
        return done

    def idle(self) -> bool:
        """Nothing running and nothing waiting."""
        with self._cond:
            return not self._busy and not self._waiting

    def close(self, timeout: float = 2.0) -> None:
        """Take no more changes; wait up to ``timeout`` seconds for the update running now. One still
        running after that is left to the process's end: the saved index is replaced whole or not at
        all, and what it did not save is found again at the next start."""
        with self._cond:
            self._closed = True
            waiting, self._waiting = self._waiting, []
            self._cond.notify()
        for done in waiting:
            done.set_exception(RuntimeError("the updater is closed"))
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                change, self._pending = self._pending, Change()
                waiting, self._waiting = self._waiting, []
                self._busy = True
            try:
                report = self.service.update(change)
            except Exception as exc:  # the bot goes on with the previous index
                log.warning("could not update the index (%s); still serving the previous one", describe_error(exc))
                log.debug("the update failed with", exc_info=exc)
                for done in waiting:
                    done.set_exception(exc)
            else:
                if report.changed or report.skipped:
                    log.info("%s", report.describe())
                for done in waiting:
                    done.set_result(report)
            finally:
                with self._cond:
                    self._busy = False
