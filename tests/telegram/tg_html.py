"""A strict checker for Telegram's HTML parse mode, for tests.

Only the tags Telegram documents are allowed, with their attributes; tags
must be balanced and properly nested; ``<``, ``>`` and ``&`` in text must be
escaped; blockquotes cannot be nested; the message must have visible text and
be at most 4096 characters (measured in UTF-16 code units, which is never
less than ``len``).
"""

from __future__ import annotations

import re

MAX = 4096
_ATTRS = {
    "b": set(),
    "strong": set(),
    "i": set(),
    "em": set(),
    "u": set(),
    "ins": set(),
    "s": set(),
    "strike": set(),
    "del": set(),
    "tg-spoiler": set(),
    "span": {'class="tg-spoiler"'},
    "a": None,  # checked below: exactly one href
    "code": None,
    "pre": None,  # optional class="language-..."
    "blockquote": {"expandable"},
    "tg-emoji": None,  # emoji-id="digits"
}
_TOKEN = re.compile(
    r"<(?P<close>/?)(?P<name>[A-Za-z][\w-]*)(?P<attrs>[^<>]*)>"
    r"|&(?P<ent>#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);"
    r"|(?P<bad>[<>&])"
)


def utf16_len(text: str) -> int:
    # surrogatepass: a lone surrogate (possible in a Python str, never in Telegram's UTF-8) counts as one unit.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _attrs_ok(name: str, attrs: str) -> bool:
    attrs = attrs.strip()
    if name == "a":
        return re.fullmatch(r'href="[^"<>]+"', attrs) is not None
    if name in {"code", "pre"}:
        return attrs == "" or re.fullmatch(r'class="language-[\w+-]+"', attrs) is not None
    if name == "tg-emoji":
        return re.fullmatch(r'emoji-id="\d+"', attrs) is not None
    allowed = _ATTRS[name]
    return attrs == "" or attrs in allowed


def problems(text: str) -> list[str]:
    """Everything wrong with ``text`` as a Telegram HTML message (empty list: valid)."""
    found: list[str] = []
    if utf16_len(text) > MAX:
        found.append(f"too long: {utf16_len(text)} UTF-16 units > {MAX}")
    stack: list[str] = []
    visible = []
    pos = 0
    for m in _TOKEN.finditer(text):
        visible.append(text[pos : m.start()])
        pos = m.end()
        if m["bad"]:
            found.append(f"unescaped {m['bad']!r} at {m.start()}: {text[max(0, m.start() - 20) : m.start() + 20]!r}")
            continue
        if m["ent"]:
            visible.append("x")
            continue
        name = m["name"].lower()
        if name not in _ATTRS:
            found.append(f"tag <{name}> is not supported by Telegram")
            continue
        if m["close"]:
            if m["attrs"].strip():
                found.append(f"closing tag </{name}> with attributes")
            if not stack or stack[-1] != name:
                found.append(f"</{name}> closes {stack[-1] if stack else 'nothing'}")
            else:
                stack.pop()
            continue
        if not _attrs_ok(name, m["attrs"]):
            found.append(f"bad attributes for <{name}>: {m['attrs']!r}")
        if name == "blockquote" and "blockquote" in stack:
            found.append("nested blockquote")
        stack.append(name)
    visible.append(text[pos:])
    if stack:
        found.append(f"unclosed tags: {stack}")
    if not "".join(visible).strip():
        found.append("no visible text")
    return found


def assert_valid(text: str) -> None:
    issues = problems(text)
    assert not issues, f"invalid Telegram HTML: {issues}\n---\n{text[:600]}"


def visible_text(text: str) -> str:
    """The text a user sees (tags dropped, entities decoded)."""
    import html

    return html.unescape(re.sub(r"<[^<>]*>", "", text))
