"""`recurrentgpt play` driven by piped input through the real command line,
against the loopback OpenAI-compatible server."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from tests.fiction.conftest import PERSONA, plan_of


def _play(cli, monkeypatch, story: str, lines: str):
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    return cli("play", story)


def test_choices_and_free_actions_reach_the_model_with_the_persona(cli, server, fiction_story, monkeypatch):
    start = server.requests[-1]
    assert PERSONA in start.messages[0]["content"]  # the persona shapes the opening too
    before = len(server.requests)

    result = _play(cli, monkeypatch, fiction_story, "2\nI whistle for the ferryman's dog\n")

    assert result.code == 0, result.err
    steps = server.requests[before:]
    assert len(steps) == 2
    assert plan_of(steps[0].prompt) == "Ask the ferryman about the door."
    assert plan_of(steps[1].prompt) == "I whistle for the ferryman's dog"
    for request in steps:
        system = request.messages[0]["content"]
        assert PERSONA in system and "second person" in system
        assert "imperative" in request.messages[-1]["content"]  # choices phrased as actions
    # The opening, then each scene with its numbered choices; never a question about the persona.
    out = result.out
    assert "Saltmere" in out and "(turn 0)" in out and "(turn 2)" in out
    assert "You decide: I whistle for the ferryman's dog" in out
    assert "1. Follow the gulls" in out and "3. Write down" in out
    assert "persona" not in out.lower()


def test_end_of_input_at_once_shows_the_scene_and_exits_cleanly(cli, server, fiction_story, monkeypatch):
    before = len(server.requests)
    result = _play(cli, monkeypatch, fiction_story, "")
    assert result.code == 0, result.err
    assert "You step off the ferry" in result.out and "2. Ask the ferryman about the door." in result.out
    assert len(server.requests) == before


def test_back_branches_switch_and_quit(cli, server, fiction_story, monkeypatch, tmp_path):
    export = tmp_path / "walk.md"
    script = (
        "1\n2\n"                # turns 1 and 2 on branch 1
        ":back\n"               # to turn 1
        "I sit on the seawall and wait\n"   # a new branch from turn 1
        ":branches\n"
        ":branch 1\n"
        f":export {export}\n"
        ":quit\n"
        "3\n"                   # after :quit: never read
    )
    before = len(server.requests)
    result = _play(cli, monkeypatch, fiction_story, script)
    assert result.code == 0, result.err
    assert len(server.requests) == before + 3
    out = result.out
    assert "Branches (* marks where you are):" in out
    assert "1. 2 turn(s), from the opening" in out
    assert "*  2. 2 turn(s), from turn 1: I sit on the seawall and wait" in out
    assert out.rstrip().endswith("3. Write down what you saw in your notebook (2).")  # branch 1's end
    text = export.read_text()
    assert "## Turn 2" in text and "**You:** Knock on the blue door (1)." in text
    assert "seawall and wait" not in text


def test_unknown_commands_and_failed_turns_exit_1_but_keep_playing(cli, server, fiction_story, monkeypatch):
    result = _play(cli, monkeypatch, fiction_story, ":fly\n:branch 7\n:back\n1\n")
    assert result.code == 1
    assert "Unknown command :fly" in result.err and "no branch 7" in result.err
    assert "go back at most 0" in result.err
    assert "(turn 1)" in result.out  # the line after the errors was still played


def test_changing_the_persona_reaches_the_next_turn(cli, server, fiction_story, monkeypatch):
    result = _play(cli, monkeypatch, fiction_story, ":persona Call me Captain. I like storms.\n1\n")
    assert result.code == 0, result.err
    system = server.requests[-1].messages[0]["content"]
    assert "Call me Captain. I like storms." in system and PERSONA not in system


def test_play_as_a_real_process_with_piped_input(cli, server, fiction_story, home):
    env = {**os.environ, "RECURRENTGPT_HOME": str(home)}
    before = len(server.requests)
    result = subprocess.run([sys.executable, "-m", "app.cli", "play", fiction_story],
                            input="3\nI ask the innkeeper for the oldest room\n", capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(turn 2)" in result.stdout and "oldest room" in result.stdout
    steps = server.requests[before:]
    assert [plan_of(r.prompt) for r in steps] == ["Find a room at the harbour inn.",
                                                   "I ask the innkeeper for the oldest room"]
    assert all(PERSONA in r.messages[0]["content"] for r in steps)
