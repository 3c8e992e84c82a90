"""How the bot stops: on a signal within a bounded grace, or on a condition it cannot survive.

- **SIGTERM / SIGINT**: no new update is taken (every update fetched is in the
  journal already, so what is left is answered after the restart); replies
  waiting for a group's turn or a 429's pause are abandoned at once; requests on
  the wire get until ``telegram.shutdown_grace_seconds`` (less a second kept for
  closing), then their handlers are cancelled. A second signal abandons at once.
- **401 Unauthorized** at any time (the token was revoked): the same stop, then
  one ``error:`` line and exit code 2, so a supervisor restarts or alerts.
- **409 Conflict** on getUpdates, again and again for
  ``telegram.conflict_exit_seconds`` (another process polls with this token):
  the same, exit code 1, naming the likely cause.

:class:`WatchedRequest` is python-telegram-bot's HTTP client with an eye on
every Bot API answer's status; it reports 401 and 409 here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram.error import NetworkError
from telegram.request import HTTPXRequest

from .settings import TOKEN_ENV

log = logging.getLogger(__name__)

CLOSING_SECONDS = 1.0  # of the grace, kept for closing (confirming updates, HTTP clients, the journal)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True)
class Fatal:
    """A condition the bot cannot survive: its ``error:`` line and the exit code."""

    message: str
    exit_code: int


class Lifecycle:
    """Whether the bot is stopping, why, and the handlers still on their way."""

    def __init__(self, grace: float, conflict_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace = grace
        self.conflict_seconds = conflict_seconds
        self.started = False  # taking updates
        self.stopping = False
        self.fatal: Fatal | None = None
        self._clock = clock
        self._stop_asked_at: float | None = None
        self._stopped: asyncio.Event | None = None
        self._main: asyncio.Task[Any] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_stop: list[Callable[[], None]] = []
        self._deadline: asyncio.TimerHandle | None = None
        self._first_conflict = 0.0
        self._last_conflict: float | None = None

    # --- wiring ------------------------------------------------------------------------

    def on_stop(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` when the stop begins (e.g. to wake everything that waits)."""
        self._on_stop.append(hook)

    def listen(self) -> None:
        """Handle SIGTERM/SIGINT on the running loop; before the bot takes updates, a signal
        cancels the task that starts it."""
        loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        self._stopped = asyncio.Event()
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread receives signals (a bot run inside a test or an embedding)
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig.name)

    def track(self, task: asyncio.Task[Any]) -> None:
        """An update's handler on its way (cancelled when the grace is over)."""
        self._tasks.add(task)

    def untrack(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)

    async def wait(self) -> None:
        """Until the stop begins."""
        assert self._stopped is not None, "listen() first"
        await self._stopped.wait()

    def time_left(self) -> float:
        """Seconds of the grace left (all of it before the stop begins)."""
        if self._stop_asked_at is None:
            return self.grace
        return max(0.0, self.grace - (self._clock() - self._stop_asked_at))

    # --- stopping ----------------------------------------------------------------------

    def stop(self, why: str, fatal: Fatal | None = None) -> None:
        """Begin the stop (once). Before the bot takes updates, a fatal condition is only
        recorded: the start-up fails with its own error."""
        if fatal is not None and self.fatal is None:
            self.fatal = fatal
        if self.stopping or not self.started:
            return
        self.stopping = True
        self._stop_asked_at = self._clock()
        log.info("stopping (%s): taking no new updates; replies on their way get %.0f s", why, self.grace)
        for hook in self._on_stop:
            hook()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(max(0.0, self.grace - CLOSING_SECONDS), self.abandon)
        if self._stopped is not None:
            self._stopped.set()

    def abandon(self) -> None:
        """Cancel the handlers still on their way (each logs one line about its update)."""
        if self._deadline is not None:
            self._deadline.cancel()
        for task in list(self._tasks):
            task.cancel()

    def _on_signal(self, name: str) -> None:
        if not self.started:
            log.info("stopped by %s during start-up", name)
            if self._main is not None:
                self._main.cancel()
        elif self.stopping:
            log.info("%s again: abandoning the replies on their way now", name)
            self.abandon()
        else:
            self.stop(name)

    # --- what the Bot API answers ----------------------------------------------------------

    def answered(self, url: str, code: int, payload: bytes) -> None:
        """A Bot API answer with status ``code`` (401 and 409 matter here)."""
        if code == 401:
            self.stop(
                "the Bot API answered 401 Unauthorized",
                Fatal(
                    f"the Bot API server rejected {TOKEN_ENV} while the bot was running (401 Unauthorized: the "
                    "token was revoked or replaced with @BotFather): put the current token in the environment",
                    2,
                ),
            )
        elif code == 409 and url.endswith("/getUpdates"):
            self.conflict(_description(payload))

    def conflict(self, description: str) -> None:
        """One 409 Conflict; conflicts coming for conflict_seconds (none further apart) end the bot."""
        now = self._clock()
        if self._last_conflict is None or now - self._last_conflict > self.conflict_seconds:
            self._first_conflict = now
        self._last_conflict = now
        lasted = now - self._first_conflict
        if lasted < self.conflict_seconds:
            return
        cause = (
            "a webhook is set for this token (another deployment in webhook mode?)"
            if "webhook" in description
            else "another process is polling with this token (a second instance of the bot?)"
        )
        self.stop(
            "409 Conflict",
            Fatal(
                f"Telegram has answered 409 Conflict for {lasted:.0f} s ({description}): {cause}; stop it, "
                "or give each instance its own token",
                1,
            ),
        )


def _description(payload: bytes) -> str:
    try:
        text = json.loads(payload).get("description", "")
    except (ValueError, AttributeError):
        text = ""
    return " ".join(str(text).split())[:200] or "Conflict"


class WatchedRequest(HTTPXRequest):
    """python-telegram-bot's HTTP client, telling the :class:`Lifecycle` about 401 and 409 answers,
    and ``on_contact`` whether the Bot API answers (the metrics' ``/healthz``): True for any
    answer but a server error or a rejected token, False when ``getMe`` or ``getUpdates`` got
    no answer or a server error (one failed send alone says little about the connection)."""

    __slots__ = ("_lifecycle", "_on_contact")

    def __init__(
        self, lifecycle: Lifecycle, on_contact: Callable[[bool], None] = lambda ok: None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._lifecycle = lifecycle
        self._on_contact = on_contact

    async def do_request(
        self, url: str, method: str, request_data: Any = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        polling = url.endswith(("/getMe", "/getUpdates"))
        try:
            code, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        except NetworkError:  # TimedOut included
            if polling:
                self._on_contact(False)
            raise
        ok = code < 500 and code not in (401, 404)
        if ok or polling:
            self._on_contact(ok)
        if code in (401, 409):
            self._lifecycle.answered(url, code, payload)
        return code, payload
