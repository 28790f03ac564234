"""Long-term memory, the bounded prompt, and hand-edited memory files."""

import re

import pytest

from tests.support.novelist import step_reply


def _plan_part(prompt: str) -> str:
    return prompt.split("The plan for the next paragraph:")[1]


def _retrieved_part(prompt: str) -> str:
    return prompt.split("from the long-term memory):")[1].split("The previous paragraph:")[0]


def test_a_fact_from_paragraph_3_reaches_a_much_later_step(cli, story, server):
    # Paragraph 2 and 3 are written now; the fact is only in paragraph 3.
    server.enqueue(step_reply(100))
    server.enqueue(step_reply(101, extra="Mara hid the silver compass under the loose flagstone of the chapel. "))
    assert cli("write", story, "--steps", "2").code == 0
    assert cli("write", story, "--steps", "12").code == 0
    prompt = server.requests[-1].prompt
    recent = prompt.split("Short-term memory")[1].split("Earlier passages")[0] + prompt.split("The previous paragraph:")[1]
    assert "silver compass" not in recent  # long gone from the short-term memory and the previous paragraph
    result = cli("write", story, "--plan", "Mara goes back for the compass she hid in the chapel")
    assert result.code == 0, result.err
    prompt = server.requests[-1].prompt
    assert "silver compass under the loose flagstone" in _retrieved_part(prompt)


def test_the_prompt_does_not_grow_with_the_story(cli, story, server):
    sizes = {}
    for step in range(1, 61):
        assert cli("write", story, "--plan", "1").code == 0
        if step in (6, 60):
            sizes[step] = len(server.requests[-1].prompt)
    assert sizes[60] <= sizes[6] + 200, sizes


def test_hand_edited_short_term_memory_is_in_the_next_prompt(cli, story, server, home):
    path = home / "stories" / story / "memory" / "short_term.md"
    path.write_text("Mara now knows the door opens only at the new moon.\n")
    assert cli("write", story).code == 0
    assert "opens only at the new moon" in server.requests[-1].prompt
    # The edit is recorded as a step of its own.
    from recurrentgpt.library import Library

    steps = Library().store.steps(story)
    assert [s.kind for s in steps] == ["start", "edit", "write"]


def test_an_edited_long_term_file_is_what_retrieval_returns_embedded_once(cli, story, server, home, embedder, monkeypatch):
    assert cli("write", story, "--steps", "4").code == 0
    path = home / "stories" / story / "memory" / "long_term" / "00003.md"
    path.write_text("The harbour master keeps a brass telescope engraved with a whale.\n")
    embedded = []
    original = type(embedder).embed

    def counting(self, texts):
        embedded.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(type(embedder), "embed", counting)
    assert cli("write", story, "--plan", "Mara borrows the harbour master's telescope with the whale").code == 0
    assert "brass telescope engraved with a whale" in _retrieved_part(server.requests[-1].prompt)
    from memory.passages import passages
    from recurrentgpt.library import Library

    edited = "The harbour master keeps a brass telescope engraved with a whale."
    paragraph_texts = [t for t in embedded if "Mara borrows" not in t]
    assert paragraph_texts.count(edited) == 1
    # Only the edited paragraph was embedded for the step (plus the new one, never the rest of the story).
    new_paragraph = Library().open(story).paragraphs()[6]
    assert set(paragraph_texts) <= {edited, *passages(new_paragraph)}


def test_plans_without_headings_are_refused_naming_the_file(cli, story, server, home):
    folder = home / "stories" / story
    before = {p: p.read_bytes() for p in folder.rglob("*.md")}
    requests = len(server.requests)
    (folder / "memory" / "plans.md").write_text("1. go north\n2. go south\n3. stay\n")
    result = cli("write", story)
    assert result.code == 1
    assert "plans.md" in result.err and "## Plan" in result.err
    assert len(server.requests) == requests  # no model call
    after = {p: p.read_bytes() for p in folder.rglob("*.md")}
    assert set(after) == set(before)
    assert all(after[p] == before[p] for p in before if p.name != "plans.md")
    from recurrentgpt.library import Library

    assert [s.kind for s in Library().store.steps(story)] == ["start"]


def test_deleting_and_adding_paragraph_files(cli, story, server, home):
    assert cli("write", story, "--steps", "3").code == 0
    long_term = home / "stories" / story / "memory" / "long_term"
    (long_term / "00002.md").unlink()
    (long_term / "00009.md").write_text("A gull stole the keeper's only map of the reef.\n")
    assert cli("write", story, "--plan", "The gull and the stolen map of the reef").code == 0
    prompt = server.requests[-1].prompt
    assert "stole the keeper's only map" in prompt
    from recurrentgpt.library import Library

    novel = Library().open(story)
    assert list(novel.paragraphs()) == [1, 3, 4, 9, 10]
    assert cli("memory", story, "--check").code == 0
