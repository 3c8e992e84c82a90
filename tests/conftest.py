"""Shared fixtures; the factories behind them live in :mod:`qa_support`."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_support import CONFIG_YAML, SEED_FILES, SEEDS, copy_seeds, open_ws, with_cache
from retrieval.config import Config, load_config
from retrieval.service import AnswerService


@pytest.fixture(scope="session")
def repo_config() -> Config:
    """The project's config.yaml, as loaded (cache_dir still points at the project: replace it)."""
    return load_config(CONFIG_YAML)


@pytest.fixture
def cfg(repo_config: Config, tmp_path: Path) -> Config:
    """The project's settings with the index cache in this test's tmp folder."""
    return with_cache(repo_config, tmp_path / "cache")


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    """A private, editable copy of the seed articles."""
    return copy_seeds(tmp_path / "seeds")


@pytest.fixture(scope="session")
def ws_service(repo_config: Config, tmp_path_factory: pytest.TempPathFactory) -> AnswerService:
    """The service over the real seeds, whitespace-segmented (shared; do not mutate)."""
    cache = tmp_path_factory.mktemp("ws-cache")
    return open_ws(with_cache(repo_config, cache), SEEDS)


@pytest.fixture(scope="session")
def real_service(repo_config: Config, tmp_path_factory: pytest.TempPathFactory) -> AnswerService:
    """The service over the real seeds with underthesea (shared; only for ``slow`` tests)."""
    cache = tmp_path_factory.mktemp("real-cache")
    return AnswerService.open(with_cache(repo_config, cache), SEEDS)


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in SEED_FILES}
