"""Shared fixtures: a fresh data home per test, a loopback OpenAI-compatible
server, the embedder loaded once per session, and the CLI in-process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_report_header(config) -> str:
    """Say which database the storage ran on: SQLite by default, PostgreSQL in CI's second run."""
    return _database_line()


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(_database_line())  # also under -q, which hides the header


def _database_line() -> str:
    url = os.environ.get("RECURRENTGPT_TEST_DATABASE_URL")
    if not url:
        return "database: SQLite (a file in each test's data home)"
    from sqlalchemy.engine import make_url

    shown = make_url(url).render_as_string(hide_password=True)
    return f"database: PostgreSQL at {shown} (a fresh database per test)"


@pytest.fixture(scope="session")
def embedder():
    from memory.embedder import shared_embedder

    shared = shared_embedder()
    shared.embed(["warm up"])
    return shared


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("RECURRENTGPT_HOME", str(home))
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "RECURRENTGPT_MODEL", "RECURRENTGPT_BACKEND",
                "RECURRENTGPT_DATABASE_URL", "RECURRENTGPT_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    # The story bible's extra proposal call stays off unless a test turns it on,
    # so request counts and queued replies elsewhere are not disturbed.
    monkeypatch.setenv("RECURRENTGPT_BIBLE_SUGGEST", "off")
    if os.environ.get("RECURRENTGPT_TEST_DATABASE_URL"):
        monkeypatch.setenv("RECURRENTGPT_DATABASE_URL", _fresh_database(os.environ["RECURRENTGPT_TEST_DATABASE_URL"]))
    return home


def _fresh_database(url: str) -> str:
    """An empty database on the test server (PostgreSQL runs in CI too)."""
    import uuid

    from sqlalchemy import create_engine, text

    name = "rgpt_" + uuid.uuid4().hex[:12]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def server(home, monkeypatch):
    """A loopback OpenAI-compatible server answering like a novelist; the
    environment points the app at it."""
    from tests.support.novelist import novelist
    from tests.support.openai_server import FakeOpenAIServer

    with FakeOpenAIServer(novelist) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-key-0123456789")
        monkeypatch.setenv("RECURRENTGPT_MODEL", "fake-gpt")
        monkeypatch.setenv("RECURRENTGPT_TIMEOUT", "10")
        yield fake


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    @property
    def last_line(self) -> str:
        return self.out.strip().splitlines()[-1]


@pytest.fixture
def cli(capsys, embedder):
    """Run the real command line in this process (sharing the loaded embedder)."""
    from app.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit:
            code = exit.code
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def story(cli, server) -> str:
    """A new story, started through the CLI; its id."""
    result = cli("new", "--premise", "A lighthouse keeper finds a door in the sea", "--genre", "fantasy")
    assert result.code == 0, result.err
    return result.last_line
