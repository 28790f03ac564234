"""Fixtures for the studio: a `Studio` over the per-test home and loopback
server (handler tests), and one studio served on loopback for the whole
browser module, with its own fake model server and data home."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

API_KEY = "sk-test-secret-key-0123456789"


@pytest.fixture
def studio(server, embedder):
    from app.studio.session import Studio
    from recurrentgpt.library import Library

    return Studio(Library(embedder=embedder))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    """The studio on 127.0.0.1 against a loopback OpenAI server (module-wide:
    starting Gradio takes seconds)."""
    from pydantic import SecretStr

    from app.studio import launch
    from recurrentgpt.library import Library
    from recurrentgpt.settings import Settings
    from tests.support.novelist import novelist
    from tests.support.openai_server import FakeOpenAIServer

    fake = FakeOpenAIServer(novelist).start()
    home = tmp_path_factory.mktemp("studio-home")
    settings = Settings(home=home, base_url=fake.base_url, api_key=SecretStr(API_KEY), model="fake-gpt",
                        timeout=10, retries=0)
    library = Library(settings, embedder=embedder)
    port = free_port()
    demo = launch("127.0.0.1", port, library=library, block=False, quiet=True)
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}/", fake=fake, library=library, home=home)
    finally:
        demo.close()
        fake.stop()


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    import os

    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
