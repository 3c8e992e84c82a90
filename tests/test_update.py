"""An updated index (retrieval.index.update) scores exactly as a rebuild of the changed corpus:
every field against build_index and against rank-bm25's BM25Okapi over the rebuilt corpus's
tokens, and the first stage's candidates and scores (numpy and compiled) per sentence."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

import retrieval.index.bm25 as index_module
from qa_support import ws_segmenter
from retrieval.index.build import build_index
from retrieval.index.segcache import Segmented, segment_article
from retrieval.index.sentences import SentenceIndex
from retrieval.index.update import (
    ARTICLE_FIELDS,
    SENTENCE_FIELDS,
    UpdateError,
    _recipe,
    apply_changes,
    corpus_key,
)
from retrieval.ingest.corpus import Article
from retrieval.search import first_stage
from retrieval.search.backend import SearchBackend
from retrieval.service import AnswerService
from retrieval.text.normalize import fold_diacritics

SYLLABLES = (
    "hà nội dân số thành phố đại sứ mỹ công ty phát triển thông minh kinh tế xã hội "
    "ủy ban nhân dân trung tâm dữ liệu năm tháng ngày người việc của và các được trong có "
    "không với cho là một những đã sẽ này đó để từ theo về dê dế ba bà bá bả"
).split()
WEIGHTS = [1 / (r + 1) ** 1.1 for r in range(len(SYLLABLES))]
SETTINGS = {"k1": 1.5, "b": 0.75, "epsilon": 0.25, "with_pairs": True, "with_fold_pairs": True}


def make_article(rng: random.Random, doc_id: str, origin: str, rare: str) -> Article:
    """Zipf-distributed syllables (common words in most sentences: negative IDFs, floored),
    compounds (``x_y``: the word field adds their syllables), numbers, and a word of its own
    (``rare``: terms that appear and disappear with the article)."""
    paragraphs = []
    for _ in range(rng.randint(1, 3)):
        sentences = []
        for _ in range(rng.randint(1, 5)):
            words = rng.choices(SYLLABLES, WEIGHTS, k=rng.randint(1, 18))
            if rng.random() < 0.3:
                words.append("_".join(rng.sample(SYLLABLES, 2)))
            if rng.random() < 0.3:
                words.append(rare)
            if rng.random() < 0.2:
                words.append(str(rng.randint(1, 300)))
            sentences.append(" ".join(words).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    title = " ".join([*rng.choices(SYLLABLES, WEIGHTS, k=rng.randint(1, 4)), rare])
    return Article(doc_id, title, None, None, None, tuple(paragraphs), origin=origin)


def segmented(article: Article) -> Segmented:
    return segment_article(ws_segmenter(), article.title, article.paragraphs)


def rebuild(articles: dict[str, Article]) -> SentenceIndex:
    """build_index over the corpus in a rebuild's order (corpus_key of the origins)."""
    ordered = sorted(articles.values(), key=lambda a: corpus_key(a.origin))
    return build_index(ordered, segmented=[segmented(a) for a in ordered], progress=False, **SETTINGS)


def sentence_ids(index: SentenceIndex) -> dict[tuple[str, int], int]:
    """(doc_id, sentence's number in its article) -> sentence id, for the live sentences."""
    article = np.asarray(index.sentences.article)
    live = np.ones(len(article), dtype=bool)
    if index.changes is not None:
        live[index.changes.dead_sentences] = False
    out = {}
    first: dict[int, int] = {}
    for i, a in enumerate(article.tolist()):
        first.setdefault(a, i)
        if live[i]:
            out[(index.articles.identity(a)[0], i - first[a])] = i
    return out


def article_ids(index: SentenceIndex) -> dict[str, int]:
    return {
        index.articles.identity(int(a))[0]: int(a)
        for a in (index.changes.live_order if index.changes is not None else range(len(index.articles)))
    }


def field_queries(field, rng: random.Random) -> list[list[str]]:
    terms = [field.vocab.term(c) for c in range(len(field.vocab))]
    return [[], ["không_có"]] + [rng.sample(terms, min(len(terms), rng.randint(1, 6))) for _ in range(12)] + [terms]


def assert_fields_equal(updated: SentenceIndex, rebuilt: SentenceIndex, rng: random.Random) -> None:
    """Every field scores every live document as the rebuilt index does (dead ones 0), with
    the same N, average length, document frequencies and IDFs."""
    s_map = sentence_ids(updated)
    r_map = sentence_ids(rebuilt)
    assert s_map.keys() == r_map.keys()
    a_map, ra_map = article_ids(updated), article_ids(rebuilt)
    assert a_map.keys() == ra_map.keys()
    for name in SENTENCE_FIELDS + ARTICLE_FIELDS:
        mine, theirs = getattr(updated, name), getattr(rebuilt, name)
        ids = s_map if name in SENTENCE_FIELDS else a_map
        other = r_map if name in SENTENCE_FIELDS else ra_map
        keys = sorted(ids)
        assert mine.n_live == theirs.n_docs == len(keys), name
        assert mine.avgdl == theirs.avgdl, name
        assert mine.n_terms == theirs.n_terms, name
        for col in range(len(theirs.vocab)):
            term = theirs.vocab.term(col)
            if theirs.column(term) is None:
                assert mine.column(term) is None, (name, term)
                continue
            assert mine.idf_of(term) == theirs.idf_of(term), (name, term)
            assert mine.doc_freq(mine.column(term)) == theirs.doc_freq(col), (name, term)
            assert mine.max_weight[mine.column(term)] >= theirs.max_weight[col], (name, term)
        mine_ids = np.array([ids[k] for k in keys])
        their_ids = np.array([other[k] for k in keys])
        dead = np.setdiff1d(np.arange(mine.n_docs), mine_ids)
        for query in field_queries(theirs, rng):
            got = mine.scores(query)
            np.testing.assert_array_equal(got[mine_ids], theirs.scores(query)[their_ids], err_msg=name)
            assert not got[dead].any(), name
        for term in rng.sample([theirs.vocab.term(c) for c in range(len(theirs.vocab))], 20):
            if theirs.column(term) is None:
                continue
            got = dict(zip(mine.docs_with(term).tolist(), mine.weights(mine.column(term)).tolist()))
            want = dict(zip(theirs.docs_with(term).tolist(), theirs.weights(theirs.column(term)).tolist()))
            inverse = dict(zip(their_ids.tolist(), mine_ids.tolist()))
            assert got == {inverse[d]: w for d, w in want.items()}, (name, term)
            assert all(mine.holds(term, d) for d in got)


def assert_bm25okapi(updated: SentenceIndex, articles: dict[str, Article], rng: random.Random) -> None:
    """Each field of the updated index scores as BM25Okapi over the rebuilt corpus's tokens."""
    ordered = sorted(articles.values(), key=lambda a: corpus_key(a.origin))
    segs = [segmented(a) for a in ordered]
    s_map, a_map = sentence_ids(updated), article_ids(updated)
    for name in SENTENCE_FIELDS + ARTICLE_FIELDS:
        recipe = _recipe(name, True)
        if name in SENTENCE_FIELDS:
            docs = [list(recipe(t)) for seg in segs for _, _, _, t in seg.sentences]
            ids = [s_map[(a.doc_id, k)] for a, seg in zip(ordered, segs) for k in range(len(seg.sentences))]
        else:
            docs = []
            for seg in segs:
                tokens = list(recipe(seg.title_terms))
                for _, _, _, t in seg.sentences:
                    tokens.extend(recipe(t))
                docs.append(tokens)
            ids = [a_map[a.doc_id] for a in ordered]
        reference = BM25Okapi(docs, k1=SETTINGS["k1"], b=SETTINGS["b"], epsilon=SETTINGS["epsilon"])
        field = getattr(updated, name)
        vocabulary = list(reference.idf)
        assert any(reference.idf[w] == reference.epsilon * reference.average_idf for w in vocabulary) or name.endswith(
            "pairs"
        ), name  # the floor is exercised
        for word in vocabulary:
            assert field.idf_of(word) == reference.idf[word], (name, word)
        for _ in range(10):
            query = rng.sample(vocabulary, min(len(vocabulary), rng.randint(1, 5)))
            np.testing.assert_array_equal(field.scores(query)[ids], reference.get_scores(query), err_msg=name)


def questions(rng: random.Random, n: int = 40) -> list[str]:
    out = []
    for _ in range(n):
        text = " ".join(rng.sample(SYLLABLES, rng.randint(1, 7))) + rng.choice([" là gì?", " ở đâu?", "?"])
        out.append(text if rng.random() < 0.7 else fold_diacritics(text))
    return out


def first_stage_by_sentence(service: AnswerService, backend: SearchBackend, text: str, compiled: bool):
    """{(doc_id, k): (base, fused)} of the first stage's candidates (numpy reference or compiled)."""
    index = service.index
    query = service.composer.query(text, service.segmenter.terms(text))
    cfg = service.cfg.retrieval
    if compiled:
        found = first_stage.first_stage(backend, index, query, cfg)
    else:
        full = first_stage.candidates_for(index, query, cfg)
        found = None if full is None else (full[0], full[1][full[0]], full[2][full[0]])
    if found is None:
        return {}
    names = {i: key for key, i in sentence_ids(index).items()}
    return {names[int(d)]: (float(b), float(f)) for d, b, f in zip(*found)}


def assert_first_stage_equal(updated: SentenceIndex, rebuilt: SentenceIndex, repo_config, rng) -> None:
    seg = ws_segmenter()
    ours, theirs = AnswerService(updated, seg, repo_config), AnswerService(rebuilt, seg, repo_config)
    backend = SearchBackend(kernel_min_sentences=0, parallel_min_sentences=0, cores=2)
    try:
        backend.load_kernels(updated)
        for text in questions(rng):
            want = first_stage_by_sentence(theirs, backend, text, compiled=False)
            assert first_stage_by_sentence(ours, backend, text, compiled=False) == want, text
            assert first_stage_by_sentence(ours, backend, text, compiled=True) == want, text
    finally:
        backend.close()


class Corpus:
    """A random corpus and random changes to it: new articles (anywhere in the corpus order),
    new versions of articles (same doc_id and origin), removed articles."""

    def __init__(self, seed: int, n: int = 40):
        self.rng = random.Random(seed)
        self.serial = 0
        self.articles: dict[str, Article] = {}
        for _ in range(n):
            a = self.new()
            self.articles[a.doc_id] = a

    def new(self, doc_id: str | None = None, origin: str | None = None) -> Article:
        self.serial += 1
        doc_id = doc_id or f"doc{self.serial}"
        origin = origin or f"/corpus/{self.rng.randrange(10_000):04d}-{self.serial}.txt"
        return make_article(self.rng, doc_id, origin, f"riêng{self.serial}")

    def change(self) -> tuple[list[Article], list[str]]:
        """One random batch of 1-3 operations: (added or replaced articles, removed doc_ids)."""
        added: dict[str, Article] = {}
        removed: list[str] = []
        for _ in range(self.rng.choice([1, 1, 1, 2, 3])):
            kind = self.rng.choice(["add", "replace", "remove"])
            present = [d for d in self.articles if d not in added and d not in removed]
            if kind == "add" or len(present) < 5:
                a = self.new()
                added[a.doc_id] = a
            elif kind == "replace":
                old = self.articles[self.rng.choice(present)]
                added[old.doc_id] = self.new(old.doc_id, old.origin)
            else:
                removed.append(self.rng.choice(present))
        return list(added.values()), removed

    def apply(self, added: Sequence[Article], removed: Sequence[str]) -> None:
        for doc_id in removed:
            del self.articles[doc_id]
        for a in added:
            self.articles[a.doc_id] = a


@pytest.fixture(params=[(1, index_module.SEGMENT), (2, 16)], ids=["one-segment", "segments"])
def segment(request, monkeypatch):
    seed, size = request.param
    monkeypatch.setattr(index_module, "SEGMENT", size)
    return seed


def test_100_random_changes_score_as_a_rebuild(segment, repo_config):
    corpus = Corpus(segment)
    index = rebuild(corpus.articles)
    rng = random.Random(segment + 100)
    operations = 0
    while operations < 100:
        added, removed = corpus.change()
        operations += len(added) + len(removed)
        index = apply_changes(index, [(a, segmented(a)) for a in added], removed)
        corpus.apply(added, removed)
        if operations % 20 < 3:
            assert_fields_equal(index, rebuild(corpus.articles), rng)
    rebuilt = rebuild(corpus.articles)
    assert_fields_equal(index, rebuilt, rng)
    assert_bm25okapi(index, corpus.articles, rng)
    assert_first_stage_equal(index, rebuilt, repo_config, rng)
    assert [a.doc_id for a in index.live_articles] == [a.doc_id for a in rebuilt.articles]
    assert [a for a in index.live_articles] == list(rebuilt.articles)


def test_removing_the_first_article_and_adding_before_it(repo_config):
    """The terms first seen in the removed article move to where the rest of the corpus first
    has them, and an article added before every other one brings its terms to the front."""
    corpus = Corpus(7, n=12)
    index = rebuild(corpus.articles)
    first = min(corpus.articles.values(), key=lambda a: corpus_key(a.origin))
    front = corpus.new(origin="/corpus/+front.txt")
    index = apply_changes(index, [(front, segmented(front))], [first.doc_id])
    corpus.apply([front], [first.doc_id])
    rebuilt = rebuild(corpus.articles)
    rng = random.Random(3)
    assert_fields_equal(index, rebuilt, rng)
    assert_first_stage_equal(index, rebuilt, repo_config, rng)
    assert index.live_articles[0].doc_id == front.doc_id


def test_texts_kinds_and_words_follow_the_change():
    corpus = Corpus(11, n=6)
    index = rebuild(corpus.articles)
    new = corpus.new()
    index = apply_changes(index, [(new, segmented(new))])
    corpus.apply([new], [])
    rebuilt = rebuild(corpus.articles)
    mine, theirs = sentence_ids(index), sentence_ids(rebuilt)
    for key, i in mine.items():
        j = theirs[key]
        assert index.text(i) == rebuilt.text(j)
        assert index.terms[i] == rebuilt.terms[j]
        assert index.sentences.kinds[i] == rebuilt.sentences.kinds[j]
        assert index.sentence_article(i) == rebuilt.sentence_article(j)


def test_the_old_index_is_left_as_it_was():
    corpus = Corpus(5, n=8)
    index = rebuild(corpus.articles)
    before = index.bm25.scores(["của", "và"]).copy()
    removed = next(iter(corpus.articles))
    updated = apply_changes(index, removed=[removed])
    assert updated is not index and index.changes is None
    np.testing.assert_array_equal(index.bm25.scores(["của", "và"]), before)
    assert len(index.live_articles) == len(updated.live_articles) + 1


def test_bad_changes_are_refused():
    corpus = Corpus(3, n=5)
    index = rebuild(corpus.articles)
    doc = next(iter(corpus.articles.values()))
    with pytest.raises(UpdateError, match="no indexed article"):
        apply_changes(index, removed=["nope"])
    with pytest.raises(UpdateError, match="both added and removed"):
        apply_changes(index, [(doc, segmented(doc))], [doc.doc_id])
    bad = Segmented(("x",), ((9, 0, 1, ("x",)),))
    with pytest.raises(UpdateError, match="does not fit"):
        apply_changes(index, [(doc, bad)])
    once = apply_changes(index, removed=[doc.doc_id])
    with pytest.raises(UpdateError, match="no indexed article"):
        apply_changes(once, removed=[doc.doc_id])


def test_merge_builds_what_a_rebuild_builds():
    """Folding the changes into a new base gives the very arrays build_index gives the changed
    corpus (from the stored words, no segmentation)."""
    from retrieval.index.update import merge

    corpus = Corpus(13, n=15)
    index = rebuild(corpus.articles)
    for _ in range(6):
        added, removed = corpus.change()
        index = apply_changes(index, [(a, segmented(a)) for a in added], removed)
        corpus.apply(added, removed)
    merged = merge(index)
    meta, arrays = merged.arrays()
    want_meta, want = rebuild(corpus.articles).arrays()
    assert meta == want_meta and arrays.keys() == want.keys()
    for name in arrays:
        if not name.startswith("articles.text"):  # zstd's blocks may differ; the texts may not
            np.testing.assert_array_equal(arrays[name], want[name], err_msg=name)
    assert list(merged.articles) == list(rebuild(corpus.articles).articles)


def test_rebase_carries_the_changes_made_during_a_merge():
    from retrieval.index.update import merge, rebase

    corpus = Corpus(17, n=10)
    index = rebuild(corpus.articles)
    added, removed = corpus.change()
    index = apply_changes(index, [(a, segmented(a)) for a in added], removed)
    corpus.apply(added, removed)
    merged_from = index
    merged = merge(merged_from)
    for _ in range(4):  # meanwhile
        added, removed = corpus.change()
        index = apply_changes(index, [(a, segmented(a)) for a in added], removed)
        corpus.apply(added, removed)
    rebased = rebase(index, merged_from, merged)
    assert rebased.changes.base is merged
    assert_fields_equal(rebased, rebuild(corpus.articles), random.Random(1))


def test_saved_changes_are_served_only_with_their_fingerprint_and_base(tmp_path):
    from retrieval.errors import IndexFormatError
    from retrieval.index.store import changes_path, load_index, save_index

    corpus = Corpus(19, n=10)
    path = tmp_path / "index.bin"
    base = rebuild(corpus.articles)
    save_index(base, path, "fp-0", "compat")
    before = path.read_bytes()
    added, removed = corpus.change()
    added.append(corpus.new())
    updated = apply_changes(base, [(a, segmented(a)) for a in added], removed)
    corpus.apply(added, removed)
    save_index(updated, path, "fp-1", "compat")
    assert path.read_bytes() == before and changes_path(path).stat().st_size < len(before)
    loaded = load_index(path, "fp-1")
    assert loaded.changes is not None
    assert_fields_equal(loaded, rebuild(corpus.articles), random.Random(2))
    assert list(loaded.live_articles) == list(rebuild(corpus.articles).articles)
    assert load_index(path, "fp-0").changes is None  # the corpus as it was: the base alone
    with pytest.raises(IndexFormatError):
        load_index(path, "fp-2")
    # Changes go on from a loaded index, and are saved again against the same base.
    more = corpus.new()
    again = apply_changes(loaded, [(more, segmented(more))])
    corpus.apply([more], [])
    save_index(again, path, "fp-3", "compat")
    assert_fields_equal(load_index(path, "fp-3"), rebuild(corpus.articles), random.Random(4))
    # Damaged changes are never served.
    data = bytearray(changes_path(path).read_bytes())
    data[-10] ^= 0xFF
    changes_path(path).write_bytes(bytes(data))
    with pytest.raises(IndexFormatError):
        load_index(path, "fp-3")
    # A new base voids the changes saved beside the old one.
    save_index(rebuild(corpus.articles), path, "fp-4", "compat")
    assert not changes_path(path).exists()


def test_an_updated_index_whose_base_is_not_saved_is_refused(tmp_path):
    from retrieval.index.store import save_index

    corpus = Corpus(23, n=4)
    updated = apply_changes(rebuild(corpus.articles), removed=[next(iter(corpus.articles))])
    with pytest.raises(ValueError, match="save the base there first"):
        save_index(updated, tmp_path / "index.bin", "fp", None)


KILLED_WRITER = """
import sys
sys.path[:0] = sys.argv[3:]
from pathlib import Path
from test_update import Corpus, segmented
from retrieval.index.store import load_index, save_index
from retrieval.index.update import apply_changes

corpus = Corpus(int(sys.argv[2]), n=10)
path = Path(sys.argv[1])
index = load_index(path, "fp-0")
for k in range(1, 10_000):
    added, removed = corpus.change()
    index = apply_changes(index, [(a, segmented(a)) for a in added], removed)
    corpus.apply(added, removed)
    save_index(index, path, f"fp-{k}", "compat")
    print(k, flush=True)
"""


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_kill_9_while_saving_changes_serves_the_previous_or_the_new_state(tmp_path, seed):
    """A writer applying and saving changes in a loop is killed at a random moment: the saved
    files give the state of the last save that finished, or of the one after it, never a mix."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path as P

    from retrieval.errors import IndexFormatError
    from retrieval.index.store import load_index, save_index

    corpus = Corpus(seed, n=10)
    path = tmp_path / "index.bin"
    save_index(rebuild(corpus.articles), path, "fp-0", "compat")
    tests = str(P(__file__).parent)
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path), str(seed), tests, str(P(tests).parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    printed = [writer.stdout.readline()]  # the first save is done
    time.sleep(random.Random(seed).uniform(0.2, 1.5))
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    printed += writer.stdout.read().split()
    last = int(printed[-1])
    states = [dict(corpus.articles)]  # replay the writer's changes: the state after each save
    for _ in range(last + 1):
        added, removed = corpus.change()
        corpus.apply(added, removed)
        states.append(dict(corpus.articles))
    served = []
    for k in (last, last + 1):
        with contextlib.suppress(IndexFormatError):  # the save it was killed in is not served
            served.append((k, load_index(path, f"fp-{k}")))
    assert len(served) == 1
    k, index = served[0]
    assert [a.doc_id for a in index.live_articles] == [
        a.doc_id for a in sorted(states[k].values(), key=lambda a: corpus_key(a.origin))
    ]
    assert_fields_equal(index, rebuild(states[k]), random.Random(k))


def test_changes_that_cancel_out_save_no_new_base(tmp_path):
    """Adding an article and removing it again leaves the base's articles: saved for a new
    corpus fingerprint, that is empty changes, not a whole new index."""
    from retrieval.index.store import changes_path, load_index, save_index

    corpus = Corpus(29, n=6)
    path = tmp_path / "index.bin"
    base = rebuild(corpus.articles)
    save_index(base, path, "fp-0", "compat")
    before = path.stat().st_mtime_ns
    new = corpus.new()
    index = apply_changes(apply_changes(base, [(new, segmented(new))]), removed=[new.doc_id])
    assert index.changes.base is base and not index.changes.added and not index.changes.removed.size
    assert_fields_equal(index, base, random.Random(5))
    save_index(index, path, "fp-1", "compat")
    assert path.stat().st_mtime_ns == before and changes_path(path).exists()
    assert_fields_equal(load_index(path, "fp-1"), base, random.Random(6))
    # Changes saved against a file that is not their base are refused.
    other = apply_changes(rebuild(corpus.articles), removed=[next(iter(corpus.articles))])
    with pytest.raises(ValueError, match="not this updated index's base"):
        save_index(other, path, "fp-2", "compat")


def test_the_service_answers_from_the_swapped_index(repo_config):
    """After use_index, a question about an added article is answered from it, and a removed
    article is never quoted; service.articles lists the live articles in corpus order."""
    corpus = Corpus(37, n=10)
    service = AnswerService(rebuild(corpus.articles), ws_segmenter(), repo_config)
    new = make_article(random.Random(1), "mới", "/corpus/9999-new.txt", "riêngmới")
    new = Article(
        new.doc_id,
        "Quả dưa hấu khổng lồ",
        None,
        None,
        None,
        ("Quả dưa hấu khổng lồ nặng 120 kg được trồng ở Long An.", *new.paragraphs),
        origin=new.origin,
    )
    gone = sorted(corpus.articles)[0]
    service.use_index(apply_changes(service.index, [(new, segmented(new))], [gone]))
    result = service.answer("Quả dưa hấu khổng lồ nặng bao nhiêu kg?")
    assert result.answers and result.answers[0].doc_id == "mới"
    corpus.apply([new], [gone])
    assert [a.doc_id for a in service.articles] == [a.doc_id for a in rebuild(corpus.articles).articles]
    for text in questions(random.Random(8), 30):
        assert all(a.doc_id != gone for a in service.answer(text).answers)
