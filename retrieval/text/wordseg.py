"""underthesea's word segmentation, with its CRF features computed faster.

``underthesea.word_tokenize`` runs three steps: a regex tokenizer, the CRF
feature extraction of ``underthesea_core.CRFFeaturizer`` (Rust) and the CRF
tagger. The feature step is most of the time: 43 templates per syllable
(``T[-1,0].lower=hà nội``, ``T[0].istitle=True``...), each string built and
converted across the Rust boundary one by one, about 1 ms for a 26-syllable
sentence. This module keeps underthesea's tokenizer, model, dictionary,
feature templates and tagger, and builds the same feature strings itself:

- a syllable's own features (its text, lower case, ``isdigit``, ``istitle``
  and dictionary membership) are asked of underthesea's featurizer once per
  distinct syllable and kept, so their semantics are the library's own;
- features of two or three syllables are the joins of their parts' values
  (``lower`` of a join is the join of the lowers, ``istitle`` holds when it
  holds for every part, ``isdigit`` is never true with a space inside) and a
  lookup in the same dictionary;
- strings are assembled by template column, not one template at a time.

The result is the same list of words, because the tagger receives the same
strings in the same order. That is checked when the model loads, on sample
sentences against ``underthesea.word_tokenize``; if the templates are not of
the supported form or the check fails (a future underthesea, say), it logs a
warning and uses ``underthesea.word_tokenize`` itself. The tests compare the
two on whole corpora.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

log = logging.getLogger(__name__)

# The feature templates this module can compute: T[i] or T[i,j], optionally
# with one of the four functions underthesea_core implements.
_TEMPLATE = re.compile(r"T\[(-?\d+)(?:,(-?\d+))?\](?:\.(lower|isdigit|istitle|is_in_dict))?")
_FUNCTIONS = ("text", "lower", "isdigit", "istitle", "is_in_dict")
# Asked of underthesea's own featurizer for each distinct syllable.
_SYLLABLE_TEMPLATES = ("T[0].lower", "T[0].isdigit", "T[0].istitle", "T[0].is_in_dict")
# Distinct syllables whose features are kept; past this the cache starts again.
SYLLABLE_CACHE = 100_000
# Sentences the model's check runs on: case, digits, punctuation, dictionary
# words and names, one and two syllables, a long run.
CHECK_SENTENCES = (
    "Hà Nội",
    "Bác sĩ bây giờ có thể thản nhiên báo tin bệnh nhân bị ung thư.",
    "UBND TP Hà Nội đã triển khai 1.200 dịch vụ công trực tuyến mức độ 4 từ ngày 01/07/2020 !",
    'Ông Ted Osius, Đại sứ Mỹ tại Việt Nam, nói: "Chính phủ điện tử là ưu tiên" - (theo VnExpress) 99% 2147483648',
    "ừ",
    "Thành phố thông minh (smart city) giúp người dân tiết kiệm thời gian và chi phí khi làm thủ tục hành chính.",
)


@dataclass(frozen=True)
class _Template:
    index: int  # position among the model's templates
    length: int  # syllables it spans
    offset: int  # first syllable, relative to the current one
    function: int  # index into _FUNCTIONS
    prefix: str  # "T[-1,0].lower="
    bos: str
    eos: str


def parse_templates(names: Sequence[str]) -> list[_Template] | None:
    """The model's feature templates, or None if one is not of a supported form."""
    templates = []
    for i, name in enumerate(names):
        m = _TEMPLATE.fullmatch(name)
        if m is None:
            return None
        first = int(m[1])
        last = int(m[2]) if m[2] is not None else first
        if last < first:
            return None
        templates.append(
            _Template(
                i, last - first + 1, first, _FUNCTIONS.index(m[3] or "text"), f"{name}=", f"{name}=BOS", f"{name}=EOS"
            )
        )
    return templates


class CrfFeatures:
    """The feature strings underthesea_core's ``CRFFeaturizer`` gives a token list, computed faster.

    ``syllable_features`` is a featurizer's ``process`` for the four syllable
    templates (with the model's dictionary); ``dictionary`` the same set.
    """

    def __init__(
        self,
        templates: Sequence[_Template],
        dictionary: frozenset[str],
        syllable_features: Callable[[list[list[list[str]]]], list[list[list[str]]]],
    ) -> None:
        self._dictionary = dictionary
        self._syllable_features = syllable_features
        self._count = len(templates)
        single = [t for t in templates if t.length == 1]
        self._single = single
        self._single_bos = tuple(t.bos for t in single)
        self._single_eos = tuple(t.eos for t in single)
        self._front = max([0] + [-t.offset for t in single])
        self._back = max([0] + [t.offset for t in single])
        # Column getters: template -> its string in a syllable's cached tuple.
        self._single_columns = [(t.index, t.offset, itemgetter(k)) for k, t in enumerate(single)]
        self._multi = [t for t in templates if t.length > 1]
        self._lengths = sorted({t.length for t in self._multi})
        self._cache: dict[str, tuple[tuple[str, ...], str, str]] = {}

    def _syllables(self, tokens: Sequence[str]) -> list[tuple[tuple[str, ...], str, str]]:
        """Each token's (strings of the one-syllable templates, lower case, istitle)."""
        cache = self._cache
        try:
            return [cache[t] for t in tokens]
        except KeyError:
            pass
        # A local copy of this sentence's entries: another thread may clear the cache meanwhile.
        entries = {t: entry for t in tokens if (entry := cache.get(t)) is not None}
        missing = [t for t in dict.fromkeys(tokens) if t not in entries]
        if len(cache) + len(missing) > SYLLABLE_CACHE:
            cache.clear()
        rows = self._syllable_features([[[t] for t in missing]])[0]
        for token, row in zip(missing, rows):
            # "T[0].lower=hà" -> "hà", and so on for the four functions.
            lower, isdigit, istitle, in_dict = (f[len(n) + 1 :] for f, n in zip(row, _SYLLABLE_TEMPLATES))
            values = (token, lower, isdigit, istitle, in_dict)
            entries[token] = cache[token] = (
                tuple([t.prefix + values[t.function] for t in self._single]),
                lower,
                istitle,
            )
        return [entries[t] for t in tokens]

    def __call__(self, tokens: Sequence[str]) -> list[tuple[str, ...]]:
        n = len(tokens)
        if n == 0:
            return []
        syllables = self._syllables(tokens)
        columns: list = [None] * self._count
        padded = [self._single_bos] * self._front + [s[0] for s in syllables] + [self._single_eos] * self._back
        for index, offset, get in self._single_columns:
            start = self._front + offset
            columns[index] = map(get, padded[start : start + n])
        values = self._spans(tokens, syllables)
        for t in self._multi:
            # Positions whose span lies inside the sentence; before them the
            # span starts before it (BOS), after them it ends past it (EOS).
            lo = max(0, -t.offset)
            hi = min(n, n - t.offset - t.length + 1)
            if hi <= lo:
                columns[t.index] = [t.bos] * min(lo, n) + [t.eos] * (n - min(lo, n))
                continue
            prefix = t.prefix
            middle = [prefix + v for v in values[t.length][t.function][lo + t.offset : hi + t.offset]]
            columns[t.index] = [t.bos] * lo + middle + [t.eos] * (n - hi)
        return list(zip(*columns))

    def _spans(self, tokens: Sequence[str], syllables) -> dict[int, tuple[list[str], ...]]:
        """Per span length: (text, lower, isdigit, istitle, is_in_dict) of every span."""
        lowers = [s[1] for s in syllables]
        titles = [s[2] for s in syllables]
        dictionary = self._dictionary
        values: dict[int, tuple[list[str], ...]] = {}
        for length in self._lengths:
            count = len(tokens) - length + 1
            if count <= 0:
                continue
            lower = [" ".join(p) for p in zip(*(lowers[k:] for k in range(length)))]
            values[length] = (
                [" ".join(p) for p in zip(*(tokens[k:] for k in range(length)))],
                lower,
                # underthesea_core parses the text as an i32: never with a space inside.
                ["False"] * count,
                ["False" if "False" in p else "True" for p in zip(*(titles[k:] for k in range(length)))],
                ["True" if w in dictionary else "False" for w in lower],
            )
        return values


class WordTokenizer:
    """``underthesea.word_tokenize(text)``, same words, with :class:`CrfFeatures`."""

    def __init__(
        self,
        tokenize: Callable[..., list[str]],
        features: CrfFeatures,
        tag: Callable[[list[tuple[str, ...]]], list[str]],
    ) -> None:
        self._tokenize = tokenize
        self._features = features
        self._tag = tag

    def __call__(self, text: str) -> list[str]:
        tokens = self._tokenize(text, use_token_normalize=True, fixed_words=[])
        if not tokens:
            return []
        words: list[str] = []
        for tag, token in zip(self._tag(self._features(tokens)), tokens):
            if tag == "I-W" and words:
                words[-1] = words[-1] + " " + token
            else:
                words.append(token)
        return words


def load() -> Callable[[str], list[str]]:
    """The fast word tokenizer on underthesea's model, or ``underthesea.word_tokenize`` itself.

    The fast one is returned only if the model's templates are supported and it
    gives underthesea's words and feature strings on :data:`CHECK_SENTENCES`.
    """
    from underthesea import word_tokenize

    word_tokenize("Hà Nội")  # loads underthesea's model
    try:
        fast = _fast_tokenizer()
    except Exception:  # any surprise in underthesea's internals means: use it as is
        log.warning("fast word segmentation unavailable, using underthesea.word_tokenize", exc_info=True)
        return word_tokenize
    if fast is None:
        return word_tokenize
    return fast


def _fast_tokenizer() -> WordTokenizer | None:
    import joblib
    import underthesea.pipeline.word_tokenize as wt
    from underthesea.pipeline.word_tokenize.regex_tokenize import tokenize
    from underthesea_core import CRFFeaturizer

    model = wt.word_tokenize_model
    # Where underthesea's word_tokenize loads its model from (FastCRFSequenceTagger.load).
    path = Path(wt.__file__).parent / "models" / "ws_crf_vlsp2013_20230727"
    names = joblib.load(path / "features.bin")
    dictionary = frozenset(joblib.load(path / "dictionary.bin"))
    templates = parse_templates(names)
    if templates is None:
        log.warning(
            "underthesea's word segmentation templates are not the supported kind (%s); "
            "using underthesea.word_tokenize",
            names,
        )
        return None
    features = CrfFeatures(templates, dictionary, CRFFeaturizer(list(_SYLLABLE_TEMPLATES), set(dictionary)).process)
    fast = WordTokenizer(tokenize, features, model.estimator.tag)
    for sentence in CHECK_SENTENCES:
        tokens = tokenize(sentence, use_token_normalize=True, fixed_words=[])
        expected = model.featurizer.process([[[t] for t in tokens]])[0]
        if [list(row) for row in features(tokens)] != expected or fast(sentence) != wt.word_tokenize(sentence):
            log.warning(
                "fast word segmentation differs from underthesea's on %r; using underthesea.word_tokenize", sentence
            )
            return None
    return fast
