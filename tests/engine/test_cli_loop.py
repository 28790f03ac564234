"""The whole loop through the real command line against a loopback
OpenAI-compatible server, with the real embedder and a real SQLite file."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.openai_server import FakeOpenAIServer


def test_help_is_instant_and_usage_errors_exit_2():
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "app.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "write" in result.stdout
    assert time.monotonic() - started < 3
    bad = subprocess.run([sys.executable, "-m", "app.cli", "write"], capture_output=True, text=True)
    assert bad.returncode == 2


def test_new_write_show_export(cli, story, server, home, tmp_path):
    assert story == "the-door-in-the-sea"
    folder = home / "stories" / story
    assert (folder / "memory" / "outline.md").read_text().startswith("# The Door in the Sea")
    assert (folder / "memory" / "long_term" / "00001.md").exists()

    result = cli("write", story, "--steps", "3", "--plan", "2")
    assert result.code == 0, result.err
    assert sorted(p.name for p in (folder / "memory" / "long_term").iterdir()) == [
        "00001.md", "00002.md", "00003.md", "00004.md"]
    # Plan 2 of the previous step is the instruction the server received.
    assert "plan two" in server.requests[-1].prompt.split("The plan for the next paragraph:")[1]
    assert all(r.stream for r in server.requests)

    shown = cli("show", story)
    assert shown.code == 0 and shown.out.count("Paragraph number") == 3
    memory = cli("show", story, "--memory")
    assert "## Plan 3" in memory.out

    out = tmp_path / "novel.md"
    assert cli("export", story, "--format", "md", "-o", out).code == 0
    text = out.read_text()
    assert text.startswith("# The Door in the Sea") and text.count("Paragraph number") == 3
    assert cli("memory", story, "--path").out.strip() == str(folder)
    assert cli("memory", story, "--check").code == 0
    assert story in cli("list").out


def test_auto_plan_asks_the_ai_user_and_follows_its_choice(cli, story, server):
    result = cli("write", story, "--plan", "auto")
    assert result.code == 0, result.err
    choose, step = server.requests[-2], server.requests[-1]
    assert "Choice:" in choose.prompt
    # The novelist responder picks plan 2.
    assert "Plan 2: A stranger knocks" in choose.prompt
    assert "A stranger knocks at the lighthouse." in step.prompt.split("The plan for the next paragraph:")[1]


def test_custom_instruction_and_non_streaming_server(cli, home, monkeypatch, embedder):
    from tests.support.novelist import novelist

    with FakeOpenAIServer(novelist) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        from recurrentgpt.backends import hosted

        monkeypatch.setattr(hosted.HostedBackend, "__init__",
                            _non_streaming(hosted.HostedBackend.__init__))
        story = cli("new", "--premise", "A door in the sea").last_line
        result = cli("write", story, "--plan", "Mara finds a green bottle")
        assert result.code == 0, result.err
        assert not fake.requests[-1].stream
        assert "Mara finds a green bottle" in fake.requests[-1].prompt


def _non_streaming(init):
    def wrapped(self, settings, *, stream=True):
        init(self, settings, stream=False)
    return wrapped


def test_unknown_story_and_bad_id_exit_1(cli, home):
    result = cli("show", "no-such-story")
    assert result.code == 1 and "recurrentgpt list" in result.err
    result = cli("show", "../etc")
    assert result.code == 1 and "not a story id" in result.err


def test_the_console_script_runs_a_step_end_to_end(server, home, story):
    env = {**os.environ}
    exe = Path(sys.executable).parent / "recurrentgpt"
    result = subprocess.run([str(exe), "write", story, "--steps", "2", "--plan", "1"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Paragraph number") == 2
