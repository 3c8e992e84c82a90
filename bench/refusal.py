"""The refusal benchmark: does the bot refuse what its articles do not answer, and only that?

    .venv/bin/python bench/refusal.py --rows /tmp/refusal-rows.jsonl           # print the tables
    .venv/bin/python bench/refusal.py --rows /tmp/refusal-rows.jsonl --write   # and write docs/quality.md

The questions (bench/refusal_data.py, collected once into ``--rows``; ``--collect``
or a missing file collects them again, about a minute): every XQuAD question
against all 240 paragraphs (answerable), every XQuAD question against the corpus
without its own article (unanswerable: 1,190 realistic negatives, many on
neighbouring topics), both again without diacritics, and the seed sets (dev,
chat-style, off-topic). The shipped model (retrieval/answer/confidence.json) is
applied at every strictness offline, exactly as the composer applies it.

Reported per half (A: where the model was fitted, B: never looked at), for
questions with and without diacritics:

- answerable: Hit@1, Hit@3 and false refusals (share of answerable questions refused);
- unanswerable: the share refused;
- the operating curve: both shares at each strictness.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import refusal_data as rd  # noqa: E402
from retrieval.answer.confidence import ConfidenceModel  # noqa: E402
from retrieval.config import Config, load_config  # noqa: E402

CURVE = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
KINDS = (("with diacritics", False), ("without diacritics", True))


def answered(row: rd.Row, model: ConfidenceModel, strictness: float) -> bool:
    """Would the bot quote for ``row`` at ``strictness``? (The composer's rule.)"""
    return row.evidence is not None and model.probability(row.evidence, row.accentless) >= strictness


def xquad_figures(
    rows: Sequence[rd.Row], model: ConfidenceModel, strictness: float, half: str, accentless: bool
) -> dict[str, float]:
    pos = [r for r in rows if r.set == "xquad" and r.half == half and r.accentless == accentless]
    neg = [r for r in rows if r.set == "xquad-without-own-article" and r.half == half and r.accentless == accentless]
    on = {id(r): answered(r, model, strictness) for r in pos + neg}
    return {
        "answerable": len(pos),
        "hit1": sum(r.hit1 and on[id(r)] for r in pos) / len(pos),
        "hit3": sum(r.hit3 and on[id(r)] for r in pos) / len(pos),
        "false_refusals": sum(not on[id(r)] for r in pos) / len(pos),
        "unanswerable": len(neg),
        "refused": sum(not on[id(r)] for r in neg) / len(neg),
        "answered_from_elsewhere": sum(r.gold_elsewhere and on[id(r)] for r in neg),
    }


def seed_figures(rows: Sequence[rd.Row], model: ConfidenceModel, strictness: float, name: str) -> dict[str, float]:
    chosen = [r for r in rows if r.set == name]
    pos = [r for r in chosen if r.answerable]
    neg = [r for r in chosen if not r.answerable]
    return {
        "answerable": len(pos),
        "hit1": sum(r.hit1 and answered(r, model, strictness) for r in pos),
        "refused": sum(not answered(r, model, strictness) for r in pos),
        "off_topic": len(neg),
        "off_topic_refused": sum(not answered(r, model, strictness) for r in neg),
    }


def _table(head: Sequence[str], body: Iterable[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
        *("| " + " | ".join(row) + " |" for row in body),
    ]


def report(rows: Sequence[rd.Row], model: ConfidenceModel, cfg: Config) -> str:
    s = cfg.answer.strictness
    lines = [f"Shipped strictness {s:g} (`answer.strictness`):", ""]
    body = []
    for kind, accentless in KINDS:
        for half in "AB":
            f = xquad_figures(rows, model, s, half, accentless)
            body.append(
                [
                    f"{half}, {kind}",
                    f"{f['hit1']:.3f}",
                    f"{f['hit3']:.3f}",
                    f"{f['false_refusals']:.1%} of {f['answerable']}",
                    f"**{f['refused']:.1%}** of {f['unanswerable']}",
                    str(f["answered_from_elsewhere"]),
                ]
            )
    lines += _table(
        [
            "XQuAD half",
            "Hit@1",
            "Hit@3",
            "answerable refused",
            "unanswerable refused",
            "answered from another article with the gold text",
        ],
        body,
    )
    lines += ["", "The operating curve: unanswerable refused / answerable refused, at each strictness.", ""]
    head = ["strictness"] + [f"{half}, {kind}" for kind, _ in KINDS for half in "AB"]
    body = []
    for t in CURVE:
        cells = [f"**{t:g}**" if t == s else f"{t:g}"]
        for _, accentless in KINDS:
            for half in "AB":
                f = xquad_figures(rows, model, t, half, accentless)
                cells.append(f"{f['refused']:.1%} / {f['false_refusals']:.1%}")
        body.append(cells)
    lines += _table(head, body)
    lines += [
        "",
        "The seed articles at the shipped strictness (the chat-style questions were kept out of "
        "all fitting and tuning):",
        "",
    ]
    body = []
    for name, what in (
        ("dev", "dev set (shared/eval/seeds_dev.yaml)"),
        ("chat", "chat-style questions (tests/data/eval/seeds_chat.yaml)"),
        ("offtopic", "new off-topic questions (tests/data/eval/seeds_offtopic.yaml)"),
    ):
        f = seed_figures(rows, model, s, name)
        if not f["answerable"] and not f["off_topic"]:
            continue
        hit = f"{f['hit1'] / f['answerable']:.3f} ({f['hit1']}/{f['answerable']})" if f["answerable"] else "–"
        refused = f"{f['refused']}/{f['answerable']}" if f["answerable"] else "–"
        off = f"{f['off_topic_refused']}/{f['off_topic']}" if f["off_topic"] else "–"
        body.append([what, hit, refused, off])
    lines += _table(["questions", "Hit@1", "answerable refused", "off-topic refused"], body)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=Path, required=True, help="collected rows (JSONL), made when missing")
    ap.add_argument("--collect", action="store_true", help="collect the rows again")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/refusal-work"))
    ap.add_argument("--data", type=Path, default=rd.xquad.DEFAULT_DATA)
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml")
    ap.add_argument("--write", action="store_true", help="write the tables into docs/quality.md")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    if args.collect or not args.rows.is_file():
        args.workdir.mkdir(parents=True, exist_ok=True)
        rd.save_rows(rd.collect(cfg, args.data, args.workdir), args.rows)
    text = report(rd.load_rows(args.rows), ConfidenceModel.load(), cfg)
    print(text)
    if args.write:
        doc = REPO / "docs" / "quality.md"
        body = doc.read_text(encoding="utf-8")
        start, end = "<!-- refusal:start -->", "<!-- refusal:end -->"
        block = f"{start}\n{text}\n{end}"
        if start in body and end in body:
            body = body[: body.index(start)] + block + body[body.index(end) + len(end) :]
        else:
            body += "\n## Refusal\n\n" + block + "\n"
        doc.write_text(body, encoding="utf-8")
        print(f"written to {doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
