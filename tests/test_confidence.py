"""Answer or refuse: the evidence, the model, the strictness knob and the suggestions after a refusal."""

from __future__ import annotations

import dataclasses
import json

import pytest

from qa_support import good_article, open_ws, replace_section, write_article
from retrieval.answer.confidence import FEATURES, MODEL_FILE, ConfidenceModel, question_names, split_slips
from retrieval.index.bm25 import Bm25
from retrieval.text.lexicon import Lexicon

LEXICON = Lexicon.from_lines(["hà nội", "dân số", "cầu", "thành phố", "các", "trường"])


def test_the_shipped_model_names_exactly_the_features():
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert data["features"] == list(FEATURES)
    for kind in ("accented", "accentless"):
        assert set(data["weights"][kind]) == set(FEATURES) | {"bias"}
    model = ConfidenceModel.load()
    base = dict.fromkeys(FEATURES, 0.0) | {"coverage": 0.5, "window": 0.5, "bm25": 0.3, "margin": 0.3}
    for accentless in (False, True):
        # More of the question in the article and the quote: more confident; unknown names: less.
        assert model.probability(base | {"coverage": 1.0, "window": 1.0}, accentless) > model.probability(
            base, accentless
        )
        assert model.probability(base | {"unknown": 0.5}, accentless) < model.probability(base, accentless)


def test_weights_for_unknown_features_are_refused():
    with pytest.raises(ValueError, match="unknown features"):
        ConfidenceModel({"accented": {"bias": 0, "colour": 1}, "accentless": {}})


def test_question_names_are_capitalised_words_but_not_an_ordinary_first_word():
    assert question_names("Các trường ở Warsaw và Kraków?", LEXICON) == ["warsaw", "krakow"]
    assert question_names("Iqbal tham gia tổ chức nào?", LEXICON) == ["iqbal"]


def test_segmentation_slips_become_the_known_words_they_are_made_of():
    field = Bm25([["trung_học", "trung", "học", "tư_thục", "tư", "thục", "hệ_thống", "hệ", "thống"]])
    assert split_slips(["trung_học_tư_thục"], field, field) == ["trung_học", "tư_thục"]
    assert split_slips(["tổng_thống"], field, field) == ["tổng_thống"]  # "tổng" is unknown: a real word
    assert split_slips(["hệ_thống"], field, field) == ["hệ_thống"]


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    write_article(
        folder,
        "cau.txt",
        good_article("Cầu Kỳ Lân", "Cầu Kỳ Lân dài 800 mét và được xây bằng thép. Cây cầu nối hai bờ sông Hồng."),
    )
    write_article(
        folder,
        "pho.txt",
        good_article("Ẩm thực", "Phở bò là món ăn nổi tiếng của Hà Nội. Mỗi sáng người dân xếp hàng ăn phở."),
    )
    write_article(folder, "mua.txt", good_article("Thời tiết", "Mùa đông ở miền Bắc trời lạnh và khô."))
    write_article(folder, "lua.txt", good_article("Nông nghiệp", "Nông dân trồng lúa hai vụ mỗi năm."))
    write_article(folder, "ho.txt", good_article("Hồ Gươm", "Hồ Gươm nằm ở trung tâm thành phố."))
    return folder


def test_evidence_of_a_question_the_article_answers(cfg, corpus):
    result = open_ws(cfg, corpus).answer("Cầu Kỳ Lân dài bao nhiêu mét?")
    assert result.answered and result.evidence is not None
    assert result.evidence["coverage"] == pytest.approx(1.0) and result.evidence["window"] == pytest.approx(1.0)
    assert result.evidence["unknown"] == 0.0 and result.evidence["names"] == 0.0
    assert 0.5 <= result.confidence <= 1.0


def test_a_question_about_something_the_articles_never_name_is_less_likely_answered(cfg, corpus):
    service = open_ws(cfg, corpus)
    named = service.answer("Cầu Kỳ Lân dài bao nhiêu mét?")
    other = service.answer("Cầu Golden Gate dài bao nhiêu mét?")
    assert other.evidence["names"] == 1.0 and other.evidence["unknown"] > 0.3
    assert other.confidence < named.confidence - 0.3
    assert (
        not open_ws(replace_section(cfg, "answer", strictness=0.7), corpus)
        .answer("Cầu Golden Gate dài bao nhiêu mét?")
        .answered
    )


def test_strictness_is_the_one_knob(cfg, corpus):
    question = "Cầu dài bao nhiêu?"
    lenient = open_ws(replace_section(cfg, "answer", strictness=0.0), corpus).answer(question)
    strict = open_ws(replace_section(cfg, "answer", strictness=1.0), corpus).answer(question)
    assert lenient.answered and not strict.answered
    assert lenient.confidence == pytest.approx(strict.confidence)


def test_a_refusal_names_the_close_articles_and_only_those(cfg, corpus):
    strict = replace_section(cfg, "answer", strictness=1.0)
    close = open_ws(strict, corpus).answer("Cầu Kỳ Lân dài bao nhiêu mét?")
    assert not close.answered
    assert [s.doc_id for s in close.suggestions] == ["cau"]
    assert "Các bài viết gần nhất với câu hỏi:" in close.message and "- Cầu Kỳ Lân" in close.message
    assert close.to_dict()["suggestions"] == [{"doc_id": "cau", "title": "Cầu Kỳ Lân"}]
    far = open_ws(cfg, corpus).answer("Giá vàng SJC hôm nay bao nhiêu?")
    assert not far.answered and far.suggestions == () and far.to_dict()["suggestions"] == []
    none = open_ws(
        dataclasses.replace(strict, answer=dataclasses.replace(strict.answer, max_suggestions=0)), corpus
    ).answer("Cầu Kỳ Lân dài bao nhiêu mét?")
    assert none.suggestions == ()
