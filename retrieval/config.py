"""Typed configuration, loaded once at the edge from ``config.yaml``.

Every section is a frozen dataclass. Unknown keys and values of the wrong type
raise :class:`ConfigError` with a message that names the key and what is
allowed, so a mistyped ``config.yaml`` is one clear line, never a traceback.

Past 400 lines because every default lives here with its reason: one source of truth.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from retrieval import vietnamese as vn
from retrieval.errors import ConfigError


def setting(default: Any, doc: str) -> Any:
    """A configuration field: its default (the shipped value) and its documentation,
    which ``python -m bot config`` prints and docs/configuration.md is made from."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class IngestConfig:
    """How articles are read and cleaned of site boilerplate."""

    cut_markers: tuple[str, ...] = setting(
        vn.CUT_MARKERS,
        "A line equal to one of these (case-insensitive, optional trailing ':') starts the site's "
        "related-news, comment or footer area: it and everything after it is not the article.",
    )
    drop_line_patterns: tuple[str, ...] = setting(
        vn.DROP_LINE_PATTERNS,
        "Regular expressions (case-insensitive); a matching line is dropped wherever it is "
        "(photo captions with their credit, form fields).",
    )
    max_heading_words: int = setting(
        40,
        "A line without sentence-ending punctuation and at most this many words is a heading, "
        "byline, section label or teaser: not quoted.",
    )
    source_line_patterns: tuple[str, ...] = setting(
        vn.SOURCE_LINE_PATTERNS,
        "Source credit lines (at most 12 words); group `source` is the name and the last '/'-separated part is kept.",
    )
    source_aliases: dict[str, str] = setting(
        vn.SOURCE_ALIASES,
        "Agency tags that open a lead paragraph ('(CLO) ', 'HNP - '), and the source they stand for; "
        "the tag is cut from the quote.",
    )
    date_header_lines: int = setting(
        6,
        "The publication date is read only from the title line and this many first lines "
        "(day, month and year required), never from the body or the related-news list.",
    )
    max_file_mb: int = setting(
        50,
        "Files larger than this many megabytes are skipped with a warning, unread (a folder's documents "
        "of every kind; a JSONL corpus is not limited).",
    )


@dataclass(frozen=True)
class RetrievalConfig:
    """How sentences are scored (BM25 with rank-bm25's BM25Okapi semantics) and re-ranked."""

    k1: float = setting(1.5, "BM25 term-frequency saturation.")
    b: float = setting(0.5, "BM25 length normalisation (0: none, 1: full).")
    epsilon: float = setting(
        0.25, "BM25Okapi's IDF floor: terms in more than half of the sentences get epsilon times the mean IDF."
    )
    top_k: int = setting(20, "How many best sentences the answer composer looks at.")
    expand_compounds: bool = setting(
        True,
        "Index and match the syllables of compound words as well as the words ('dân' finds "
        "'dân số'; an exact compound match still counts more).",
    )
    drop_question_words: bool = setting(True, "Leave question words (retrieval.question_words) out of the scores.")
    question_words: tuple[str, ...] = setting(
        vn.QUESTION_WORDS,
        "Question words and chat particles, left out of the scores (function words such as 'của' stay: "
        "their IDF is low and they still help to rank). Empty: every word of answer.stopwords is left out.",
    )
    abbreviations: dict[str, str] = setting(
        vn.ABBREVIATIONS,
        "Abbreviations people type, expanded in questions (the abbreviation is kept too, since articles "
        "use both forms). Matched case-insensitively.",
    )
    equivalents: tuple[tuple[str, ...], ...] = setting(
        vn.EQUIVALENTS,
        "Spellings of one meaning, each group its canonical form first ('phần trăm', '%'): rewritten to the "
        "canonical form in articles and questions alike before words are segmented, so they neither miss nor "
        "look unknown. Numbers are always rewritten ('1.200' -> '1200', '1,5' -> '1.5'). Changing it rebuilds "
        "the index.",
    )
    question_forms: tuple[tuple[str, ...], ...] = setting(
        vn.QUESTION_FORMS,
        "Short and chat forms people type ('ko', 'dc', 'bn', 'cty'), each group its full form first: rewritten "
        "in questions only, before their words are segmented.",
    )
    fold_weight: float = setting(
        0.3,
        "Each sentence is also indexed by its syllables without diacritics; that field is added with "
        "this weight for a question typed with diacritics (exact accents stay ahead: folding merges "
        "different words such as dê/dế) ...",
    )
    accentless_fold_weight: float = setting(1.0, "... and with this weight for a question typed without any diacritic.")
    type_bonus: float = setting(
        0.5,
        "A sentence that holds what the question asks for (a name for 'ai', a number for 'bao nhiêu', "
        "a date for 'khi nào', a place for 'ở đâu'), not already in the question, has its score "
        "multiplied by 1 + type_bonus.",
    )
    rerank_depth: int = setting(
        20, "How many best sentences of the first stage are re-ranked (answer types, attribute focus)."
    )
    article_weight: float = setting(
        1.0,
        "Article-level evidence: each sentence's score is multiplied by 1 + article_weight x (its "
        "article's score / the best article's score), so the article about the question wins over one "
        "that shares a phrase.",
    )
    ranker_weights: dict[str, float] = setting(
        {},
        "Learned re-ranker (bench/train_ranker.py fits it on XQuAD half A): feature -> weight, see "
        "retrieval/search/learned.py. Empty: the hand-set type_bonus is used instead.",
    )
    bigram_weight: float = setting(
        0.0, "Weight of a field of syllable pairs ('lưu+vực'), which rewards phrases; 0: not built."
    )
    accentless_bigram_weight: float = setting(
        2.0,
        "The same over syllables without diacritics, for questions typed without any: 'dai+su' is far "
        "less ambiguous than 'dai' and 'su' alone; 0: not built.",
    )
    neighbor_weight: float = setting(
        0.0, "Each sentence also gets this share of its better neighbour's score (same article)."
    )
    type_window: int = setting(
        4, "The asked-for thing must stand within this many words of one of the question's words."
    )
    focus_factor: float = setting(
        0.7,
        "For 'X của Y là gì?' questions: among the re-ranked sentences, one without the word X has its "
        "score multiplied by this, one that states X's value (X then a quotation, colon or 'là') by "
        "1 + type_bonus; 1 = off.",
    )
    person_titles: tuple[str, ...] = setting(
        vn.PERSON_TITLES,
        "For 'ai' questions, a capitalised run is a person when one of these titles stands "
        "next to it (compared without diacritics) ...",
    )
    surnames: tuple[str, ...] = setting(vn.SURNAMES, "... or when it starts with one of these surnames.")
    place_titles: tuple[str, ...] = setting(
        vn.PLACE_TITLES, "A capitalised run right after one of these is a place, never a person."
    )

    def index_settings(self) -> dict[str, Any]:
        """What a built index depends on: the arguments of ``retrieval.index.build.build_index``.
        Every other retrieval setting applies when a question is asked, so changing it
        needs no rebuild."""
        return {
            "k1": self.k1,
            "b": self.b,
            "epsilon": self.epsilon,
            "expand_compounds": self.expand_compounds,
            "with_pairs": self.bigram_weight > 0,
            "with_fold_pairs": self.accentless_bigram_weight > 0,
        }


@dataclass(frozen=True)
class AnswerConfig:
    """How ranked sentences become answers, and when to refuse."""

    max_answers: int = setting(3, "At most this many quotes per question, best first.")
    min_relative_score: float = setting(
        0.3, "Quotes after the first must score at least this fraction of the best one."
    )
    strictness: float = setting(
        0.5,
        "Answer or refuse: a question is answered only when the confidence model "
        "(retrieval/answer/confidence.py) gives at least this probability that the articles answer it. "
        "Higher refuses more; docs/quality.md has the curve of refused off-topic questions against "
        "refused answerable ones for each value.",
    )
    min_coverage: float = setting(
        0.25,
        "Quotes after the first must come from an article that holds at least this share of the "
        "question's content words, weighted by IDF (question and function words do not count).",
    )
    unknown_word_weight: float = setting(
        2.0, "In that share, a question word the corpus never uses weighs this many times the rarest possible word."
    )
    max_suggestions: int = setting(
        3, "A refused question names up to this many articles close to it, so the user can rephrase; 0 = none."
    )
    suggest_coverage: float = setting(
        0.3,
        "An article is close enough to name after a refusal when it holds at least this share of the "
        "question's content words (IDF-weighted, as min_coverage).",
    )
    syllable_credit: float = setting(
        0.5, "A question word found in the article only as a syllable of another compound counts this much."
    )
    stopwords: tuple[str, ...] = setting(
        vn.STOPWORDS, "Question and function words: not counted when measuring what a question is about."
    )
    dependent_openers: tuple[str, ...] = setting(
        vn.DEPENDENT_OPENERS, "A sentence that opens with one of these is quoted with the sentence before it."
    )
    pronoun_openers: tuple[str, ...] = setting(
        vn.PRONOUN_OPENERS, "Pronoun openers: the sentence before is added unless a name follows."
    )
    widen_forward: bool = setting(
        True, "A quoted sentence also takes the next one when that one opens with a dependent opener (same paragraph)."
    )
    widen_to_cover: float = setting(
        0.05,
        "A quote also takes the sentence before or after it (same paragraph) when that sentence holds "
        "at least this share of the question's content words (IDF-weighted) the quote lacks; 0 = never.",
    )
    demonstratives: tuple[str, ...] = setting(
        vn.DEMONSTRATIVES,
        "A quoted sentence naming a question word followed by one of these ('các thiết bị "
        "này') is quoted with the sentence before it. Empty: never.",
    )
    max_question_chars: int = setting(1000, "Longer questions are cut to this many characters (with a note).")


@dataclass(frozen=True)
class TelegramConfig:
    """The Telegram front end. The token is never here: it is read from TELEGRAM_BOT_TOKEN."""

    mode: str = setting(
        "polling",
        "'polling' (long polling, works anywhere) or 'webhook' (a public HTTPS URL; plain http:// "
        "is accepted with a self-hosted Bot API server, TELEGRAM_BASE_URL).",
    )
    webhook_listen: str = setting("0.0.0.0", "Webhook mode: the address to listen on.")
    webhook_port: int = setting(8443, "Webhook mode: the port to listen on.")
    webhook_url: str = setting("", "Webhook mode: the public URL Telegram calls.")
    webhook_secret_env: str = setting(
        "TELEGRAM_WEBHOOK_SECRET", "Webhook mode: the environment variable that holds the secret token."
    )
    allowed_chat_ids: tuple[int, ...] = setting((), "When not empty, only these chat ids are served.")
    admins: tuple[int, ...] = setting(
        (),
        "Telegram user ids allowed the administrators' commands (/stats; documents sent in a private chat "
        "added to the corpus, /add URL, /remove DOC_ID, /reload); also read from the TELEGRAM_ADMINS "
        "environment variable (ids separated by commas), added to these.",
    )
    max_upload_mb: int = setting(
        20,
        "The largest document an admin may send to be added to the corpus, in megabytes (the Bot API "
        "lets a bot download at most 20 MB; a self-hosted Bot API server more).",
    )
    user_rate_limit: int = setting(
        10,
        "Per-user limit: at most this many updates that get a reply (questions, commands, 'Xem thêm' "
        "presses, stickers and photos in private) ...",
    )
    user_rate_window: float = setting(60.0, "... per this many seconds.")
    group_rate_limit: int = setting(
        20,
        "Telegram's limit in one group: this many messages at once, then one every group_rate_window / "
        "group_rate_limit seconds; each freed slot goes to the member served least ...",
    )
    group_rate_window: float = setting(60.0, "... over this many seconds.")
    answers_per_message: int = setting(3, "Quotes per message; the 'Xem thêm' button shows the next ones ...")
    max_total_answers: int = setting(9, "... up to this many.")
    example_questions: tuple[str, ...] = setting((), "Shown by /start as examples; pick questions the corpus answers.")
    max_messages_per_second: float = setting(
        30.0,
        "Telegram's flood limit for the whole bot (Telegram allows about 30); 0 switches it off: only "
        "against a self-hosted Bot API server or in tests.",
    )
    send_retry_seconds: float = setting(
        60.0,
        "How long a reply is retried, with growing pauses, when the Bot API cannot be reached or answers "
        "429 / 5xx; 0 means one attempt. A failure that may have delivered the message is never retried.",
    )
    shutdown_grace_seconds: float = setting(
        8.0,
        "On SIGTERM/SIGINT: how long replies already being sent may take; replies not sent by then are "
        "abandoned and, like updates fetched but not answered, answered after the restart. Under Docker's "
        "10 s before SIGKILL.",
    )
    conflict_exit_seconds: float = setting(
        30.0,
        "Telegram answers 409 Conflict when another process polls with the same token: after this many "
        "seconds of conflicts the bot exits (code 1) instead of fighting on.",
    )

    def __post_init__(self) -> None:
        if self.max_messages_per_second < 0:
            raise ConfigError("telegram.max_messages_per_second must be >= 0 (0 = no overall limit)")
        if self.send_retry_seconds < 0:
            raise ConfigError("telegram.send_retry_seconds must be >= 0 (0 = no retries)")
        if self.group_rate_limit < 1 or self.group_rate_window <= 0:
            raise ConfigError("telegram.group_rate_limit must be >= 1 and telegram.group_rate_window > 0")
        if not 1 <= self.shutdown_grace_seconds <= 60:
            raise ConfigError("telegram.shutdown_grace_seconds must be between 1 and 60 (Docker kills after 10)")
        if self.conflict_exit_seconds <= 0:
            raise ConfigError("telegram.conflict_exit_seconds must be > 0")


@dataclass(frozen=True)
class InsightsConfig:
    """What the operator can see: the question log, its report, metrics and log format."""

    log_questions: bool = setting(
        True,
        "Keep a log of the questions asked in Telegram and the console (SQLite): time, chat kind, salted "
        "hashes of the user and chat ids (never the ids or names), the question, answered or why not, the "
        "cited articles and scores, latency, and 👍/👎 votes. `python -m bot report` reads it.",
    )
    question_log: str = setting("", "The log's file; empty: questions.sqlite in cache_dir.")
    retention_days: int = setting(90, "Rows older than this are deleted (at start and daily); 0 keeps them.")
    salt_env: str = setting(
        "QUESTION_LOG_SALT",
        "Environment variable holding the salt of the id hashes; unset: a salt is made once "
        "and kept in the log file (then anyone with the file can test a guessed id).",
    )
    report_timezone: str = setting("Asia/Ho_Chi_Minh", "The time zone whose days the report counts.")
    metrics_port: int = setting(
        0, "Serve Prometheus metrics at /metrics and a health check at /healthz on this port; 0 = off."
    )
    metrics_host: str = setting("127.0.0.1", "The address the metrics endpoint listens on.")
    log_format: str = setting("text", "'text' or 'json' (one JSON object per line, for log collectors).")


@dataclass(frozen=True)
class Config:
    """The whole configuration; paths are absolute after loading."""

    corpus: Path = setting(
        Path("seeds"),
        "The articles: a folder (read recursively) of documents: .html/.htm pages, .pdf, .docx, "
        ".txt/.md (optional YAML front matter); or one such file; or a JSONL file of {id, title, "
        "text, source?, date?, url?}. `--corpus` overrides it.",
    )
    cache_dir: Path = setting(Path(".cache"), "Where the saved index lives (one file per corpus). Safe to delete.")
    log_level: str = setting("INFO", "DEBUG, INFO, WARNING or ERROR (logs go to stderr).")
    build_workers: int = setting(
        0, "Processes that read, clean and segment articles when the index is built; 0 = all cores."
    )
    watch: bool = setting(
        True,
        "While the console or the Telegram bot runs, follow the corpus (a folder, a JSONL file or one "
        "document): a file added, changed or deleted is read, segmented and indexed in the background and "
        "answered from within seconds, with no restart and no pause (file system events, polling where "
        "there are none). At start, an index saved before the corpus changed is served at once while it is "
        "brought up to date. false: the corpus is read at start only.",
    )
    watch_debounce_seconds: float = setting(
        1.0,
        "A changed file is read once it has not changed for this many seconds (an editor saving several "
        "times, a copy in progress).",
    )
    fetch_timeout_seconds: float = setting(
        20.0, "`python -m bot add URL` and the Telegram /add: the longest a web page's download may take ..."
    )
    fetch_max_mb: int = setting(5, "... and the largest page it may be, in megabytes.")
    ingest: IngestConfig = field(default_factory=IngestConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    insights: InsightsConfig = field(default_factory=InsightsConfig)

    @property
    def question_log_path(self) -> Path:
        return Path(self.insights.question_log) if self.insights.question_log else self.cache_dir / "questions.sqlite"


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
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
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
        (0 <= a.strictness <= 1, "answer.strictness must be between 0 and 1"),
        (a.max_suggestions >= 0, "answer.max_suggestions must be >= 0"),
        (0 <= a.suggest_coverage <= 1, "answer.suggest_coverage must be between 0 and 1"),
        (a.unknown_word_weight > 0, "answer.unknown_word_weight must be > 0"),
        (0 <= a.syllable_credit <= 1, "answer.syllable_credit must be between 0 and 1"),
        (0 <= a.widen_to_cover <= 1, "answer.widen_to_cover must be between 0 and 1"),
        (a.max_question_chars >= 10, "answer.max_question_chars must be >= 10"),
        (cfg.telegram.mode in {"polling", "webhook"}, "telegram.mode must be 'polling' or 'webhook'"),
        (cfg.telegram.user_rate_limit >= 1, "telegram.user_rate_limit must be >= 1"),
        (cfg.telegram.user_rate_window > 0, "telegram.user_rate_window must be > 0"),
        (cfg.telegram.answers_per_message >= 1, "telegram.answers_per_message must be >= 1"),
        (
            cfg.telegram.max_total_answers >= cfg.telegram.answers_per_message,
            "telegram.max_total_answers must be >= telegram.answers_per_message",
        ),
        (cfg.ingest.max_heading_words >= 0, "ingest.max_heading_words must be >= 0"),
        (cfg.ingest.max_file_mb >= 1, "ingest.max_file_mb must be >= 1"),
        (cfg.build_workers >= 0, "build_workers must be >= 0 (0 = all cores)"),
        (0 <= cfg.watch_debounce_seconds <= 60, "watch_debounce_seconds must be between 0 and 60"),
        (cfg.fetch_timeout_seconds > 0, "fetch_timeout_seconds must be > 0"),
        (cfg.fetch_max_mb >= 1, "fetch_max_mb must be >= 1"),
        (cfg.telegram.max_upload_mb >= 1, "telegram.max_upload_mb must be >= 1"),
        (cfg.insights.retention_days >= 0, "insights.retention_days must be >= 0 (0 keeps every row)"),
        (0 <= cfg.insights.metrics_port <= 65535, "insights.metrics_port must be between 0 (off) and 65535"),
        (cfg.insights.log_format in {"text", "json"}, "insights.log_format must be 'text' or 'json'"),
        (
            cfg.log_level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"},
            "log_level must be one of DEBUG, INFO, WARNING, ERROR",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    try:
        ZoneInfo(cfg.insights.report_timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigError(
            f"insights.report_timezone must be a time zone such as Asia/Ho_Chi_Minh, "
            f"got {cfg.insights.report_timezone!r}"
        ) from None


def read_settings(path: Path) -> dict[str, Any]:
    """The settings in the YAML file ``path`` (a mapping; an empty file is no settings)."""
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
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of settings")
    return data


def load_config(path: str | Path | None) -> Config:
    """Read ``config.yaml`` over the defaults; relative paths in it are relative to its folder.

    ``None``: no config file, the defaults (relative paths then start from the current folder).
    """
    data = {} if path is None else read_settings(Path(path))
    cfg = _build(Config, data)
    base = Path.cwd() if path is None else Path(path).resolve().parent
    cfg = dataclasses.replace(
        cfg,
        corpus=(base / cfg.corpus).resolve(),
        cache_dir=(base / cfg.cache_dir).resolve(),
    )
    if cfg.insights.question_log:
        log_path = str((base / cfg.insights.question_log).resolve())
        cfg = dataclasses.replace(cfg, insights=dataclasses.replace(cfg.insights, question_log=log_path))
    _validate(cfg)
    return cfg
