"""The questions the answer-or-refuse decision is fitted and measured on, with their evidence.

Shared by ``bench/train_confidence.py`` (fits the model on half A) and
``bench/refusal.py`` (the curve and the tables, both halves). Every question is
answered with ``answer.strictness`` 0 (the bot never refuses for lack of
confidence), so each row holds what the bot *would* quote and the evidence the
model judges; any strictness is then applied offline, the same way
:class:`retrieval.answer.compose.Composer` applies it.

- **XQuAD, answerable**: every question against all 240 paragraphs.
- **XQuAD, unanswerable**: every question against the corpus without its own
  article (all five paragraphs of it), for each of the 48 articles in turn: the
  BM25 statistics are those of that smaller corpus (its index is built anew from
  the same segmented paragraphs). A question quoted from another article whose
  quote holds a gold answer is marked (``gold_elsewhere``): the articles do answer it.
- Both again typed without diacritics.
- **Seeds**: the dev questions (shared/eval/seeds_dev.yaml), the chat-style
  questions and the new off-topic ones (tests/data/eval/), on seeds/.

Half A is the questions of even articles, half B of odd ones (as bench/xquad.py).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import xquad  # noqa: E402
from retrieval.answer.compose import Answer  # noqa: E402
from retrieval.config import Config  # noqa: E402
from retrieval.evaluate import is_hit, load_questions  # noqa: E402
from retrieval.index.build import build_index  # noqa: E402
from retrieval.index.segcache import segment_corpus  # noqa: E402
from retrieval.ingest.corpus import load_corpus  # noqa: E402
from retrieval.service import AnswerService  # noqa: E402
from retrieval.text.lexicon import Lexicon  # noqa: E402
from retrieval.text.normalize import fold_diacritics  # noqa: E402
from retrieval.text.segment import Segmenter, underthesea_version  # noqa: E402
from retrieval.text.variants import variants_for  # noqa: E402

SEED_SETS = {
    "dev": REPO.parent / "shared" / "eval" / "seeds_dev.yaml",
    "chat": REPO / "tests" / "data" / "eval" / "seeds_chat.yaml",
    "offtopic": REPO / "tests" / "data" / "eval" / "seeds_offtopic.yaml",
}


@dataclass
class Row:
    """One question asked once: what the bot would quote, and the evidence for it."""

    set: str  # "xquad", "xquad-without-own-article", "dev", "chat", "offtopic"
    id: str
    half: str  # "A" / "B" for XQuAD, "" for the seeds
    accentless: bool
    answerable: bool
    hit1: bool  # the first quote would be right (if the question were answered)
    hit3: bool
    gold_elsewhere: bool = False
    evidence: dict[str, float] | None = None  # None: nothing to quote at all (no hit, no content word)
    outcome: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Row:
        return cls(**json.loads(line))


def never_refusing(cfg: Config) -> Config:
    """``cfg`` with strictness 0: every question with a hit is quoted."""
    return dataclasses.replace(cfg, answer=dataclasses.replace(cfg.answer, strictness=0.0))


def _row(
    service: AnswerService,
    set_name: str,
    qid: str,
    half: str,
    text: str,
    accentless: bool,
    answerable: bool,
    hit,
    gold=None,
) -> Row:
    result = service.answer(text, max_answers=3)
    ranked = [(a.doc_id, a.quote) for a in result.answers]
    hit1 = bool(result.answers) and hit(ranked[:1])
    hit3 = bool(result.answers) and hit(ranked[:3])
    elsewhere = bool(gold and result.answers and xquad.gold_match(result.answers[0].quote, gold))
    return Row(
        set_name,
        qid,
        half,
        accentless,
        answerable,
        hit1,
        hit3,
        elsewhere,
        dict(result.evidence) if result.evidence else None,
        str(result.outcome),
    )


def xquad_rows(cfg: Config, data: Path, workdir: Path, lexicon: Lexicon, segmenter: Segmenter) -> list[Row]:
    """Every XQuAD question with and without its own article, with and without diacritics."""
    paragraphs, questions = xquad.load_xquad(data)
    corpus = workdir / "xquad_vi.jsonl"
    xquad.write_corpus(paragraphs, corpus)
    articles = load_corpus(corpus, cfg.ingest).articles
    seg = segmenter.rewriting(variants_for(cfg.retrieval.equivalents))
    seg_id = f"underthesea-{underthesea_version()}+variants-{variants_for(cfg.retrieval.equivalents).digest}"
    segmented = segment_corpus(
        articles, seg, seg_id, cache_path=workdir / "xquad.segments.sqlite", workers=1, progress=False
    )
    settings = cfg.retrieval.index_settings()

    def service_without(article: int | None) -> AnswerService:
        keep = [i for i, a in enumerate(articles) if article is None or not a.doc_id.startswith(f"a{article:02d}p")]
        index = build_index(
            [articles[i] for i in keep], segmented=[segmented[i] for i in keep], progress=False, **settings
        )
        return AnswerService(index, seg, cfg, lexicon=lexicon)

    def asked(q: xquad.XQuestion, accentless: bool) -> str:
        return fold_diacritics(q.question) if accentless else q.question

    rows: list[Row] = []
    full = service_without(None)
    for q in questions:
        half = "A" if q.article % 2 == 0 else "B"
        for accentless in (False, True):

            def hit(ranked, q=q):
                return xquad.hit_rank(ranked, q.doc_id, q.answers) is not None

            rows.append(_row(full, "xquad", q.id, half, asked(q, accentless), accentless, True, hit))
    for article in sorted({q.article for q in questions}):
        service = service_without(article)
        for q in (q for q in questions if q.article == article):
            half = "A" if q.article % 2 == 0 else "B"
            for accentless in (False, True):
                rows.append(
                    _row(
                        service,
                        "xquad-without-own-article",
                        q.id,
                        half,
                        asked(q, accentless),
                        accentless,
                        False,
                        lambda ranked: False,
                        q.answers,
                    )
                )
    return rows


def seed_rows(
    cfg: Config, workdir: Path, lexicon: Lexicon, segmenter: Segmenter, sets: Iterable[str] = tuple(SEED_SETS)
) -> list[Row]:
    """The seed question sets (those whose file exists), on seeds/."""
    service = AnswerService.open(
        dataclasses.replace(cfg, cache_dir=workdir / "seeds-cache"), REPO / "seeds", segmenter=segmenter, progress=False
    )
    service = AnswerService(service.index, service.segmenter, cfg, lexicon=lexicon)
    rows: list[Row] = []
    for name in sets:
        path = SEED_SETS[name]
        if not path.is_file():
            continue
        for q in load_questions(path):
            accentless = fold_diacritics(q.question) == q.question
            rows.append(
                _row(
                    service,
                    name,
                    q.id,
                    "",
                    q.question,
                    accentless,
                    q.answerable,
                    lambda ranked, q=q: any(is_hit_pair(q, doc, quote) for doc, quote in ranked),
                )
            )
    return rows


def is_hit_pair(question, doc_id: str, quote: str) -> bool:
    """The dev-set rule (retrieval.evaluate.is_hit) for one quote."""
    return is_hit(Answer(quote, doc_id, "", None, None, None, 0.0), question)


def collect(cfg: Config, data: Path, workdir: Path) -> list[Row]:
    lexicon = Lexicon.load()
    segmenter = Segmenter()
    segmenter.prepare_bulk()
    cfg = never_refusing(cfg)
    return xquad_rows(cfg, data, workdir, lexicon, segmenter) + seed_rows(cfg, workdir, lexicon, segmenter)


def load_rows(path: Path) -> list[Row]:
    return [Row.from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def save_rows(rows: Sequence[Row], path: Path) -> None:
    path.write_text("\n".join(r.to_json() for r in rows) + "\n", encoding="utf-8")
