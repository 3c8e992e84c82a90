"""The scale benchmark's synthetic corpus and questions (bench/scale.py runs them).

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

Past 400 lines because the generator and the questions drawn from its sentences share its word
statistics; scale_timing.py and scale.py are the benchmark's other two parts.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bench/ is on sys.path, not the repo
    sys.path.insert(0, str(REPO))


XQUAD = REPO.parent / "shared/eval/xquad/xquad.vi.json"
SEEDS = REPO / "seeds"

GENERATOR_VERSION = 1  # bump when the generator changes: saved corpora are then regenerated
VOCAB_AT_1M = 157_000
HEAPS_BETA = 0.6
ZIPF_EXPONENT = 1.05
UNKNOWN_SHARE = 0.10
TOP_K = 10

FUNCTION_WORDS = (
    "của",
    "và",
    "là",
    "được",
    "các",
    "những",
    "trong",
    "cho",
    "với",
    "có",
    "không",
    "đã",
    "sẽ",
    "này",
    "đó",
    "một",
    "để",
    "từ",
    "theo",
    "về",
    "như",
    "cũng",
    "đến",
    "tại",
    "ra",
    "vào",
    "thì",
    "mà",
    "nhưng",
    "nên",
    "vì",
    "do",
    "bị",
    "đang",
    "rất",
    "nhiều",
    "hơn",
    "lại",
    "còn",
    "chỉ",
    "đều",
    "vẫn",
    "sau",
    "trước",
    "trên",
    "dưới",
    "giữa",
    "qua",
    "bởi",
    "nếu",
    "hay",
    "hoặc",
    "cùng",
    "mỗi",
    "mọi",
    "nhất",
    "đây",
    "ấy",
    "khi",
    "sự",
    "việc",
    "người",
    "ở",
)
PERSON_TITLES = ("ông", "bà")
SURNAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
)
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
    "build": "≤ 600",
    "rate": "≥ 1,667",
    "first": "≤ 1.5",
    "rss": "≤ 700",
    "retrieval": "≤ 3 / ≤ 15",
    "ask": "≤ 10 / –",
    "identical": "yes",
}


# --------------------------------------------------------------------------- sizes


def parse_size(text: str) -> int:
    """``"10k"`` -> 10000, ``"1M"`` -> 1000000, ``"2500"`` -> 2500."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise ValueError(f"not a size: {text!r} (examples: 10k, 100k, 1M, 2500)")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[m[2].lower()]
    size = round(float(m[1]) * scale)
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


def unique_words(
    make: Callable[[np.random.Generator], str], rng: np.random.Generator, n: int, exclude: frozenset[str] = frozenset()
) -> list[str]:
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
            return " ".join([*parts, draw_syllables(rng, 1)[0].capitalize()])
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
    return Lexicon(
        tuple(words),
        zipf_cdf(len(words), len(FUNCTION_WORDS) + 1),
        tuple(names),
        zipf_cdf(len(names)),
        zipf_cdf(len(FUNCTION_WORDS)),
        tuple(unknown),
        digest,
    )


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
    starts = np.cumsum([0, *sizes[:-1]]).tolist()
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
