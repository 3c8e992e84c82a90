"""``python -m bot`` as a user runs it (subprocesses; real underthesea, so marked slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qa_support import REPO, copy_seeds, write_config, write_jsonl_corpus
from retrieval.answer import messages

pytestmark = pytest.mark.slow

REPORT_KEYS = {
    "hit_at_1",
    "hit_at_3",
    "mrr",
    "refusal_accuracy",
    "per_tag",
    "latency_ms_p50",
    "latency_ms_p95",
    "misses",
}
RESULT_KEYS = {"question", "answered", "answers", "message", "suggestions"}


def run_bot(*args: str, stdin: str | bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONIOENCODING"] = "utf-8"
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        input=data if data is not None else b"",
        capture_output=True,
        env=env,
        timeout=timeout,
    )
    proc.stdout = proc.stdout.decode("utf-8")
    proc.stderr = proc.stderr.decode("utf-8")
    return proc


def no_traceback(proc) -> bool:
    return "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    seeds = copy_seeds(root / "seeds")
    config = write_config(root, {"corpus": str(seeds), "cache_dir": str(root / "cache")})
    return root, config


@pytest.fixture(scope="module")
def indexed(workdir):
    """``index`` run once for the module; the other commands then load its file."""
    root, config = workdir
    proc = run_bot("index", "--config", str(config))
    return root, config, proc


def test_index_exits_0_and_writes_the_file(indexed):
    root, _, proc = indexed
    assert proc.returncode == 0, proc.stderr
    files = list((root / "cache").glob("index-*.bin"))
    assert len(files) == 1 and files[0].stat().st_size > 0
    assert "indexed 5 articles" in proc.stdout
    assert str(files[0]) in proc.stdout
    assert not list((root / "cache").glob("*.tmp"))


def test_ask_json(indexed):
    _, config, _ = indexed
    question = "Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?"
    proc = run_bot("ask", question, "--json", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert set(data) == RESULT_KEYS
    assert data["question"] == question
    assert data["answered"] is True and data["answers"]
    for answer in data["answers"]:
        assert set(answer) == {"quote", "doc_id", "title", "source", "date", "url", "score", "page", "section"}
        assert answer["page"] is None and answer["section"] is None  # a .txt article has neither
    assert "loaded" in proc.stderr  # the index built by `index` was reused


def test_ask_batch_from_stdin(indexed):
    _, config, _ = indexed
    questions = [
        "Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?",
        "",
        "Làm thế nào để nấu bún chả ngon?",
        "ASOCIO có những quốc gia thành viên tích cực nào?",
        "   ",
        "Hà Nội thiết lập mạng dùng chung đến bao nhiêu phường xã?",
        "😀",
        "ha noi co bao nhieu phuong",
    ]
    proc = run_bot("ask", "--json", "--config", str(config), stdin="\n".join(questions) + "\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(questions)
    results = [json.loads(line) for line in lines]
    assert [r["question"] for r in results] == questions
    assert all(set(r) == RESULT_KEYS for r in results)
    assert results[1]["answered"] is False and results[1]["message"] == messages.EMPTY
    assert results[2]["answered"] is False and results[2]["answers"] == []
    assert results[0]["answered"] is True
    assert proc.stderr.count("index ready") == 1
    assert "building index" not in proc.stderr


def test_ask_batch_survives_bad_bytes_and_crlf(indexed):
    _, config, _ = indexed
    data = "Câu hỏi một?\r\n".encode() + b"\xff\xfe bad \xc3\n" + "Câu cuối\n".encode()
    proc = run_bot("ask", "--json", "--config", str(config), stdin=data)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == 3
    assert results[0]["question"] == "Câu hỏi một?"
    assert results[2]["question"] == "Câu cuối"


def test_ask_plain_prints_the_vietnamese_message(indexed):
    _, config, _ = indexed
    refused = run_bot("ask", "Làm thế nào để nấu bún chả ngon?", "--config", str(config))
    assert refused.returncode == 0
    assert refused.stdout.strip() == messages.REFUSAL
    answered = run_bot(
        "ask", "Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?", "--config", str(config)
    )
    assert answered.returncode == 0
    assert answered.stdout.startswith(messages.ANSWER_INTRO)
    assert "«" in answered.stdout and "»" in answered.stdout


def test_batch_plain_is_one_line_per_question(indexed):
    _, config, _ = indexed
    proc = run_bot(
        "ask",
        "--config",
        str(config),
        stdin="Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?\n\nxyz\n",
    )
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 3


def test_eval_json(indexed, tmp_path):
    _, config, _ = indexed
    questions = tmp_path / "q.yaml"
    questions.write_text(
        yaml.safe_dump(
            [
                {
                    "id": "a",
                    "question": "Tập đoàn nào ký văn bản ghi nhớ với Hà Nội?",
                    "docs": ["001_9b04e93836ae5aa7"],
                    "expect": "Microsoft",
                    "tags": ["what"],
                },
                {
                    "id": "b",
                    "question": "Làm thế nào để nấu bún chả ngon?",
                    "docs": [],
                    "expect": None,
                    "tags": ["off-topic"],
                },
                {"id": "c", "question": "Một câu hỏi không có thẻ về Kosice?", "docs": [], "expect": "Kosice"},
            ],
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    proc = run_bot("eval", str(questions), "--json", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert set(report) >= REPORT_KEYS
    assert report["questions"] == 3 and report["answerable"] == 2
    for key in ("hit_at_1", "hit_at_3", "mrr", "refusal_accuracy"):
        assert 0.0 <= report[key] <= 1.0
    assert report["hit_at_1"] <= report["hit_at_3"]
    assert set(report["per_tag"]) == {"what", "off-topic", "untagged"}
    assert report["latency_ms_p50"] <= report["latency_ms_p95"]
    assert isinstance(report["misses"], list)


def test_eval_missing_questions_file(indexed, tmp_path):
    _, config, _ = indexed
    proc = run_bot("eval", str(tmp_path / "nope.yaml"), "--config", str(config))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and no_traceback(proc)


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"colour": "blue"}, "colour"),
        ({"retrieval": {"k3": 1}}, "retrieval.k3"),
        ({"retrieval": {"k1": "abc"}}, "retrieval.k1"),
        ({"answer": {"max_answers": True}}, "answer.max_answers"),
    ],
)
def test_bad_config_is_one_error_line_and_exit_2(tmp_path, changes, key):
    config = write_config(tmp_path, changes)
    proc = run_bot("ask", "Hà Nội?", "--config", str(config))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and f"'{key}'" in lines[0]
    assert proc.stdout == "" and no_traceback(proc)


def test_invalid_yaml_config_is_one_error_line(tmp_path):
    config = write_config(tmp_path, raw="corpus: [unclosed\n")
    proc = run_bot("ask", "Hà Nội?", "--config", str(config))
    assert proc.returncode == 2 and no_traceback(proc)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_invalid_yaml_config_exits_2_without_traceback(tmp_path):
    config = write_config(tmp_path, raw="corpus: [unclosed\n")
    proc = run_bot("ask", "Hà Nội?", "--config", str(config))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and no_traceback(proc)


def test_missing_config_file(tmp_path):
    proc = run_bot("ask", "Hà Nội?", "--config", str(tmp_path / "none.yaml"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and no_traceback(proc)


@pytest.mark.parametrize("via", ["config", "flag"])
def test_missing_corpus_exits_2(tmp_path, via):
    missing = tmp_path / "no-such-corpus"
    corpus = str(missing) if via == "config" else "seeds"
    config = write_config(tmp_path, {"corpus": corpus, "cache_dir": str(tmp_path / "cache")})
    extra = ["--corpus", str(missing)] if via == "flag" else []
    proc = run_bot("ask", "Hà Nội?", "--json", "--config", str(config), *extra)
    assert proc.returncode == 2
    assert proc.stdout == ""
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "no-such-corpus" in errors[0]
    assert no_traceback(proc)


def test_corpus_flag_with_jsonl(workdir, tmp_path):
    _, config = workdir
    path = write_jsonl_corpus(tmp_path / "corpus.jsonl")
    proc = run_bot("ask", "Cầu Kỳ Lân dài bao nhiêu mét?", "--json", "--config", str(config), "--corpus", str(path))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["answered"] is True
    assert data["answers"][0]["doc_id"] == "bai-cau"
    assert data["answers"][0]["title"] == "Cầu Kỳ Lân"


def test_index_with_unwritable_cache_exits_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    seeds = copy_seeds(tmp_path / "seeds")
    config = write_config(tmp_path, {"corpus": str(seeds), "cache_dir": str(blocker / "cache")})
    proc = run_bot("index", "--config", str(config))
    assert proc.returncode == 1
    assert "NOT saved" in proc.stdout
    assert "could not save" in proc.stderr and no_traceback(proc)


def test_run_without_token_starts_the_console(indexed):
    _, config, _ = indexed
    proc = run_bot("run", "--config", str(config), stdin="/help\n/quit\n")
    assert proc.returncode == 0, proc.stderr
    assert "TELEGRAM_BOT_TOKEN" in proc.stderr
    assert messages.CONSOLE_HELP in proc.stdout
    assert proc.stdout.startswith("Hỏi đáp về 5 bài viết")


def test_relative_corpus_in_config_is_resolved_against_its_folder(tmp_path):
    copy_seeds(tmp_path / "my-seeds")
    config = write_config(tmp_path / "conf", {"corpus": "../my-seeds", "cache_dir": "cache"})
    proc = run_bot(
        "ask", "Tập đoàn Microsoft ký văn bản ghi nhớ với Hà Nội để xây dựng gì?", "--json", "--config", str(config)
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["answered"] is True
    assert list((tmp_path / "conf" / "cache").glob("index-*.bin"))
    assert Path(tmp_path / "conf" / "cache").is_dir()


def test_config_command_prints_every_key_and_its_origin(tmp_path):
    path = write_config(tmp_path, raw="corpus: mine\nanswer:\n  max_answers: 2\n")
    out = run_bot("config", "--config", str(path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("# config file:")
    by_key = {line.split(" = ")[0].strip(): line for line in lines[1:]}
    assert by_key["answer.max_answers"].endswith("2  # set in the file")
    assert by_key["retrieval.k1"].endswith("1.5  # default")
    assert "retrieval.question_words" in by_key and len(by_key) > 50


def test_without_any_config_file_the_defaults_answer(tmp_path, monkeypatch):
    """An installed package has no config.yaml beside it: `ask --corpus` runs on the defaults."""
    import bot.cli as cli

    monkeypatch.setattr(cli, "REPO_ROOT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    assert cli.default_config_path() is None
    assert cli._config_path(cli.build_parser().parse_args(["ask", "x"])) is None


def test_report_reads_the_question_log(tmp_path):
    """The console logs its questions; `report` summarises them (text, JSON, one HTML file)."""
    seeds = copy_seeds(tmp_path / "seeds")
    config = write_config(tmp_path, {"corpus": str(seeds), "cache_dir": str(tmp_path / "cache")})
    missing = run_bot("report", "--config", str(config))
    assert missing.returncode == 2 and "error: no question log" in missing.stderr
    assert "building index" not in missing.stderr
    console = run_bot(
        "console",
        "--config",
        str(config),
        stdin="Đại sứ Mỹ tại Việt Nam tên là gì?\n/good\nGiá vàng SJC hôm nay bao nhiêu?\n",
    )
    assert console.returncode == 0, console.stderr
    out = run_bot("report", "--config", str(config), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["questions"] == 2 and data["answered"] == 1 and data["refused"] == 1
    html = tmp_path / "report.html"
    assert run_bot("report", "--config", str(config), "--out", str(html), "--since", "2w").returncode == 0
    assert "<svg" in html.read_text(encoding="utf-8")
    bad = run_bot("report", "--config", str(config), "--since", "soon")
    assert bad.returncode == 2 and "--since" in bad.stderr
