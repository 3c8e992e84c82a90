"""Typed configuration, loaded once at the edge from ``config.yaml``.

Every section is a frozen dataclass. Unknown keys and values of the wrong type
raise :class:`ConfigError` with a message that names the key and what is
allowed, so a mistyped ``config.yaml`` is one clear line, never a traceback.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from retrieval.errors import ConfigError


@dataclass(frozen=True)
class IngestConfig:
    """How articles are read and cleaned of site boilerplate."""

    # A line equal to one of these (case-insensitive, optional trailing ':')
    # starts the site's related-news / comments area: it and everything after
    # it is dropped.
    cut_markers: tuple[str, ...] = ()
    # Regular expressions; a matching line is dropped (captions, credits, forms).
    drop_line_patterns: tuple[str, ...] = ()
    # A line with no sentence-ending punctuation and at most this many words is
    # a heading, byline, caption or teaser, not a sentence to quote.
    max_heading_words: int = 40
    # Regular expressions for a source credit line; group "source" is the name.
    source_line_patterns: tuple[str, ...] = ()
    # Agency prefixes at the start of the lead paragraph ("(CLO) ", "HNP - "):
    # abbreviation -> source name. The prefix is cut from the quote.
    source_aliases: dict[str, str] = field(default_factory=dict)
    # Only these first non-empty lines (and the title line) are searched for the
    # publication date, so dates in the body or related-news lists are never used.
    date_header_lines: int = 6


@dataclass(frozen=True)
class RetrievalConfig:
    """BM25 parameters (rank-bm25's BM25Okapi semantics)."""

    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25
    top_k: int = 20
    # Index and match the syllables of compound words too ("dân" finds "dân số").
    expand_compounds: bool = True
    # Leave question and function words (answer.stopwords) out of the scores.
    drop_question_words: bool = True
    # Words left out of the scores (empty: every answer.stopwords word).
    question_words: tuple[str, ...] = ()
    # Abbreviation -> expansion, added to questions that use the abbreviation.
    abbreviations: dict[str, str] = field(default_factory=dict)
    # Weight of the diacritic-free field for questions with / without diacritics.
    fold_weight: float = 0.3
    accentless_fold_weight: float = 1.0
    # Answer-type preference: bonus factor, and how many best sentences get it.
    type_bonus: float = 0.3
    rerank_depth: int = 50
    # Article-level evidence: a sentence's score is multiplied by
    # 1 + article_weight * (its article's score / the best article's score).
    article_weight: float = 0.0
    # Weight of the syllable-bigram (phrase) field; 0 = not built.
    bigram_weight: float = 0.0
    # The same for accentless questions, over syllable pairs without diacritics.
    accentless_bigram_weight: float = 0.0
    # Learned re-ranker: feature name -> weight (see retrieval/search/learned.py FEATURES);
    # empty means the hand-set type_bonus is used instead.
    ranker_weights: dict[str, float] = field(default_factory=dict)
    # Each sentence gets this share of its better neighbour's score (same article).
    neighbor_weight: float = 0.0
    # The answer-type thing must stand within this many words of a question word.
    type_window: int = 4
    # "X của Y là gì?": a sentence without the word X has its score multiplied by
    # this (1 = off); one that states X's value gets the type bonus.
    focus_factor: float = 1.0
    # A run of capitalised words is a person when a title stands next to it or
    # it starts with a common surname.
    person_titles: tuple[str, ...] = ()
    surnames: tuple[str, ...] = ()
    # ... unless one of these stands just before it ("TP Hồ Chí Minh").
    place_titles: tuple[str, ...] = ()

    def index_settings(self) -> dict[str, Any]:
        """What a built index depends on: the arguments of ``retrieval.index.build_index``.
        Every other retrieval setting applies when a question is asked, so changing it
        needs no rebuild."""
        return {
            "k1": self.k1, "b": self.b, "epsilon": self.epsilon, "expand_compounds": self.expand_compounds,
            "with_pairs": self.bigram_weight > 0, "with_fold_pairs": self.accentless_bigram_weight > 0,
        }


@dataclass(frozen=True)
class AnswerConfig:
    """How ranked sentences become answers, and when to refuse."""

    max_answers: int = 3
    # Answers after the first must score at least this fraction of the best.
    min_relative_score: float = 0.5
    # Refusal rule, see config.yaml for the calibration.
    min_score: float = 0.0
    min_coverage: float = 0.0
    unknown_word_weight: float = 2.0
    syllable_credit: float = 0.5
    # Question / function words: ignored when measuring coverage.
    stopwords: tuple[str, ...] = ()
    # A sentence starting with one of these needs the sentence before it.
    dependent_openers: tuple[str, ...] = ()
    # Pronouns: the sentence needs the one before it unless a name follows.
    pronoun_openers: tuple[str, ...] = ()
    # Quote the next sentence too when it depends on the quoted one.
    widen_forward: bool = False
    # Quote the sentence before or after too (same paragraph) when it holds at
    # least this share of the question's content words (IDF-weighted) that the
    # quote lacks; 0 = never.
    widen_to_cover: float = 0.0
    # A sentence naming one of the question's words followed by one of these
    # ("các thiết bị này") refers back: it is quoted with the sentence before it.
    demonstratives: tuple[str, ...] = ()
    # Questions longer than this (characters) are cut before answering.
    max_question_chars: int = 1000


@dataclass(frozen=True)
class TelegramConfig:
    """The Telegram front end. The token is never here: it is read from TELEGRAM_BOT_TOKEN."""

    # "polling" (long polling) or "webhook".
    mode: str = "polling"
    # Webhook mode: where to listen, the public HTTPS URL Telegram calls, and the
    # name of the environment variable holding the webhook secret token.
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_url: str = ""
    webhook_secret_env: str = "TELEGRAM_WEBHOOK_SECRET"
    # Only these chats are served when the list is not empty.
    allowed_chat_ids: tuple[int, ...] = ()
    # Per-user limit: at most this many questions per window (seconds).
    user_rate_limit: int = 10
    user_rate_window: float = 60.0
    # Answers shown per message; "Xem thêm" shows the next ones, up to max_total_answers.
    answers_per_message: int = 3
    max_total_answers: int = 9
    # Example questions shown by /start (they should be answerable from the corpus).
    example_questions: tuple[str, ...] = ()
    # Telegram's flood limit for the whole bot (messages per second, python-telegram-bot's
    # AIORateLimiter); 0 switches it off (only for a self-hosted Bot API server or tests).
    max_messages_per_second: float = 30.0
    # How long a reply is retried (with growing pauses) when the Bot API cannot be
    # reached or answers 429 / 5xx; 0 means one attempt. Failures that may have
    # delivered the message (a read timeout, a dropped response) are never retried.
    send_retry_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_messages_per_second < 0:
            raise ConfigError("telegram.max_messages_per_second must be >= 0 (0 = no overall limit)")
        if self.send_retry_seconds < 0:
            raise ConfigError("telegram.send_retry_seconds must be >= 0 (0 = no retries)")


@dataclass(frozen=True)
class Config:
    """The whole configuration; paths are absolute after loading."""

    corpus: Path = Path("seeds")
    cache_dir: Path = Path(".cache")
    log_level: str = "INFO"
    # Processes that segment articles when the index is built (0 = all cores).
    build_workers: int = 0
    ingest: IngestConfig = field(default_factory=IngestConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", Path: "a path"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert it."""
    origin = typing.get_origin(tp)
    bad = ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' must be a mapping of settings, got {value!r}")
        return _build(tp, value, prefix=f"{key}.")
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise bad
        (item_tp, _) = typing.get_args(tp)
        return tuple(_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        (_, value_tp) = typing.get_args(tp)
        return {str(k): _coerce(v, value_tp, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad
        return value
    if tp is Path:
        if not isinstance(value, str) or not value.strip():
            raise bad
        return Path(value)
    if isinstance(tp, types.UnionType):  # pragma: no cover - not used yet
        return value
    raise bad


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(
            f"unknown config key '{prefix}{unknown[0]}'; allowed keys"
            f"{' in ' + prefix.rstrip('.') if prefix else ''}: {', '.join(names)}"
        )
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items() if v is not None}
    return cls(**kwargs)


def _validate(cfg: Config) -> None:
    r, a = cfg.retrieval, cfg.answer
    checks = [
        (r.k1 >= 0, "retrieval.k1 must be >= 0"),
        (0 <= r.b <= 1, "retrieval.b must be between 0 and 1"),
        (r.epsilon >= 0, "retrieval.epsilon must be >= 0"),
        (r.top_k >= 1, "retrieval.top_k must be >= 1"),
        (r.fold_weight >= 0 and r.accentless_fold_weight >= 0, "retrieval fold weights must be >= 0"),
        (r.type_bonus >= 0, "retrieval.type_bonus must be >= 0"),
        (r.rerank_depth >= 1, "retrieval.rerank_depth must be >= 1"),
        (r.type_window >= 0, "retrieval.type_window must be >= 0"),
        (0 <= r.focus_factor <= 1, "retrieval.focus_factor must be between 0 and 1"),
        (r.article_weight >= 0, "retrieval.article_weight must be >= 0"),
        (a.max_answers >= 1, "answer.max_answers must be >= 1"),
        (0 <= a.min_relative_score <= 1, "answer.min_relative_score must be between 0 and 1"),
        (0 <= a.min_coverage <= 1, "answer.min_coverage must be between 0 and 1"),
        (a.unknown_word_weight > 0, "answer.unknown_word_weight must be > 0"),
        (0 <= a.syllable_credit <= 1, "answer.syllable_credit must be between 0 and 1"),
        (0 <= a.widen_to_cover <= 1, "answer.widen_to_cover must be between 0 and 1"),
        (a.max_question_chars >= 10, "answer.max_question_chars must be >= 10"),
        (cfg.telegram.mode in {"polling", "webhook"}, "telegram.mode must be 'polling' or 'webhook'"),
        (cfg.telegram.user_rate_limit >= 1, "telegram.user_rate_limit must be >= 1"),
        (cfg.telegram.user_rate_window > 0, "telegram.user_rate_window must be > 0"),
        (cfg.telegram.answers_per_message >= 1, "telegram.answers_per_message must be >= 1"),
        (cfg.telegram.max_total_answers >= cfg.telegram.answers_per_message,
         "telegram.max_total_answers must be >= telegram.answers_per_message"),
        (cfg.ingest.max_heading_words >= 0, "ingest.max_heading_words must be >= 0"),
        (cfg.build_workers >= 0, "build_workers must be >= 0 (0 = all cores)"),
        (cfg.log_level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"},
         "log_level must be one of DEBUG, INFO, WARNING, ERROR"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def load_config(path: str | Path) -> Config:
    """Read ``config.yaml``; relative paths in it are relative to its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid YAML{at}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of settings")
    cfg = _build(Config, data)
    base = path.resolve().parent
    cfg = dataclasses.replace(
        cfg,
        corpus=(base / cfg.corpus).resolve(),
        cache_dir=(base / cfg.cache_dir).resolve(),
    )
    _validate(cfg)
    return cfg
