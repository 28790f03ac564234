"""Fixtures for interactive fiction: a storyteller on the loopback server
that writes each scene out of the reader's action, so a test can tell which
branch every paragraph (and every retrieved passage) came from."""

from __future__ import annotations

import itertools
import re

import pytest

from tests.support.openai_server import RecordedRequest

PERSONA = "Call me Wren. I love quiet coastal mysteries, told gently. Keep out: spiders and gore."

_PLAN = re.compile(r"The plan for the next paragraph:\s*\n(.*?)\n\s*\nWrite the next paragraph", re.S)


def plan_of(prompt: str) -> str:
    """The plan (the reader's action) in a step prompt."""
    match = _PLAN.search(prompt)
    assert match, "not a step prompt"
    return match.group(1).strip()


def retrieved_passages(prompt: str) -> list[str]:
    """The long-term passages a step prompt carried."""
    section = prompt.split("(from the long-term memory):", 1)[1].split("The previous paragraph:", 1)[0]
    return [m.group(1).strip() for m in re.finditer(r"^\[\d+\] (.+)$", section, re.M)]


class Storyteller:
    """Answers a start with an opening scene and a step with a scene that
    retells the reader's action, numbered, plus three choices."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)

    def __call__(self, request: RecordedRequest) -> str:
        last = request.messages[-1]["content"] if request.messages else ""
        if "Title:" in last and "Outline:" in last:
            return (
                "Title: The Salt Door\n"
                "Outline: 1. You arrive at the harbour.\n2. A door stands in the sea.\n3. You learn who built it.\n"
                "Paragraph: You step off the ferry onto the wet quay of Saltmere as the light goes amber. "
                "Gulls wheel over a door that stands upright in the shallows, painted blue, going nowhere.\n"
                "Memory: You have just arrived at Saltmere; a blue door stands in the sea.\n"
                "Plan 1: Wade out to the blue door.\n"
                "Plan 2: Ask the ferryman about the door.\n"
                "Plan 3: Find a room at the harbour inn."
            )
        n = next(self.counter)
        action = plan_of(last).rstrip(".")
        return (
            f"Paragraph: Scene {n}. You decide: {action}. The tide murmurs as you do it, and the harbour "
            f"remembers: {action.lower()}.\n\n"
            f"Memory: Scene {n}: you chose to {action.lower()}.\n"
            f"Plan 1: Follow the gulls along the seawall ({n}).\n"
            f"Plan 2: Knock on the blue door ({n}).\n"
            f"Plan 3: Write down what you saw in your notebook ({n})."
        )


@pytest.fixture
def fiction_story(cli, server) -> str:
    """A fiction-mode story for the reader PERSONA, started through the CLI; its id."""
    server.responder = Storyteller()
    result = cli("new", "--mode", "fiction", "--persona", PERSONA, "--premise",
                 "A reader arrives at a harbour town where a door stands in the sea")
    assert result.code == 0, result.err
    return result.last_line


# The studio fixtures (a Studio over this test's home; one studio served on
# loopback per module; headless Chromium) come from the studio's tests.
from tests.app.conftest import browser, served, studio  # noqa: E402,F401
