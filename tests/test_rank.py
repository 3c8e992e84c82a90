"""The first stage (first_stage.first_stage, MaxScore in retrieval.search.kernels) returns exactly what a
pass over every sentence (first_stage.candidates_for) returns: the same candidates and the same scores, bit
for bit; and the SearchBackend that runs it loads its kernels, splits its work and closes as documented."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections import Counter

import numpy as np
import pytest

import retrieval.index.bm25 as index_module
from qa_support import replace_section, ws_segmenter
from retrieval.index.build import build_index
from retrieval.index.select import Hit
from retrieval.ingest.corpus import Article
from retrieval.search import first_stage, kernels, rerank
from retrieval.search.backend import SearchBackend
from retrieval.service import AnswerService
from retrieval.text import answer_types
from retrieval.text.normalize import fold_diacritics

SYLLABLES = (
    "hà nội dân số thành phố đại sứ mỹ công ty phát triển thông minh kinh tế xã hội "
    "ủy ban nhân dân trung tâm dữ liệu năm tháng ngày người việc của và các được trong có "
    "không với cho là một những đã sẽ này đó để từ theo về dê dế ba bà bá bả"
).split()


def synthetic_articles(seed: int, n_articles: int = 60) -> list[Article]:
    """Articles of Zipf-distributed syllables (common words in most sentences, a long tail,
    accent-only differences that folding merges), numbers, and some repeated sentences."""
    rng = random.Random(seed)
    weights = [1 / (r + 1) ** 1.1 for r in range(len(SYLLABLES))]
    articles = []
    for a in range(n_articles):
        paragraphs = []
        for _ in range(rng.randint(1, 4)):
            sentences = []
            for _ in range(rng.randint(1, 6)):
                words = rng.choices(SYLLABLES, weights, k=rng.randint(1, 25))
                if rng.random() < 0.2:
                    words.append(str(rng.randint(1, 3000)))
                sentences.append(" ".join(words).capitalize() + ".")
            if rng.random() < 0.1 and paragraphs:
                sentences.append(paragraphs[0].split(". ")[0].rstrip(".") + ".")  # a repeat: exact ties
            paragraphs.append(" ".join(sentences))
        articles.append(
            Article(
                f"a{a}",
                " ".join(rng.choices(SYLLABLES, weights, k=3)),
                None,
                None,
                None,
                tuple(paragraphs),
                origin=f"a{a}",
            )
        )
    return articles


def questions(seed: int, n: int = 60) -> list[str]:
    rng = random.Random(seed + 1000)
    out = []
    for _ in range(n):
        words = rng.sample(SYLLABLES, rng.randint(1, 8)) + rng.choice([[], ["lạ"], ["xyzw", "qqq"]])
        text = " ".join(words) + rng.choice([" là gì?", " bao nhiêu?", " ở đâu?", "?"])
        out.append(text)
        if rng.random() < 0.3:
            out.append(fold_diacritics(text))  # typed without diacritics: other fields and weights
    return out


@pytest.fixture
def make_backend(synthetic):
    """Backends for the synthetic index: compiled from 0 sentences on (these corpora are
    small) and loaded, unless ``loaded=False``; other settings as given. Closed afterwards."""
    made: list[SearchBackend] = []

    def make(loaded: bool = True, **settings) -> SearchBackend:
        backend = SearchBackend(**{"kernel_min_sentences": 0} | settings)
        made.append(backend)
        if loaded:
            backend.load_kernels(synthetic[0].index)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(make_backend) -> SearchBackend:
    """A backend that runs the compiled kernels on the synthetic index, on one core or two as the machine has."""
    return make_backend()


# (corpus seed, segment size): one segment as in a small index, and segments of 64 sentences
# (about 8) as in a large one (retrieval.index.bm25.SEGMENT).
@pytest.fixture(scope="module", params=[(0, index_module.SEGMENT), (1, 64)], ids=["one-segment", "segments"])
def synthetic(request, repo_config):
    seed, segment = request.param
    seg = ws_segmenter()
    r = repo_config.retrieval
    default, index_module.SEGMENT = index_module.SEGMENT, segment
    try:
        index = build_index(
            synthetic_articles(seed),
            seg.sentence_spans,
            seg.terms,
            k1=r.k1,
            b=r.b,
            epsilon=r.epsilon,
            with_fold_pairs=True,
            with_pairs=True,
            progress=False,
        )
    finally:
        index_module.SEGMENT = default
    assert index.bm25.segmented == (segment < len(index.sentences))
    return AnswerService(index, seg, repo_config), questions(seed)


def _same(backend: SearchBackend, service: AnswerService, texts: list[str], cfg) -> int:
    """Assert first_stage == candidates_for for every question; how many had candidates."""
    compared = 0
    for text in texts:
        query = service.composer.query(text, service.segmenter.terms(text))
        full = first_stage.candidates_for(service.index, query, cfg)
        found = first_stage.first_stage(backend, service.index, query, cfg)
        if full is None:
            assert found is None, text
            continue
        candidates, base, fused, _ = full
        assert found is not None, text
        np.testing.assert_array_equal(found[0], candidates, err_msg=text)
        np.testing.assert_array_equal(found[1], base[candidates], err_msg=text)
        np.testing.assert_array_equal(found[2], fused[candidates], err_msg=text)
        compared += 1
    return compared


@pytest.fixture
def scored(monkeypatch):
    """How many sentences each first_stage call scored exactly, and how many its terms reach."""
    calls: list[tuple[int, int]] = []
    maxscore = kernels.maxscore

    def counting(fields, terms, *args):
        found = maxscore(fields, terms, *args)
        calls.append((found[3], int((terms.hi - terms.lo).sum())))
        return found

    monkeypatch.setattr(kernels, "maxscore", counting)
    return calls


# Windows smaller than the corpus (many windows, the cut-off rising across them) and larger.
# Seeds: none (the cut-off starts at 0), a few sentences, the default.
@pytest.mark.parametrize("window", [1, 7, 64, first_stage.WINDOW])
@pytest.mark.parametrize("depth", [1, 3, 10, 50, 100_000])
@pytest.mark.parametrize("bigrams", [False, True])
@pytest.mark.parametrize("seed", [0, 3, first_stage.SEED])
def test_first_stage_equals_the_full_pass(synthetic, make_backend, scored, window, depth, bigrams, seed):
    service, texts = synthetic
    backend = make_backend(window=window, seed=seed)
    cfg = dataclasses.replace(service.cfg.retrieval, rerank_depth=depth, bigram_weight=0.7 if bigrams else 0.0)
    assert _same(backend, service, texts, cfg) > len(texts) // 2
    if depth <= 10:
        # The bounds did the work: most questions scored fewer sentences than their postings hold.
        assert sum(exact < postings for exact, postings in scored) > len(scored) // 2


@pytest.mark.parametrize("window", [1, 64, first_stage.WINDOW])
@pytest.mark.parametrize("depth", [1, 10, 100_000])
@pytest.mark.parametrize("seed", [0, first_stage.SEED])
def test_first_stage_in_two_halves_equals_the_full_pass(synthetic, make_backend, monkeypatch, window, depth, seed):
    """A large index is searched in two halves at once (one per core), sharing their k-th best,
    and merged: the same candidates and scores as one pass over every sentence."""
    service, texts = synthetic
    halves = []
    search = kernels.maxscore

    def recording(fields, terms, occurrences, segments, *args):
        halves.append((segments.first, terms.lo.shape[0]))  # first segment, how many
        return search(fields, terms, occurrences, segments, *args)

    monkeypatch.setattr(kernels, "maxscore", recording)
    sums = kernels.accumulate
    scorers = []  # (field, thread, postings) of the article evidence's sums

    def summing(postings, runs, *args):
        count = sum(int(runs.seg_end[b - 1] - p) for p, a, b in zip(runs.start, runs.lo, runs.hi) if b > a)
        scorers.append(
            (
                postings.indices is service.index.article_fold.indices,
                threading.current_thread() is threading.main_thread(),
                count,
            )
        )
        return sums(postings, runs, *args)

    monkeypatch.setattr(kernels, "accumulate", summing)
    backend = make_backend(window=window, seed=seed, parallel_min_sentences=0, cores=2)
    halves.clear()  # the loader's own calls
    scorers.clear()
    cfg = dataclasses.replace(service.cfg.retrieval, rerank_depth=depth)
    assert _same(backend, service, texts, cfg) > len(texts) // 2
    index = service.index
    n_segs = -(-index.bm25.n_docs // index.bm25.segment)
    if n_segs == 1:
        assert set(halves) == {(0, 1)}  # one segment is not split
    else:
        # Each question: two runs of segments that cover them all (the split follows its postings).
        firsts = Counter(n for start, n in halves if start == 0)
        seconds = Counter(start for start, n in halves if start > 0 and start + n == n_segs)
        assert firsts == seconds and sum(firsts.values()) * 2 == len(halves) and len(firsts) > 1
    # The article evidence too: each question's two fields summed at once, one per thread,
    # this one taking the field with more postings.
    assert len(scorers) % 2 == 0 and {(fold, main) for fold, main, _ in scorers} == {
        (False, True),
        (True, False),
        (False, False),
        (True, True),
    }
    for first, second in zip(scorers[::2], scorers[1::2]):
        (mine, theirs) = (first, second) if first[1] else (second, first)
        assert mine[1] and not theirs[1] and mine[0] != theirs[0] and mine[2] >= theirs[2]


def test_one_core_searches_in_one_pass(synthetic, make_backend, monkeypatch):
    service, texts = synthetic
    calls = []
    search = kernels.maxscore
    monkeypatch.setattr(kernels, "maxscore", lambda *a: calls.append((a[3].first, a[1].lo.shape[0])) or search(*a))
    backend = make_backend(parallel_min_sentences=0, cores=1)
    assert _same(backend, service, texts[:10], service.cfg.retrieval) > 0
    index = service.index
    assert set(calls) == {(0, -(-index.bm25.n_docs // index.bm25.segment))}


def test_questions_from_several_threads_at_once(synthetic, make_backend):
    """Each thread's article evidence goes in its own buffers, which the other core also
    writes into for it: questions asked at once from several threads, each split between
    two cores, get the answers they get alone."""
    service, texts = synthetic
    backend = make_backend(parallel_min_sentences=0, cores=2)
    cfg = service.cfg.retrieval
    queries = [service.composer.query(t, service.segmenter.terms(t)) for t in texts]
    expected = [first_stage.candidates_for(service.index, q, cfg) for q in queries]
    failures: list[str] = []

    def ask(offset: int) -> None:
        for n in range(3 * len(queries)):
            i = (n + offset) % len(queries)
            found, full = first_stage.first_stage(backend, service.index, queries[i], cfg), expected[i]
            if (found is None) != (full is None) or (
                found is not None
                and not (np.array_equal(found[0], full[0]) and np.array_equal(found[2], full[2][full[0]]))
            ):
                failures.append(texts[i])

    threads = [threading.Thread(target=ask, args=(7 * t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_the_numpy_pass_buffers_are_released_once_the_kernels_answer(synthetic, make_backend):
    """Questions before the kernels are loaded take the numpy pass in reused buffers (two
    float64 arrays of every sentence); the first compiled answer frees them."""
    service, texts = synthetic
    cfg = service.cfg.retrieval
    query = service.composer.query(texts[0], service.segmenter.terms(texts[0]))
    backend = make_backend(loaded=False)
    dense = first_stage.first_stage(backend, service.index, query, cfg)
    assert backend._scratch.dense[0].size == service.index.bm25.n_docs
    backend.load_kernels(service.index)
    compiled = first_stage.first_stage(backend, service.index, query, cfg)
    assert backend._scratch.dense is None
    for a, b in zip(dense, compiled):
        np.testing.assert_array_equal(a, b)


def test_first_stage_repeated_terms_and_one_term(synthetic, backend):
    """A word asked twice counts twice (its bound too); a one-word question has one term."""
    service, _ = synthetic
    texts = ["dân dân dân số?", "hà nội hà nội ở đâu?", "dân?", "dê dế dê?", "ha noi ha noi"]
    for depth in (1, 5):
        cfg = dataclasses.replace(service.cfg.retrieval, rerank_depth=depth)
        assert _same(backend, service, texts, cfg) == len(texts)


def test_first_stage_on_the_seeds_for_every_dev_question(ws_service):
    from qa_support import DEV_QUESTIONS
    from retrieval.evaluate import load_questions

    if not DEV_QUESTIONS.is_file():
        pytest.skip(f"dev questions not found at {DEV_QUESTIONS}")
    texts = [q.question for q in load_questions(DEV_QUESTIONS)]
    texts += [fold_diacritics(t) for t in texts]
    backend = SearchBackend(kernel_min_sentences=0)
    backend.load_kernels(ws_service.index)
    for depth in (1, 5, 20, 50):
        cfg = dataclasses.replace(ws_service.cfg.retrieval, rerank_depth=depth)
        assert _same(backend, ws_service, texts, cfg) > 20


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize(
    "change",
    [
        dict(),
        dict(neighbor_weight=0.3),
        dict(article_weight=0.0),
        dict(fold_weight=0.0),
        dict(accentless_fold_weight=0.0, accentless_bigram_weight=0.0),
    ],
)
def test_first_stage_with_other_settings(synthetic, make_backend, change, compiled):
    """The defaults; a neighbour weight (the full pass); no article evidence; fewer fields;
    compiled, and in numpy (a small index, or before the kernels are loaded)."""
    service, texts = synthetic
    backend = make_backend() if compiled else SearchBackend()
    cfg = replace_section(service.cfg, "retrieval", **change).retrieval
    assert _same(backend, service, texts, cfg) > len(texts) // 2


def test_rank_uses_the_first_stage_and_keeps_the_hits(synthetic, backend, monkeypatch):
    service, texts = synthetic
    cfg = service.cfg.retrieval

    def full_pass(backend, index, query, cfg):
        found = first_stage.candidates_for(index, query, cfg)
        return None if found is None else (found[0], found[1][found[0]], found[2][found[0]])

    for text in texts[:20]:
        query = service.composer.query(text, service.segmenter.terms(text))
        pruned = rerank.rank(backend, service.index, query, text, cfg, 10)
        with monkeypatch.context() as m:
            m.setattr(rerank, "first_stage", full_pass)
            assert rerank.rank(backend, service.index, query, text, cfg, 10) == pruned


def test_a_small_index_never_loads_numba(tmp_path):
    """numba (0.6 s, 170 MB) is for large indexes only: answering on the seeds does without it."""
    import subprocess
    import sys
    from pathlib import Path

    from qa_support import CONFIG_YAML

    code = (
        "import dataclasses, sys; from pathlib import Path\n"
        "from retrieval.config import load_config\n"
        "from retrieval.service import AnswerService\n"
        f"cfg = dataclasses.replace(load_config(Path({str(CONFIG_YAML)!r})), cache_dir=Path({str(tmp_path)!r}))\n"
        "result = AnswerService.open(cfg).answer('Đại sứ Mỹ là ai?')\n"
        "print(result.answered, 'numba' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]


def test_compiled_field_scores_equal_numpy(synthetic):
    """The article evidence of a large index is added up in compiled code: same scores, bit for bit."""
    service, texts = synthetic
    index = service.index
    for text in texts:
        query = service.composer.query(text, service.segmenter.terms(text))
        for field, terms in (
            (index.article_bm25, query.terms),
            (index.article_fold, query.folded),
            (index.bm25, query.terms + query.terms),
        ):
            np.testing.assert_array_equal(first_stage.compiled_scores(field, terms), field.scores(terms), err_msg=text)


def test_numpy_answers_until_the_kernels_are_loaded(synthetic, make_backend):
    """A large index loads numba in the background after its first answer; questions
    asked before it is loaded get the numpy pass (the same candidates); later ones the kernel."""
    service, texts = synthetic
    backend = make_backend(loaded=False, load_delay=0.05)
    service = AnswerService(service.index, service.segmenter, service.cfg, backend=backend)
    cfg = service.cfg.retrieval
    calls = []
    maxscore = kernels.maxscore
    with pytest.MonkeyPatch.context() as m:
        m.setattr(kernels, "maxscore", lambda *a: calls.append(1) or maxscore(*a))
        assert _same(backend, service, texts[:5], cfg) > 0
        assert not calls and not backend.wait_for_kernels(timeout=0.2)  # the numpy pass; nothing loads yet
        assert service.answer(texts[0]).question == texts[0]  # the service starts the loader
        assert backend.wait_for_kernels(timeout=120)  # loaded in the background
        loading = len(calls)  # the loader's own empty calls, and any question after it finished
        assert _same(backend, service, texts, cfg) > len(texts) // 2
        assert len(calls) > loading


def test_a_small_index_does_not_start_the_loader(synthetic):
    """The service asks its backend to warm up after every answer; below the threshold nothing loads."""
    service, texts = synthetic
    backend = SearchBackend(kernel_min_sentences=service.index.bm25.n_docs + 1, load_delay=0)
    small = AnswerService(service.index, service.segmenter, service.cfg, backend=backend)
    small.answer(texts[0])
    assert not backend.wait_for_kernels(timeout=0.2)
    assert not any(t.name == "load-kernels" for t in threading.enumerate())


def test_a_failed_kernel_load_leaves_the_numpy_pass(synthetic, make_backend, monkeypatch, caplog):
    service, texts = synthetic
    backend = make_backend(loaded=False, load_delay=0)
    service = AnswerService(service.index, service.segmenter, service.cfg, backend=backend)

    def broken(index):
        raise ImportError("numba: no such library")

    monkeypatch.setattr(backend, "load_kernels", broken)
    with caplog.at_level("ERROR", logger="retrieval.search.backend"):
        assert service.answer(texts[0]).question == texts[0]
        assert _same(backend, service, texts, service.cfg.retrieval) > len(texts) // 2
        for _ in range(100):
            if any("numpy pass" in r.getMessage() for r in caplog.records):
                break
            time.sleep(0.05)
    assert any("could not load the compiled first stage" in r.getMessage() for r in caplog.records)
    assert not backend.wait_for_kernels(timeout=0)
    assert _same(backend, service, texts, service.cfg.retrieval) > len(texts) // 2


def test_a_closed_backend_answers_on_one_core(synthetic, make_backend):
    """close() shuts the second core's worker down; later questions get the same answers in one pass."""
    service, texts = synthetic
    running = set(threading.enumerate())
    backend = make_backend(parallel_min_sentences=0, cores=2)
    service = AnswerService(service.index, service.segmenter, service.cfg, backend=backend)
    before = [service.answer(t).to_dict() for t in texts[:10]]
    assert backend.splits(service.index)
    workers = [t for t in set(threading.enumerate()) - running if t.name.startswith("first-stage")]
    assert workers
    service.close()
    assert not backend.splits(service.index)
    assert not any(t.is_alive() for t in workers)
    assert [service.answer(t).to_dict() for t in texts[:10]] == before
    assert _same(backend, service, texts, service.cfg.retrieval) > len(texts) // 2


@pytest.mark.parametrize("setting", [dict(window=0), dict(seed=-1), dict(share=-0.1), dict(load_delay=-1)])
def test_a_backend_refuses_impossible_settings(setting):
    with pytest.raises(ValueError, match="SearchBackend needs"):
        SearchBackend(**setting)


def test_services_do_not_share_a_backend(synthetic, backend):
    """Each service builds its own backend: loading one's kernels changes nothing for another."""
    service, _ = synthetic
    other = AnswerService(service.index, service.segmenter, service.cfg)
    assert other.backend is not service.backend and not other.backend.wait_for_kernels(timeout=0)
    assert backend.wait_for_kernels(timeout=0)


@pytest.mark.parametrize("k", [1, 3, 10, 100])
def test_type_bonus_skips_only_candidates_that_cannot_make_the_top_k(synthetic, backend, k):
    """rank() examines the answer type only of candidates the bonus could lift into the k
    best; the hits equal those of examining every candidate."""
    service, texts = synthetic
    cfg = service.cfg.retrieval
    rules = answer_types.TypeRules.from_config(cfg)
    typed = 0
    for text in texts:
        query = service.composer.query(text, service.segmenter.terms(text))
        stage = first_stage.first_stage(backend, service.index, query, cfg)
        if stage is None or not query.qtype:
            continue
        typed += 1
        candidates, base, fused = stage
        asked = answer_types.asked_for(query.qtype, text, rules)
        final = fused.copy()
        for j, i in enumerate(candidates):  # every candidate, recorded kinds or not
            if answer_types.has_answer_type(asked, service.index.text(int(i)), rules, cfg.type_window):
                final[j] *= 1 + cfg.type_bonus
        order = np.lexsort((candidates, -final))[:k]
        expected = [Hit(int(candidates[j]), float(final[j]), float(base[j])) for j in order]
        assert rerank.rank(backend, service.index, query, text, cfg, k, rules) == expected, text
    assert typed > 10
