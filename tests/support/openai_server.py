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

import json
import socket
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Callable, Optional, Union

__all__ = ["FakeOpenAIServer", "Fault", "RecordedRequest", "DEFAULT_MODEL"]

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


class _CutConnection(Exception):
    """Raised inside a handler to drop the connection on purpose."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, owner: "FakeOpenAIServer"):
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self):
        # HTTPServer.server_bind calls socket.getfqdn(), which can block on DNS.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def handle_error(self, request, client_address):  # quiet on client disconnects
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, _DISCONNECT_ERRORS) or self.owner._stopping.is_set():
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    sys_version = ""

    server: _Server

    # ------------------------------------------------------------------ plumbing
    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.owner._track(self.connection)

    def finish(self):
        try:
            super().finish()
        except (ValueError, *_DISCONNECT_ERRORS):
            pass
        finally:
            self.server.owner._untrack(self.connection)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (_CutConnection, ValueError, *_DISCONNECT_ERRORS):
            # ValueError: the response files were closed by a deliberate reset.
            self.close_connection = True

    def log_message(self, format, *args):  # silence per-request logging
        pass

    @property
    def owner(self) -> "FakeOpenAIServer":
        return self.server.owner

    def _route(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.startswith("/v1/"):
            path = path[3:]
        return path

    def _send_json(self, status: int, payload: Any, extra_headers: Optional[dict] = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self._send_raw(status, data, "application/json", extra_headers)

    def _send_raw(self, status: int, data: bytes, content_type: str, extra_headers: Optional[dict] = None) -> None:
        extra = dict(extra_headers or {})
        self.send_response(status)
        if not any(k.lower() == "content-type" for k in extra):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, str(value))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # ------------------------------------------------------------------ endpoints
    def do_GET(self):
        if self._route() == "/models":
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": self.owner.model, "object": "model", "created": 0, "owned_by": "fake-openai"}],
                },
            )
        else:
            self._send_error_json(404, f"Unknown path {self.path}", "invalid_request_error")

    def do_POST(self):
        raw = self._read_body()
        if self._route() != "/chat/completions":
            self._send_error_json(404, f"Unknown path {self.path}", "invalid_request_error")
            return
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as exc:
            self._send_error_json(400, f"Invalid JSON body: {exc}", "invalid_request_error")
            return

        messages = body.get("messages")
        request = RecordedRequest(
            body=body,
            headers=_Headers(self.headers.items()),
            path=self.path,
            messages=list(messages) if isinstance(messages, list) else [],
            stream=bool(body.get("stream")),
            model=str(body.get("model") or ""),
        )
        self.owner._record(request)
        reply = self.owner._next_reply(request)
        self._answer(request, reply)

    # ------------------------------------------------------------------ answering
    def _send_error_json(self, status: int, message: str, kind: str, headers: Optional[dict] = None) -> None:
        code = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status)
        self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, headers)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST."""
        self.close_connection = True
        conn = self.connection
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        # makefile() objects hold references; close them so close() really closes the fd.
        for f in (self.rfile, self.wfile):
            try:
                f.close()
            except OSError:
                pass
        try:
            conn.close()
        except OSError:
            pass

    def _answer(self, request: RecordedRequest, reply: Reply) -> None:
        owner = self.owner
        fault = reply if isinstance(reply, Fault) else None
        if fault is None:
            content = str(reply)
        elif fault.content is not None:
            content = fault.content
        else:
            fallback = owner.responder(request)
            content = fallback if isinstance(fallback, str) else ""

        mid_stream_stall = fault is not None and fault.stall_after_chunks is not None and request.stream
        if fault is not None and fault.stall > 0 and not mid_stream_stall:
            owner._sleep(fault.stall)
            if owner._stopping.is_set():
                self._reset()
                return
        if fault is not None and fault.reset:
            self._reset()
            return

        extra_headers = dict(fault.headers) if fault is not None else {}
        status = fault.status if fault is not None else 200

        if fault is not None and fault.body is not None:
            if fault.cut_after_chunks is not None:
                self._send_cut_raw(status, fault.body, "application/json", extra_headers)
                return
            self._send_raw(status, fault.body, "application/json", extra_headers)
            return
        if status >= 400:
            kind = {
                400: "invalid_request_error",
                401: "authentication_error",
                404: "not_found_error",
                429: "rate_limit_error",
            }.get(status, "server_error")
            self._send_error_json(status, f"Injected fault: HTTP {status}", kind, extra_headers)
            return

        if request.stream:
            self._stream(request, content, status, extra_headers, fault)
        else:
            payload = owner._completion(request, content)
            if fault is not None and fault.cut_after_chunks is not None:
                self._send_cut_raw(status, json.dumps(payload).encode(), "application/json", extra_headers)
                return
            self._send_json(status, payload, extra_headers)

    def _send_cut_raw(self, status: int, data: bytes, content_type: str, extra_headers: dict) -> None:
        """Promise the whole body, send half, then close the connection."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra_headers.items():
            self.send_header(key, str(value))
        self.end_headers()
        self.wfile.write(data[: max(1, len(data) // 2)])
        self.close_connection = True
        raise _CutConnection()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _stream(self, request: RecordedRequest, content: str, status: int, extra_headers: dict, fault: Optional[Fault]) -> None:
        owner = self.owner
        self.send_response(status)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for key, value in extra_headers.items():
            self.send_header(key, str(value))
        self.end_headers()

        events = owner._stream_events(request, content)
        stall_at = fault.stall_after_chunks if fault is not None else None
        cut_at = fault.cut_after_chunks if fault is not None else None
        sent = 0
        for index, event in enumerate(events):
            if stall_at is not None and sent == stall_at and fault is not None and fault.stall > 0:
                owner._sleep(fault.stall)
            if owner._stopping.is_set():
                raise _CutConnection()
            if cut_at is not None and sent == cut_at:
                line = b"data: " + json.dumps(event).encode("utf-8")
                self._write_chunk(line[: max(7, len(line) // 2)])
                self.close_connection = True
                raise _CutConnection()
            if index > 0 and owner.latency > 0:
                owner._sleep(owner.latency)
            self._write_chunk(b"data: " + json.dumps(event).encode("utf-8") + b"\n\n")
            sent += 1
        if cut_at is not None and sent <= cut_at:
            # Asked to cut later than the stream is long: cut just before [DONE].
            self._write_chunk(b"data: [DO")
            self.close_connection = True
            raise _CutConnection()
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")


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
