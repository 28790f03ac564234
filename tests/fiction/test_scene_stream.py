"""Following a streaming reply: only the scene (the Paragraph section) is
shown, and a backend's restart voids what came before."""

from recurrentgpt.backends.base import RESTART
from recurrentgpt.fiction import SceneStream


def test_the_scene_grows_with_the_stream_and_stops_at_the_memory():
    stream = SceneStream()
    assert stream.feed("Parag") == ""
    assert stream.feed("raph: You open the do") == "You open the do"
    assert stream.feed("or.\nMemory: the door is open") == "You open the door."


def test_a_restart_forgets_the_partial_scene():
    stream = SceneStream()
    stream.feed("Paragraph: You run")
    assert stream.feed(RESTART) == ""
    assert stream.feed("Paragraph: You walk") == "You walk"
