"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp's server,
Ollama, ...) through the official openai client.

Streaming by default. One request is bounded by `timeout` seconds of
silence; 429, 5xx and connection failures are retried with exponential
backoff that honours `Retry-After`, at most `retries` times. The API key is
held as a secret and never written anywhere.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Sequence

from recurrentgpt.backends import register
from recurrentgpt.backends.base import RESTART, Backend, ChatMessage, Reply, TextCallback
from recurrentgpt.errors import Cancelled, ModelError, ModelTimeout
from recurrentgpt.settings import Settings

MAX_RETRY_AFTER = 60.0
MAX_REPLY_CHARS = 200_000  # a runaway reply is cut here, never stored whole


class HostedBackend(Backend):
    name = "openai"

    def __init__(self, settings: Settings, *, stream: bool = True):
        import openai

        self._openai = openai
        self.model = settings.model
        self.base_url = settings.base_url or "https://api.openai.com/v1"
        self.timeout = settings.timeout
        self.retries = settings.retries
        self.temperature = settings.temperature
        self.max_tokens = settings.max_tokens
        self.stream = stream
        key = settings.api_key.get_secret_value() if settings.api_key else None
        if not key and settings.base_url is None:
            raise ModelError("No API key: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server.")
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=key or "not-needed", timeout=self.timeout, max_retries=0
        )

    def describe(self) -> str:
        return f"openai:{self.model}"

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        labels: Sequence[str] = (),
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Reply:
        payload = [{"role": m.role, "content": m.content} for m in messages]
        attempt = 0
        while True:
            streamed = False

            def forward(chunk: str) -> None:
                nonlocal streamed
                streamed = True
                if on_text:
                    on_text(chunk)

            try:
                return self._request(payload, forward, cancel)
            except Cancelled:
                raise
            except self._openai.APITimeoutError:
                raise ModelTimeout(
                    f"The model at {self.base_url} did not answer within {self.timeout:g} s. Check that the server is "
                    "up, or allow more time with RECURRENTGPT_TIMEOUT."
                ) from None
            except Exception as error:
                wait = self._retry_wait(error, attempt)
                # A stream that already showed text is retried too: the caller
                # discards partial text when it sees a new attempt start.
                if wait is None or attempt >= self.retries:
                    raise ModelError(self._explain(error, streamed)) from None
                if streamed and on_text:
                    on_text(RESTART)
                attempt += 1
                if cancel is not None and cancel.wait(wait):
                    raise Cancelled("Stopped; nothing was saved.")
                if cancel is None:
                    time.sleep(wait)

    def _request(self, payload, forward, cancel) -> Reply:
        common = dict(model=self.model, messages=payload, temperature=self.temperature, max_tokens=self.max_tokens)
        if not self.stream:
            completion = self._client.chat.completions.create(**common)
            text = (completion.choices[0].message.content or "") if completion.choices else ""
            if not completion.choices:
                raise ModelError(f"The model at {self.base_url} sent a reply without choices.")
            forward(text)
            usage = completion.usage
            return Reply(text[:MAX_REPLY_CHARS], completion.model or self.model,
                         usage.prompt_tokens if usage else None, usage.completion_tokens if usage else None)
        stream = self._client.chat.completions.create(**common, stream=True, stream_options={"include_usage": True})
        parts: list[str] = []
        size = 0
        usage = None
        model = self.model
        events = 0
        with stream:
            for chunk in stream:
                events += 1
                if cancel is not None and cancel.is_set():
                    raise Cancelled("Stopped; nothing was saved.")
                if chunk.usage is not None:
                    usage = chunk.usage
                model = chunk.model or model
                if not chunk.choices:
                    continue
                piece = chunk.choices[0].delta.content or ""
                if piece and size < MAX_REPLY_CHARS:
                    piece = piece[: MAX_REPLY_CHARS - size]
                    parts.append(piece)
                    size += len(piece)
                    forward(piece)
        if not events:  # not a single server-sent event: the body was something else (HTML, bad JSON)
            raise _UnreadableStream("no chat.completion.chunk events in the response body")
        return Reply("".join(parts), model, usage.prompt_tokens if usage else None,
                     usage.completion_tokens if usage else None)

    def _retry_wait(self, error: Exception, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when retrying cannot help."""
        openai = self._openai
        backoff = min(0.5 * 2**attempt, 8.0) * (0.5 + random.random() / 2)
        if isinstance(error, openai.APIStatusError):
            if error.status_code == 429 or error.status_code >= 500:
                header = error.response.headers.get("retry-after") if error.response is not None else None
                try:
                    return min(float(header), MAX_RETRY_AFTER) if header else backoff
                except ValueError:
                    return backoff
            return None
        if isinstance(error, (openai.APIConnectionError, openai.APIResponseValidationError)):
            return backoff
        # A stream cut mid-way or a body that is not JSON surfaces as a
        # decoding or protocol error from the client.
        import json

        import httpx

        if isinstance(error, (httpx.HTTPError, json.JSONDecodeError, ValueError)):
            return backoff
        return None

    def _explain(self, error: Exception, streamed: bool = False) -> str:
        openai = self._openai
        if isinstance(error, openai.AuthenticationError):
            return f"The model at {self.base_url} refused the API key (401). Check OPENAI_API_KEY."
        if isinstance(error, openai.NotFoundError):
            return f"The model {self.model!r} was not found at {self.base_url} (404). Check RECURRENTGPT_MODEL and OPENAI_BASE_URL."
        if isinstance(error, openai.APIStatusError):
            return (f"The model at {self.base_url} answered HTTP {error.status_code} after {self.retries} retries. "
                    "Try again later or check the server.")
        if isinstance(error, openai.APIConnectionError) and streamed:
            return (f"The connection to the model at {self.base_url} broke off in the middle of a reply, "
                    f"also after {self.retries} retries; nothing was saved. Try again, or check the server.")
        if isinstance(error, openai.APIConnectionError):
            return f"Could not reach the model at {self.base_url}. Check OPENAI_BASE_URL and that the server is running."
        return f"The model at {self.base_url} sent a reply that could not be read ({type(error).__name__}). Try again."


class _UnreadableStream(ValueError):
    """The server answered a streaming request with something that is not a stream."""


@register("openai")
def _create(settings: Settings) -> Backend:
    return HostedBackend(settings)
