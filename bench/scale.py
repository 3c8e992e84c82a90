"""Scale benchmark: build, save, load and query a synthetic Vietnamese corpus of 10k to 1M sentences.

Usage (from the repository root)::

    .venv/bin/python bench/scale.py                          # 10k and 100k sentences
    .venv/bin/python bench/scale.py --sizes 10k --queries 50
    .venv/bin/python bench/scale.py --sizes 1M --quick --workdir /tmp/scale   # no rank-bm25 at 1M
    .venv/bin/python bench/scale.py --json

The corpus
----------
Deterministic for a given ``--seed`` and size. Its syllables are the
lower-cased, letters-only Vietnamese syllables of the seed articles
(``seeds/*.txt``) and of the XQuAD-vi contexts
(``../shared/eval/xquad/xquad.vi.json``), kept when they have the shape of a
Vietnamese syllable. From them:

* content words of 1-3 syllables, drawn with a Zipfian frequency (exponent
  ``ZIPF_EXPONENT``) from a vocabulary whose size grows with the corpus by
  Heaps' law: ``VOCAB_AT_1M * (sentences / 1M) ** HEAPS_BETA`` (157k words at
  1M sentences, 39k at 100k, 10k at 10k); a smaller corpus's vocabulary is the
  first words of a larger one's;
* ``FUNCTION_WORDS`` (của, và, là, được...) in about a third of the token slots;
* capitalised person names (a surname, an optional middle name, a given name,
  often after "ông"/"bà") and place names (two syllables);
* numbers and dates ("32", "1.200", "tháng 12/2015", "ngày 15/3/2018", "năm 2016").

Sentences have about 25 syllables (8 to about 45) and end with "."; articles have
10-40 sentences in paragraphs of 2-5, and a title. The JSONL corpus
(``{"id", "title", "text"}``) is written to ``--workdir`` and reused when it
exists with the same parameters. One syllable in 20 (outside the 500 most
frequent) is held out of the corpus: unknown words are made of those.

The questions
-------------
``--queries`` questions, each made from a random corpus sentence: 3-7 of its
content words in order and a question word ("là gì?", "bao nhiêu?", "ở đâu?",
"ai?"), so the corpus answers it; in ``UNKNOWN_SHARE`` of them about half of
those words are replaced by words the corpus never uses.

What is measured, per size
--------------------------
* **build**: ``AnswerService.open(cfg, corpus, rebuild=True)`` (ingestion,
  sentence splitting, word segmentation, the BM25 fields, saving), wall
  seconds and sentences per second, from an empty ``cache_dir`` (a cold
  build: no saved segmentation is reused); also the CPU time of the worker
  processes it started (0 when it segmented in this process alone), and the
  wall seconds of each stage (ingest, segment, index, save:
  ``IndexInfo.stages``).
* **segmentation speedup**: ``segment_corpus`` alone (no cache) on the first
  articles of the corpus, ``--speedup-sentences`` sentences, in one process
  and on all cores (``build_workers``), back to back, the order alternating
  between repeats; sentences/s of each (median over ``--repeats``) and the
  ratio parallel / single of each repeat (median, min, max). The model is
  loaded in this process beforehand, as the build does before it forks.
* **index MB**: the saved index file (``retrieval.index.store.index_path``).
* **load / first answer**: a fresh ``python -c`` process imports the project,
  opens the service (it must load the saved index, not rebuild it) and
  answers one question. "load" is ``AnswerService.open`` inside it; "first
  answer" is the wall time from starting the process to its first answer.
* **RSS**: that process's resident memory (``VmRSS``) after answering every
  question ``--repeats`` times; "peak" is its ``VmHWM``.
* **retrieval p50/p95**: ``retrieval.search.rerank.rank(service.backend, index, query, text,
  cfg.retrieval, 10)`` per question, the question already analysed (in the fresh
  process). From 200,000 sentences on, the compiled first stage loads in the
  background after the first answer (``SearchBackend.warm_up_after_first_answer``);
  the timings start once it is loaded (``kernels_ready_s``: how long after the
  first answer that was).
* **ask p50/p95**: ``service.answer(text)``: normalize, segment, analyse,
  retrieve, compose. The segmenter's cache is cleared before each call, so
  every call segments its question as a new question would be.
* **rank-bm25 p50**: ``rank_bm25.BM25Okapi`` over the same word-field tokens
  the index scores (``query.expand`` of each sentence's words) and the
  questions' ``Query.terms``: ``get_scores`` plus the top-10 selection. Run
  in the benchmark process on the index it built; skipped at 1M sentences and
  more with ``--quick`` (it takes minutes there).
* **identical**: for every question, ``index.bm25.scores(terms)`` equals
  ``BM25Okapi.get_scores(terms)`` exactly (``np.array_equal``).

Every timing loop runs ``--repeats`` times; p50 and p95 are taken over all
questions in each run, and the median of the runs is reported.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import gc
import hashlib
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bench/ is on sys.path, not the repo
    sys.path.insert(0, str(REPO))

from retrieval.config import Config, load_config  # noqa: E402
from bench.xquad import library_version  # noqa: E402

XQUAD = REPO.parent / "shared/eval/xquad/xquad.vi.json"
SEEDS = REPO / "seeds"

GENERATOR_VERSION = 1  # bump when the generator changes: saved corpora are then regenerated
VOCAB_AT_1M = 157_000
HEAPS_BETA = 0.6
ZIPF_EXPONENT = 1.05
UNKNOWN_SHARE = 0.10
TOP_K = 10

FUNCTION_WORDS = (
    "của", "và", "là", "được", "các", "những", "trong", "cho", "với", "có", "không", "đã", "sẽ",
    "này", "đó", "một", "để", "từ", "theo", "về", "như", "cũng", "đến", "tại", "ra", "vào", "thì",
    "mà", "nhưng", "nên", "vì", "do", "bị", "đang", "rất", "nhiều", "hơn", "lại", "còn", "chỉ",
    "đều", "vẫn", "sau", "trước", "trên", "dưới", "giữa", "qua", "bởi", "nếu", "hay", "hoặc",
    "cùng", "mỗi", "mọi", "nhất", "đây", "ấy", "khi", "sự", "việc", "người", "ở",
)
PERSON_TITLES = ("ông", "bà")
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
            "Hồ", "Ngô", "Dương", "Lý")
MIDDLE_NAMES = ("Văn", "Thị", "Minh", "Đức", "Hữu", "Ngọc", "Thanh", "Quốc")
QUESTION_ENDINGS = ("là gì?", "bao nhiêu?", "ở đâu?", "ai?")

# Share of token slots by kind (the rest are content words).
FUNCTION_RATE, NAME_RATE, NUMBER_RATE = 0.32, 0.04, 0.03
COMMA_RATE = 0.05

_VOWELS = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ"
# Onset + vowel nucleus (1-3 vowels, glides included) + coda: the shape of a Vietnamese syllable.
_SYLLABLE = re.compile(
    rf"(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdđghklmnprstvx])?[{_VOWELS}]{{1,3}}(?:ch|nh|ng|[cmnpt])?"
)
_LETTERS = re.compile(r"[^\W\d_]+")

TARGETS_1M = {
    "build": "≤ 600", "rate": "≥ 1,667", "first": "≤ 1.5", "rss": "≤ 700",
    "retrieval": "≤ 3 / ≤ 15", "ask": "≤ 10 / –", "identical": "yes",
}


# --------------------------------------------------------------------------- sizes


def parse_size(text: str) -> int:
    """``"10k"`` -> 10000, ``"1M"`` -> 1000000, ``"2500"`` -> 2500."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise ValueError(f"not a size: {text!r} (examples: 10k, 100k, 1M, 2500)")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[m[2].lower()]
    size = int(round(float(m[1]) * scale))
    if size < 100:
        raise ValueError(f"size {text!r} is too small (at least 100 sentences)")
    return size


def size_label(size: int) -> str:
    """10000 -> ``"10k"``, 1000000 -> ``"1M"``; other sizes as digits."""
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def vocabulary_size(sentences: int) -> int:
    """Content words the generator draws from, by Heaps' law (``VOCAB_AT_1M`` at 1M sentences)."""
    return max(100, round(VOCAB_AT_1M * (sentences / 1_000_000) ** HEAPS_BETA))


# ------------------------------------------------------------------------ lexicon


def real_texts() -> Iterator[str]:
    """The real Vietnamese text the syllables come from: the seed articles and the XQuAD-vi contexts."""
    for path in sorted(SEEDS.glob("*.txt")):
        yield path.read_text(encoding="utf-8")
    if XQUAD.is_file():
        data = json.loads(XQUAD.read_text(encoding="utf-8"))
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                yield paragraph["context"]


def syllable_inventory(texts: Iterator[str], min_count: int = 1) -> list[tuple[str, int]]:
    """(syllable, count) of every lower-cased, letters-only token shaped like a Vietnamese
    syllable and seen at least ``min_count`` times; most frequent first."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_LETTERS.findall(unicodedata.normalize("NFC", text).lower()))
    kept = [(s, c) for s, c in counts.items() if c >= min_count and _SYLLABLE.fullmatch(s)]
    return sorted(kept, key=lambda sc: (-sc[1], sc[0]))


def zipf_cdf(n: int, first_rank: int = 1, exponent: float = ZIPF_EXPONENT) -> np.ndarray:
    """Cumulative probabilities of ranks ``first_rank``.. ``first_rank + n - 1`` under Zipf's law,
    renormalised (last value exactly 1)."""
    weights = np.arange(first_rank, first_rank + n, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def unique_words(make: Callable[[np.random.Generator], str], rng: np.random.Generator, n: int,
                 exclude: frozenset[str] = frozenset()) -> list[str]:
    """The first ``n`` distinct words ``make`` produces (a prefix-stable stream for a given ``rng``)."""
    seen: set[str] = set(exclude)
    words: list[str] = []
    while len(words) < n:
        word = make(rng)
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


@dataclass(frozen=True)
class Lexicon:
    """Everything the generator draws from, for one corpus size."""

    words: tuple[str, ...]  # content words, most frequent first
    word_cdf: np.ndarray
    names: tuple[str, ...]  # person and place names, most frequent first
    name_cdf: np.ndarray
    function_cdf: np.ndarray  # over FUNCTION_WORDS, in their order
    unknown: tuple[str, ...]  # words of held-out syllables: never in the corpus
    digest: str  # of the syllable inventory, so a changed source text regenerates the corpus


def build_lexicon(inventory: Sequence[tuple[str, int]], sentences: int, seed: int) -> Lexicon:
    """The lexicon of a corpus of ``sentences`` sentences."""
    protected = {s for w in FUNCTION_WORDS + PERSON_TITLES + QUESTION_ENDINGS for s in re.findall(r"\w+", w)}
    protected |= {s.lower() for s in SURNAMES + MIDDLE_NAMES}
    held_out = {s for rank, (s, _) in enumerate(inventory) if rank >= 500 and rank % 20 == 0 and s not in protected}
    usable = [(s, c) for s, c in inventory if s not in held_out]
    syllables = [s for s, _ in usable]
    # Frequent real syllables make more words, but flattened (square root of the count).
    syllable_cdf = np.cumsum(np.sqrt(np.array([c for _, c in usable], dtype=np.float64)))
    syllable_cdf /= syllable_cdf[-1]
    held = sorted(held_out)

    def draw_syllables(rng: np.random.Generator, n: int) -> list[str]:
        return [syllables[i] for i in np.searchsorted(syllable_cdf, rng.random(n))]

    def content_word(rng: np.random.Generator) -> str:
        return " ".join(draw_syllables(rng, int(rng.choice((1, 2, 3), p=(0.25, 0.65, 0.10)))))

    def name(rng: np.random.Generator) -> str:
        if rng.random() < 0.6:  # a person: surname, optional middle name, given name
            parts = [SURNAMES[rng.integers(len(SURNAMES))]]
            if rng.random() < 0.6:
                parts.append(MIDDLE_NAMES[rng.integers(len(MIDDLE_NAMES))])
            return " ".join(parts + [draw_syllables(rng, 1)[0].capitalize()])
        return " ".join(s.capitalize() for s in draw_syllables(rng, 2))

    def unknown_word(rng: np.random.Generator) -> str:
        return " ".join(held[i] for i in rng.choice(len(held), size=rng.integers(1, 3)))

    n_words = vocabulary_size(sentences)
    n_names = max(50, n_words // 20)
    words = unique_words(content_word, np.random.default_rng([seed, 10]), n_words, frozenset(FUNCTION_WORDS))
    names = unique_words(name, np.random.default_rng([seed, 11]), n_names)
    unknown = unique_words(unknown_word, np.random.default_rng([seed, 12]), min(500, len(held) * 4))
    digest = hashlib.sha256(json.dumps(list(inventory), ensure_ascii=False).encode()).hexdigest()[:16]
    # One Zipf curve: the function words hold its first ranks, content words the ranks after them.
    return Lexicon(tuple(words), zipf_cdf(len(words), len(FUNCTION_WORDS) + 1), tuple(names), zipf_cdf(len(names)),
                   zipf_cdf(len(FUNCTION_WORDS)), tuple(unknown), digest)


# ---------------------------------------------------------------------- generator


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "function", "name", "number"
    text: str

    @property
    def syllables(self) -> int:
        return self.text.count(" ") + 1


def number_tokens(rng: np.random.Generator) -> list[Token]:
    """A number or a date, with the word that introduces a date."""
    form = rng.integers(5)
    year = int(rng.integers(1990, 2025))
    if form == 0:
        return [Token("number", str(rng.integers(2, 1000)))]
    if form == 1:
        return [Token("number", f"{rng.integers(1, 100)}.{rng.integers(0, 1000):03d}")]
    if form == 2:
        return [Token("function", "tháng"), Token("number", f"{rng.integers(1, 13)}/{year}")]
    if form == 3:
        return [Token("function", "ngày"), Token("number", f"{rng.integers(1, 29)}/{rng.integers(1, 13)}/{year}")]
    return [Token("function", "năm"), Token("number", str(year))]


def sentence_tokens(lex: Lexicon, rng: np.random.Generator) -> list[Token]:
    """One sentence: about 25 syllables (8 to about 45) of function words, content words, names and numbers."""
    target = int(np.clip(round(rng.normal(25, 8)), 8, 45))
    kinds = rng.random(target)
    words = np.searchsorted(lex.word_cdf, rng.random(target))
    names = np.searchsorted(lex.name_cdf, rng.random(target))
    functions = np.searchsorted(lex.function_cdf, rng.random(target))
    tokens: list[Token] = []
    syllables = i = 0
    while syllables < target:
        u = kinds[i]
        if u < FUNCTION_RATE:
            new = [Token("function", FUNCTION_WORDS[functions[i]])]
        elif u < FUNCTION_RATE + NAME_RATE:
            name = Token("name", lex.names[names[i]])
            is_person = name.text.split()[0] in SURNAMES
            # Half of the people are introduced by a title ("ông Nguyễn Văn Hùng").
            new = [Token("function", PERSON_TITLES[i % 2]), name] if is_person and i % 4 < 2 else [name]
        elif u < FUNCTION_RATE + NAME_RATE + NUMBER_RATE:
            new = number_tokens(rng)
        else:
            new = [Token("word", lex.words[words[i]])]
        tokens.extend(new)
        syllables += sum(t.syllables for t in new)
        i += 1
    return tokens


def render(tokens: Sequence[Token], rng: np.random.Generator, end: str = ".") -> str:
    """Tokens as text: first letter capitalised, a few commas, ``end`` at the end."""
    commas = rng.random(len(tokens)) < COMMA_RATE
    last = len(tokens) - 1
    text = " ".join(t.text + ("," if comma and j < last else "") for j, (t, comma) in enumerate(zip(tokens, commas)))
    return text[:1].upper() + text[1:] + end


@dataclass(frozen=True)
class GeneratedArticle:
    doc_id: str
    title: str
    paragraphs: tuple[tuple[list[Token], ...], ...]  # sentences' tokens, by paragraph
    text: str

    @property
    def sentences(self) -> list[list[Token]]:
        return [s for p in self.paragraphs for s in p]


def article_sizes(sentences: int, seed: int) -> list[int]:
    """Sentences per article: 10-40 each, the last one cut so the total is exactly ``sentences``."""
    rng = np.random.default_rng([seed, 0])
    sizes: list[int] = []
    total = 0
    while total < sentences:
        n = min(int(rng.integers(10, 41)), sentences - total)
        sizes.append(n)
        total += n
    return sizes


def generate_article(lex: Lexicon, seed: int, number: int, n_sentences: int) -> GeneratedArticle:
    """Article ``number``: a title and ``n_sentences`` sentences in paragraphs of 2-5 (its own random stream)."""
    rng = np.random.default_rng([seed, 1, number])
    title_words = np.searchsorted(lex.word_cdf, rng.random(int(rng.integers(3, 7))))
    title = render([Token("word", lex.words[w]) for w in title_words], rng, end="")
    paragraphs: list[tuple[list[Token], ...]] = []
    left = n_sentences
    while left > 0:
        n = min(int(rng.integers(2, 6)), left)
        paragraphs.append(tuple(sentence_tokens(lex, rng) for _ in range(n)))
        left -= n
    text = "\n\n".join(" ".join(render(s, rng) for s in p) for p in paragraphs)
    return GeneratedArticle(f"a{number:07d}", title, tuple(paragraphs), text)


def corpus_params(sentences: int, seed: int, lex: Lexicon) -> dict:
    return {"sentences": sentences, "seed": seed, "generator": GENERATOR_VERSION, "inventory": lex.digest}


def ensure_corpus(path: Path, sentences: int, seed: int, lex: Lexicon) -> bool:
    """Write the JSONL corpus to ``path`` unless it is there with the same parameters; True if reused."""
    params_path = path.with_suffix(".params.json")
    params = corpus_params(sentences, seed, lex)
    if path.is_file() and params_path.is_file():
        try:
            if json.loads(params_path.read_text(encoding="utf-8")) == params:
                return True
        except ValueError:
            pass
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for number, n in enumerate(article_sizes(sentences, seed)):
            art = generate_article(lex, seed, number, n)
            f.write(json.dumps({"id": art.doc_id, "title": art.title, "text": art.text}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    params_path.write_text(json.dumps(params), encoding="utf-8")
    return False


# ------------------------------------------------------------------------ queries


@dataclass(frozen=True)
class Question:
    text: str
    unknown: bool  # holds words the corpus never uses
    source: str  # "article id / sentence number" it was made from


def make_questions(lex: Lexicon, sentences: int, seed: int, n: int) -> list[Question]:
    """``n`` questions from random corpus sentences: 3-7 of their content words in order
    plus a question word; in ``UNKNOWN_SHARE`` of them about half the words are unknown."""
    rng = np.random.default_rng([seed, 2])
    sizes = article_sizes(sentences, seed)
    starts = np.cumsum([0] + sizes[:-1]).tolist()
    questions: list[Question] = []
    while len(questions) < n:
        s = int(rng.integers(sentences))
        number = bisect.bisect_right(starts, s) - 1
        article = generate_article(lex, seed, number, sizes[number])
        content = [t.text for t in article.sentences[s - starts[number]] if t.kind == "word"]
        if len(content) < 3:
            continue
        k = min(int(rng.integers(3, 8)), len(content))
        words = [content[i] for i in sorted(rng.choice(len(content), size=k, replace=False))]
        unknown = bool(rng.random() < UNKNOWN_SHARE)
        if unknown:
            for i in rng.choice(k, size=max(1, k // 2), replace=False):
                words[i] = lex.unknown[rng.integers(len(lex.unknown))]
        text = " ".join(words) + " " + QUESTION_ENDINGS[rng.integers(len(QUESTION_ENDINGS))]
        questions.append(Question(text[:1].upper() + text[1:], unknown, f"{article.doc_id}/{s - starts[number]}"))
    return questions


# ------------------------------------------------------------------------ timings


def percentile(values: Sequence[float], pct: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), pct)) if values else 0.0


def timed_ms(fn: Callable[[], object]) -> tuple[float, object]:
    """(milliseconds, result) of one call."""
    t0 = time.perf_counter()
    result = fn()
    return (time.perf_counter() - t0) * 1000, result


def summarise(runs: Sequence[Sequence[float]]) -> dict:
    """p50 and p95 over the questions of each run; the median over runs."""
    return {
        "p50_ms": round(float(np.median([percentile(r, 50) for r in runs])), 3),
        "p95_ms": round(float(np.median([percentile(r, 95) for r in runs])), 3),
    }


def memory_mb() -> dict:
    """This process's resident memory now (VmRSS) and at its peak (VmHWM), from /proc."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields.get("VmRSS"), "peak_rss_mb": fields.get("VmHWM")}


def time_service(service, texts: Sequence[str], repeats: int) -> dict:
    """Retrieval (``rank`` on analysed questions) and whole-ask timings of ``service``."""
    from retrieval.search.rerank import rank

    cfg = service.cfg.retrieval
    analysed = [(t, service.composer.query(t, service.segmenter.terms(t))) for t in texts]
    retrieval_runs, ask_runs = [], []
    answered = 0
    for _ in range(repeats):
        retrieval_runs.append([timed_ms(lambda: rank(service.backend, service.index, q, t, cfg, TOP_K))[0]
                               for t, q in analysed])
        ask = []
        for t in texts:
            service.segmenter.terms.cache_clear()  # a new question is segmented, not looked up
            ms, result = timed_ms(lambda: service.answer(t))
            ask.append(ms)
            answered += result.answered
        ask_runs.append(ask)
    return {"retrieval": summarise(retrieval_runs), "ask": summarise(ask_runs), "answered": answered // repeats}


# ------------------------------------------------------------------ fresh process


# Run as `python -c CHILD_CODE SPEC_FILE REPO`: the clock starts before any project import.
CHILD_CODE = (
    "import sys, time; started = time.perf_counter(); sys.path.insert(0, sys.argv[2]); "
    "from bench.scale import serve; serve(sys.argv[1], started)"
)


def serve(spec_file: str, started: float) -> None:
    """The fresh process: load the saved index, answer one question (report), then time
    every question and report the timings and memory. One JSON line per report."""
    from retrieval.service import AnswerService

    spec = json.loads(Path(spec_file).read_text(encoding="utf-8"))
    cfg = dataclasses.replace(load_config(spec["config"]), cache_dir=Path(spec["cache_dir"]))
    imported = time.perf_counter()
    service = AnswerService.open(cfg, Path(spec["corpus"]))
    opened = time.perf_counter()
    if service.info.reason != "loaded":
        raise SystemExit(f"error: the saved index was not loaded ({service.info.reason}); "
                         "did retrieval/ or the config change while the benchmark ran?")
    service.answer(spec["questions"][0])
    answered = time.perf_counter()
    print(json.dumps({"import_s": round(imported - started, 3), "load_s": round(opened - imported, 3),
                      "first_question_s": round(answered - opened, 3)}), flush=True)
    # A large index loads its compiled first stage in the background after the first answer
    # (questions meanwhile get the numpy pass): time the steady state.
    kernels_s = None
    if service.backend.uses_kernels(service.index):
        if not service.backend.wait_for_kernels(timeout=600):
            raise SystemExit("error: the compiled first stage did not load")
        kernels_s = round(time.perf_counter() - answered, 3)
    timings = time_service(service, spec["questions"], spec["repeats"])
    print(json.dumps(timings | memory_mb() | {"kernels_ready_s": kernels_s}), flush=True)


def run_fresh_process(config: Path, cfg: Config, corpus: Path, texts: Sequence[str], repeats: int) -> dict:
    """Start a fresh Python process on the saved index; its reports plus the wall time to its first answer."""
    spec = corpus.with_suffix(".serve.json")
    spec.write_text(json.dumps({"config": str(config), "cache_dir": str(cfg.cache_dir), "corpus": str(corpus),
                                "questions": list(texts), "repeats": repeats}, ensure_ascii=False), encoding="utf-8")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD_CODE, str(spec), str(REPO)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True, encoding="utf-8")
    first_line = proc.stdout.readline()
    first_answer_s = time.perf_counter() - t0
    rest = proc.stdout.read()
    if proc.wait() != 0 or not first_line:
        raise RuntimeError(f"the serving process failed (exit code {proc.returncode})")
    reports = json.loads(first_line) | json.loads(rest.strip().splitlines()[-1])
    return reports | {"first_answer_s": round(first_answer_s, 3)}


# -------------------------------------------------------------------- reference


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best positive scores' ids, best first; ties: lower id first."""
    positive = np.flatnonzero(scores > 0)
    return positive[np.lexsort((positive, -scores[positive]))[:k]]


def time_rank_bm25(service, texts: Sequence[str], repeats: int) -> dict:
    """rank-bm25's BM25Okapi on the index's own word-field tokens: timings and the equality check."""
    from rank_bm25 import BM25Okapi

    from retrieval.text.terms import expand

    index, r = service.index, service.cfg.retrieval
    t0 = time.perf_counter()
    okapi = BM25Okapi([expand(words) for words in index.terms], k1=r.k1, b=r.b, epsilon=r.epsilon)
    build_s = time.perf_counter() - t0
    queries = [service.composer.query(t, service.segmenter.terms(t)).terms for t in texts]
    runs, ours, identical = [], [], 0
    for rep in range(repeats):
        times = []
        for terms in queries:
            ms, scores = timed_ms(lambda: okapi.get_scores(terms))
            ms += timed_ms(lambda: top_k(scores, TOP_K))[0]
            times.append(ms)
            if rep == 0:
                identical += bool(np.array_equal(index.bm25.scores(terms), scores))
        runs.append(times)
        ours.append([timed_ms(lambda: index.bm25.top_k(terms, TOP_K))[0] for terms in queries])
    return {"rank_bm25": summarise(runs), "word_field_bm25": summarise(ours), "rank_bm25_build_s": round(build_s, 2),
            "identical": identical, "compared": len(queries)}


# ---------------------------------------------------------------------- one size


def cpu_seconds(who: int) -> float:
    """User + system CPU seconds of this process (``RUSAGE_SELF``) or of its finished children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def log_step(label: str, message: str) -> None:
    print(f"[{label}] {message}", file=sys.stderr, flush=True)


def speedup_sample(corpus: Path, cfg: Config, sentences: int) -> list:
    """The first articles of ``corpus`` holding at least ``sentences`` sentences (all of them if fewer)."""
    from retrieval.ingest.corpus import load_corpus
    from retrieval.text.segment import Segmenter

    splitter = Segmenter()
    sample, total = [], 0
    for article in load_corpus(corpus, cfg.ingest).articles:
        if total >= sentences:
            break
        sample.append(article)
        total += sum(len(splitter.sentence_spans(p)) for p in article.paragraphs)
    return sample


def measure_speedup(articles: Sequence, workers: int, repeats: int) -> dict:
    """Segmentation alone (``segment_corpus``, no cache) in one process and on ``workers``
    processes, on the same articles, back to back (alternating order): rates and ratios."""
    from retrieval.index.segcache import segment_corpus
    from retrieval.text.segment import Segmenter

    Segmenter().terms("khởi động mô hình")  # load underthesea here first, as a build does before forking
    rates: dict[int, list[float]] = {1: [], workers: []}
    cpu: dict[int, list[float]] = {1: [], workers: []}
    ratios: list[float] = []
    sentences = 0
    load_before = os.getloadavg()[0]
    for rep in range(repeats):
        run: dict[int, float] = {}
        for w in ((1, workers) if rep % 2 == 0 else (workers, 1)):
            gc.collect()
            cpu0 = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            segmented = segment_corpus(articles, Segmenter(), "speedup", workers=w, progress=False)
            wall = time.perf_counter() - t0
            cpu[w].append(cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN) - cpu0)
            sentences = sum(len(s.sentences) + 1 for s in segmented)  # + the title
            run[w] = sentences / wall
            rates[w].append(run[w])
        ratios.append(run[workers] / run[1])
    return {
        "articles": len(articles), "texts": sentences, "workers": workers, "repeats": repeats,
        "single_per_s": round(float(np.median(rates[1])), 1),
        "parallel_per_s": round(float(np.median(rates[workers])), 1),
        "ratio": round(float(np.median(ratios)), 3),
        "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
        "single_cpu_s": round(float(np.median(cpu[1])), 1), "parallel_cpu_s": round(float(np.median(cpu[workers])), 1),
        # Other processes on the machine slow the parallel runs most: the 1-minute load before and after.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def measure_size(size: int, args: argparse.Namespace, inventory, workdir: Path) -> dict:
    """Generate, build, save, load and query one corpus size; everything measured for its table row."""
    from retrieval.service import AnswerService
    from retrieval.index.store import index_path

    label = size_label(size)
    started = time.perf_counter()
    lex = build_lexicon(inventory, size, args.seed)
    corpus = workdir / f"corpus-{label}-seed{args.seed}.jsonl"
    t0 = time.perf_counter()
    reused = ensure_corpus(corpus, size, args.seed, lex)
    log_step(label, f"corpus {'reused' if reused else 'generated'} in {time.perf_counter() - t0:.1f}s: {corpus}")
    questions = make_questions(lex, size, args.seed, args.queries)
    texts = [q.text for q in questions]

    config = args.config.resolve()
    # An empty cache folder per size: the build is always a cold one, whatever the library caches there.
    cfg = dataclasses.replace(load_config(config), cache_dir=workdir / f"cache-{label}")
    shutil.rmtree(cfg.cache_dir, ignore_errors=True)
    speedup = None
    if args.speedup_sentences:  # before the build: worker processes fork from a small process, as in a build
        workers = cfg.build_workers or os.cpu_count() or 1
        sample = speedup_sample(corpus, cfg, args.speedup_sentences)
        log_step(label, f"segmentation speedup: {len(sample)} articles, 1 vs {workers} processes, "
                        f"{args.repeats} repeats ...")
        speedup = measure_speedup(sample, workers, args.repeats)
        del sample
        gc.collect()
    log_step(label, "building the index ...")
    workers_before = cpu_seconds(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    service = AnswerService.open(cfg, corpus, rebuild=True)
    build_s = time.perf_counter() - t0
    worker_cpu_s = cpu_seconds(resource.RUSAGE_CHILDREN) - workers_before
    index = service.index
    out = {
        "size": label, "sentences": len(index.sentences), "articles": len(index.articles),
        "generator_vocabulary": len(lex.words), "word_field_terms": index.bm25.n_terms,
        "questions": len(texts), "unknown_questions": sum(q.unknown for q in questions),
        "corpus_mb": round(corpus.stat().st_size / 2**20, 1), "corpus_reused": reused,
        "build_s": round(build_s, 2), "sentences_per_s": round(len(index.sentences) / build_s, 1),
        "build_worker_cpu_s": round(worker_cpu_s, 1),
        "build_stages_s": {name: round(seconds, 2) for name, seconds in service.info.stages},
        "index_mb": round(index_path(cfg, corpus).stat().st_size / 2**20, 1),
    }
    log_step(label, f"built in {build_s:.1f}s; fresh process: load, answer, time {len(texts)} questions ...")
    out["serving"] = run_fresh_process(config, cfg, corpus, texts, args.repeats)
    out["speedup"] = speedup
    if args.quick and size >= 1_000_000:
        out["reference"] = None
    else:
        log_step(label, "rank-bm25 reference ...")
        out["reference"] = time_rank_bm25(service, texts, args.repeats)
    del service, index
    gc.collect()
    out["wall_s"] = round(time.perf_counter() - started, 1)
    log_step(label, f"done in {out['wall_s']:.0f}s")
    return out


# ------------------------------------------------------------------------ output


def table_row(r: dict) -> list[str]:
    s, ref = r["serving"], r["reference"]
    identical = "skipped" if ref is None else (
        f"yes ({ref['compared']})" if ref["identical"] == ref["compared"]
        else f"no ({ref['compared'] - ref['identical']}/{ref['compared']} differ)")
    return [
        r["size"], f"{r['sentences']:,}", f"{r['build_s']:.1f}", f"{r['sentences_per_s']:,.0f}",
        f"{r['index_mb']:.1f}", f"{s['load_s']:.2f}", f"{s['first_answer_s']:.2f}",
        f"{s['rss_mb']:.0f} ({s['peak_rss_mb']:.0f})",
        f"{s['retrieval']['p50_ms']:.2f} / {s['retrieval']['p95_ms']:.2f}",
        f"{s['ask']['p50_ms']:.2f} / {s['ask']['p95_ms']:.2f}",
        "–" if ref is None else f"{ref['rank_bm25']['p50_ms']:.1f}",
        identical,
    ]


def format_table(results: Sequence[dict]) -> str:
    head = ["size", "sentences", "build s", "sentences/s", "index MB", "load s", "first answer s",
            "RSS MB (peak)", "retrieval p50 / p95 ms", "ask p50 / p95 ms", "rank-bm25 p50 ms", "identical"]
    t = TARGETS_1M
    target = ["target (1M)", "1,000,000", t["build"], t["rate"], "–", "–", t["first"], t["rss"],
              t["retrieval"], t["ask"], "–", t["identical"]]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---|"]
    lines += ["| " + " | ".join(table_row(r)) + " |" for r in results]
    lines.append("| " + " | ".join(target) + " |")
    return "\n".join(lines)


def report_text(out: dict) -> str:
    lines = [
        f"Scale benchmark, seed {out['seed']}, {out['queries']} questions "
        f"(~{UNKNOWN_SHARE:.0%} with unknown words), {out['repeats']} timing runs; library {out['library']}; "
        f"{out['cpus']} CPUs, load average {out['load_average']} at start",
        "",
        format_table(out["results"]),
        "",
    ]
    for r in out["results"]:
        s, ref = r["serving"], r["reference"]
        lines.append(
            f"{r['size']}: {r['articles']:,} articles, corpus {r['corpus_mb']} MB, generator vocabulary "
            f"{r['generator_vocabulary']:,} words, word field {r['word_field_terms']:,} terms; answered "
            f"{s['answered']}/{r['questions']} ({r['unknown_questions']} with unknown words); fresh process: "
            f"imports {s['import_s']:.2f}s, load {s['load_s']:.2f}s, first question {s['first_question_s']:.2f}s"
            + ("" if ref is None else
               f"; word-field BM25 top-10 alone p50 {ref['word_field_bm25']['p50_ms']:.2f} ms; "
               f"BM25Okapi built in {ref['rank_bm25_build_s']:.1f}s")
            + f"; build worker CPU {r['build_worker_cpu_s']:.0f}s; build stages "
            + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in r["build_stages_s"].items())
            + f"; size wall time {r['wall_s']:.0f}s"
        )
        sp = r["speedup"]
        if sp is not None:
            lines.append(
                f"{r['size']} segmentation alone ({sp['articles']} articles, {sp['texts']:,} sentences and titles): "
                f"1 process {sp['single_per_s']:,.0f}/s, {sp['workers']} processes {sp['parallel_per_s']:,.0f}/s; "
                f"speedup {sp['ratio']:.2f}x (median of {sp['repeats']}; min {sp['ratio_min']:.2f}, "
                f"max {sp['ratio_max']:.2f}); CPU {sp['single_cpu_s']:.1f}s vs {sp['parallel_cpu_s']:.1f}s; "
                f"load average {sp['load_average'][0]:.2f} before, {sp['load_average'][1]:.2f} after"
            )
    lines += [
        "build: AnswerService.open(rebuild=True) from an empty cache_dir; worker CPU is the CPU time of the "
        "processes it started (0: it segmented in one process);",
        "first answer: wall time of a fresh python process from start to its first answer (imports + load + answer);",
        "RSS: that process after answering every question in every run (peak: VmHWM); "
        "retrieval/ask/rank-bm25: median over runs of p50/p95 over questions.",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10k,100k", help="corpus sizes in sentences (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="skip rank-bm25 at 1M sentences and more")
    ap.add_argument("--queries", type=int, default=200, metavar="N", help="questions per size (default: %(default)s)")
    ap.add_argument("--repeats", type=int, default=3, help="timing runs (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default: %(default)s)")
    ap.add_argument("--speedup-sentences", type=int, default=10_000, metavar="N",
                    help="segment the first N sentences in 1 process and on all cores to measure the speedup "
                         "(0: skip; default: %(default)s)")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="keep corpora and indexes here and reuse them (default: a temporary folder)")
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml", help="default: %(default)s")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)
    try:
        args.sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError as exc:
        ap.error(str(exc))
    if not args.sizes:
        ap.error("--sizes is empty")
    if args.queries < 1 or args.repeats < 1:
        ap.error("--queries and --repeats must be >= 1")
    if args.speedup_sentences < 0:
        ap.error("--speedup-sentences must be >= 0")
    if not args.config.is_file():
        ap.error(f"config file not found: {args.config}")
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict:
    if not XQUAD.is_file():
        # Without XQuAD the syllables come from the seeds alone: another corpus and other
        # questions, whose figures do not compare with a run that had it.
        log_step("setup", f"warning: {XQUAD} not found; syllables from the seed articles only")
    inventory = syllable_inventory(real_texts())
    return {
        "library": library_version(),
        "seed": args.seed,
        "queries": args.queries,
        "repeats": args.repeats,
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "syllables": len(inventory),
        "xquad_syllables": XQUAD.is_file(),
        "results": [measure_size(size, args, inventory, workdir) for size in args.sizes],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        out = run(args, args.workdir.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
            out = run(args, Path(tmp))
    print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else report_text(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
