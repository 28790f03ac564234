"""The fake OpenAI server, proven with the real openai SDK and langchain-openai over real sockets."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.openai_server import FakeOpenAIServer, Fault

MESSAGES = [
    {"role": "system", "content": "You write novels."},
    {"role": "user", "content": "Write the next paragraph please"},
]
LONG = "The lighthouse keeper counted the waves until the fog swallowed the last of them."


@pytest.fixture
def server():
    with FakeOpenAIServer(lambda req: LONG, chunk_size=10) as srv:
        yield srv


def make_client(srv: FakeOpenAIServer, **kwargs) -> OpenAI:
    kwargs.setdefault("timeout", 5.0)
    return OpenAI(base_url=srv.base_url, api_key="test", max_retries=0, **kwargs)


# ---------------------------------------------------------------- happy paths
def test_non_streaming_round_trip_usage_and_recording(server):
    client = make_client(server)
    completion = client.chat.completions.create(model="gpt-test", messages=MESSAGES, temperature=0.3)

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-test"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == LONG
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == len("You write novels.".split()) + len(MESSAGES[1]["content"].split())
    assert completion.usage.completion_tokens == len(LONG.split())
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens

    assert len(server.requests) == 1
    req = server.requests[0]
    assert req.messages == MESSAGES
    assert req.stream is False
    assert req.model == "gpt-test"
    assert req.path == "/v1/chat/completions"
    assert req.body["temperature"] == 0.3
    assert req.headers["Authorization"] == "Bearer test"  # case-insensitive look-up
    assert req.headers["authorization"] == "Bearer test"
    assert req.prompt == "You write novels.\nWrite the next paragraph please"
    assert server.last_prompt() == req.prompt


def test_streaming_round_trip_chunks_and_usage(server):
    client = make_client(server)
    stream = client.chat.completions.create(
        model="gpt-test", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content for c in content_chunks) == LONG
    assert all(len(c.choices[0].delta.content) <= 10 for c in content_chunks)
    assert len(content_chunks) == -(-len(LONG) // 10)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == len(LONG.split())

    req = server.requests[-1]
    assert req.stream is True
    assert req.include_usage is True
    assert req.messages == MESSAGES


def test_streaming_without_usage_and_empty_default_content():
    with FakeOpenAIServer() as srv:  # default responder: empty content
        client = make_client(srv)
        chunks = list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
        assert all(c.usage is None for c in chunks)
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == ""
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == ""


def test_models_endpoint(server):
    models = make_client(server).models.list()
    assert [m.id for m in models.data] == [server.model]


def test_enqueue_is_fifo_before_responder(server):
    client = make_client(server)
    server.enqueue("first", "second")
    server.enqueue(Fault(content="third, through a fault"))
    answers = [client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content for _ in range(4)]
    assert answers == ["first", "second", "third, through a fault", LONG]
    assert server.pending() == 0
    assert len(server.requests) == 4


def test_responder_sees_the_request():
    with FakeOpenAIServer(lambda req: f"echo:{req.messages[-1]['content']}:{req.stream}") as srv:
        client = make_client(srv)
        msg = [{"role": "user", "content": "ping"}]
        assert client.chat.completions.create(model="m", messages=msg).choices[0].message.content == "echo:ping:False"
        text = "".join(
            c.choices[0].delta.content or "" for c in client.chat.completions.create(model="m", messages=msg, stream=True)
        )
        assert text == "echo:ping:True"


def test_langchain_chat_openai_invoke_and_stream(server):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="gpt-test", base_url=server.base_url, api_key="test", max_retries=0, timeout=5,
                     stream_usage=True)
    result = llm.invoke("Tell me a story")
    assert result.content == LONG
    assert result.usage_metadata["output_tokens"] == len(LONG.split())

    pieces = list(llm.stream("Tell me another"))
    assert "".join(p.content for p in pieces) == LONG
    total = pieces[0]
    for p in pieces[1:]:
        total = total + p
    assert total.usage_metadata["output_tokens"] == len(LONG.split())
    assert server.requests[-1].stream is True
    assert server.last_prompt() == "Tell me another"


def test_wait_for_requests_across_threads(server):
    client = make_client(server)
    threads = [
        threading.Thread(target=client.chat.completions.create, kwargs={"model": "m", "messages": MESSAGES})
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    server.wait_for_requests(5, timeout=5)
    for t in threads:
        t.join()
    assert len(server.requests) == 5
    with pytest.raises(TimeoutError):
        server.wait_for_requests(6, timeout=0.1)


def test_latency_between_chunks():
    with FakeOpenAIServer(lambda r: "abcdefgh", chunk_size=2, latency=0.05) as srv:
        stream = make_client(srv).chat.completions.create(model="m", messages=MESSAGES, stream=True)
        start = time.monotonic()
        text = "".join(c.choices[0].delta.content or "" for c in stream)
        assert text == "abcdefgh"
        assert time.monotonic() - start >= 0.2  # 4 content + 1 finish chunks, 4 gaps


# ---------------------------------------------------------------- faults
def test_500_status_is_visible_and_recorded_first(server):
    client = make_client(server)
    server.enqueue(Fault(status=500))
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.status_code == 500
    assert len(server.requests) == 1  # recorded before the fault
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == LONG


def test_429_with_retry_after(server):
    client = make_client(server)
    server.enqueue(Fault(status=429, headers={"Retry-After": "1"}))
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.body["code"] == "rate_limit_exceeded"


def test_503_on_a_streaming_request(server):
    server.enqueue(Fault(status=503))
    with pytest.raises(openai.APIStatusError) as info:
        make_client(server).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert info.value.status_code == 503


def test_sdk_retries_on_429_honour_retry_after(server):
    client = OpenAI(base_url=server.base_url, api_key="test", max_retries=2, timeout=5)
    server.enqueue(
        Fault(status=429, headers={"retry-after-ms": "20"}), Fault(status=503, headers={"retry-after-ms": "20"}), "finally"
    )
    start = time.monotonic()
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "finally"
    assert len(server.requests) == 3
    assert time.monotonic() - start < 1.0  # the SDK waited the 20 ms the server asked for, not its backoff


def test_invalid_json_body_raises(server):
    server.enqueue(Fault(body=b'{"id": "chatcmpl-x", "choices": [ not json'))
    with pytest.raises((ValueError, openai.APIError)):
        make_client(server).chat.completions.create(model="m", messages=MESSAGES)
    assert len(server.requests) == 1


def test_cut_stream_raises_during_iteration(server):
    server.enqueue(Fault(cut_after_chunks=2))
    stream = make_client(server).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    received = []
    with pytest.raises((httpx.HTTPError, openai.APIError)):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert "".join(received) == LONG[:20]  # two chunks of 10 got through before the cut


def test_cut_non_streaming_body_raises(server):
    server.enqueue(Fault(cut_after_chunks=0))
    with pytest.raises((httpx.HTTPError, openai.APIError)):
        make_client(server).chat.completions.create(model="m", messages=MESSAGES)


def test_stall_longer_than_client_timeout_raises_timeout(server):
    server.enqueue(Fault(stall=5))
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        make_client(server, timeout=0.3).chat.completions.create(model="m", messages=MESSAGES)
    assert time.monotonic() - start < 3


def test_stall_mid_stream_times_out_the_read(server):
    server.enqueue(Fault(stall=5, stall_after_chunks=1))
    stream = make_client(server, timeout=0.3).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    received = []
    with pytest.raises((httpx.TimeoutException, openai.APITimeoutError)):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert received == [LONG[:10]]


def test_short_stall_lets_the_answer_through(server):
    server.enqueue(Fault(stall=0.2, content="late but fine"))
    start = time.monotonic()
    reply = make_client(server).chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices[0].message.content == "late but fine"
    assert time.monotonic() - start >= 0.2


def test_reset_raises_connection_error(server):
    server.enqueue(Fault(reset=True))
    with pytest.raises(openai.APIConnectionError) as info:
        make_client(server).chat.completions.create(model="m", messages=MESSAGES)
    assert not isinstance(info.value, openai.APITimeoutError)
    assert len(server.requests) == 1
    # The server keeps serving afterwards.
    assert make_client(server).chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == LONG


def test_stop_is_quick_even_with_stalled_handlers():
    srv = FakeOpenAIServer().start()
    srv.enqueue(Fault(stall=30), Fault(stall=30, stall_after_chunks=0))
    client = make_client(srv, timeout=10)
    errors = []

    def call(stream):
        try:
            result = client.chat.completions.create(model="m", messages=MESSAGES, stream=stream)
            if stream:
                list(result)
        except Exception as exc:  # noqa: BLE001 - any failure is expected here
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(False,)), threading.Thread(target=call, args=(True,))]
    for t in threads:
        t.start()
    srv.wait_for_requests(2, timeout=5)
    time.sleep(0.1)
    start = time.monotonic()
    srv.stop()
    assert time.monotonic() - start < 1.5
    for t in threads:
        t.join(timeout=5)
        assert not t.is_alive()
    assert len(errors) == 2
    srv.stop()  # idempotent


def test_plain_http_and_bad_request(server):
    with urllib.request.urlopen(server.url + "/v1/models", timeout=5) as resp:
        assert json.loads(resp.read())["object"] == "list"
    req = urllib.request.Request(server.base_url + "/chat/completions", data=b"not json", method="POST",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 400
    assert server.requests == []
