"""A web page fetched into the corpus: ``python -m bot add URL`` and the Telegram ``/add URL``.

Only ``http://`` and ``https://`` (redirects too), at most ``fetch_max_mb``
and ``fetch_timeout_seconds`` in all. The page is read as a saved page would
be (trafilatura: the article without the site around it, its title, date,
site name and canonical URL) and stored as Markdown with YAML front matter
(``title``, ``source``, ``date``, ``url``), headings as ``##`` lines, so it
is read back like any ``.md`` article and cites its sections.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import yaml

from retrieval.ingest.formats import Document, UnreadableDocument
from retrieval.ingest.formats.html import read_html
from retrieval.updates.intake import IntakeError, Unreadable, safe_name

CHUNK = 64 * 1024
USER_AGENT = "vn-docqa-bot/0.1 (document Q&A; python-urllib)"


class FetchError(IntakeError):
    """The page could not be fetched (scheme, network, status, size, time)."""


class _HttpOnly(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) URLs only (urllib also follows ftp://)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # urllib's signature
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"the page redirects to {newurl!r}: only http(s) pages are fetched")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def check_url(url: str) -> str:
    """``url`` stripped, when it is an http(s) URL with a host; FetchError otherwise."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(f"only http:// and https:// pages can be added, got {url[:200]!r}")
    return url


def is_url(text: str) -> bool:
    """Does ``text`` look like a URL rather than a file path?"""
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text.strip()) is not None


def download(url: str, *, max_bytes: int, timeout: float) -> tuple[bytes, str]:
    """(the page's bytes, its final URL after redirects); FetchError when it is not an http(s) URL,
    cannot be reached, answers an error status, is larger than ``max_bytes``, or takes longer than
    ``timeout`` seconds in all."""
    url = check_url(url)
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(_HttpOnly)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.5"})
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchError(f"the page is larger than {max_bytes >> 20} MB ({int(length) / 2**20:.1f} MB)")
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(f"the page took longer than {timeout:g} s to download")
                chunk = response.read1(CHUNK)  # what has arrived: a page that drips cannot outlast the deadline
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"the page is larger than {max_bytes >> 20} MB")
                chunks.append(chunk)
            return b"".join(chunks), response.geturl()
    except urllib.error.HTTPError as exc:
        raise FetchError(f"the server answered {exc.code} {exc.reason} for {url}") from None
    except urllib.error.URLError as exc:
        raise FetchError(f"cannot fetch {url}: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise FetchError(f"cannot fetch {url}: {exc}") from None


@dataclass(frozen=True)
class Page:
    """A fetched page as a Markdown article: the file name it gets and its text."""

    name: str
    text: str


def page_name(url: str) -> str:
    """The file name of the page at ``url``: its host and last path part (``vnexpress.net_bai-viet.md``)."""
    parts = urlsplit(url)
    last = [p for p in parts.path.split("/") if p]
    stem = (last[-1].rsplit(".", 1)[0] if last else "") or "trang_chu"
    host = (parts.hostname or "trang").removeprefix("www.")
    return safe_name(f"{host}_{stem}.md")


def to_markdown(document: Document, url: str) -> str:
    """``document`` as a Markdown article with YAML front matter (title, source, date, url)."""
    meta = {
        key: value
        for key, value in (
            ("title", document.title),
            ("source", document.source),
            ("date", document.date),
            ("url", document.url or url),
        )
        if value
    }
    lines = ["---", yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1 << 20).strip(), "---", ""]
    for block in document.blocks:
        text = " ".join(block.text.split())
        lines += [f"## {text}" if block.heading else text, ""]
    return "\n".join(lines)


def fetch_page(url: str, *, max_bytes: int, timeout: float) -> Page:
    """Download the page at ``url`` and make it a Markdown article (:func:`to_markdown`);
    FetchError or Unreadable (no article text in it) with the reason."""
    data, final = download(url, max_bytes=max_bytes, timeout=timeout)
    try:
        document = read_html(data)
    except UnreadableDocument as exc:
        raise Unreadable(f"{url}: {exc}") from None
    return Page(page_name(url), to_markdown(document, final))
