"""The studio's Bible tab: its handlers as plain functions, against the
loopback model server, and the tab in the page."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from app.studio import bible as tab

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def studio(server, embedder):
    from app.studio.session import Studio
    from recurrentgpt.library import Library

    return Studio(Library(embedder=embedder))


@pytest.fixture
def opened(studio, story):
    return {"id": story, "version": studio.library.open(story).info.version}


def test_create_search_edit_and_delete(studio, opened, cli, server):
    rows, name, status = tab.save_entry(studio, opened, "", "Salt Market, the market", False,
                                        "A bazaar under sailcloth where spice traders haggle over saffron.")
    assert name == "salt-market" and rows[0][:3] == ["salt-market", "Salt Market, the market", ""]
    assert "Saved" in status
    folder = Path(cli("memory", opened["id"], "--path").last_line) / "memory" / "bible"
    assert (folder / "salt-market.md").read_text(encoding="utf-8").startswith("Keys: Salt Market, the market\n\n")
    tab.save_entry(studio, opened, "mara", "Mara", True, "Mara's eyes are grey.")
    assert [r[0] for r in tab.list_entries(studio, opened, "saffron")] == ["salt-market"]
    assert [r[0] for r in tab.list_entries(studio, opened, "")] == ["mara", "salt-market"]
    assert tab.load_entry(studio, opened, "mara") == ("mara", "Mara", True, "Mara's eyes are grey.")
    # rename and edit: the old file goes, the next step carries the new text
    rows, name, _ = tab.save_entry(studio, opened, "mara-vell", "Mara, Mara Vell", False, "Mara's eyes are green.",
                                   original="mara")
    assert [r[0] for r in rows] == ["mara-vell", "salt-market"] and not (folder / "mara.md").exists()
    assert cli("write", opened["id"], "--plan", "Mara goes to the Salt Market.").code == 0
    prompt = server.requests[-1].prompt
    assert "Mara's eyes are green." in prompt and "haggle over saffron" in prompt
    rows, _ = tab.delete_entry(studio, opened, "salt-market")
    assert [r[0] for r in rows] == ["mara-vell"]


def test_invalid_entries_are_refused(studio, opened):
    with pytest.raises(gr.Error, match="at least one key"):
        tab.save_entry(studio, opened, "nobody", "", False, "No keys and not always.")
    with pytest.raises(gr.Error, match="not a valid bible entry name"):
        tab.save_entry(studio, opened, "Bad Name!", "x", False, "text")
    tab.save_entry(studio, opened, "mara", "Mara", False, "One.")
    with pytest.raises(gr.Error, match="already an entry named mara"):
        tab.save_entry(studio, opened, "mara", "Mara", False, "Two.", original="")
    with pytest.raises(gr.Error, match="no entry named ghost"):
        tab.delete_entry(studio, opened, "ghost")


def test_which_entries_the_next_step_will_use(studio, opened):
    tab.save_entry(studio, opened, "door", "sea door, door", False, "The sea door is oak bound with copper.")
    tab.save_entry(studio, opened, "engine", "Zanzibar drive", False, "A starship's quantum engine.")
    tab.save_entry(studio, opened, "rule", "", True, "No one names the drowned after dusk.")
    head = studio.library.open(opened["id"]).head
    rows, summary = tab.next_entries(studio, opened, {}, "1", *head.plans, "")  # plan 1: "... a door floating ..."
    assert [(r[0], r[1]) for r in rows] == [("rule", "always"), ("door", "plan")]
    assert summary.startswith("**2 entries**")


def test_suggestions_accept_edited_and_reject(studio, opened, cli, server, monkeypatch):
    from tests.support.novelist import step_reply

    monkeypatch.setenv("RECURRENTGPT_BIBLE_SUGGEST", "on")
    server.enqueue(step_reply(70, extra="Mara met Tomas Reyes and Ilse Brand by the boats. "),
                   "**Name:** Tomas Reyes\n**Keys:** Tomas Reyes, Tomas\n**Entry:** The ferryman.")
    assert cli("write", opened["id"], "--plan", "1").code == 0
    rows = tab.list_suggestions(studio, opened)
    assert [r[0] for r in rows] == ["tomas-reyes"]
    name, keys, always, text = tab.load_entry(studio, opened, "tomas-reyes", suggestion=True)
    assert (keys, text) == ("Tomas Reyes, Tomas", "The ferryman.")
    entries, pending, status = tab.accept_suggestion(studio, opened, "tomas-reyes", "tomas", keys + ", ferryman",
                                                     False, "The ferryman of the quay; he is missing two fingers.")
    assert [r[0] for r in entries] == ["tomas"] and pending == []
    assert tab.load_entry(studio, opened, "tomas")[1] == "Tomas Reyes, Tomas, ferryman"
    server.enqueue(step_reply(71, extra="Then Ilse Brand ran up the stairs. "),
                   "Name: Ilse Brand\nKeys: Ilse Brand\nEntry: A girl from the village.")
    assert cli("write", opened["id"], "--plan", "1").code == 0
    pending, _ = tab.reject_suggestion(studio, opened, "ilse-brand")
    assert pending == []


def test_import_and_export(studio, opened, tmp_path):
    rows, status = tab.import_entries(studio, opened, str(FIXTURES / "sillytavern_world.json"))
    assert sorted(r[0] for r in rows) == ["mara-protagonist", "rules-of-the-sea", "the-sea-door"]
    assert "Imported 3 entries" in status
    path = tab.export_entries(studio, opened, world_info=True)
    again, _ = tab.import_entries(studio, opened, path)
    assert sorted(r[0] for r in again) == sorted(r[0] for r in rows)
    with pytest.raises(gr.Error, match="Choose a JSON file"):
        tab.import_entries(studio, opened, None)


def test_a_broken_file_shows_in_the_tab(studio, opened, cli):
    folder = Path(cli("memory", opened["id"], "--path").last_line) / "memory" / "bible"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mara.md").write_text("Keys: Mara\nEyes: grey\n\nText.\n", encoding="utf-8")
    novel = studio.library.open(opened["id"])
    entries, _ = tab.render_bible(studio, novel)
    assert entries[0][0] == "(error)" and "mara.md:2" in entries[0][3]
    with pytest.raises(gr.Error, match="mara.md:2"):
        tab.list_entries(studio, opened)


def test_the_page_has_the_bible_tab(studio):
    from app.studio.layout import TABS, build_studio

    assert tab.build_bible_tab in TABS
    demo = build_studio(studio)
    assert "bible_save" in {d.api_name for d in demo.fns.values()}
