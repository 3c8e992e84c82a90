"""Small factories and paths shared by the test modules (imported as ``qa_support``).

Most tests segment text with a whitespace tokenizer and a regex sentence
splitter (fast, deterministic, no model); the few that use real underthesea
are marked ``slow``. Every index is written under ``tmp_path``, never into the
project's own ``.cache``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from retrieval.config import Config
from retrieval.service import AnswerService
from retrieval.text.segment import Segmenter

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
CONFIG_YAML = REPO / "config.yaml"
DEV_QUESTIONS = REPO.parent / "shared" / "eval" / "seeds_dev.yaml"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
SEED_IDS = [p.stem for p in SEED_FILES]

WS_SEGMENTER_ID = "test-ws"

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def simple_sentences(text: str) -> list[str]:
    """A regex sentence splitter: breaks after . ! ? … followed by whitespace."""
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def ws_segmenter() -> Segmenter:
    """Whitespace words and regex sentences: no underthesea model involved."""
    return Segmenter(word_tokenize=str.split, sent_tokenize=simple_sentences)


def with_cache(cfg: Config, cache_dir: Path, **changes: Any) -> Config:
    """``cfg`` with its index cache under ``cache_dir`` (plus other top-level changes)."""
    return dataclasses.replace(cfg, cache_dir=Path(cache_dir), **changes)


def replace_section(cfg: Config, section: str, **changes: Any) -> Config:
    """``cfg`` with some settings of one section (``retrieval``, ``ingest``...) changed."""
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **changes)})


def open_ws(cfg: Config, corpus: Path | None = None, **kwargs: Any) -> AnswerService:
    """Open the answering service with the whitespace segmenter."""
    return AnswerService.open(cfg, corpus, segmenter=ws_segmenter(), segmenter_id=WS_SEGMENTER_ID, **kwargs)


def copy_seeds(dest: Path) -> Path:
    shutil.copytree(SEEDS, dest)
    return dest


def write_article(folder: Path, name: str, text: str | bytes) -> Path:
    """Write one corpus file (str as UTF-8, bytes as they are)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def good_article(title: str = "Tiêu đề bài viết", body: str | None = None) -> str:
    body = body or ("Hà Nội có nhiều hồ nước đẹp và cây xanh mát. Người dân thường đi dạo quanh hồ vào buổi sáng.")
    return f"{title}\n\n{body}\n"


def _merge(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def repo_config_data() -> dict:
    return yaml.safe_load(CONFIG_YAML.read_text(encoding="utf-8"))


def write_config(folder: Path, changes: dict | None = None, *, raw: str | None = None) -> Path:
    """Write ``folder/config.yaml``: the project's settings with ``changes`` merged in,
    or exactly ``raw`` when given."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    if raw is not None:
        path.write_text(raw, encoding="utf-8")
    else:
        data = _merge(repo_config_data(), changes or {})
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


JSONL_RECORDS = [
    {"id": "bai-cau", "title": "Cầu Kỳ Lân", "text": "Cầu Kỳ Lân dài 800 mét và được xây bằng thép."},
    {"id": "bai-pho", "title": "Ẩm thực", "text": "Phở bò là món ăn nổi tiếng của Hà Nội."},
    {"id": "bai-mua", "title": "Thời tiết", "text": "Mùa đông ở miền Bắc trời lạnh và khô."},
    {"id": "bai-lua", "title": "Nông nghiệp", "text": "Nông dân trồng lúa hai vụ mỗi năm."},
]


def write_jsonl_corpus(path: Path) -> Path:
    """A four-article JSONL corpus (ids bai-cau, bai-pho, bai-mua, bai-lua) at ``path``."""
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in JSONL_RECORDS) + "\n", encoding="utf-8")
    return path
