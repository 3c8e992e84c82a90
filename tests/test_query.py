"""Term functions of the index fields (the question analysis is tested with the composer)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.normalize import fold_diacritics
from retrieval.query import fold_terms

words = st.lists(st.text(alphabet=st.sampled_from(list("hànộiĐđ_ y1")), max_size=8), max_size=6)


@settings(max_examples=300, deadline=None)
@given(words)
def test_fold_terms_is_each_syllable_folded_in_order(ws):
    # The definition; fold_terms caches each word's result, which must not change it.
    expected = tuple(fold_diacritics(s) for w in ws for s in w.split("_") if s)
    assert fold_terms(ws) == expected
    assert fold_terms(ws) == expected  # again, from the cache


def test_fold_terms_examples():
    assert fold_terms(["hà_nội", "_đà__nẵng_", "", "_"]) == ("ha", "noi", "da", "nang")
