"""Asking the model for labelled sections, with bounded repair requests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from recurrentgpt.backends.base import Backend, ChatMessage, TextCallback
from recurrentgpt.errors import MalformedReply
from recurrentgpt.parsing import Sections, parse_sections
from recurrentgpt.prompts import repair_message


@dataclass
class Answer:
    """A reply whose required sections are all present."""

    sections: Sections
    raw: str  # every attempt, in order, separated by a marker line
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    attempts: int = 1
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


ATTEMPT_SEPARATOR = "\n\n----- repair request -----\n\n"


def ask(
    backend: Backend,
    messages: list[ChatMessage],
    required: tuple[str, ...],
    *,
    lang: str,
    repairs: int,
    on_text: TextCallback | None = None,
    cancel: threading.Event | None = None,
    validate: Callable[[Sections], list[str]] | None = None,
) -> Answer:
    """Send `messages`; while sections are missing (or `validate` names
    problems), ask again up to `repairs` times. Sections found in earlier
    attempts are kept, later ones override."""
    started = time.monotonic()
    conversation = list(messages)
    found: dict[str, str] = {}
    raws: list[str] = []
    prompt_tokens = completion_tokens = 0
    model = ""
    for attempt in range(repairs + 1):
        reply = backend.generate(conversation, labels=required, on_text=on_text, cancel=cancel)
        raws.append(reply.text)
        model = reply.model
        prompt_tokens += reply.prompt_tokens or 0
        completion_tokens += reply.completion_tokens or 0
        found.update({k: v for k, v in parse_sections(reply.text).found.items() if v.strip()})
        sections = Sections(found)
        missing = sections.missing(required) + (validate(sections) if validate else [])
        if not missing:
            return Answer(sections, ATTEMPT_SEPARATOR.join(raws), model, prompt_tokens or None,
                          completion_tokens or None, attempt + 1, time.monotonic() - started)
        conversation += [ChatMessage("assistant", reply.text), repair_message(lang, missing, required)]
    raise MalformedReply(
        f"The model's reply still lacked {', '.join(missing)} after {repairs} repair request(s); nothing was saved. "
        "Try again, or use a stronger model (RECURRENTGPT_MODEL)."
    )
