"""Typing slips corrected against the index's own syllables (retrieval.search.correct)."""

from __future__ import annotations

from retrieval.index.bm25 import Bm25
from retrieval.search.correct import Corrector, edits1

FIELD = Bm25([["chung", "cu", "asocio", "minh"], ["chung", "thong", "tin"], ["truyen", "thong"], ["khung"]])


def test_edits1_covers_the_four_kinds_of_slip():
    near = set(edits1("chugn"))
    assert {"chung", "chgn", "chugna", "chugm"} <= near  # transposition, deletion, insertion, substitution
    assert "chugn" not in {w for w in near if len(w) == 5 and w != "chugn"} - near


def test_unknown_syllables_one_edit_away_are_corrected_to_the_most_frequent():
    c = Corrector(FIELD)
    assert c.syllable("chugn") == "chung"  # "khung" is 2 edits away; "chung" is in 2 sentences
    assert c.syllable("asoico") == "asocio"
    assert c.syllable("thog") == "thong"
    assert c.words(["truyen_thog", "mnih"]) == ("truyen_thong", "minh")


def test_known_short_accented_and_far_words_are_left_alone():
    c = Corrector(FIELD)
    assert c.syllable("chung") == "chung"  # known
    assert c.syllable("cuu") == "cuu"  # shorter than MIN_LETTERS
    assert c.syllable("xyzzyq") == "xyzzyq"  # nothing known one edit away
    assert c.words(["chúng"]) == ("chúng",)  # written with diacritics: as the writer meant it
