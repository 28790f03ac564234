"""The whole command-line loop on the local backend with a tiny random RWKV-7:
`new` then `write --steps 3` yield parseable steps, recorded and written to the
memory files. A random model rarely ends a line, so every section runs to its
own token cap: this test is also what keeps those caps small."""

from __future__ import annotations

import time

import pytest



@pytest.fixture
def local_cli(home, cli, world_checkpoint, monkeypatch):
    """The shared in-process command line, pointed at the tiny local model."""
    monkeypatch.setenv("RECURRENTGPT_BACKEND", "local")
    monkeypatch.setenv("RECURRENTGPT_LOCAL_MODEL", str(world_checkpoint))
    monkeypatch.setenv("RECURRENTGPT_DEVICE", "cpu")
    return cli


def test_new_then_write_three_steps(local_cli, home):
    from recurrentgpt.library import Library
    from recurrentgpt.parsing import STEP, STORY_START, parse_sections

    started = time.perf_counter()
    started_story = local_cli("new", "--premise", "A lighthouse keeper finds a door in the sea")
    assert started_story.code == 0, started_story.err
    story = started_story.last_line
    written = local_cli("write", story, "--steps", "3")
    assert written.code == 0, written.err
    elapsed = time.perf_counter() - started

    library = Library()
    try:
        steps = library.store.steps(story)
    finally:
        library.db.dispose()
    assert len(steps) == 4, [s.kind for s in steps]
    for record, labels in zip(steps, [STORY_START] + [STEP] * 3):
        assert record.backend.startswith("local:"), record.backend
        assert not parse_sections(record.raw_output).missing(labels), record.raw_output
        assert record.short_term.strip()
        assert len(record.plans) == 3 and all(p.strip() for p in record.plans)
    assert steps[0].title.strip() and steps[0].outline.strip()

    folder = home / "stories" / story / "memory"
    for name in ("outline.md", "short_term.md", "plans.md"):
        assert (folder / name).read_text(encoding="utf-8").strip(), name
    paragraphs = sorted((folder / "long_term").glob("*.md"))
    assert len(paragraphs) == 4 and all(p.read_text(encoding="utf-8").strip() for p in paragraphs)
    assert elapsed < 45, f"the loop took {elapsed:.0f} s"
