"""What the store hands out and takes in: plain records, detached from the
database session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from memory.models import Step, Story


@dataclass(frozen=True)
class StoryInfo:
    id: str
    title: str
    premise: str
    genre: str
    lang: str
    mode: str
    persona: str
    created_at: datetime
    updated_at: datetime
    head_step_id: int | None
    files_step_id: int | None
    version: int


@dataclass
class StepRecord:
    """One step of a story's history and the story's state right after it."""

    id: int
    story_id: str
    parent_id: int | None
    kind: str
    created_at: datetime
    instruction: str = ""
    choice: str = ""
    title: str = ""
    outline: str = ""
    short_term: str = ""
    plans: list[str] = field(default_factory=list)
    paragraph_count: int = 0
    prompt: list = field(default_factory=list)
    raw_output: str = ""
    parsed: dict = field(default_factory=dict)
    retrieved: list = field(default_factory=list)
    bible: list = field(default_factory=list)  # story-bible entries used: [{name, reason, key, score, tokens}]
    backend: str = ""
    model: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    timings: dict = field(default_factory=dict)


_STEP_FIELDS = [f for f in StepRecord.__dataclass_fields__]


def _info(row: Story) -> StoryInfo:
    return StoryInfo(**{f: getattr(row, f) for f in StoryInfo.__dataclass_fields__})


def _record(row: Step) -> StepRecord:
    return StepRecord(**{f: getattr(row, f) for f in _STEP_FIELDS})


@dataclass
class StepDraft:
    """A step about to be committed: the new state and the paragraph changes."""

    kind: str
    title: str
    outline: str
    short_term: str
    plans: list[str]
    # number -> new text (None deletes the paragraph)
    paragraphs: dict[int, str | None] = field(default_factory=dict)
    extras: dict = field(default_factory=dict)  # instruction, prompt, raw_output, ...
