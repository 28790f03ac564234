"""The studio's event handlers as plain functions, against the loopback
model server: what each returns, and what the next request carries."""

from __future__ import annotations

import threading

import gradio as gr
import pytest

from app.studio import library_tab, memory_tab, settings_tab, write
from app.studio.server import check_exposure, is_loopback, parse_auth
from app.studio.streaming import follow
from recurrentgpt.backends.base import RESTART
from recurrentgpt.errors import RecurrentGPTError
from tests.support.openai_server import Fault


def drain(generator):
    """Run a streaming handler to its end; every yielded tuple."""
    return list(generator)


def start(studio, premise="A lighthouse keeper finds a door in the sea"):
    yields = drain(library_tab.start_story(studio, "s1", {}, premise, "", "fantasy", "en"))
    story = yields[-1][2]
    assert story["id"], yields[-1]
    return story, yields


def test_start_streams_the_opening_and_opens_the_story(studio):
    story, yields = start(studio)
    assert any("Mara climbed" in y[0] for y in yields[:-1]), "the opening paragraph shows while it streams"
    assert 'data-state="ready"' in yields[-1][1]
    rows = library_tab.library_rows(studio)
    assert rows[0][0] == "The Door in the Sea" and rows[0][2] == 1 and rows[0][3] > 20


def test_next_step_uses_an_edited_plan_and_records_plan_choice(studio, server):
    story, _ = start(studio)
    head = studio.library.open(story["id"]).head
    # Unedited plan 2: the engine gets "2" and records the choice.
    assert write.plan_argument(head.plans, "2", list(head.plans), "") == "2"
    edited = "Mara follows a silver gull to the rocks."
    yields = drain(write.next_step(studio, "s1", story, {}, "2", head.plans[0], edited, head.plans[2], ""))
    assert edited in server.requests[-1].prompt
    story = yields[-1][2]
    assert studio.library.open(story["id"]).head.instruction == edited


def test_saved_short_term_memory_reaches_the_next_request(studio, server):
    story, _ = start(studio)
    head = studio.library.open(story["id"]).head
    story, note = write.save_memory(studio, story, "Mara now carries a brass key shaped like a fish.", head.outline)
    assert "saved" in note
    drain(write.next_step(studio, "s1", story, {}, "1", *head.plans, ""))
    assert "brass key shaped like a fish" in server.requests[-1].prompt


def test_regenerate_keeps_both_versions_and_switches(studio):
    story, _ = start(studio)
    head = studio.library.open(story["id"]).head
    story = drain(write.next_step(studio, "s1", story, {}, "1", *head.plans, ""))[-1][2]
    first = studio.library.open(story["id"]).paragraphs()[2]
    story = drain(write.regenerate(studio, "s1", story, {}))[-1][2]
    novel = studio.library.open(story["id"])
    choices, current = write.versions(novel)
    assert len(choices) == 2 and current == choices[1][1]
    assert novel.paragraphs()[2] != first
    story, _ = write.switch_version(studio, story, choices[0][1])
    assert studio.library.open(story["id"]).paragraphs()[2] == first
    story, _ = write.undo(studio, story)
    assert list(studio.library.open(story["id"]).paragraphs()) == [1]


def test_a_stale_session_is_told_changed_elsewhere(studio):
    story, _ = start(studio)
    head = studio.library.open(story["id"]).head
    write.save_memory(studio, story, "Another tab wrote this.", head.outline)
    with pytest.raises(gr.Error, match="changed elsewhere"):
        write.save_memory(studio, story, "This tab wrote that.", head.outline)
    with pytest.raises(gr.Error, match="changed elsewhere"):
        drain(write.next_step(studio, "s1", story, {}, "1", *head.plans, ""))
    story, _ = write.reload(studio, story)
    write.save_memory(studio, story, "This tab wrote that.", head.outline)


def test_stop_cancels_and_saves_nothing(studio, server):
    story, _ = start(studio)
    head = studio.library.open(story["id"]).head
    server.latency = 0.05
    steps = write.next_step(studio, "s2", story, {}, "1", *head.plans, "")
    next(steps)
    next(steps)  # some text has arrived
    assert studio.stop("s2")
    rest = drain(steps)
    assert 'data-state="stopped"' in rest[-1][1]
    novel = studio.library.open(story["id"])
    assert list(novel.paragraphs()) == [1] and novel.head.id == head.id


def test_a_failed_step_shows_failed_and_raises(studio, server):
    story, _ = start(studio)
    head = studio.library.open(story["id"]).head
    server.enqueue(*[Fault(status=400)] * 4)
    seen = []
    with pytest.raises(gr.Error):
        for item in write.next_step(studio, "s1", story, {}, "1", *head.plans, ""):
            seen.append(item)
    assert 'data-state="failed"' in seen[-1][1]


def test_memory_search_entries_and_prompt_view(studio, server):
    story, _ = start(studio)
    head = studio.library.open(story["id"]).head
    for _ in range(2):
        story = drain(write.next_step(studio, "s1", story, {}, "1", *head.plans, ""))[-1][2]
        head = studio.library.open(story["id"]).head
    hits = memory_tab.search(studio, story, {}, "the lighthouse steps")
    assert hits and hits[0][0] == 1 and 0 < hits[0][1] <= 1
    story, _ = memory_tab.save_entry(studio, story, 2, "Mara found a tin whistle in the sand.")
    assert memory_tab.load_entry(studio, story, 2) == "Mara found a tin whistle in the sand."
    assert memory_tab.search(studio, story, {}, "a tin whistle")[0][0] == 2
    story, _ = memory_tab.delete_entry(studio, story, 2)
    assert [row[0] for row in memory_tab.entries(studio.library.open(story["id"]))] == [1, 3]
    shown, summary = memory_tab.next_prompt(studio, story, {}, "custom", "", "", "", "Mara rings the bell.")
    assert "Mara rings the bell." in shown and "tokens" in summary
    drain(write.next_step(studio, "s1", story, {}, "custom", "", "", "", "Mara rings the bell."))
    sent = "\n\n".join(f"===== {m['role']} =====\n{m['content']}" for m in server.requests[-1].messages)
    assert sent == shown, "the prompt view shows exactly what is sent"


def test_export_and_delete(studio, tmp_path):
    story, _ = start(studio)
    path = library_tab.export_story(studio, story["id"], "md", tmp_path)
    assert open(path, encoding="utf-8").read().startswith("# The Door in the Sea")
    with pytest.raises(gr.Error):
        library_tab.delete_story(studio, story, story["id"], False)
    remaining, _ = library_tab.delete_story(studio, story, story["id"], True)
    assert remaining["id"] is None and library_tab.library_rows(studio) == []


def test_settings_keep_the_key_out_of_the_page(studio):
    prefs, key_field, note, _ = settings_tab.save_settings(
        studio, {}, "openai", "", "other-model", "sk-mine-0000", "", "", 0.5, 900, 2, "zh")
    assert key_field == "" and "sk-mine" not in note
    assert studio.settings(prefs).api_key.get_secret_value() == "sk-mine-0000"
    assert studio.settings(prefs).retrieval_k == 2 and studio.settings(prefs).model == "other-model"
    assert all("sk-" not in str(v) for v in settings_tab.settings_values(studio, prefs))
    with pytest.raises(gr.Error, match="not valid"):
        settings_tab.save_settings(studio, {}, "openai", "", "", "", "", "", "hot", 900, 2, "en")


def test_follow_forgets_text_on_restart_and_returns_the_result():
    def work(on_text, cancel):
        for chunk in ("Paragraph: half", RESTART, "Paragraph: whole"):
            on_text(chunk)
        return 42

    lines = follow(work, threading.Event())
    seen = []
    while True:
        try:
            seen.append(next(lines))
        except StopIteration as done:
            assert done.value == 42
            break
    assert seen[-1] == "Paragraph: whole"


def test_exposure_rules(monkeypatch):
    monkeypatch.delenv("RECURRENTGPT_AUTH", raising=False)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert check_exposure("127.0.0.1", None) is None
    with pytest.raises(RecurrentGPTError, match="--auth"):
        check_exposure("0.0.0.0", None)
    assert check_exposure("0.0.0.0", "mara:lamp") == ("mara", "lamp")
    monkeypatch.setenv("RECURRENTGPT_AUTH", "keeper:light")
    assert check_exposure("0.0.0.0", None) == ("keeper", "light")
    with pytest.raises(RecurrentGPTError, match="USER:PASSWORD"):
        parse_auth("nopassword")


def test_cli_ui_refuses_an_exposed_host(cli, monkeypatch):
    monkeypatch.delenv("RECURRENTGPT_AUTH", raising=False)
    result = cli("ui", "--host", "0.0.0.0")
    assert result.code == 1 and "--auth" in result.err


def test_hand_edited_memory_files_are_picked_up_on_reload(studio):
    story, _ = start(studio)
    folder = studio.library.open(story["id"]).folder.root
    (folder / "memory" / "short_term.md").write_text("Mara has hidden the key under the stove.\n", encoding="utf-8")
    story, note = write.reload(studio, story)
    assert "imported" in note
    assert studio.library.open(story["id"]).head.short_term.strip() == "Mara has hidden the key under the stove."


def test_auto_run_lets_the_ai_user_choose_each_plan(studio):
    from app.studio import auto_tab

    story, _ = start(studio)
    yields = drain(auto_tab.auto_run(studio, "s1", story, {}, 2))
    progress, feed, status, story = yields[-1]
    assert 'value="2"' in progress and 'data-state="ready"' in status
    assert feed.count('class="rg-par"') == 2
    head = studio.library.open(story["id"]).head
    assert head.paragraph_count == 3 and head.choice.startswith("auto:")


def test_six_sessions_write_six_stories_at_once(studio, server):
    """Each session streams its own story; none waits for or disturbs another."""
    stories = [start(studio, f"Story {i}: a keeper of lighthouse {i}")[0] for i in range(6)]
    server.latency = 0.01
    results: dict[int, list] = {}

    def session(i):
        head = studio.library.open(stories[i]["id"]).head
        results[i] = drain(write.next_step(studio, f"s{i}", stories[i], {}, "1", *head.plans, ""))

    threads = [threading.Thread(target=session, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == list(range(6))
    for i, yields in results.items():
        assert 'data-state="ready"' in yields[-1][1], yields[-1][1]
        assert list(studio.library.open(stories[i]["id"]).paragraphs()) == [1, 2]
