"""The articles' paragraphs as stored in the index: zstd-compressed blocks of whole
paragraphs, with a dictionary trained on the corpus, read one block at a time.

A question reads the text of a few dozen sentences (the answer-type checks, the
quotes and their neighbours), never a whole corpus, so the text is kept small
on disk and in memory and inflated on demand: with blocks of about 2 KiB and a
dictionary, zstd keeps about a third of the bytes (the 1M-sentence benchmark
corpus: 145 MB of UTF-8) and inflates a block in a few microseconds, about
what decoding the paragraph costs anyway. Small blocks need the dictionary
(zstd alone finds little to reuse in 2 KiB); a corpus under
``MIN_TRAIN_BYTES`` of text, which has little to save, gets none.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import zstandard as zstd

# Paragraphs are grouped into blocks of at most this many bytes (a longer paragraph is a block alone).
BLOCK_BYTES = 2048
# zstd level: 9 compresses the 1M-sentence corpus in about 6 s, to 2.9x (19: 3.2x in 30 s).
LEVEL = 9
# The dictionary: at most this many bytes, trained on about TRAIN_BYTES of evenly spread blocks.
DICT_BYTES = 112_640
TRAIN_BYTES = 8 << 20
MIN_TRAIN_BYTES = 1 << 20
# Inflated blocks kept per process (a quote's neighbours are usually in the same block).
CACHE_BLOCKS = 256


def offsets(parts: Sequence[bytes]) -> np.ndarray:
    """Where each of ``parts`` starts when they are joined, and the total length at the end."""
    out = np.zeros(len(parts) + 1, dtype=np.int64)
    out[1:] = np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)))
    return out


def _train(blocks: Sequence[bytes], total: int) -> bytes:
    """A zstd dictionary for ``blocks`` (empty when the text is too small or training fails)."""
    if total < MIN_TRAIN_BYTES:
        return b""
    step = max(1, total // TRAIN_BYTES)
    samples: list[bytes | bytearray | memoryview] = [b for b in blocks[::step] if b]
    try:
        # Fixed cover parameters: zstd's search for them takes 5x as long for the same ratio.
        trained = zstd.train_dictionary(min(DICT_BYTES, total // 100), samples, k=200, d=6, level=LEVEL)
    except zstd.ZstdError:
        return b""
    return trained.as_bytes()


def pack(parts: Sequence[bytes], prefix: str) -> dict[str, np.ndarray]:
    """The arrays that :class:`PackedTexts` reads ``parts`` back from, named ``prefix.*``."""
    first = [0]
    size = 0
    for i, part in enumerate(parts):
        if size and size + len(part) > BLOCK_BYTES:
            first.append(i)
            size = 0
        size += len(part)
    if parts:
        first.append(len(parts))
    blocks = [b"".join(parts[a:b]) for a, b in itertools.pairwise(first)]
    dictionary = _train(blocks, sum(map(len, blocks)))
    compressor = zstd.ZstdCompressor(
        level=LEVEL, dict_data=zstd.ZstdCompressionDict(dictionary) if dictionary else None
    )
    packed = [compressor.compress(b) for b in blocks]
    return {
        f"{prefix}.zstd": np.frombuffer(b"".join(packed), dtype=np.uint8),
        f"{prefix}.blocks": offsets(packed),
        f"{prefix}.block_first": np.asarray(first, dtype=np.int64),
        f"{prefix}.offsets": offsets(parts),
        f"{prefix}.dict": np.frombuffer(dictionary, dtype=np.uint8),
    }


class PackedTexts:
    """The byte strings :func:`pack` stored: ``texts[j]`` inflates (or finds in its cache)
    the block that holds the ``j``-th. Safe to read from several threads."""

    def __init__(self, arrays: dict[str, np.ndarray], prefix: str):
        self._data = arrays[f"{prefix}.zstd"]
        self._blocks = arrays[f"{prefix}.blocks"]
        self._first = arrays[f"{prefix}.block_first"]
        self._offsets = arrays[f"{prefix}.offsets"]
        dictionary = arrays[f"{prefix}.dict"].tobytes()
        self._dict = zstd.ZstdCompressionDict(dictionary) if dictionary else None
        n_blocks = len(self._blocks) - 1
        if (
            len(self._first) != n_blocks + 1
            or len(self._offsets) < 1
            or int(self._first[-1]) != len(self._offsets) - 1
            or int(self._blocks[-1]) != len(self._data)
        ):
            raise ValueError(f"{prefix}: inconsistent text arrays")
        # Each part's block (built here: one int32 per part, 1 MB at 1M sentences, and a lookup
        # instead of a binary search).
        self._block_of = np.repeat(np.arange(n_blocks, dtype=np.int32), np.diff(self._first))
        self._local = threading.local()  # a decompressor per thread (one is not thread-safe)
        self._block = lru_cache(maxsize=CACHE_BLOCKS)(self._inflate)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _inflate(self, b: int) -> bytes:
        decompressor = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = self._local.decompressor = zstd.ZstdDecompressor(dict_data=self._dict)
        return decompressor.decompress(self._data[int(self._blocks[b]) : int(self._blocks[b + 1])].data)

    def __getitem__(self, j: int) -> bytes:
        if not 0 <= j < len(self):
            raise IndexError("text index out of range")
        b = int(self._block_of[j])
        base = int(self._offsets[self._first[b]])
        return self._block(b)[int(self._offsets[j]) - base : int(self._offsets[j + 1]) - base]
