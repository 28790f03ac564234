"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

Standard library only. Tests point the real ``openai`` client (or langchain-openai's
``ChatOpenAI``) at :attr:`FakeOpenAIServer.base_url` and get genuine sockets, genuine
HTTP/1.1, genuine server-sent events -- plus fault injection for the reliability paths::

    with FakeOpenAIServer(lambda req: "hello") as server:
        client = OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        server.enqueue(Fault(status=429, headers={"Retry-After": "1"}), "second answer")
        ...

Replies are taken from the FIFO queue filled by :meth:`FakeOpenAIServer.enqueue` first;
when it is empty the ``responder`` is asked. Either may produce a ``str`` (the assistant
content) or a :class:`Fault`.

Endpoints
---------
* ``POST /v1/chat/completions`` -- non-streaming ``chat.completion`` JSON, or, with
  ``"stream": true``, ``chat.completion.chunk`` SSE events of ``chunk_size`` characters
  sent with chunked transfer encoding, the final chunk with ``finish_reason``, a usage
  chunk when ``stream_options.include_usage`` is set, then ``data: [DONE]``.
* ``GET /v1/models`` -- one model.

The ``/v1`` prefix is optional on the server side. Every chat request is recorded (in
:attr:`FakeOpenAIServer.requests`) before any fault is applied.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import deque
from typing import Optional

from tests.support.openai_handler import _Server
from tests.support.openai_wire import (
    DEFAULT_MODEL, Fault, RecordedRequest, Reply, Responder, _count_tokens, _default_responder,
)

__all__ = ["FakeOpenAIServer", "Fault", "RecordedRequest", "DEFAULT_MODEL"]

__all__ = ["FakeOpenAIServer", "Fault", "RecordedRequest", "DEFAULT_MODEL"]


class FakeOpenAIServer:
    """An OpenAI-compatible chat-completions server on 127.0.0.1, in a daemon thread."""

    def __init__(self, responder: Optional[Responder] = None, *, chunk_size: int = 12, latency: float = 0.0,
                 model: str = DEFAULT_MODEL):
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.responder: Responder = responder or _default_responder
        self.chunk_size = chunk_size
        self.latency = latency
        self.model = model
        self.requests: list[RecordedRequest] = []
        self._queue: deque = deque()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._connections: set = set()
        self._httpd: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self.base_url = ""
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeOpenAIServer":
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server(self)
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-openai-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes stalled handlers and latency sleeps
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:  # unblock keep-alive handlers waiting on the next request
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server root without ``/v1``."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ scripting
    def enqueue(self, *replies: Reply) -> None:
        """Queue replies answered first, in order, before the responder is consulted."""
        for reply in replies:
            if not isinstance(reply, (str, Fault)):
                raise TypeError(f"reply must be str or Fault, not {type(reply).__name__}")
        with self._lock:
            self._queue.extend(replies)

    def pending(self) -> int:
        """How many enqueued replies are still unused."""
        with self._lock:
            return len(self._queue)

    def last_prompt(self) -> str:
        with self._lock:
            if not self.requests:
                raise AssertionError("the fake OpenAI server has received no chat request")
            return self.requests[-1].prompt

    def wait_for_requests(self, n: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {n} chat requests, got {len(self.requests)} within {timeout}s")
                self._cond.wait(remaining)

    # ------------------------------------------------------------------ internals
    def _track(self, conn) -> None:
        with self._lock:
            self._connections.add(conn)

    def _untrack(self, conn) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        reply = self.responder(request)
        if not isinstance(reply, (str, Fault)):
            reply = "" if reply is None else str(reply)
        return reply

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _usage(self, request: RecordedRequest, content: str) -> dict:
        prompt_tokens = _count_tokens(request.prompt)
        completion_tokens = _count_tokens(content)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def _completion(self, request: RecordedRequest, content: str) -> dict:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model or self.model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": self._usage(request, content),
        }

    def _stream_events(self, request: RecordedRequest, content: str) -> list:
        ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        model = request.model or self.model
        include_usage = request.include_usage

        def chunk(delta: dict, finish_reason=None, choices=True) -> dict:
            event = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
                if choices
                else [],
            }
            if include_usage:
                event["usage"] = None
            return event

        pieces = [content[i : i + self.chunk_size] for i in range(0, len(content), self.chunk_size)] or [""]
        events = [chunk({"role": "assistant", "content": pieces[0]})]
        events.extend(chunk({"content": piece}) for piece in pieces[1:])
        events.append(chunk({}, finish_reason="stop"))
        if include_usage:
            final = chunk({}, choices=False)
            final["usage"] = self._usage(request, content)
            events.append(final)
        return events
