"""The local backend: an RWKV-7 model on this machine (no API, no key).

Messages become RWKV's chat format; the state after each message is cached by
token prefix, so the fixed parts of the RecurrentGPT prompt are computed once.
For a labelled reply the engine writes each label itself and lets the model
fill the section, so the reply always parses.

torch is imported only when a backend is built, never when this module loads.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from recurrentgpt.backends import register
from recurrentgpt.backends.base import Backend, ChatMessage, Reply, TextCallback
from recurrentgpt.errors import BackendUnavailable, Cancelled, ModelError
from recurrentgpt.settings import Settings

if TYPE_CHECKING:
    from local_model.engine import Engine

ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant"}
# Each labelled section ends at the end of its line, or at its own token cap: a
# small or random model may never write a newline, and a section must not run
# on for the whole budget. The paragraph's cap is the backend's max_tokens.
SECTION_CAPS = {"Title": 16, "Outline": 200, "Memory": 160, "Plan 1": 48, "Plan 2": 48, "Plan 3": 48,
                "Choice": 8, "Revised plan": 48}
OTHER_SECTION_CAP = 64
# The paragraph's cap when the user chose no max_tokens (Settings' default is
# sized for a whole hosted reply; a local step is paid token by token).
LOCAL_MAX_TOKENS = 300
SAMPLING = dict(top_p=0.7, presence_penalty=0.3, frequency_penalty=0.3, penalty_decay=0.996)


def chat_turns(messages: Sequence[ChatMessage]) -> list[str]:
    """RWKV chat format, one string per turn, ending with the open "Assistant:" turn.

    A blank line ends a turn for RWKV chat models, so blank lines inside a
    message are folded into single newlines.
    """
    turns = []
    for message in messages:
        text = re.sub(r"\n\s*\n", "\n", message.content.replace("\r\n", "\n")).strip()
        turns.append(f"{ROLE_NAMES[message.role]}: {text}\n\n")
    turns.append("Assistant:")
    return turns


def section_caps(labels: Sequence[str], max_tokens: int) -> list[int]:
    """Token caps, one per label: the paragraph gets `max_tokens`, every other
    section its own cap (never more than `max_tokens`)."""
    return [max_tokens if label == "Paragraph" else min(SECTION_CAPS.get(label, OTHER_SECTION_CAP), max_tokens)
            for label in labels]


def local_max_tokens(settings: Settings) -> int:
    """The paragraph's token cap: settings.max_tokens where the user set one
    (RECURRENTGPT_MAX_TOKENS, the studio), else LOCAL_MAX_TOKENS."""
    default = Settings.model_fields["max_tokens"].default
    return settings.max_tokens if settings.max_tokens != default else LOCAL_MAX_TOKENS


class LocalBackend(Backend):
    name = "local"

    def __init__(self, engine: "Engine", *, model_name: str, temperature: float = 0.8, max_tokens: int = LOCAL_MAX_TOKENS,
                 seed: int | None = None):
        self.engine = engine
        self.model_name = model_name
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed

    def describe(self) -> str:
        return f"local:{self.model_name}"

    def _options(self, **overrides):
        from local_model.sampler import SamplingOptions

        values = dict(SAMPLING, temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed)
        values.update(overrides)
        return SamplingOptions(**values)

    def _prefill(self, messages: Sequence[ChatMessage]):
        # Tokenised turn by turn: each turn boundary is a clean cache point, and
        # the same earlier turns always give the same ids.
        ids: list[int] = []
        boundaries = []
        for turn in chat_turns(messages):
            ids += self.engine.tokenizer.encode(turn)
            boundaries.append(len(ids))
        return self.engine.prefill(ids, save_at=boundaries), len(ids)

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        labels: Sequence[str] = (),
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Reply:
        from local_model.engine import GenerationCancelled, Section, write_sections

        stats = self.engine.stats
        computed_before, reused_before = stats.computed_tokens, stats.reused_tokens
        try:
            with self.engine.lock:
                cursor, prompt_tokens = self._prefill(messages)
                if labels:
                    sections = [Section(l, cap) for l, cap in zip(labels, section_caps(labels, self.max_tokens))]
                    text, completion = write_sections(self.engine, cursor, sections, self._options(), on_text=on_text, cancel=cancel)
                else:
                    parts = []
                    for piece in self.engine.stream(cursor, self._options(stop=("\n\nUser:", "\n\nSystem:")), cancel=cancel):
                        parts.append(piece)
                        if on_text:
                            on_text(piece)
                    text, completion = "".join(parts), cursor.sampled
        except GenerationCancelled:
            raise Cancelled("Stopped; nothing was saved.") from None
        except RuntimeError as error:  # out of memory and the like, from torch
            raise ModelError(f"The local model failed: {error}") from error
        # computed_tokens counts every token run through the model (prompt not
        # found in the cache, labels, generated text): the cost of this reply.
        return Reply(text, self.describe(), prompt_tokens, completion, extra={
            "computed_tokens": stats.computed_tokens - computed_before,
            "cached_prompt_tokens": stats.reused_tokens - reused_before,
        })


class RWKVChatModel(BaseChatModel):
    """The local model as a langchain-core chat model (streaming supported)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: Any  # a LocalBackend; Any keeps pydantic away from torch types

    @property
    def _llm_type(self) -> str:
        return "rwkv7-local"

    @staticmethod
    def _convert(messages: list[BaseMessage]) -> list[ChatMessage]:
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        def text(message: BaseMessage) -> str:
            if isinstance(message.content, str):
                return message.content
            return "".join(p if isinstance(p, str) else p.get("text", "") for p in message.content)

        return [ChatMessage(roles.get(m.type, "user"), text(m)) for m in messages]

    def _run(self, messages: list[BaseMessage], stop: list[str] | None) -> Iterator[str]:
        backend: LocalBackend = self.backend
        with backend.engine.lock:
            cursor, _ = backend._prefill(self._convert(messages))
            options = backend._options(stop=tuple(stop or ()) + ("\n\nUser:", "\n\nSystem:"))
            yield from backend.engine.stream(cursor, options)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text = "".join(self._run(messages, stop))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for piece in self._run(messages, stop):
            if run_manager:
                run_manager.on_llm_new_token(piece)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


@functools.lru_cache(maxsize=2)
def _load_engine(path: str, device: str | None) -> "Engine":
    from local_model.engine import Engine
    from local_model.model import RWKV7
    from local_model.tokenizer import WorldTokenizer
    from local_model.weights import pick_device_and_dtype

    target, dtype = pick_device_and_dtype(device)
    return Engine(RWKV7.from_checkpoint(path, device=target, dtype=dtype), WorldTokenizer())


def backend_from_settings(settings: Settings, *, seed: int | None = None) -> LocalBackend:
    """Build the local backend: resolve the weights (path or known name), load once per process."""
    from local_model.errors import LocalModelError
    from local_model.weights import resolve_weights

    if not settings.local_model:
        raise BackendUnavailable(
            "No local model: set RECURRENTGPT_LOCAL_MODEL to an RWKV-7 .pth file or a name such as g1-0.1b."
        )
    try:
        path = resolve_weights(settings.local_model, settings.home / "models")
        engine = _load_engine(str(path.resolve()), settings.device)
    except LocalModelError as error:
        raise BackendUnavailable(str(error)) from None
    return LocalBackend(engine, model_name=path.stem, temperature=settings.temperature,
                        max_tokens=local_max_tokens(settings), seed=seed)


@register("local")
def _create(settings: Settings) -> Backend:
    return backend_from_settings(settings)
