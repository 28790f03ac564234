"""Branches: play five turns, go back to turn 2, choose differently and play
three more. Both branches stay whole and exportable; the memory files and
retrieval follow the branch the reader is on, and a paragraph of the other
branch is never retrieved."""

from __future__ import annotations

import pytest

from recurrentgpt.fiction import PlaySession
from recurrentgpt.library import Library
from tests.fiction.conftest import plan_of, retrieved_passages

BRANCH_A = ["1", "2", "Light the crimson lantern in the flooded cellar",
            "Carry the crimson lantern down the cellar steps", "Hang the crimson lantern above the cellar water"]
BRANCH_B = ["Ask the harbour cat about the crimson lantern", "Search the flooded cellar for a crimson lantern", "3",
            "Ask about the crimson lantern in the flooded cellar"]


@pytest.fixture
def session(fiction_story, embedder):
    play = PlaySession.open(Library(embedder=embedder), fiction_story)
    yield play
    play.close()


def _texts_by_number(session: PlaySession, step_id: int) -> dict[int, str]:
    """Paragraph number -> text on the path to `step_id` (one scene per turn here)."""
    return {turn.number + 1: turn.scene for turn in session.turns(step_id)}


def _check_retrieval_stays_on_the_path(session: PlaySession, requests, steps) -> int:
    """Every passage a step's prompt carried is the paragraph of that step's
    own path under the number the step recorded. Returns how many passages."""
    seen = 0
    for request, step in zip(requests, steps, strict=True):
        assert plan_of(request.prompt) == step.instruction
        own = _texts_by_number(session, step.parent_id)
        numbers = [n for n, _ in step.retrieved]
        assert all(n in own for n in numbers)
        assert retrieved_passages(request.prompt) == [own[n] for n in numbers]
        seen += len(numbers)
    return seen


def test_going_back_and_choosing_differently_keeps_both_branches(session, server, home):
    story = session.story_id
    start = len(server.requests)
    for action in BRANCH_A:
        session.act(action)
    a_requests = server.requests[start:]
    a_leaf = session.scene().step_id
    a_path = session.turns()
    assert [t.number for t in a_path] == [0, 1, 2, 3, 4, 5]
    assert a_path[1].action == "Wade out to the blue door." and a_path[2].action == "Knock on the blue door (1)."

    scene = session.go_to_turn(2)
    assert scene.turn == 2 and scene.text == a_path[2].scene and scene.branch == 1
    assert scene.choices[0] == "Follow the gulls along the seawall (2)."
    fork = len(server.requests)
    for action in BRANCH_B:
        session.act(action)
    b_requests = server.requests[fork:]
    b_path = session.turns()
    b_leaf = session.scene().step_id
    assert [t.number for t in b_path] == [0, 1, 2, 3, 4, 5, 6]
    assert [t.step_id for t in b_path[:3]] == [t.step_id for t in a_path[:3]]
    assert b_path[3].action == BRANCH_B[0] and b_path[5].action == "Write down what you saw in your notebook (7)."

    # The tree: two branches, numbered in the order they were started.
    branches = session.branches()
    assert [(b.number, b.turns, b.forks_at, b.leaf_id) for b in branches] == [(1, 5, None, a_leaf), (2, 6, 2, b_leaf)]
    assert branches[1].first_action == BRANCH_B[0] and branches[1].here and not branches[0].here

    # Retrieval on branch B never reached a paragraph of branch A, though
    # branch A's crimson-lantern scenes are the closest match to every B plan.
    a_only = {t.scene for t in a_path[3:]}
    for request in b_requests:
        assert not a_only & set(retrieved_passages(request.prompt))
    b_steps = [session.store.step(t.step_id) for t in b_path[3:]]
    assert _check_retrieval_stays_on_the_path(session, b_requests, b_steps) > 0
    # ... and retrieval does find B's own lantern scenes by meaning.
    assert b_path[3].scene in retrieved_passages(b_requests[-1].prompt)

    # The memory files show branch B.
    memory = home / "stories" / story / "memory"
    files = sorted((memory / "long_term").glob("*.md"))
    assert [f.name for f in files] == [f"{n:05d}.md" for n in range(1, 8)]
    assert [f.read_text(encoding="utf-8").strip() for f in files] == [t.scene.strip() for t in b_path]
    assert "you chose to ask about the crimson lantern in the flooded cellar" in (memory / "short_term.md").read_text()
    assert "(9)." in (memory / "plans.md").read_text()

    # Both branches are whole and exportable.
    a_md, b_md = session.playthrough_markdown(1), session.playthrough_markdown(2)
    for text, path in ((a_md, a_path), (b_md, b_path)):
        assert text.count("## Turn ") == len(path)
        for turn in path:
            assert turn.scene.strip() in text
            if turn.number:
                assert f"**You:** {turn.action}" in text
    assert "crimson lantern down the cellar steps" in a_md and "crimson lantern down the cellar steps" not in b_md
    assert "harbour cat" in b_md and "harbour cat" not in a_md
    assert session.playthrough_markdown() == b_md.replace("branch 2", "the path taken")

    # Switch to branch A: files follow, and a new turn there retrieves only A.
    scene = session.switch(1)
    assert scene.step_id == a_leaf and scene.turn == 5 and scene.branch == 1
    files = sorted((memory / "long_term").glob("*.md"))
    assert [f.read_text(encoding="utf-8").strip() for f in files] == [t.scene.strip() for t in a_path]
    assert "hang the crimson lantern above the cellar water" in (memory / "short_term.md").read_text()
    extend = len(server.requests)
    session.act("Blow out the crimson lantern and listen")
    request = server.requests[extend]
    b_only = {t.scene for t in b_path[3:]}
    assert not b_only & set(retrieved_passages(request.prompt))
    new_step = session.store.step(session.scene().step_id)
    assert _check_retrieval_stays_on_the_path(session, [request], [new_step]) > 0
    # Extending a branch keeps every branch's number.
    assert [(b.number, b.turns) for b in session.branches()] == [(1, 6), (2, 6)]
    assert session.novel.check() == []
    # Branch A's own earlier steps retrieved only A, too.
    a_steps = [session.store.step(t.step_id) for t in a_path[1:]]
    _check_retrieval_stays_on_the_path(session, a_requests, a_steps)


def test_back_from_the_opening_is_refused_and_history_is_untouched(session, server):
    session.act("1")
    with pytest.raises(Exception, match="at most 1 turn"):
        session.back(2)
    scene = session.back(1)
    assert scene.turn == 0 and not scene.can_go_back
    assert [b.turns for b in session.branches()] == [1]  # the turn left behind is still a branch
    assert session.switch(1).turn == 1


def test_persona_can_change_between_turns(session, server):
    session.set_persona("Call me Ash. Sea shanties, please; no ghosts.")
    session.act("2")
    system = server.requests[-1].messages[0]["content"]
    assert "Call me Ash. Sea shanties, please; no ghosts." in system
    assert session.scene().persona.startswith("Call me Ash")
