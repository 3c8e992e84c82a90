"""Documents put into (or taken out of) the corpus folder: by ``python -m bot add``/``remove`` and
by a Telegram admin.

A document is read before anything is written (:func:`check_document`: the
kind from its content, the article it gives), so one that cannot be read
changes nothing. It is stored under a safe name (:func:`safe_name`: no folder
part, no control characters, no leading dot, no Windows reserved name, at
most :data:`MAX_NAME_BYTES`) with the suffix of its kind, in the corpus
folder itself, and written atomically: a hidden temporary file (which the
reader and the watcher ignore) linked or renamed into place. An existing
name is refused unless ``replace``.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from retrieval.config import IngestConfig
from retrieval.errors import BotError
from retrieval.index.sentences import Articles
from retrieval.ingest.corpus import Article, article_of, corpus_files
from retrieval.ingest.files import doc_ids
from retrieval.ingest.formats import Kind, NotADocument, classify

# A stored name's length limit, in UTF-8 bytes (file systems allow 255; the temporary name adds to it).
MAX_NAME_BYTES = 150
# Characters no file name here may hold (Windows forbids them; "/" and "\\" would be folders).
_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)
_SUFFIX = {Kind.PDF: ".pdf", Kind.DOCX: ".docx", Kind.HTML: ".html"}
DEFAULT_STEM = "tai_lieu"


class IntakeError(BotError):
    """A document that cannot be added or removed; the message says why."""


class Unreadable(IntakeError):
    """The document cannot be read (not a document, damaged, no text): nothing was written."""


class NameTaken(IntakeError):
    """The corpus already holds a file of that name (add it with ``replace``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path.name} is already in the corpus (replace it with --replace)")
        self.path = path


class UnknownDocument(IntakeError):
    """No article of the served index has that doc_id."""


class NotAFolder(IntakeError):
    """The corpus is a JSONL file or one document: documents are added to a folder only."""


def safe_name(name: str, default: str = DEFAULT_STEM) -> str:
    """A file name that stays in the folder it is joined to, whatever ``name`` holds: its last
    path part (``/`` or ``\\``), NFC, without control or format characters and the characters
    Windows forbids, spaces as ``_``, no leading dots or spaces, no trailing dots or spaces, a
    Windows reserved stem (``CON``, ``nul.txt``) prefixed with ``_``, cut to ``MAX_NAME_BYTES``
    (keeping the suffix); empty: ``default``."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").split("/")[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _FORBIDDEN.sub("_", name)
    name = re.sub(r"\s+", "_", name).strip("._ ")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix[:16]
    if not stem:
        stem = default
    if stem.split(".")[0].lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    tail = f".{suffix}" if suffix else ""
    while len((stem + tail).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(". ") or default) + tail


@dataclass(frozen=True)
class Checked:
    """A document read before it is stored: its name in the corpus and its article."""

    name: str
    data: bytes
    article: Article


def stored_name(name: str, kind: Kind) -> str:
    """``safe_name(name)`` with the suffix of ``kind`` (a PDF named ``.txt`` is stored as ``.pdf``;
    text keeps ``.md`` or becomes ``.txt``)."""
    name = safe_name(name)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if kind is Kind.TEXT:
        wanted = f".{suffix}" if suffix.lower() in ("md", "txt") else ".txt"
    else:
        wanted = _SUFFIX[kind]
    return safe_name(stem + wanted)


def check_document(name: str, data: bytes, rules: IngestConfig) -> Checked:
    """Read ``data`` (a file named ``name``) as the corpus reader would; raises :class:`Unreadable`
    with the reason when it is no document, cannot be read, or leaves no article text."""
    if len(data) > rules.max_file_mb << 20:
        raise Unreadable(f"{name}: larger than {rules.max_file_mb} MB (ingest.max_file_mb)")
    kind = classify(Path(name), data).kind
    if not isinstance(kind, Kind):
        raise Unreadable(f"{name}: not a document the bot reads ({kind})")
    stored = stored_name(name, kind)
    try:
        article = article_of(stored, data, Path(stored).stem, rules)
    except NotADocument as exc:
        raise Unreadable(f"{name}: {exc}") from None
    except (ValueError, OSError) as exc:
        raise Unreadable(f"{name}: {exc}") from None
    return Checked(stored, data, article)


def corpus_folder(corpus: Path) -> Path:
    """``corpus`` when it is a folder; :class:`NotAFolder` otherwise."""
    if not corpus.is_dir():
        raise NotAFolder(
            f"documents are added to a corpus folder; {corpus} is a file (a JSONL file or one "
            "document): edit it instead"
        )
    return corpus


def store(folder: Path, name: str, data: bytes, *, replace: bool = False) -> Path:
    """Write ``data`` as ``folder/safe_name(name)`` atomically; :class:`NameTaken` when that file
    exists and not ``replace``. Returns the path written (always inside ``folder``)."""
    folder = folder.resolve()
    path = folder / safe_name(name)
    if path.resolve().parent != folder:  # a symlink planted under the name: never write through it
        raise IntakeError(f"{path.name} in the corpus is a link elsewhere; remove it first")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise IntakeError(f"cannot write in the corpus folder {folder}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails when the name exists: no check-then-write race
    except FileExistsError:
        raise NameTaken(path) from None
    except OSError as exc:  # disk full, a folder of that name...
        raise IntakeError(f"cannot write {path.name}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _sync_folder(folder)
    return path


def _sync_folder(folder: Path) -> None:
    """fsync the folder, so the new name survives a crash (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def doc_id_of(folder: Path, path: Path) -> str:
    """The doc_id the corpus reader gives the file ``path`` of the folder corpus ``folder``."""
    files = corpus_files(folder)
    return dict(zip(files, doc_ids(folder, files)))[path]


def add_document(
    corpus: Path, name: str, data: bytes, rules: IngestConfig, *, replace: bool = False
) -> tuple[Path, str, Checked]:
    """Check ``data`` (a file named ``name``) and store it in the corpus folder: (its path, its
    doc_id, what reading it gave). Unreadable, NameTaken, NotAFolder: nothing was written."""
    folder = corpus_folder(corpus)
    checked = check_document(name, data, rules)
    path = store(folder, checked.name, data, replace=replace)
    return path, doc_id_of(folder.resolve(), path), checked


def document_file(articles: Articles, folder: Path, doc_id: str) -> tuple[Path, int]:
    """(the file, the article's number) of the served article ``doc_id``, a file inside ``folder``;
    :class:`UnknownDocument` otherwise."""
    folder = folder.resolve()
    for i in range(len(articles)):
        found, origin = articles.identity(i)
        if found == doc_id:
            path = Path(origin)
            if folder not in path.parents:
                raise UnknownDocument(f"{doc_id} is not a file of the corpus folder {folder}")
            return path, i
    raise UnknownDocument(
        f"no article has the doc_id {doc_id!r} (python -m bot ask --json shows them; "
        "in Telegram, /sources lists the articles)"
    )


def delete(path: Path) -> None:
    """Remove the document ``path`` from the corpus folder."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise IntakeError(f"cannot remove {path.name}: {exc.strerror or exc}") from None
    _sync_folder(path.parent)
