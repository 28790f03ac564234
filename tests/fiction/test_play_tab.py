"""The Play tab's handlers, called as plain functions against the loopback
server (the browser test drives the same handlers through the page)."""

from __future__ import annotations

import gradio as gr
import pytest

from app.studio import play
from recurrentgpt.fiction import PlaySession
from tests.fiction.conftest import PERSONA, Storyteller, plan_of


def _last(generator):
    outputs = list(generator)
    return outputs, outputs[-1]


@pytest.fixture
def story(studio, server):
    server.responder = Storyteller()
    outputs, (live, status, story) = _last(play.start_fiction(
        studio, "session-1", {}, "A reader arrives at a harbour town where a door stands in the sea", "mystery",
        PERSONA))
    assert 'data-state="ready"' in status and story["id"]
    return story


def _render(studio, story):
    novel = studio.library.open(story["id"])
    try:
        return play.render_play(novel)
    finally:
        novel.close()


def test_a_new_fiction_story_is_written_for_the_reader(studio, server, story):
    info = studio.library.store.story(story["id"])
    assert info.mode == "fiction" and info.persona == PERSONA
    assert PERSONA in server.requests[-1].messages[0]["content"]
    path, b1, b2, b3, back, branches, persona = _render(studio, story)
    assert "You step off the ferry" in path and 'data-turn="0"' in path
    assert [b["value"] for b in (b1, b2, b3)] == ["Wade out to the blue door.", "Ask the ferryman about the door.",
                                                  "Find a room at the harbour inn."]
    assert back["interactive"] is False and branches["visible"] is False and persona == PERSONA


def test_choose_streams_the_scene_and_sends_the_choice(studio, server, story):
    outputs, (live, status, story2) = _last(play.choose(studio, "session-1", story, {}, 2))
    assert any("rg-live" in live and "You decide" in live for live, _, _ in outputs[1:-1])  # streamed
    assert 'data-state="ready"' in status and story2["version"] > story["version"]
    assert plan_of(server.requests[-1].prompt) == "Ask the ferryman about the door."
    path = _render(studio, story2)[0]
    assert "Ask the ferryman about the door." in path and 'data-turn="1"' in path


def test_free_action_back_and_switch_branch(studio, server, story):
    *_, (_, _, story) = play.free_action(studio, "s", story, {}, "I wave at the <b>gulls</b> <script>x()</script>")
    assert plan_of(server.requests[-1].prompt) == "I wave at the <b>gulls</b> <script>x()</script>"
    path = _render(studio, story)[0]
    assert "&lt;script&gt;x()&lt;/script&gt;" in path and "<script>" not in path
    with pytest.raises(gr.Error):
        list(play.free_action(studio, "s", story, {}, "   "))

    story, status = play.back(studio, story)
    assert "Back at turn 0" in status
    *_, (_, _, story) = play.choose(studio, "s", story, {}, 3)
    path, *_, back, branches, _ = _render(studio, story)
    assert back["interactive"] is True and branches["visible"] is True and branches["value"] == 2
    assert [label for label, _ in branches["choices"]][1].startswith("Branch 2 · 1 turn(s) · from turn 0: Find a room")
    story, status = play.switch_branch(studio, story, 1)
    assert "On branch 1, turn 1" in status
    assert "gulls" in _render(studio, story)[0]


def test_persona_and_export(studio, server, story, tmp_path):
    story, status = play.save_persona(studio, story, "Call me Ash. Storms welcome.")
    *_, (_, _, story) = play.choose(studio, "s", story, {}, 1)
    assert "Call me Ash. Storms welcome." in server.requests[-1].messages[0]["content"]
    exported = play.export_playthrough(studio, story)
    text = open(exported, encoding="utf-8").read()
    assert text.startswith("# The Salt Door") and "**You:** Wade out to the blue door." in text


def test_a_turn_that_fails_saves_nothing(studio, server, story):
    from tests.support.openai_server import Fault

    server.enqueue(Fault(status=500), Fault(status=500), Fault(status=500), Fault(status=500), Fault(status=500))
    before = PlaySession(studio.library.open(story["id"])).scene()
    outputs, (live, status, after) = _last(play.choose(studio, "s", story, {}, 1))
    assert 'data-state="failed"' in status and after["version"] == story["version"]
    assert PlaySession(studio.library.open(story["id"])).scene().step_id == before.step_id
