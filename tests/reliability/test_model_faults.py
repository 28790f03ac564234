"""The model misbehaves: every fault either recovers within the bounded
retries and repairs, or fails with a clear message (exit 1, one or two lines,
no traceback) and leaves the story exactly as it was: database, paragraph
count and memory files."""

from __future__ import annotations

import random
import time

import pytest

from tests.reliability.conftest import (
    assert_clean_failure, files_match_database, lost_paragraphs, snapshot,
)
from tests.support.novelist import step_reply
from tests.support.openai_server import Fault

GOOD = step_reply(900, "The good reply. ")
NO_MEMORY = "Paragraph: Mara waited.\nPlan 1: a\nPlan 2: b\nPlan 3: c"
EMPTY_SECTIONS = "Paragraph:\n\nMemory:\nPlan 1:\nPlan 2: \nPlan 3:"


def _garbage(seed: int) -> str:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(3000)).decode("latin-1")


def _huge_reply() -> str:
    return step_reply(901, "Waves. " * (1_000_000 // 7))  # a reply of about 1 MB


# name -> (queued replies, environment, outcome): "recovers" or the words the error must contain
FAULTS = {
    "missing sections, then repaired": ([NO_MEMORY, GOOD], {}, "recovers"),
    "missing sections, every attempt": ([NO_MEMORY] * 3, {}, ["lacked", "memory"]),
    "empty sections, then repaired": ([EMPTY_SECTIONS, GOOD], {}, "recovers"),
    "empty sections, every attempt": ([EMPTY_SECTIONS] * 3, {}, ["lacked", "paragraph"]),
    "garbage, every attempt": ([_garbage(1), _garbage(2), _garbage(3)], {}, ["lacked"]),
    "invalid JSON body, then good": ([Fault(body=b'{"choices": [ not json'), GOOD], {}, "recovers"),
    "invalid JSON body, every attempt": ([Fault(body=b"<html>oops")] * 2, {"RECURRENTGPT_RETRIES": "1"},
                                         ["could not be read"]),
    "SSE stream cut mid-chunk, then good": ([Fault(cut_after_chunks=5), GOOD], {}, "recovers"),
    "SSE stream cut mid-chunk, every attempt": ([Fault(cut_after_chunks=3)] * 2, {"RECURRENTGPT_RETRIES": "1"},
                                                ["broke off"]),
    # A stall is bounded by RECURRENTGPT_TIMEOUT and not retried (retrying a silent server doubles the wait).
    "stream stalls mid-reply": ([Fault(stall_after_chunks=4, stall=5)], {"RECURRENTGPT_TIMEOUT": "1"},
                                ["did not answer", "RECURRENTGPT_TIMEOUT"]),
    "connection reset, then good": ([Fault(reset=True), GOOD], {}, "recovers"),
    "connection reset, every attempt": ([Fault(reset=True)] * 2, {"RECURRENTGPT_RETRIES": "1"}, ["could not reach"]),
    "429 with Retry-After, then good": ([Fault(status=429, headers={"Retry-After": "1"}), GOOD], {}, "recovers"),
    "429 with Retry-After, every attempt": ([Fault(status=429, headers={"Retry-After": "0"})] * 4, {}, ["429"]),
    "500, then good": ([Fault(status=500), GOOD], {}, "recovers"),
    "500, every attempt": ([Fault(status=500, headers={"Retry-After": "0"})] * 4, {}, ["500"]),
    "503, then good": ([Fault(status=503, headers={"Retry-After": "0"}), GOOD], {}, "recovers"),
    "503, every attempt": ([Fault(status=503, headers={"Retry-After": "0"})] * 4, {}, ["503"]),
    "timeout before the first byte": ([Fault(stall=5)], {"RECURRENTGPT_TIMEOUT": "1"}, ["did not answer", "RECURRENTGPT_TIMEOUT"]),
    "401 refused key": ([Fault(status=401)], {}, ["401", "OPENAI_API_KEY"]),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_model_fault(name, cli, story, server, home, monkeypatch, tally):
    replies, env, outcome = FAULTS[name]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    before = snapshot(home, story)
    requests_before = len(server.requests)
    server.enqueue(*replies)
    started = time.monotonic()
    result = cli("write", story)
    elapsed = time.monotonic() - started
    after = snapshot(home, story)
    lost = lost_paragraphs(before, after)
    assert "Traceback" not in result.err, result.err
    assert not files_match_database(home, story)
    sent = len(server.requests) - requests_before
    assert sent <= 4 + 3, f"unbounded: {sent} requests"  # retries (3) plus repairs (2), never more

    recovered = result.code == 0
    kind = outcome if isinstance(outcome, str) else "fails"
    if kind == "recovers" or (kind.endswith("-or-repairs") and recovered):
        assert recovered, result.err
        assert len(after.paragraphs) == len(before.paragraphs) + 1
        new = after.paragraphs[max(after.paragraphs)]
        if kind == "recovers":
            assert new.startswith("Paragraph number 900. The good reply."), new[:200]
        if "Retry-After" in name:
            assert elapsed >= 1.0, "Retry-After was not honoured"
    else:
        assert_clean_failure(result, *([] if kind != "fails" else outcome))
        assert before.same_story(after) and before.files == after.files
    assert lost == 0
    assert cli("memory", story, "--check").code == 0
    tally.record(f"model: {name}", survived=True, lost=lost)


def test_reply_of_one_megabyte(cli, story, home, monkeypatch, tally):
    """A runaway reply is cut, never stored whole; the story takes a paragraph
    no longer than a hand-edited one may be, or refuses with a clear message."""
    from tests.support.openai_server import FakeOpenAIServer

    with FakeOpenAIServer(lambda request: _huge_reply(), chunk_size=16_384) as big:
        monkeypatch.setenv("OPENAI_BASE_URL", big.base_url)
        before = snapshot(home, story)
        result = cli("write", story)
        after = snapshot(home, story)
    assert "Traceback" not in result.err
    if result.code == 0:
        assert len(after.paragraphs) == len(before.paragraphs) + 1
        assert max(len(t) for t in after.paragraphs.values()) <= 20_000
    else:
        assert_clean_failure(result)
        assert before.same_story(after) and before.files == after.files
    assert not files_match_database(home, story)
    assert cli("memory", story, "--check").code == 0
    tally.record("model: reply of 1 MB", survived=True, lost=lost_paragraphs(before, after))


def test_fault_while_starting_a_story_creates_nothing(cli, server, home, tally):
    server.enqueue(*[NO_MEMORY] * 3)
    result = cli("new", "--premise", "A clockmaker's last clock")
    assert_clean_failure(result, "lacked")
    assert cli("list").out.strip() == ""
    assert not (home / "stories").exists() or not any((home / "stories").iterdir())
    tally.record("model: missing sections while starting a story", survived=True)
