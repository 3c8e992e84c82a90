"""config.yaml: typed loading, clear errors, paths relative to the file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from qa_support import CONFIG_YAML, write_config
from retrieval.config import AnswerConfig, Config, ConfigError, RetrievalConfig, load_config
from retrieval.config_listing import effective_settings, settings_markdown


def test_project_config_loads(repo_config):
    assert isinstance(repo_config, Config)
    assert repo_config.corpus == (CONFIG_YAML.parent / "seeds").resolve()
    assert repo_config.cache_dir.is_absolute()
    assert repo_config.ingest.cut_markers and repo_config.answer.stopwords
    assert isinstance(repo_config.ingest.cut_markers, tuple)
    assert isinstance(repo_config.retrieval.k1, float)


def test_empty_config_gives_defaults(tmp_path):
    cfg = load_config(write_config(tmp_path, raw=""))
    assert cfg.retrieval == RetrievalConfig()
    assert cfg.corpus == (tmp_path / "seeds").resolve()
    assert cfg.cache_dir == (tmp_path / ".cache").resolve()


def test_relative_paths_are_resolved_against_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    path = write_config(folder, raw="corpus: ../data/articles\ncache_dir: idx\n")
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    cfg = load_config(Path("conf/config.yaml"))
    assert cfg.corpus == (tmp_path / "data" / "articles").resolve()
    assert cfg.cache_dir == (folder / "idx").resolve()
    assert load_config(path.resolve()).corpus == cfg.corpus


def test_absolute_paths_are_kept(tmp_path):
    cfg = load_config(write_config(tmp_path, raw=f"corpus: {tmp_path / 'x'}\ncache_dir: {tmp_path / 'c'}\n"))
    assert cfg.corpus == tmp_path / "x" and cfg.cache_dir == tmp_path / "c"


@pytest.mark.parametrize(
    "raw, key, allowed",
    [
        ("colour: blue\n", "'colour'", ["corpus", "cache_dir", "retrieval", "answer"]),
        ("retrieval:\n  k3: 1\n", "'retrieval.k3'", ["k1", "b", "epsilon", "top_k"]),
        ("answer:\n  max_answer: 3\n", "'answer.max_answer'", ["max_answers", "strictness"]),
        ("ingest:\n  cut_marker: [x]\n", "'ingest.cut_marker'", ["cut_markers", "drop_line_patterns"]),
        ("telegram:\n  token: abc\n", "'telegram.token'", ["mode", "allowed_chat_ids"]),
    ],
)
def test_unknown_keys_are_named_with_the_allowed_ones(tmp_path, raw, key, allowed):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, raw=raw))
    message = str(info.value)
    assert key in message
    assert "allowed keys" in message
    for name in allowed:
        assert name in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "raw, key",
    [
        ("retrieval:\n  k1: abc\n", "retrieval.k1"),
        ("retrieval:\n  top_k: 1.5\n", "retrieval.top_k"),
        ("retrieval:\n  top_k: '20'\n", "retrieval.top_k"),
        ("retrieval:\n  b: true\n", "retrieval.b"),
        ("ingest:\n  cut_markers: x\n", "ingest.cut_markers"),
        ("ingest:\n  cut_markers: [Tin khác, 3]\n", "ingest.cut_markers[1]"),
        ("ingest:\n  source_aliases: [CLO]\n", "ingest.source_aliases"),
        ("ingest:\n  source_aliases: {CLO: 5}\n", "ingest.source_aliases.CLO"),
        ("answer:\n  max_answers: true\n", "answer.max_answers"),
        ("answer:\n  stopwords: là\n", "answer.stopwords"),
        ("retrieval: 3\n", "retrieval"),
        ("corpus: 12\n", "corpus"),
        ("corpus: ''\n", "corpus"),
        ("log_level: [INFO]\n", "log_level"),
        ("ingest:\n  max_file_mb: lots\n", "ingest.max_file_mb"),
    ],
)
def test_wrong_types_name_the_key(tmp_path, raw, key):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, raw=raw))
    assert f"'{key}'" in str(info.value)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("retrieval:\n  k1: -1\n", "retrieval.k1"),
        ("retrieval:\n  b: 1.5\n", "retrieval.b"),
        ("retrieval:\n  top_k: 0\n", "retrieval.top_k"),
        ("answer:\n  max_answers: 0\n", "answer.max_answers"),
        ("answer:\n  min_coverage: 2\n", "answer.min_coverage"),
        ("retrieval:\n  focus_factor: 1.5\n", "retrieval.focus_factor"),
        ("retrieval:\n  focus_factor: -0.1\n", "retrieval.focus_factor"),
        ("telegram:\n  mode: carrier-pigeon\n", "telegram.mode"),
        ("telegram:\n  group_rate_limit: 0\n", "telegram.group_rate_limit"),
        ("telegram:\n  group_rate_window: 0\n", "telegram.group_rate_window"),
        ("telegram:\n  shutdown_grace_seconds: 0.5\n", "telegram.shutdown_grace_seconds"),
        ("telegram:\n  shutdown_grace_seconds: 120\n", "telegram.shutdown_grace_seconds"),
        ("telegram:\n  conflict_exit_seconds: 0\n", "telegram.conflict_exit_seconds"),
        ("log_level: LOUD\n", "log_level"),
        ("ingest:\n  max_file_mb: 0\n", "ingest.max_file_mb"),
        ("watch_debounce_seconds: -1\n", "watch_debounce_seconds"),
        ("watch_debounce_seconds: 600\n", "watch_debounce_seconds"),
        ("fetch_timeout_seconds: 0\n", "fetch_timeout_seconds"),
        ("fetch_max_mb: 0\n", "fetch_max_mb"),
        ("telegram:\n  max_upload_mb: 0\n", "telegram.max_upload_mb"),
    ],
)
def test_out_of_range_values(tmp_path, raw, fragment):
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        load_config(write_config(tmp_path, raw=raw))


def test_integers_are_accepted_for_numbers_and_null_means_default(tmp_path):
    cfg = load_config(write_config(tmp_path, raw="retrieval:\n  k1: 2\n  b: null\nlog_level: debug\n"))
    assert cfg.retrieval.k1 == 2.0 and isinstance(cfg.retrieval.k1, float)
    assert cfg.retrieval.b == RetrievalConfig().b
    assert cfg.log_level == "debug"


@pytest.mark.parametrize("raw", ["corpus: [unclosed\n", "a: b: c\n", "\tretrieval:\n k1: 1\n"])
def test_invalid_yaml(tmp_path, raw):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write_config(tmp_path, raw=raw))


@pytest.mark.parametrize("raw", ["- a\n- b\n", "just a string\n", "42\n"])
def test_config_must_be_a_mapping(tmp_path, raw):
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write_config(tmp_path, raw=raw))


def test_missing_or_unreadable_config(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "latin.yaml"
    bad.write_bytes("corpus: café\n".encode("latin-1"))
    with pytest.raises(ConfigError):
        load_config(bad)


def test_config_is_frozen(repo_config):
    with pytest.raises(dataclasses.FrozenInstanceError):
        repo_config.retrieval.k1 = 3.0  # type: ignore[misc]


# --- One source of defaults ---------------------------------------------------------------


def test_the_shipped_config_sets_only_what_this_deployment_changes(repo_config):
    """The code's defaults are the shipped values: config.yaml changes only the seeds'
    example questions (and paths), so a config with only `corpus:` behaves the same."""
    defaults = load_config(None)
    assert (
        dataclasses.replace(
            repo_config, telegram=defaults.telegram, corpus=defaults.corpus, cache_dir=defaults.cache_dir
        )
        == defaults
    )
    assert repo_config.telegram == dataclasses.replace(
        defaults.telegram, example_questions=repo_config.telegram.example_questions
    )


def test_a_config_of_only_the_corpus_equals_the_shipped_one(tmp_path, repo_config):
    cfg = load_config(write_config(tmp_path, raw=f"corpus: {repo_config.corpus}\n"))
    assert dataclasses.replace(cfg, cache_dir=repo_config.cache_dir, telegram=repo_config.telegram) == repo_config


def test_no_config_file_means_the_defaults_relative_to_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)
    assert cfg.corpus == (tmp_path / "seeds").resolve() and cfg.cache_dir == (tmp_path / ".cache").resolve()
    assert cfg.retrieval == RetrievalConfig() and cfg.answer.strictness == AnswerConfig().strictness


def test_every_setting_is_documented():
    for s in effective_settings(None):
        assert len(s.doc) > 10, s.key


def test_effective_settings_mark_what_the_file_set(tmp_path):
    path = write_config(tmp_path, raw="corpus: mine\nretrieval:\n  k1: 2\n")
    settings = {s.key: s for s in effective_settings(path)}
    assert settings["retrieval.k1"].from_file and settings["retrieval.k1"].value == 2.0
    assert settings["corpus"].from_file
    assert not settings["retrieval.b"].from_file and settings["retrieval.b"].value == RetrievalConfig().b
    assert not settings["answer.stopwords"].from_file


def test_docs_configuration_md_is_current():
    docs = CONFIG_YAML.parent / "docs" / "configuration.md"
    assert docs.read_text(encoding="utf-8") == settings_markdown(), (
        "docs/configuration.md is stale: python -m bot config --markdown > docs/configuration.md"
    )
