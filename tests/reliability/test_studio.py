"""The studio: two sessions writing the same story at once (one wins, the
other is told, nothing half-applied), and a studio on a non-loopback host
without a password refuses to start (a real process, tricky host names)."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from tests.reliability.conftest import ROOT, files_match_database, lost_paragraphs, snapshot
from tests.support.novelist import step_reply
from tests.support.openai_server import Fault


@pytest.fixture
def studio(server, embedder):
    from app.studio.session import Studio
    from recurrentgpt.library import Library

    return Studio(Library(embedder=embedder))


def test_two_studio_sessions_write_the_same_story(studio, server, home, tally):
    import gradio as gr

    from app.studio import library_tab, write

    story = list(library_tab.start_story(studio, "s1", {}, "A lighthouse keeper finds a door", "", "", "en"))[-1][2]
    before = snapshot(home, story["id"])
    head = studio.library.open(story["id"]).head
    server.enqueue(Fault(stall=1.0, content=step_reply(801, "Session one. ")),
                   Fault(stall=1.3, content=step_reply(802, "Session two. ")))
    outcomes: dict[str, object] = {}

    def session(name: str) -> None:
        try:
            list(write.next_step(studio, name, dict(story), {}, "1", *head.plans, ""))
            outcomes[name] = "ok"
        except gr.Error as error:
            outcomes[name] = error
        except Exception as error:  # anything else is a bug
            outcomes[name] = repr(error)

    threads = [threading.Thread(target=session, args=(n,)) for n in ("s1", "s2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(o == "ok" for o in outcomes.values()) == [False, True], outcomes
    error = next(o for o in outcomes.values() if o != "ok")
    assert isinstance(error, gr.Error) and "changed elsewhere" in str(error), error
    after = snapshot(home, story["id"])
    assert lost_paragraphs(before, after) == 0
    assert len(after.paragraphs) == len(before.paragraphs) + 1 and after.steps == before.steps + 1
    assert files_match_database(home, story["id"]) == []
    tally.record("two studio sessions write the same story at once", survived=True)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com", "127.0.0.1.nip.io",
                                  "::ffff:127.0.0.1", "127.1"])
def test_an_exposed_studio_without_a_password_refuses_to_start(host, tmp_path, tally):
    env = {"PATH": "/usr/bin:/bin", "RECURRENTGPT_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "app.cli", "ui", "--host", host, "--port", "0"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    assert "--auth" in done.stderr and len(done.stderr.strip().splitlines()) <= 2
    tally.record("abuse: studio on an exposed host without a password", survived=True)
