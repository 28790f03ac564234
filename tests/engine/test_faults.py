"""Replies that break the contract, and servers that fail: bounded repairs and
retries, clear errors, and a story left exactly as it was."""

import time

from tests.support.novelist import step_reply
from tests.support.openai_server import Fault, FakeOpenAIServer

NO_MEMORY = "Paragraph: A paragraph without a memory.\nPlan 1: a\nPlan 2: b\nPlan 3: c"


def _snapshot(home, story):
    from recurrentgpt.library import Library

    library = Library()
    folder = home / "stories" / story
    files = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.md")}
    steps = [(s.id, s.kind) for s in library.store.steps(story)]
    info = library.store.story(story)
    return files, steps, info.head_step_id, info.version, len(library.open(story).paragraphs())


def test_a_reply_missing_memory_twice_then_correct_succeeds(cli, story, server):
    server.enqueue(NO_MEMORY, NO_MEMORY, step_reply(7))
    result = cli("write", story)
    assert result.code == 0, result.err
    repair = server.requests[-1]
    assert "Memory" in repair.messages[-1]["content"]  # the repair request names what is missing
    assert repair.messages[-2]["role"] == "assistant"
    assert "Paragraph number 7" in cli("show", story).out


def test_a_reply_that_never_complies_fails_and_changes_nothing(cli, story, server, home):
    before = _snapshot(home, story)
    server.enqueue(NO_MEMORY, NO_MEMORY, NO_MEMORY)
    result = cli("write", story)
    assert result.code == 1
    assert "Memory" in result.err and "nothing was saved" in result.err
    assert len(result.err.strip().splitlines()) <= 2
    assert _snapshot(home, story) == before


def test_500_then_success_and_429_with_retry_after_then_success(cli, story, server):
    server.enqueue(Fault(status=500), step_reply(8))
    assert cli("write", story).code == 0
    started = time.monotonic()
    server.enqueue(Fault(status=429, headers={"Retry-After": "1"}), step_reply(9))
    result = cli("write", story)
    assert result.code == 0, result.err
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    out = cli("show", story).out
    assert "Paragraph number 8" in out and "Paragraph number 9" in out


def test_a_server_that_never_answers_fails_after_the_timeout(cli, story, server, home, monkeypatch):
    monkeypatch.setenv("RECURRENTGPT_TIMEOUT", "1")
    before = _snapshot(home, story)
    server.enqueue(Fault(stall=30))
    started = time.monotonic()
    result = cli("write", story)
    assert result.code == 1
    assert time.monotonic() - started < 10
    assert "did not answer within 1 s" in result.err and "RECURRENTGPT_TIMEOUT" in result.err
    assert _snapshot(home, story) == before


def test_an_unreachable_server_says_what_to_check(cli, story, monkeypatch, home):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("RECURRENTGPT_RETRIES", "0")
    result = cli("write", story)
    assert result.code == 1 and "OPENAI_BASE_URL" in result.err


def test_the_api_key_is_never_stored(cli, story, server, home, tmp_path):
    assert cli("write", story, "--steps", "2").code == 0
    assert cli("export", story, "-o", tmp_path / "n.md").code == 0
    key = b"sk-test-secret-key-0123456789"
    assert server.requests[-1].headers["authorization"].endswith(key.decode())
    for path in list(home.rglob("*")) + [tmp_path / "n.md"]:
        if path.is_file():
            assert key not in path.read_bytes(), path
