"""A responder for the loopback OpenAI server that answers like a diligent
novelist: the right labelled sections for each kind of request, with
deterministic text, so engine tests can follow a story step by step."""

from __future__ import annotations

import itertools
import re

from tests.support.openai_server import RecordedRequest

_counter = itertools.count(1)

FILLER = (
    "The wind came off the water in long grey sheets and the lamps along the quay shivered in their glass. "
    "Somewhere below, a rope knocked against a hull with the patience of a clock, and the keeper listened to it "
    "the way one listens to an old friend who has nothing new to say."
)


def start_reply(title: str = "The Door in the Sea") -> str:
    return (
        f"Title: {title}\n"
        "Outline: 1. Mara keeps the lighthouse alone.\n2. A door appears in the sea.\n3. She opens it.\n"
        f"Paragraph: Mara climbed the hundred steps of the lighthouse every evening. {FILLER}\n"
        "Memory: Mara keeps the lighthouse alone; a storm is coming.\n"
        "Plan 1: Mara sees a door floating on the waves.\n"
        "Plan 2: A stranger knocks at the lighthouse.\n"
        "Plan 3: The lamp goes out by itself."
    )


def step_reply(n: int, extra: str = "") -> str:
    return (
        f"Paragraph: Paragraph number {n}. {extra}{FILLER}\n\n"
        f"Memory: Mara keeps the lighthouse; this is step {n}.\n"
        f"Plan 1: Step {n} plan one: Mara walks to the shore.\n"
        f"Plan 2: Step {n} plan two: Mara reads the old log.\n"
        f"Plan 3: Step {n} plan three: Mara climbs to the lamp."
    )


def choice_reply(choice: int = 2, revised: str = "") -> str:
    return f"Choice: {choice}\n" + (f"Revised plan: {revised}\n" if revised else "")


def novelist(request: RecordedRequest) -> str:
    """Answer a start, step or choice request with every section present."""
    last = request.messages[-1]["content"] if request.messages else ""
    if "Choice:" in last and "Plan 1:" in last and "Paragraph:" not in last:
        return choice_reply(2)
    if "Title:" in last and "Outline:" in last:
        match = re.search(r"Title: (?!the novel)(.+)", last)
        return start_reply(match.group(1).strip() if match and "title" not in match.group(1).lower() else "The Door in the Sea")
    return step_reply(next(_counter))
