"""The local backend answers in every requested section, even with a random model."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from recurrentgpt.backends import ChatMessage, create_backend
from recurrentgpt.backends.local import LOCAL_MAX_TOKENS, local_max_tokens, section_caps
from recurrentgpt.errors import BackendUnavailable, Cancelled
from recurrentgpt.parsing import STEP, STORY_START, parse_sections
from recurrentgpt.settings import Settings

MESSAGES = [
    ChatMessage("system", "You are a novelist.\n\nWrite in English."),
    ChatMessage("user", "Continue the story of a lighthouse keeper.\n\nAnswer with the labelled sections."),
]


@pytest.fixture(scope="module")
def backend(world_checkpoint, tmp_path_factory):
    settings = Settings(backend="local", local_model=str(world_checkpoint), max_tokens=120,
                        home=tmp_path_factory.mktemp("home"))
    return create_backend(settings)


@pytest.mark.parametrize("labels", [STEP, STORY_START])
def test_reply_contains_every_label_and_streams_the_same_text(backend, labels):
    chunks: list[str] = []
    reply = backend.generate(MESSAGES, labels=labels, on_text=chunks.append)
    assert "".join(chunks) == reply.text
    sections = parse_sections(reply.text)
    assert sections.missing(labels) == []
    # Each section stops at its own cap (a random model rarely ends a line).
    assert reply.completion_tokens and reply.completion_tokens <= sum(section_caps(labels, 120)) + len(labels)
    assert reply.model.startswith("local:")


def test_second_step_reuses_the_cached_system_turn(backend):
    backend.generate(MESSAGES, labels=STEP)
    changed = [MESSAGES[0], ChatMessage("user", "Something else entirely.")]
    reply = backend.generate(changed, labels=STEP)
    assert reply.extra["cached_prompt_tokens"] >= len(backend.engine.tokenizer.encode("System: You are a novelist.\nWrite in English.\n\n"))


def test_section_caps_bound_every_section():
    assert section_caps(("Title", "Paragraph", "Memory", "Plan 1"), 300) == [16, 300, 160, 48]
    assert section_caps(("Paragraph", "Memory", "Unknown"), 100) == [100, 100, 64]


def test_paragraph_cap_is_max_tokens_when_chosen(monkeypatch, tmp_path):
    assert local_max_tokens(Settings(home=tmp_path)) == LOCAL_MAX_TOKENS
    monkeypatch.setenv("RECURRENTGPT_MAX_TOKENS", "700")
    settings = Settings.from_env(home=tmp_path)
    assert settings.max_tokens == 700 and local_max_tokens(settings) == 700


def test_free_reply_without_labels(backend):
    reply = backend.generate(MESSAGES)
    assert reply.completion_tokens > 0


def test_cancel_raises_cancelled(backend):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        backend.generate(MESSAGES, labels=STEP, cancel=cancel)


def test_langchain_chat_model_streams(backend):
    from langchain_core.messages import HumanMessage, SystemMessage

    from recurrentgpt.backends.local import RWKVChatModel

    chat = RWKVChatModel(backend=backend)
    pieces = [chunk.content for chunk in chat.stream([SystemMessage("Be brief."), HumanMessage("Hello")])]
    assert pieces and isinstance(chat.invoke([HumanMessage("Hello")]).content, str)


def test_missing_model_setting_says_what_to_set(tmp_path):
    with pytest.raises(BackendUnavailable, match="RECURRENTGPT_LOCAL_MODEL"):
        create_backend(Settings(backend="local", home=tmp_path))
    with pytest.raises(BackendUnavailable, match="no model file"):
        create_backend(Settings(backend="local", local_model=str(tmp_path / "nope.pth"), home=tmp_path))


def test_importing_the_backends_does_not_import_torch():
    code = "import sys, recurrentgpt.backends, recurrentgpt.backends.local; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
