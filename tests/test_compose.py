"""Answers: refusal, context widening, de-duplication, ordering, the JSON shape, verbatim quotes."""

from __future__ import annotations

import dataclasses
import unicodedata

import pytest

from qa_support import SEEDS, open_ws, with_cache, write_article
from retrieval.answer import messages
from retrieval.answer.compose import Answer, Composer, Outcome, Result
from retrieval.service import AnswerService

RESULT_KEYS = {"question", "answered", "answers", "message", "suggestions"}
ANSWER_KEYS = {"quote", "doc_id", "title", "source", "date", "url", "score", "page", "section"}

# Questions about the seeds in our own words (not the dev set): used for properties only.
ON_TOPIC = [
    "Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?",
    "Hà Nội thiết lập mạng dùng chung đến bao nhiêu phường xã?",
    "ASOCIO có những quốc gia thành viên tích cực nào?",
    "Milan và Kosice trao đổi kinh nghiệm gì?",
    "Thành phố thông minh giúp giải quyết vấn đề biến đổi khí hậu ra sao?",
    "Hội nghị Thành phố thông minh Việt Nam - Châu Á 2023 do ai tổ chức?",
    "Trung tâm dữ liệu lớn của Hà Nội",
    "Hà Nội muốn hợp tác với doanh nghiệp Phần Lan trong lĩnh vực gì?",
    "Hà Nội thực hiện số hóa các dữ liệu như thế nào?",
]

OFF_TOPIC = [
    "Giá xăng RON 95 hôm nay là bao nhiêu?",
    "Làm thế nào để nấu bún chả ngon?",
    "Đội tuyển nào vô địch World Cup 2022?",
    "Thời tiết Đà Lạt ngày mai có mưa không?",
    # Only the sites' related-news teasers (removed at ingestion) talk about these.
    "Cá thể đồi mồi thả ở Cà Mau nặng bao nhiêu kg?",
    "Quận Hai Bà Trưng vận hành các đơn vị hành chính mới khi nào?",
    "Chùa Ba Vàng có sai phạm gì?",
    "Ngân hàng MB bị yêu cầu siết kiểm soát nội bộ ở chi nhánh nào?",
]


@pytest.fixture(scope="module")
def on_topic_results(ws_service):
    return [ws_service.answer(q, max_answers=5) for q in ON_TOPIC]


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_refused(ws_service, question):
    result = ws_service.answer(question)
    assert result.answered is False
    assert result.answers == ()
    assert result.message == messages.REFUSAL
    data = result.to_dict()
    assert data["answers"] == [] and data["answered"] is False


def test_on_topic_questions_are_mostly_answered(on_topic_results):
    answered = sum(r.answered for r in on_topic_results)
    assert answered >= len(ON_TOPIC) - 1, [r.question for r in on_topic_results if not r.answered]
    for r in on_topic_results:
        assert r.answered == bool(r.answers)


def test_answer_shape(on_topic_results):
    for result in on_topic_results:
        data = result.to_dict()
        assert set(data) == RESULT_KEYS
        assert data["question"] == result.question
        assert isinstance(data["message"], str) and data["message"]
        for answer in data["answers"]:
            assert set(answer) == ANSWER_KEYS
            assert isinstance(answer["quote"], str) and answer["quote"]
            assert isinstance(answer["score"], float) and answer["score"] > 0
            assert answer["score"] == round(answer["score"], 4)


def test_answers_sorted_by_score_and_limited(ws_service, on_topic_results):
    for result in on_topic_results:
        scores = [a.score for a in result.answers]
        assert scores == sorted(scores, reverse=True)
        assert len(result.answers) <= 5
    for q in ON_TOPIC:
        assert len(ws_service.answer(q).answers) <= ws_service.cfg.answer.max_answers
        assert len(ws_service.answer(q, max_answers=1).answers) <= 1


def _locate(service, answer):
    """(doc_id, paragraph number, start, end) of a quote in its article."""
    article = next(a for a in service.articles if a.doc_id == answer.doc_id)
    found = [(p, par.find(answer.quote)) for p, par in enumerate(article.paragraphs) if answer.quote in par]
    assert found, f"quote not in its article {answer.doc_id}: {answer.quote[:80]}"
    p, start = found[0]
    return answer.doc_id, p, start, start + len(answer.quote)


def test_no_two_answers_quote_the_same_or_overlapping_text(ws_service, on_topic_results):
    for result in on_topic_results:
        quotes = [" ".join(a.quote.split()) for a in result.answers]
        assert len(set(quotes)) == len(quotes)
        for i, a in enumerate(quotes):
            for b in quotes[i + 1 :]:
                assert a not in b and b not in a
        spans = [_locate(ws_service, a) for a in result.answers]
        for i, (d1, p1, s1, e1) in enumerate(spans):
            for d2, p2, s2, e2 in spans[i + 1 :]:
                if (d1, p1) == (d2, p2):
                    assert e1 <= s2 or e2 <= s1, result.question


def test_quotes_are_verbatim_and_cite_their_article(ws_service, on_topic_results, seed_texts):
    articles = {a.doc_id: a for a in ws_service.articles}
    for result in on_topic_results:
        for answer in result.answers:
            article = articles[answer.doc_id]
            assert any(answer.quote in p for p in article.paragraphs)
            assert answer.quote in seed_texts[answer.doc_id]
            assert answer.quote == answer.quote.strip()
            assert (answer.title, answer.source, answer.date, answer.url) == (
                article.title,
                article.source,
                article.date,
                article.url,
            )


def test_answer_message_lists_every_quote_with_its_citation(on_topic_results):
    for result in on_topic_results:
        if not result.answered:
            continue
        assert result.message.startswith(messages.ANSWER_INTRO)
        for n, answer in enumerate(result.answers, start=1):
            assert f"{n}. «{answer.quote}»" in result.message
            assert messages.citation(answer.title, answer.source, answer.date) in result.message


# --- a small hand-made corpus ------------------------------------------------------------

MINI = {
    "alpha.txt": (
        "Cầu Kỳ Lân của thành phố Alpha\n\n"
        "Thành phố Alpha vừa khánh thành cây cầu Kỳ Lân dài 800 mét. "
        "Ông cho biết cầu Kỳ Lân được xây bằng thép không gỉ nhập khẩu.\n\n"
        "Dự án còn nhiều hạng mục khác nhau. "
        "Ông Nguyễn Văn Bê cho biết hầm Phượng Hoàng sẽ thông xe vào tháng sau.\n\n"
        "Hội đồng thành phố đã thông qua nghị quyết mới. "
        "Theo đó, vé xe buýt điện Kim Ngưu sẽ miễn phí cho học sinh.\n"
    ),
    "beta.txt": "Công viên của thành phố Beta\n\nThành phố Beta có công viên Thiên Nga rộng 50 héc-ta.\n\n"
    "Người dân thích đi dạo buổi sáng.\n",
    "gamma.md": "---\ntitle: Công viên Thiên Nga\nsource: Báo Thử\ndate: 2020-05-01\nurl: https://example.com/g\n---\n"
    "Thành phố Beta có công viên Thiên Nga rộng 50 héc-ta.\n\nMùa hè có nhiều du khách đến chơi.\n",
    "delta.txt": "Số nguyên tố\n\n"
    "Các nhà toán học đã tìm ra hai thuật toán kiểm tra số nguyên tố rất nhanh. "
    "Chúng gồm thuật toán Miller–Rabin và thuật toán AKS.\n\n"
    "Chúng được giảng dạy ở nhiều trường đại học.\n",
    "epsilon.txt": "Thuốc chống viêm\n\n"
    "Bác sĩ thường dùng thuốc chống viêm để giảm các triệu chứng của viêm. "
    "Glucocorticoid là loại thuốc mạnh nhất, nhưng có nhiều tác dụng phụ. "
    "Bệnh nhân nên uống thuốc sau bữa ăn.\n\n"
    "Mạnh nhất trong các môn thể thao là cử tạ.\n",
    "zeta.txt": "Sông Hồng\n\n"
    "Sông Hồng chảy qua thủ đô Hà Nội. Cầu Long Biên bắc qua sông Hồng năm 1902. "
    "Cầu Long Biên là cây cầu thép dài 2,3 km.\n",
    "eta.txt": "Oxy cao áp\n\n"
    "Bệnh viện Kim Ngưu có hai buồng oxy cao áp hiện đại. "
    "Ngộ độc khí than được điều trị bằng các máy này.\n",
    "f1.txt": "Ẩm thực\n\nPhở bò là món ăn nổi tiếng. Bún chả cũng rất được yêu thích.\n",
    "f2.txt": "Thời tiết\n\nMùa đông trời lạnh và khô. Mùa xuân có mưa phùn nhẹ.\n",
    "f3.txt": "Giáo dục\n\nHọc sinh đi học từ tháng chín. Kỳ thi diễn ra vào tháng sáu.\n",
    "f4.txt": "Thể thao\n\nĐội bóng đá địa phương thắng trận đầu. Sân vận động chật kín khán giả.\n",
    "f5.txt": "Nông nghiệp\n\nNông dân trồng lúa hai vụ mỗi năm. Giá gạo tăng nhẹ.\n",
}


@pytest.fixture(scope="module")
def mini_service(repo_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("mini")
    for name, text in MINI.items():
        write_article(root / "corpus", name, text)
    return open_ws(with_cache(repo_config, root / "cache"), root / "corpus")


def test_pronoun_sentence_is_quoted_with_the_one_before(mini_service):
    result = mini_service.answer("Cầu Kỳ Lân được xây bằng gì?")
    assert result.answered
    top = result.answers[0]
    assert "Ông cho biết cầu Kỳ Lân được xây bằng thép" in top.quote
    assert top.quote.startswith("Thành phố Alpha vừa khánh thành")
    assert not any(a.quote.startswith("Ông cho biết") for a in result.answers)


def test_named_pronoun_sentence_stands_alone(mini_service):
    result = mini_service.answer("Hầm Phượng Hoàng khi nào thông xe?")
    assert result.answered
    assert result.answers[0].quote == "Ông Nguyễn Văn Bê cho biết hầm Phượng Hoàng sẽ thông xe vào tháng sau."


def test_dependent_opener_is_quoted_with_the_one_before(mini_service):
    result = mini_service.answer("Vé xe buýt điện Kim Ngưu miễn phí cho ai?")
    assert result.answered
    assert result.answers[0].quote == (
        "Hội đồng thành phố đã thông qua nghị quyết mới. Theo đó, vé xe buýt điện Kim Ngưu sẽ miễn phí cho học sinh."
    )


def _with_answer_settings(service, **settings):
    cfg = service.cfg
    return AnswerService(
        service.index, service.segmenter, dataclasses.replace(cfg, answer=dataclasses.replace(cfg.answer, **settings))
    )


ALGORITHMS_QUESTION = "Thuật toán nào kiểm tra số nguyên tố rất nhanh?"
ALGORITHMS_SETUP = "Các nhà toán học đã tìm ra hai thuật toán kiểm tra số nguyên tố rất nhanh."


def test_dependent_sentence_after_the_best_one_is_quoted_with_it(mini_service):
    # The question matches the setup sentence; the names are in the next one ("Chúng gồm ...").
    result = mini_service.answer(ALGORITHMS_QUESTION)
    assert result.answered
    assert result.answers[0].quote == ALGORITHMS_SETUP + " Chúng gồm thuật toán Miller–Rabin và thuật toán AKS."
    # ... and not the next paragraph, although it opens with "Chúng" too
    assert not any("giảng dạy" in a.quote and "Các nhà toán học" in a.quote for a in result.answers)


def test_forward_widening_can_be_switched_off(mini_service):
    narrow = _with_answer_settings(mini_service, widen_forward=False)
    assert narrow.answer(ALGORITHMS_QUESTION).answers[0].quote == ALGORITHMS_SETUP


DRUG_QUESTION = "Loại thuốc chống viêm mạnh nhất là gì?"
DRUG_SETUP = "Bác sĩ thường dùng thuốc chống viêm để giảm các triệu chứng của viêm."
DRUG_ANSWER = "Glucocorticoid là loại thuốc mạnh nhất, nhưng có nhiều tác dụng phụ."


def test_neighbour_holding_the_rest_of_the_question_is_quoted_with_the_best_sentence(mini_service):
    # One sentence holds "thuốc chống viêm", the next one "mạnh nhất" and the answer
    # (it opens with no dependent word): they are quoted together, whichever ranks
    # first. The sentence after them adds no question word ("thuốc" is already
    # quoted), and the next paragraph's "Mạnh nhất" is never joined to them.
    result = mini_service.answer(DRUG_QUESTION, max_answers=5)
    assert result.answered
    assert result.answers[0].quote == DRUG_SETUP + " " + DRUG_ANSWER
    assert all(a.quote != DRUG_ANSWER for a in result.answers[1:])  # not quoted twice
    assert all("\n" not in a.quote and not ("viêm" in a.quote and "cử tạ" in a.quote) for a in result.answers)


def test_covering_widening_can_be_switched_off(mini_service):
    narrow = _with_answer_settings(mini_service, widen_to_cover=0.0)
    quotes = [a.quote for a in narrow.answer(DRUG_QUESTION, max_answers=5).answers]
    assert sorted(quotes[:2]) == sorted([DRUG_SETUP, DRUG_ANSWER])


def test_widened_quote_that_would_overlap_an_earlier_one_is_quoted_alone(mini_service):
    # The best sentence (1902) takes the one before it (Hà Nội); the length is in
    # the third sentence, whose widening would take the already quoted second one:
    # it is quoted on its own instead of being dropped.
    result = mini_service.answer("Cầu Long Biên bắc qua sông Hồng ở Hà Nội dài bao nhiêu?", max_answers=5)
    quotes = [a.quote for a in result.answers]
    assert quotes[0] == "Sông Hồng chảy qua thủ đô Hà Nội. Cầu Long Biên bắc qua sông Hồng năm 1902."
    assert "Cầu Long Biên là cây cầu thép dài 2,3 km." in quotes


REFERRING_QUESTION = "Máy nào điều trị ngộ độc khí than?"
REFERRING = "Ngộ độc khí than được điều trị bằng các máy này."


def test_sentence_referring_back_to_the_asked_thing_is_quoted_with_its_antecedent(mini_service):
    # "các máy này" names the question's "máy" by a demonstrative: what the machines
    # are is in the sentence before, which shares no other question word.
    quote = mini_service.answer(REFERRING_QUESTION).answers[0].quote
    assert quote == "Bệnh viện Kim Ngưu có hai buồng oxy cao áp hiện đại. " + REFERRING


def test_antecedent_rule_can_be_switched_off_and_skips_accentless_questions(mini_service):
    narrow = _with_answer_settings(mini_service, demonstratives=())
    assert narrow.answer(REFERRING_QUESTION).answers[0].quote == REFERRING
    # Folded, "do"/"ay" are other words too: accentless questions are not checked.
    accentless = mini_service.answer("May nao dieu tri ngo doc khi than?")
    assert accentless.answered and accentless.answers[0].quote == REFERRING


def test_same_sentence_in_two_articles_is_quoted_once(mini_service):
    result = mini_service.answer("Công viên Thiên Nga rộng bao nhiêu?", max_answers=5)
    assert result.answered
    same = [a for a in result.answers if "công viên Thiên Nga rộng 50 héc-ta" in a.quote]
    assert len(same) == 1
    assert same[0].doc_id in ("beta", "gamma")


def test_overlapping_context_is_not_quoted_twice(mini_service):
    result = mini_service.answer("Thành phố Alpha và cầu Kỳ Lân", max_answers=5)
    assert result.answered
    texts = [a.quote for a in result.answers]
    first = "Thành phố Alpha vừa khánh thành cây cầu Kỳ Lân dài 800 mét."
    assert sum(first in t for t in texts) == 1


def test_front_matter_citation_fields_reach_the_answer(mini_service):
    result = mini_service.answer("Mùa hè có nhiều du khách đến công viên không?")
    assert result.answered
    answer = next(a for a in result.answers if a.doc_id == "gamma")
    assert (answer.title, answer.source, answer.date, answer.url) == (
        "Công viên Thiên Nga",
        "Báo Thử",
        "2020-05-01",
        "https://example.com/g",
    )
    assert "Công viên Thiên Nga (Báo Thử, 01/05/2020)" in result.message
    assert "https://example.com/g" in result.message


def test_unknown_words_are_refused_on_the_mini_corpus(mini_service):
    for question in ["Núi Everest cao bao nhiêu mét?", "Ai phát minh ra máy bay?"]:
        result = mini_service.answer(question)
        assert not result.answered and result.answers == ()


# --- needs_context -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def composer(repo_config):
    return Composer(repo_config.answer)


@pytest.mark.parametrize(
    "sentence, needed",
    [
        ("Ông cho biết, thành phố sẽ xây cầu.", True),
        ("Ông David Wong cho biết: ASOCIO có nhiều thành viên.", False),
        ("Theo đó, vé xe buýt sẽ miễn phí.", True),
        ("Theo Chủ tịch Nguyễn Đức Chung, Hà Nội đã làm việc.", False),
        ("Bà cho rằng dự án rất tốt.", True),
        ("Bà Cecilia Piccioni khẳng định Milan sẵn sàng hợp tác.", False),
        ("Họ đã đồng ý.", True),
        ("Họp báo diễn ra chiều nay.", False),
        ("Trong đó ưu tiên xây dựng dữ liệu dân cư.", True),
        ("Vì vậy, ông sẵn sàng hỗ trợ.", True),
        ("“Ông cho biết thêm,” bài viết dẫn lời.", True),
        ("Ông, David nói.", False),
        ("Hà Nội có gần 10 triệu người.", False),
        ("Ông", True),
    ],
)
def test_needs_context(composer, sentence, needed):
    assert composer.needs_context(sentence) is needed


def test_needs_context_on_nfd_text(composer):
    assert composer.needs_context(unicodedata.normalize("NFD", "Ông David Wong cho biết:")) is False


# --- Result / messages -------------------------------------------------------------------


def test_result_to_dict_rounds_scores_and_keeps_fields():
    answer = Answer("Trích dẫn.", "doc", "Tiêu đề", None, "2018-10-15", None, 1.234567891)
    result = Result("Câu hỏi?", (answer,), "tin nhắn", Outcome.ANSWERED, truncated=True, highlight=("câu_hỏi",))
    data = result.to_dict()
    assert set(data) == RESULT_KEYS
    assert data["answers"] == [
        {
            "quote": "Trích dẫn.",
            "doc_id": "doc",
            "title": "Tiêu đề",
            "source": None,
            "date": "2018-10-15",
            "url": None,
            "score": 1.2346,
            "page": None,
            "section": None,
        }
    ]
    assert not {"outcome", "truncated", "highlight"} & set(data)
    # Fields are only ever added: the first seven keep their names and order.
    assert list(data["answers"][0])[:7] == ["quote", "doc_id", "title", "source", "date", "url", "score"]
    located = Answer("Trích dẫn.", "doc", "Tiêu đề", None, None, None, 1.0, page=3, section="2. Yêu cầu")
    shown = Result("?", (located,), "", Outcome.ANSWERED).to_dict()["answers"][0]
    assert (shown["page"], shown["section"]) == (3, "2. Yêu cầu")


@pytest.mark.parametrize(
    "title, source, date, text",
    [
        ("T", "Nguồn", "2018-10-15", "T (Nguồn, 15/10/2018)"),
        ("T", None, "2018-10-15", "T (15/10/2018)"),
        ("T", "Nguồn", None, "T (Nguồn)"),
        ("T", None, None, "T"),
    ],
)
def test_citation(title, source, date, text):
    assert messages.citation(title, source, date) == text


@pytest.mark.parametrize(
    "page, section, text",
    [
        (3, None, "T (Nguồn, 15/10/2018, trang 3)"),
        (None, "2. Yêu cầu", "T (Nguồn, 15/10/2018, mục “2. Yêu cầu”)"),
        (12, "Điều 1", "T (Nguồn, 15/10/2018, trang 12, mục “Điều 1”)"),
        (None, None, "T (Nguồn, 15/10/2018)"),
    ],
)
def test_citation_names_the_page_or_section(page, section, text):
    assert messages.citation("T", "Nguồn", "2018-10-15", page=page, section=section) == text
    assert messages.citation("T", None, None, page=page, section=section) == (
        text.replace("Nguồn, 15/10/2018, ", "").replace(" (Nguồn, 15/10/2018)", "")
    )


def test_sources_text_lists_every_seed(ws_service):
    text = messages.sources_text(ws_service.articles)
    assert text.splitlines()[0] == messages.SOURCES_TITLE.format(n=len(list(SEEDS.glob("*.txt"))))
    for article in ws_service.articles:
        assert article.title in text
