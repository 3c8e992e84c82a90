"""Every answer the bot gives on the benchmark questions, one JSON line each, for comparing two trees.

Usage (from the repository root)::

    .venv/bin/python bench/snapshot.py --out /tmp/after.jsonl
    diff <(git -C ../old show ...) ...   # or: cmp /tmp/before.jsonl /tmp/after.jsonl

Sets: the seed dev questions (on seeds/), all XQuAD-vi questions (on its 240
paragraphs) as written and without diacritics, and optionally a question file
with its own corpus (``--questions FILE --corpus PATH``, e.g. the scale
benchmark's). Each line holds the question, the ``--json`` result and the
scores at full precision, so a refactoring that claims "answers unchanged" can
be checked byte for byte. Only ``retrieval.config.load_config`` and
``retrieval.service.AnswerService`` are used, so the script runs unchanged on
older trees.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import unicodedata
from pathlib import Path

import yaml

REPO = Path.cwd()
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from retrieval.config import load_config  # noqa: E402
from retrieval.service import AnswerService  # noqa: E402

SHARED = REPO.parent / "shared" / "eval"


def strip_diacritics(text: str) -> str:
    """The question as typed without any diacritic (đ -> d)."""
    nfd = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in nfd if not unicodedata.combining(ch))


def xquad(path: Path, folder: Path) -> tuple[Path, list[str]]:
    """A JSONL corpus of XQuAD's paragraphs (ids as bench/xquad.py) and its questions in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    corpus = folder / "xquad.jsonl"
    questions: list[str] = []
    with open(corpus, "w", encoding="utf-8") as f:
        for a, article in enumerate(data["data"]):
            for p, para in enumerate(article["paragraphs"]):
                record = {"id": f"a{a:02d}p{p:02d}", "title": article["title"], "text": para["context"]}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                questions.extend(qa["question"] for qa in para["qas"])
    return corpus, questions


def dump(service: AnswerService, name: str, questions: list[str], out) -> None:
    for question in questions:
        result = service.answer(question, max_answers=3)
        line = {"set": name, "result": result.to_dict(), "scores": [repr(a.score) for a in result.answers]}
        out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml")
    ap.add_argument("--xquad", type=Path, default=SHARED / "xquad" / "xquad.vi.json")
    ap.add_argument("--questions", type=Path, help="a file of questions (one per line, or a YAML/JSON list)")
    ap.add_argument("--corpus", type=Path, help="the corpus of --questions")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    with tempfile.TemporaryDirectory() as tmp, open(args.out, "w", encoding="utf-8") as out:
        import dataclasses

        cfg = dataclasses.replace(cfg, cache_dir=Path(tmp) / "cache")
        dev = yaml.safe_load((SHARED / "seeds_dev.yaml").read_text(encoding="utf-8"))
        dump(AnswerService.open(cfg, REPO / "seeds", progress=False), "dev", [q["question"] for q in dev], out)
        corpus, questions = xquad(args.xquad, Path(tmp))
        service = AnswerService.open(cfg, corpus, progress=False)
        dump(service, "xquad", questions, out)
        dump(service, "xquad-accentless", [strip_diacritics(q) for q in questions], out)
        if args.questions:
            text = args.questions.read_text(encoding="utf-8")
            loaded = yaml.safe_load(text) if args.questions.suffix in (".yaml", ".yml", ".json") else None
            extra = (
                [q if isinstance(q, str) else q["question"] for q in loaded]
                if isinstance(loaded, list)
                else [line for line in text.splitlines() if line.strip()]
            )
            dump(AnswerService.open(cfg, args.corpus, progress=False), "extra", extra, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
