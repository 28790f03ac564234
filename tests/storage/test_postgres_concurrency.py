"""Two processes writing one story on one PostgreSQL database: optimistic
locking by version lets exactly one commit per version through; the loser
gets ConcurrentEdit, retries from the new head, and the story stays whole."""

from __future__ import annotations

import multiprocessing
import os

import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("RECURRENTGPT_TEST_DATABASE_URL"),
                                reason="needs PostgreSQL: set RECURRENTGPT_TEST_DATABASE_URL")

WRITERS = 4
COMMITS = 12  # per writer


def _writer(url: str, name: str, start, results) -> None:
    """Commit COMMITS paragraphs, each from the head it read, retrying on ConcurrentEdit."""
    from memory.database import Database
    from memory.errors import ConcurrentEdit
    from memory.store import StepDraft, StoryStore

    store = StoryStore(Database(url))
    conflicts = 0
    start.wait()
    for i in range(COMMITS):
        while True:
            info = store.story("shared")
            head = store.step(info.head_step_id)
            number = store.max_number("shared") + 1
            draft = StepDraft(kind="write", title=head.title, outline=head.outline, short_term=f"{name} {i}",
                              plans=[f"{name} plan {i}"] * 3, paragraphs={number: f"{name} wrote paragraph {i}."})
            try:
                store.commit_step("shared", head.id, info.version, draft)
                break
            except ConcurrentEdit:
                conflicts += 1
    store.db.dispose()
    results.put((name, conflicts))


def test_concurrent_writers_never_corrupt_a_story(home):
    from sqlalchemy import func, select

    from memory.database import Database
    from memory.models import Paragraph
    from memory.store import StepDraft, StoryStore

    url = os.environ["RECURRENTGPT_DATABASE_URL"]
    store = StoryStore(Database(url))
    assert store.db.dialect == "postgresql"
    info = store.create_story("shared", title="Shared", premise="p")
    store.commit_step("shared", None, info.version,
                      StepDraft(kind="start", title="Shared", outline="o", short_term="s", plans=["a", "b", "c"],
                                paragraphs={1: "The opening."}))

    ctx = multiprocessing.get_context("spawn")  # separate processes, separate connections
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, f"w{n}", start, results)) for n in range(WRITERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0, f"writer {p.name} failed (exit {p.exitcode})"
    conflicts = dict(results.get(timeout=10) for _ in procs)

    total = WRITERS * COMMITS
    info = store.story("shared")
    assert info.version == 1 + total  # one version per commit, none lost, none doubled
    steps = store.steps("shared")
    assert len(steps) == 1 + total
    chain = store.lineage("shared", info.head_step_id)
    assert chain == [s.id for s in steps]  # one straight line: every commit built on the head before it
    paragraphs = store.paragraphs("shared")
    assert list(paragraphs) == list(range(1, total + 2))
    for name in conflicts:
        assert sum(text.startswith(name + " ") for text in paragraphs.values()) == COMMITS
    assert store.head("shared").paragraph_count == total + 1
    with store.db.session() as s:  # no orphan paragraph rows from refused commits
        assert s.scalar(select(func.count()).select_from(Paragraph)) == total + 1
    print(f"conflicts resolved by retry: {conflicts}")
    store.db.dispose()
