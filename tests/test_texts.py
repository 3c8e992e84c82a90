"""The compressed paragraph store (retrieval/texts.py): exact round trips, block edges,
the dictionary, damaged arrays, and reads from several threads."""

from __future__ import annotations

import itertools
import random
import threading
from pathlib import Path

import numpy as np
import pytest

from retrieval.index import texts
from retrieval.index.texts import PackedTexts, pack

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def syllables() -> list[str]:
    words = []
    for path in sorted(SEEDS.glob("*.txt")) + sorted(SEEDS.glob("*.md")):
        words.extend(path.read_text(encoding="utf-8").split())
    return words


def paragraphs(n: int, seed: int = 0) -> list[bytes]:
    """Paragraphs of random words of the seed articles (as hard to compress as the benchmark's)."""
    rng = random.Random(seed)
    words = syllables()
    out = []
    for _ in range(n):
        size = rng.choice([0, 3, 20, 60, 120, 400, 1500])  # some longer than a block
        out.append(" ".join(rng.choice(words) for _ in range(size)).encode("utf-8"))
    return out


def test_round_trip_every_part_exactly_with_dictionary(monkeypatch):
    monkeypatch.setattr(texts, "MIN_TRAIN_BYTES", 1 << 16)
    parts = [*paragraphs(3000), "Đại sứ “Ted Osius” — 100%\n".encode(), b"", "\udcff".encode("utf-8", "surrogatepass")]
    arrays = pack(parts, "p")
    assert arrays["p.dict"].size > 0
    stored = PackedTexts(arrays, "p")
    assert len(stored) == len(parts)
    assert [stored[j] for j in range(len(parts))] == parts
    # Random order, from the cache or not.
    for j in random.Random(1).sample(range(len(parts)), 500):
        assert stored[j] == parts[j]


def test_blocks_hold_whole_paragraphs_of_at_most_the_block_size():
    parts = paragraphs(400)
    arrays = pack(parts, "p")
    first = arrays["p.block_first"]
    assert first[0] == 0 and first[-1] == len(parts) and np.all(np.diff(first) >= 1)
    for a, b in itertools.pairwise(first):
        size = sum(len(p) for p in parts[a:b])
        assert size <= texts.BLOCK_BYTES or sum(1 for p in parts[a:b] if p) == 1  # a long one alone


def test_small_text_gets_no_dictionary_and_still_round_trips():
    parts = paragraphs(50)
    arrays = pack(parts, "p")
    assert arrays["p.dict"].size == 0
    stored = PackedTexts(arrays, "p")
    assert [stored[j] for j in range(len(parts))] == parts


def test_no_paragraphs():
    stored = PackedTexts(pack([], "p"), "p")
    assert len(stored) == 0
    with pytest.raises(IndexError):
        stored[0]


def test_the_dictionary_makes_small_blocks_compress(monkeypatch):
    """About 2 MB of paragraphs: with the trained dictionary the store is well under half
    the text, and smaller than without one."""
    parts = paragraphs(4000, seed=2)
    raw = sum(map(len, parts))
    assert raw > texts.MIN_TRAIN_BYTES
    with_dict = pack(parts, "p")
    monkeypatch.setattr(texts, "MIN_TRAIN_BYTES", 1 << 40)
    without = pack(parts, "p")
    assert with_dict["p.dict"].size > 0 and without["p.dict"].size == 0
    stored = with_dict["p.zstd"].size + with_dict["p.dict"].size
    assert stored < raw / 2
    assert stored < without["p.zstd"].size


def test_out_of_range_and_damaged_arrays_are_refused():
    parts = paragraphs(300)
    arrays = pack(parts, "p")
    stored = PackedTexts(arrays, "p")
    for j in (-1, len(parts)):
        with pytest.raises(IndexError):
            stored[j]
    cut = dict(arrays, **{"p.zstd": arrays["p.zstd"][:-1]})
    with pytest.raises(ValueError):
        PackedTexts(cut, "p")
    lost = dict(arrays, **{"p.block_first": arrays["p.block_first"][:-1]})
    with pytest.raises(ValueError):
        PackedTexts(lost, "p")


def test_reads_from_several_threads_agree():
    parts = paragraphs(2000, seed=3)
    stored = PackedTexts(pack(parts, "p"), "p")
    errors = []

    def read(seed: int) -> None:
        rng = random.Random(seed)
        for j in (rng.randrange(len(parts)) for _ in range(3000)):
            if stored[j] != parts[j]:
                errors.append(j)

    threads = [threading.Thread(target=read, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
