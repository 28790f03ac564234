"""What every backend (hosted API, local RWKV-7, ...) offers the step engine."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass
class Reply:
    """One finished model answer."""

    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    extra: dict = field(default_factory=dict)


TextCallback = Callable[[str], None]


class Backend(ABC):
    """A language model that answers chat messages in labelled sections.

    `labels` are the section labels the caller expects, in order (for example
    ``("Paragraph", "Memory", "Plan 1", "Plan 2", "Plan 3")``). A hosted model
    finds them in the prompt; a local backend may write each label itself and
    let the model fill the section, so its reply always parses.

    `on_text` receives text chunks as they stream (the concatenation equals
    `Reply.text`). `cancel`, when set, stops generation and raises
    `recurrentgpt.errors.Cancelled`.
    """

    name: str = "backend"

    @abstractmethod
    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        labels: Sequence[str] = (),
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Reply: ...

    def describe(self) -> str:
        """A short human name for logs and the step record (never a secret)."""
        return self.name


# Sent through `on_text` when a backend retries after part of a reply had
# already streamed: the listener should forget what it received so far.
RESTART = "\x00restart"
