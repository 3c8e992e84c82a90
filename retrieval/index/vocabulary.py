"""A field's vocabulary: terms and their column numbers in flat arrays (saved and mapped as they are)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import numpy as np

from retrieval.index.texts import offsets


def narrow(positions: np.ndarray) -> np.ndarray:
    """``positions`` (non-decreasing, non-negative) as int32 when the last fits, else int64:
    the per-term pointer arrays are read at random, a page per term, and half as many
    pages stay resident."""
    return positions.astype(np.int32 if positions.size == 0 or positions[-1] < 1 << 31 else np.int64)


def _term_hash(encoded: bytes) -> int:
    """A term's 64-bit lookup key (stable across processes, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest(), "little")


def _encode(term: str) -> bytes:
    return term.encode("utf-8", "surrogatepass")


class Vocabulary:
    """A field's terms and their column numbers, in flat arrays.

    ``text`` holds the terms' UTF-8 bytes in column order, ``offsets`` where each
    one starts and ends; ``hashes`` are the terms' 64-bit keys, sorted, and
    ``columns`` the column of each. A lookup hashes the term, binary-searches
    the keys and compares the stored bytes, so it is exact whatever collides.
    """

    # Terms looked up recently (questions repeat words), at most this many.
    CACHE_SIZE = 50_000

    def __init__(self, text: np.ndarray, offsets: np.ndarray, hashes: np.ndarray, columns: np.ndarray):
        self.text, self.offsets, self.hashes, self.columns = text, offsets, hashes, columns
        self._cache: dict[str, int | None] = {}

    @classmethod
    def from_terms(cls, terms: Iterable[str]) -> Vocabulary:
        """The vocabulary whose column ``i`` is the ``i``-th of ``terms`` (distinct)."""
        encoded = [_encode(t) for t in terms]
        text = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        hashes = np.fromiter(map(_term_hash, encoded), dtype=np.uint64, count=len(encoded))
        columns = np.argsort(hashes, kind="stable").astype(np.int32)
        return cls(text, narrow(offsets(encoded)), hashes[columns], columns)

    def __len__(self) -> int:
        return len(self.columns)

    def _bytes(self, col: int) -> bytes:
        return self.text[self.offsets[col] : self.offsets[col + 1]].tobytes()

    def get(self, term: str) -> int | None:
        """The column of ``term``, or None when the field never saw it."""
        try:
            return self._cache[term]
        except KeyError:
            pass
        col = self._find(term)
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[term] = col
        return col

    def _find(self, term: str) -> int | None:
        encoded = _encode(term)
        key = np.uint64(_term_hash(encoded))
        i = int(np.searchsorted(self.hashes, key))
        while i < len(self.hashes) and self.hashes[i] == key:
            col = int(self.columns[i])
            if self._bytes(col) == encoded:
                return col
            i += 1
        return None

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def term(self, col: int) -> str:
        return self._bytes(col).decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        """The terms in column order."""
        return (self.term(c) for c in range(len(self)))

    def column_of(self) -> dict[str, int]:
        """Every term's column, as a dict (for encoding many tokens at once)."""
        return {term: col for col, term in enumerate(self)}

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}.text": self.text,
            f"{prefix}.offsets": self.offsets,
            f"{prefix}.hashes": self.hashes,
            f"{prefix}.columns": self.columns,
        }

    @classmethod
    def from_arrays(cls, prefix: str, arrays: dict[str, np.ndarray]) -> Vocabulary:
        return cls(
            arrays[f"{prefix}.text"],
            arrays[f"{prefix}.offsets"],
            arrays[f"{prefix}.hashes"],
            arrays[f"{prefix}.columns"],
        )


class ExtendedVocabulary(Vocabulary):
    """A saved vocabulary plus terms added after it (an updated index, :mod:`retrieval.index.update`):
    the ``i``-th added term is column ``len(base) + i``. Held in memory; never saved as a whole
    (the update's own file holds the articles its terms come from)."""

    def __init__(self, base: Vocabulary, added: Iterable[str]):
        self.base = base
        self.added = tuple(added)
        self._added = {term: len(base) + i for i, term in enumerate(self.added)}

    def __len__(self) -> int:
        return len(self.base) + len(self.added)

    def get(self, term: str) -> int | None:
        col = self.base.get(term)
        return self._added.get(term) if col is None else col

    def term(self, col: int) -> str:
        n = len(self.base)
        return self.base.term(col) if col < n else self.added[col - n]

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        raise ValueError("an extended vocabulary is saved as its base and the update's articles")
