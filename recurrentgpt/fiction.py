"""Interactive fiction: a play session over a story's tree of turns.

A turn is a step that wrote a scene: the opening (turn 0) or the scene
written for the reader's action (turn k). The reader's action, one of the
three choices or their own words, is the plan of the next step. Going back
to an earlier turn and acting differently starts a new branch; nothing is
ever thrown away. A branch is the path from the opening to a leaf of the
tree; branches are numbered in the order they were started, so the numbers
a reader has seen never change as the story grows.

The session holds no state of its own beyond the open `Novel`: the head of
the story is where the reader is, so a session can be closed and opened
again (in the terminal, in the studio) and resume exactly there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from memory.store import StepRecord
from recurrentgpt.backends.base import RESTART, Backend, TextCallback
from recurrentgpt.errors import RecurrentGPTError
from recurrentgpt.novel import Novel
from recurrentgpt.parsing import parse_sections

TURN_KINDS = ("start", "write")


@dataclass
class Turn:
    """One scene on a path: what the reader did and what happened."""

    number: int  # 0 is the opening scene
    step_id: int
    action: str  # the reader's action that led here ("" for the opening)
    choice: str  # "1" | "2" | "3" | "custom" | "auto:N" | "start"
    scene: str  # the scene's text as it stands on this path


@dataclass
class Branch:
    """A path from the opening to a leaf of the tree of turns."""

    number: int  # 1, 2, ... in the order the branches were started
    leaf_id: int
    path: list[int]  # step ids, opening first
    turns: int  # scenes after the opening
    forks_at: int | None  # the turn it leaves its parent branch after (None: the first branch)
    first_action: str  # the action that started it ("" for the first branch)
    here: bool = False  # the reader's current position lies on this path
    at_leaf: bool = False  # ... and is its last step


@dataclass
class Scene:
    """What the reader sees now."""

    story_id: str
    title: str
    turn: int
    text: str
    choices: list[str]
    action: str  # what the reader did to get here ("" at the opening)
    branch: int  # the lowest-numbered branch the reader's position lies on
    branches: int
    persona: str
    version: int
    step_id: int = 0
    can_go_back: bool = field(default=False)


class SceneStream:
    """Follows a streaming reply and keeps the scene written so far (the
    `Paragraph` section), so a front end can show it as it arrives."""

    def __init__(self) -> None:
        self.raw = ""

    def feed(self, chunk: str) -> str:
        if chunk == RESTART:
            self.raw = ""
        else:
            self.raw += chunk
        return self.text

    @property
    def text(self) -> str:
        return parse_sections(self.raw).get("Paragraph") if self.raw else ""


class PlaySession:
    """Interactive fiction over one story. `backend` is made on first use,
    so looking around (branches, back, export) needs no model."""

    def __init__(self, novel: Novel, backend: Backend | None = None):
        self.novel = novel
        self.store = novel.store
        self._backend = backend

    @classmethod
    def open(cls, library, story_id: str, backend: Backend | None = None) -> "PlaySession":
        return cls(library.open(story_id), backend)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self.novel.library.backend()
        return self._backend

    @property
    def story_id(self) -> str:
        return self.novel.id

    def close(self) -> None:
        self.novel.close()

    # -- where the reader is ---------------------------------------------------

    def scene(self) -> Scene:
        """The current scene, its choices and where it sits in the tree."""
        self.novel.import_edits()
        info = self.novel.refresh()
        head = self.store.step(info.head_step_id)
        turns = self.turns()
        last = turns[-1]
        branches = self.branches()
        here = [b.number for b in branches if b.here]
        return Scene(story_id=info.id, title=head.title, turn=last.number, text=last.scene,
                     choices=list(head.plans), action=last.action, branch=here[0] if here else 0,
                     branches=len(branches), persona=info.persona, version=info.version, step_id=head.id,
                     can_go_back=last.number > 0)

    def turns(self, step_id: int | None = None) -> list[Turn]:
        """The turns on the path from the opening to `step_id` (default: where
        the reader is), with each scene as it stands at the end of that path
        (hand edits on the path included)."""
        if step_id is None:
            step_id = self.novel.refresh().head_step_id
        path = self.store.lineage(self.story_id, step_id)
        steps = {s.id: s for s in self.store.tree(self.story_id)}
        live: dict[int, str | None] = {}
        written_by: dict[int, int] = {}
        for sid, number, text in self._changes_along(path):
            live[number] = text
            if steps[sid].kind in TURN_KINDS and text is not None and sid not in written_by:
                written_by[sid] = number  # a start step writes paragraph 1, a write step one more
        turns: list[Turn] = []
        for sid in path:
            step = steps[sid]
            if step.kind not in TURN_KINDS:
                continue
            number = written_by.get(sid)
            scene = (live.get(number) or "") if number is not None else ""
            action = "" if step.kind == "start" else step.instruction
            turns.append(Turn(len(turns), sid, action, step.choice, scene))
        if not turns:
            raise RecurrentGPTError(f"Story {self.story_id!r} has no scenes yet; start it again in fiction mode.")
        return turns

    def _changes_along(self, path: list[int]) -> list[tuple[int, int, str | None]]:
        order = {sid: i for i, sid in enumerate(path)}
        changes = self.store.step_paragraphs(self.story_id, path)
        return sorted(changes, key=lambda c: order[c[0]])  # stable: commit order within a step

    # -- acting ------------------------------------------------------------------

    def act(self, action: str, *, on_text: TextCallback | None = None,
            cancel: threading.Event | None = None) -> Scene:
        """Take choice "1", "2" or "3", or any other words as the reader's own
        action; the model writes the next scene. From an earlier turn this
        starts a new branch."""
        action = action.strip()
        if not action:
            raise RecurrentGPTError("Say what you do: 1, 2 or 3, or your own action in words.")
        self.novel.write(action, self.backend, on_text=on_text, cancel=cancel)
        return self.scene()

    def back(self, turns: int = 1) -> Scene:
        """Go back `turns` turns; the turns left behind stay as a branch."""
        path = self.turns()
        if turns < 1:
            raise RecurrentGPTError("Go back at least one turn.")
        if turns >= len(path):
            raise RecurrentGPTError(f"You are at turn {path[-1].number}; you can go back at most "
                                    f"{path[-1].number} turn(s).")
        return self.go_to_turn(path[-1].number - turns)

    def go_to_turn(self, number: int) -> Scene:
        """Return to turn `number` of the current path, just as it was before
        the reader acted there."""
        path = self.turns()
        if not 0 <= number < len(path):
            raise RecurrentGPTError(f"There is no turn {number} here; this path has turns 0 to {len(path) - 1}.")
        if number == len(path) - 1:
            return self.scene()
        # The step right before the next turn: the scene with any hand edits made after it.
        target = self.store.step(path[number + 1].step_id).parent_id
        self.novel.switch_to(target)
        return self.scene()

    # -- branches ----------------------------------------------------------------

    def branches(self) -> list[Branch]:
        """Every branch, numbered in the order they were started. A branch
        follows the oldest child at each step; every younger child starts a
        new branch there."""
        steps = self.store.tree(self.story_id)
        if not steps:
            return []
        children: dict[int | None, list[StepRecord]] = {}
        for step in steps:
            children.setdefault(step.parent_id, []).append(step)
        by_id = {s.id: s for s in steps}
        head_id = self.novel.refresh().head_step_id

        found: list[tuple[int, list[int], int | None]] = []  # (first step id, path, fork turn)
        # Each pending start: (prefix path, the step the branch starts with, fork turn)
        pending = [([], root, None) for root in children.get(None, [])]
        while pending:
            prefix, first, fork = pending.pop()
            path = list(prefix)
            step = first
            while True:
                path.append(step.id)
                kids = children.get(step.id, [])
                for younger in kids[1:]:
                    pending.append((list(path), younger, self._turn_count(path, by_id) - 1))
                if not kids:
                    break
                step = kids[0]
            found.append((first.id, path, fork))
        found.sort(key=lambda f: f[0])

        branches = []
        for number, (first_id, path, fork) in enumerate(found, start=1):
            first = by_id[first_id]
            turn_steps = [sid for sid in path if by_id[sid].kind in TURN_KINDS]
            first_action = "" if fork is None else next(
                (by_id[sid].instruction for sid in path if sid >= first_id and by_id[sid].kind == "write"),
                first.instruction)
            branches.append(Branch(number=number, leaf_id=path[-1], path=path, turns=max(len(turn_steps) - 1, 0),
                                   forks_at=fork, first_action=first_action, here=head_id in path,
                                   at_leaf=head_id == path[-1]))
        return branches

    @staticmethod
    def _turn_count(path: list[int], by_id: dict[int, StepRecord]) -> int:
        return sum(1 for sid in path if by_id[sid].kind in TURN_KINDS)

    def branch(self, number: int) -> Branch:
        branches = self.branches()
        if not 1 <= number <= len(branches):
            raise RecurrentGPTError(f"There is no branch {number}; the story has branches 1 to {len(branches)}.")
        return branches[number - 1]

    def switch(self, number: int) -> Scene:
        """Go to the end of branch `number`; memory files and retrieval follow."""
        target = self.branch(number)
        if self.novel.refresh().head_step_id != target.leaf_id:
            self.novel.switch_to(target.leaf_id)
        return self.scene()

    # -- the reader ----------------------------------------------------------------

    def set_persona(self, persona: str) -> Scene:
        """Change who the story is for; every turn from now on is written for them."""
        self.store.update_story(self.story_id, persona=persona.strip())
        self.novel.refresh()
        return self.scene()

    # -- export ----------------------------------------------------------------------

    def playthrough_markdown(self, branch: int | None = None) -> str:
        """The path taken, as Markdown: each turn's action and scene, and the
        choices at the end. `branch`: a whole branch instead of the path to
        where the reader is now."""
        if branch is None:
            end = self.novel.refresh().head_step_id
        else:
            end = self.branch(branch).leaf_id
        turns = self.turns(end)
        last = self.store.step(end)
        lines = [f"# {last.title.strip()}", ""]
        label = f"branch {branch}" if branch is not None else "the path taken"
        lines += [f"*A playthrough: {label}, {len(turns) - 1} turn(s).*", ""]
        for turn in turns:
            lines += [f"## Turn {turn.number}", ""]
            if turn.number:
                lines += [_quote(f"**You:** {turn.action.strip()}"), ""]
            lines += [turn.scene.strip(), ""]
        if last.plans:
            lines += ["## What you could do next", ""]
            lines += [f"{i}. {plan.strip()}" for i, plan in enumerate(last.plans, start=1)]
            lines.append("")
        return "\n".join(lines)


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.splitlines())
