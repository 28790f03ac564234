"""What the loopback OpenAI server records and how it can misbehave: requests, faults, replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

DEFAULT_MODEL = "fake-gpt"

_DISCONNECT_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, OSError)


class _Headers(dict):
    """A ``dict`` of request headers whose look-ups ignore case (keys stored lower-cased)."""

    def __init__(self, items=()):
        super().__init__()
        for key, value in items:
            self[key] = value

    def __setitem__(self, key, value):
        super().__setitem__(str(key).lower(), value)

    def __getitem__(self, key):
        return super().__getitem__(str(key).lower())

    def __contains__(self, key):
        return super().__contains__(str(key).lower())

    def get(self, key, default=None):
        return super().get(str(key).lower(), default)


def _content_text(content: Any) -> str:
    """The text of a message ``content`` (a string, or a list of content parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return str(content)


def _count_tokens(text: str) -> int:
    return len(text.split())


@dataclass
class RecordedRequest:
    """One chat-completions request as the server received it."""

    body: dict
    headers: dict
    path: str
    messages: list = field(default_factory=list)
    stream: bool = False
    model: str = ""

    @property
    def prompt(self) -> str:
        """All message contents joined with newlines."""
        return "\n".join(_content_text(m.get("content")) for m in self.messages if isinstance(m, dict))

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options") or {}
        return bool(isinstance(options, dict) and options.get("include_usage"))


@dataclass
class Fault:
    """A misbehaviour to apply to one request.

    status            HTTP status to answer with (e.g. 429, 500, 503); >= 400 sends an
                      OpenAI-style JSON error body unless ``body`` is given.
    headers           extra response headers, e.g. ``{"Retry-After": "1"}``.
    body              raw bytes to send instead of a completion (e.g. invalid JSON).
    stall             seconds to sleep before answering, or -- with ``stall_after_chunks``
                      -- after that many SSE events of a stream. Wakes early on ``stop()``.
    stall_after_chunks  see ``stall``.
    cut_after_chunks  close the connection after that many SSE events, in the middle of a
                      ``data:`` line (non-streaming: after half the JSON body).
    reset             abort the TCP connection (RST, SO_LINGER 0) without answering.
    content           assistant content when the fault lets an answer through; ``None``
                      asks the responder (or uses ``""`` if it gives a Fault).
    """

    status: int = 200
    headers: dict = field(default_factory=dict)
    body: Optional[bytes] = None
    stall: float = 0.0
    stall_after_chunks: Optional[int] = None
    cut_after_chunks: Optional[int] = None
    reset: bool = False
    content: Optional[str] = None


Reply = Union[str, Fault]
Responder = Callable[[RecordedRequest], Reply]


def _default_responder(request: RecordedRequest) -> Reply:
    return ""
