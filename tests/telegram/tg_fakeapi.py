"""A stand-in Bot API server on 127.0.0.1 for end-to-end tests of the Telegram front end.

python-telegram-bot posts form-encoded parameters (objects as JSON strings;
multipart with a file part for ``sendPhoto``) to ``{base_url}{token}/{method}``;
this server answers the methods the bot uses, feeds queued updates to ``getUpdates`` (long polling, capped at
``poll_cap`` seconds so idle loops stay short) and records every call.
``setWebhook`` / ``deleteWebhook`` / ``getWebhookInfo`` keep the webhook URL
and secret token the bot registers; like Telegram, ``getUpdates`` is refused
(409) while a webhook is set. Updates for a webhook are not sent from here:
the test posts them to the bot itself. It listens on loopback only and never
forwards anything.

Operations, for the reliability tests: :meth:`FakeBotAPI.revoke` makes every call
answer 401 (the token revoked with @BotFather); a ``getUpdates`` arriving while
another one waits ends the waiting one with 409 Conflict, as Telegram does when
two processes poll with one token; :meth:`FakeBotAPI.block` makes sending to a
chat answer 403 or 400 "chat not found"; :meth:`FakeBotAPI.migrate` turns a
group into a supergroup (sending to the old id answers 400 with
``migrate_to_chat_id``).

Files, for the administrators' uploads: :meth:`FakeBotAPI.add_file` keeps a
file and returns the ``document`` object of a message carrying it;
``getFile`` answers its ``file_path``, and ``GET /file/bot<token>/<file_path>``
serves its bytes, as Telegram does. :attr:`FakeBotAPI.downloads` lists the
file paths the bot downloaded.

Network faults, for the reliability tests: :meth:`FakeBotAPI.inject` makes the
next calls of a method answer 429 with ``retry_after``, 500 or 502 (JSON or an
HTML error page), answer late (the client times out), drop the connection
without an answer, or answer 200 with malformed JSON; :meth:`FakeBotAPI.go_down`
closes the listener and every open connection (connection refused) until
:meth:`FakeBotAPI.come_back` listens again on the same port. Like Telegram,
update ids start at an arbitrary number, and an update stays queued until a
``getUpdates`` offset above its id confirms it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

JSON_FIELDS = {
    "reply_markup",
    "reply_parameters",
    "link_preview_options",
    "commands",
    "scope",
    "allowed_updates",
    "entities",
}
INT_FIELDS = {
    "chat_id",
    "message_id",
    "message_thread_id",
    "offset",
    "limit",
    "timeout",
    "reply_to_message_id",
    "max_connections",
}


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    at: float
    result: Any = None  # set when the call took effect (a message sent), even if its answer was lost
    fault: str | None = None  # the injected fault that hit this call, if any

    @property
    def reply_to(self) -> int | None:
        rp = self.params.get("reply_parameters")
        if isinstance(rp, dict):
            return rp.get("message_id")
        return self.params.get("reply_to_message_id")


FAULT_KINDS = ("429", "500", "502", "502-html", "timeout", "drop", "malformed")


@dataclass
class Fault:
    """How the next ``times`` calls of one method fail (faults are used in the order injected).

    ``timeout`` and ``drop`` and ``malformed`` happen *after* the call took
    effect (a message is sent, updates are handed out), like a response lost on
    the way back; the status kinds are refusals (nothing happens).
    """

    kind: str
    times: int = 1
    retry_after: int = 1
    delay: float = 6.0  # "timeout": how long the answer is held back (the bot's read timeout is 5 s)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class FakeBotAPI:
    token: str
    bot_id: int = 7000000001
    username: str = "VnDocQA_TestBot"
    first_name: str = "Hỏi đáp tài liệu"
    poll_cap: float = 1.0
    calls: list[Call] = field(default_factory=list)
    _updates: list[dict] = field(default_factory=list)
    _chats: dict[int, dict] = field(default_factory=dict)
    _fail_sends: dict[int, int] = field(default_factory=dict)
    _commands: list = field(default_factory=list)
    webhook: dict = field(default_factory=dict)  # setWebhook's parameters while a webhook is set
    pushed_at: dict[int, float] = field(default_factory=dict)  # update_id -> time.monotonic() when queued
    # True: a getUpdates offset no longer confirms (deletes) updates, as when the bot is killed
    # before its next getUpdates reaches Telegram; a restarted bot is sent them again.
    lose_confirmations: bool = False
    faults_served: list[tuple[str, str]] = field(default_factory=list)  # (method, kind) of each injected fault
    revoked: bool = False  # every call answers 401 Unauthorized
    conflicts: int = 0  # getUpdates calls ended with 409 by a newer one
    _blocked: dict[int, tuple[int, str]] = field(default_factory=dict)  # chat -> (status, description)
    _migrated: dict[int, int] = field(default_factory=dict)  # old chat id -> the supergroup's id
    _files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id -> (file_path, content)
    downloads: list[str] = field(default_factory=list)  # file paths the bot downloaded, in order

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        # Telegram's update ids are large and do not start at 1; a random start also keeps
        # two stand-in servers of one test session from sharing ids.
        self._update_ids = itertools.count(random.randrange(10_000, 1 << 30))
        self._message_ids = itertools.count(900000)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._faults: dict[str, list[Fault]] = {}
        self._conns: set[socket.socket] = set()
        self._port = 0
        self._polls = 0  # getUpdates calls so far; a waiting one ends when a newer one arrives

    # --- lifecycle --------------------------------------------------------------

    def start(self) -> FakeBotAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                with api._cond:
                    api._conns.add(self.connection)

            def finish(self) -> None:
                with api._cond:
                    api._conns.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_POST(self) -> None:  # http.server naming
                if self.path.startswith("/file/"):
                    status, data = api._download(self.path)
                    with contextlib.suppress(OSError):
                        self.send_response(status)
                        self.send_header("Content-Type", "application/octet-stream")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = api._dispatch(self.path, self.headers.get("Content-Type", ""), body)
                fault = payload.pop("__fault__", None) if isinstance(payload, dict) else None
                content_type = "application/json"
                if fault == "drop":  # the call took effect, the answer never comes
                    self.close_connection = True
                    return
                if fault == "timeout":
                    time.sleep(payload.pop("__delay__"))
                if fault == "malformed":
                    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")[:-7] + b"\x00,"
                elif fault == "502-html":
                    data = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                    content_type = "text/html"
                else:
                    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the bot went away mid long-poll (shutdown, timeout) or the server went down

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            # The bot opens many connections at once in a burst; the default
            # backlog of 5 makes the kernel reset some of them.
            request_queue_size = 1024

        self._server_class = lambda: Server(("127.0.0.1", self._port), Handler)
        self._listen()
        return self

    def _listen(self) -> None:
        server = self._server_class()
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            with self._cond:
                self._cond.notify_all()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def go_down(self) -> None:
        """The network is gone: stop listening and cut every open connection (connection refused)."""
        self.stop()
        with self._cond:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def come_back(self) -> None:
        """Listen again on the same port."""
        assert self._server is None, "the server is up"
        self._listen()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        assert self._port, "the server was never started"
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def bot_user(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    # --- test controls --------------------------------------------------------------

    def stamp(self, update: dict) -> dict:
        """``update`` with a fresh ``update_id``; its chat is remembered for the bot's replies."""
        with self._cond:
            update = {"update_id": next(self._update_ids), **update}
            for key in ("message", "edited_message"):
                if key in update:
                    chat = update[key]["chat"]
                    self._chats[chat["id"]] = chat
            if "callback_query" in update:
                chat = update["callback_query"]["message"]["chat"]
                self._chats[chat["id"]] = chat
        return update

    def push(self, update: dict) -> dict:
        """Queue one update (an ``update_id`` is added) for the next getUpdates."""
        update = self.stamp(update)
        with self._cond:
            self._updates.append(update)
            self.pushed_at[update["update_id"]] = time.monotonic()
            self._cond.notify_all()
        return update

    def inject(self, method: str, kind: str, times: int = 1, **options: Any) -> None:
        """Make the next ``times`` calls of ``method`` fail as ``kind`` (one of FAULT_KINDS)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULT_KINDS}")
        with self._cond:
            self._faults.setdefault(method, []).append(Fault(kind, times, **options))

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    def pending_faults(self) -> int:
        with self._cond:
            return sum(f.times for faults in self._faults.values() for f in faults)

    def _next_fault(self, method: str, kinds: tuple[str, ...]) -> Fault | None:
        """The next fault queued for ``method`` if it is one of ``kinds`` (refusals are decided when a
        call arrives, lost answers when it is answered: a waiting long poll can lose its updates)."""
        with self._cond:
            faults = self._faults.get(method)
            if not faults or faults[0].kind not in kinds:
                return None
            fault = faults[0]
            fault.times -= 1
            if fault.times <= 0:
                faults.pop(0)
            self.faults_served.append((method, fault.kind))
            return fault

    def revoke(self) -> None:
        """The token is revoked: every call answers 401 Unauthorized from now on."""
        with self._cond:
            self.revoked = True
            self._cond.notify_all()

    def block(
        self, chat_id: int, status: int = 403, description: str = "Forbidden: bot was blocked by the user"
    ) -> None:
        """Sending to ``chat_id`` fails for good (403 blocked or kicked, 400 chat not found)."""
        with self._cond:
            self._blocked[chat_id] = (status, description)

    def migrate(self, old_id: int, new_id: int) -> None:
        """The group ``old_id`` became the supergroup ``new_id``: sending to the old id answers 400."""
        with self._cond:
            self._migrated[old_id] = new_id
            chat = self._chats.get(old_id)
            if chat is not None:
                self._chats[new_id] = {**chat, "id": new_id, "type": "supergroup"}

    def add_file(self, content: bytes, file_name: str, mime_type: str = "application/octet-stream") -> dict:
        """Keep a file for getFile and download; the ``document`` object of a message that carries it."""
        with self._cond:
            number = len(self._files) + 1
            file_id = f"BQACAgIAAx{number:06d}fake"
            self._files[file_id] = (f"documents/file_{number}", content)
        return {
            "file_id": file_id,
            "file_unique_id": f"AgAD{number:06d}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(content),
        }

    def _download(self, path: str) -> tuple[int, bytes]:
        """The bytes at ``/file/bot<token>/<file_path>``."""
        prefix = f"/file/bot{self.token}/"
        path = unquote(path)  # httpx sends the token's ":" as %3A
        if not path.startswith(prefix) or self.revoked:
            return 401, b"Unauthorized"
        file_path = path[len(prefix) :]
        with self._cond:
            found = next((content for kept, content in self._files.values() if kept == file_path), None)
            if found is not None:
                self.downloads.append(file_path)
        return (200, found) if found is not None else (404, b"Not Found")

    def push_many(self, updates: list[dict]) -> list[dict]:
        return [self.push(u) for u in updates]

    def fail_next_send(self, chat_id: int, times: int = 1) -> None:
        """Make the next ``times`` sendMessage calls to ``chat_id`` fail with 400 Bad Request."""
        with self._cond:
            self._fail_sends[chat_id] = times

    def calls_of(self, method: str, **match: Any) -> list[Call]:
        with self._cond:
            calls = list(self.calls)
        return [c for c in calls if c.method == method and all(c.params.get(k) == v for k, v in match.items())]

    def photos(self, chat_id: int | None = None) -> list[Call]:
        """Delivered sendPhoto calls (optionally to one chat)."""
        calls = self.calls_of("sendPhoto") if chat_id is None else self.calls_of("sendPhoto", chat_id=chat_id)
        return [c for c in calls if c.result is not None]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Delivered sendMessage calls (optionally to one chat), also those whose answer to the bot was lost."""
        calls = self.calls_of("sendMessage") if chat_id is None else self.calls_of("sendMessage", chat_id=chat_id)
        return [c for c in calls if c.result is not None]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
        """Poll ``predicate`` until it returns something truthy (bounded in time)."""
        return wait_until(predicate, timeout, what, interval=0.02)

    def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 15.0) -> list[Call]:
        return self.wait_for(
            lambda: (s := self.sent(chat_id)) and len(s) >= count and s,
            timeout,
            f"{count} message(s) to chat {chat_id}",
        )

    # --- the Bot API ------------------------------------------------------------------

    def _dispatch(self, path: str, content_type: str, body: bytes) -> tuple[int, dict]:
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, method = parts[0][3:], parts[1]
        if token != self.token or self.revoked:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        params = self._params(content_type, body)
        call = Call(method, params, time.monotonic())
        if method != "getUpdates":
            with self._cond:
                self.calls.append(call)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        fault = self._next_fault(method, ("429", "500", "502", "502-html"))
        if fault is not None and fault.kind == "429":
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {fault.retry_after}",
                "parameters": {"retry_after": fault.retry_after},
            }
        if fault is not None and fault.kind in ("500", "502", "502-html"):
            code = int(fault.kind[:3])
            phrase = "Internal Server Error" if code == 500 else "Bad Gateway"
            return code, {"ok": False, "error_code": code, "description": phrase, "__fault__": fault.kind}
        status, result = handler(params)
        if status != 200:
            return status, result
        fault = self._next_fault(method, ("timeout", "drop", "malformed"))
        call.result = result  # it took effect, even if the answer is lost on the way back
        call.fault = fault.kind if fault is not None else None
        payload = {"ok": True, "result": result}
        if fault is not None:
            payload.update({"__fault__": fault.kind, "__delay__": fault.delay})
        return 200, payload

    @staticmethod
    def _params(content_type: str, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        if "json" in content_type:
            return json.loads(body)
        params: dict[str, Any] = {}
        if content_type.startswith("multipart/form-data"):  # a file upload (sendPhoto): files kept as bytes
            raw: dict[str, str] = {}
            form = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
            for part in form.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if part.get_filename() is not None:
                    params[name] = part.get_payload(decode=True)
                else:
                    raw[name] = part.get_payload(decode=True).decode("utf-8")
        else:
            raw = {k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        for key, value in raw.items():
            if key in JSON_FIELDS:
                params[key] = json.loads(value)
            elif key in INT_FIELDS:
                params[key] = int(value)
            else:
                params[key] = value
        return params

    def _message(self, params: dict) -> dict:
        chat_id = params["chat_id"]
        chat = self._chats.get(chat_id) or {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        msg = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
            "text": params.get("text", ""),
        }
        if params.get("message_thread_id"):
            msg["message_thread_id"] = params["message_thread_id"]
            msg["is_topic_message"] = True
        if params.get("reply_markup"):
            msg["reply_markup"] = params["reply_markup"]
        return msg

    def _api_getMe(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        return 200, {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _api_getUpdates(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        offset = params.get("offset") or 0
        limit = params.get("limit") or 100
        wait = min(float(params.get("timeout") or 0), self.poll_cap)
        deadline = time.monotonic() + wait
        with self._cond:
            self.calls.append(Call("getUpdates", params, time.monotonic()))
            self._polls += 1
            mine = self._polls
            self._cond.notify_all()  # a getUpdates still waiting ends with 409 (below)
            if self.webhook:
                return 409, {
                    "ok": False,
                    "error_code": 409,
                    "description": "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                }
            if not self.lose_confirmations:  # like Telegram: the offset confirms when the call arrives
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while True:
                if self._polls != mine:
                    self.conflicts += 1
                    return 409, {
                        "ok": False,
                        "error_code": 409,
                        "description": "Conflict: terminated by other "
                        "getUpdates request; make sure that only one bot instance is running",
                    }
                if self.revoked:
                    return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                fresh = [u for u in self._updates if u["update_id"] >= offset]
                if fresh or time.monotonic() >= deadline or self._server is None:
                    return 200, fresh[:limit]
                self._cond.wait(max(0.0, deadline - time.monotonic()))

    def _api_sendMessage(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        with self._cond:
            if params["chat_id"] in self._migrated:
                return 400, {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: group chat was upgraded to a supergroup chat",
                    "parameters": {"migrate_to_chat_id": self._migrated[params["chat_id"]]},
                }
            if params["chat_id"] in self._blocked:
                status, description = self._blocked[params["chat_id"]]
                return status, {"ok": False, "error_code": status, "description": description}
            left = self._fail_sends.get(params["chat_id"], 0)
            if left:
                self._fail_sends[params["chat_id"]] = left - 1
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: injected failure"}
        return 200, self._message(params)

    def _api_sendPhoto(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        """A photo (uploaded as a file part: ``params["photo"]`` holds its bytes)."""
        photo = params.get("photo")
        if not isinstance(photo, bytes) or not photo:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: there is no photo in the request"}
        with self._cond:
            if params["chat_id"] in self._blocked:
                status, description = self._blocked[params["chat_id"]]
                return status, {"ok": False, "error_code": status, "description": description}
        message = self._message(params)
        del message["text"]
        message["photo"] = [
            {
                "file_id": f"photo{message['message_id']}",
                "file_unique_id": f"u{message['message_id']}",
                "width": 1000,
                "height": 450,
                "file_size": len(photo),
            }
        ]
        if params.get("caption"):
            message["caption"] = params["caption"]
        return 200, message

    def _api_editMessageReplyMarkup(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        return 200, {**self._message(params), "message_id": params.get("message_id")}

    def _api_editMessageText(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        return 200, {**self._message(params), "message_id": params.get("message_id")}

    def _api_setMyCommands(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        self._commands = params.get("commands", [])
        return 200, True

    def _api_getMyCommands(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        return 200, self._commands

    def _api_setWebhook(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        url = params.get("url", "")
        if url and not url.startswith(("http://", "https://")):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid webhook URL specified"}
        with self._cond:
            self.webhook = dict(params) if url else {}
        return 200, True

    def _api_deleteWebhook(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        with self._cond:
            self.webhook = {}
        return 200, True

    def _api_getWebhookInfo(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        with self._cond:
            hook = dict(self.webhook)
        info: dict[str, Any] = {"url": hook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}
        if hook.get("allowed_updates") is not None:
            info["allowed_updates"] = hook["allowed_updates"]
        return 200, info

    def _api_getFile(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        with self._cond:
            kept = self._files.get(params.get("file_id", ""))
        if kept is None:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}
        file_path, content = kept
        number = int(file_path.rsplit("_", 1)[1])
        return 200, {
            "file_id": params["file_id"],
            "file_unique_id": f"AgAD{number:06d}",
            "file_size": len(content),
            "file_path": file_path,
        }

    def _api_answerCallbackQuery(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        return 200, True

    def _api_sendChatAction(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        return 200, True

    def _api_close(self, params: dict) -> tuple[int, Any]:
        return 200, True

    def _api_logOut(self, params: dict) -> tuple[int, Any]:  # noqa: N802
        return 200, True
