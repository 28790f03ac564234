"""The HTTP side of the loopback OpenAI server: one handler per connection, speaking JSON and SSE."""

from __future__ import annotations

import json
import socket
import struct
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any, Optional

from tests.support.openai_wire import _DISCONNECT_ERRORS, Fault, RecordedRequest, Reply, _Headers

if TYPE_CHECKING:
    from tests.support.openai_server import FakeOpenAIServer

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
