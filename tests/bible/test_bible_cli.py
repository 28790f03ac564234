"""The story bible end to end: files in `memory/bible/`, the command line, and
the requests a loopback OpenAI-compatible server receives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recurrentgpt.prompts import count_tokens
from tests.support.novelist import novelist, step_reply

FIXTURES = Path(__file__).parent / "fixtures"


def bible_dir(cli, story) -> Path:
    result = cli("memory", story, "--path")
    assert result.code == 0, result.err
    folder = Path(result.last_line) / "memory" / "bible"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def head(story):
    from recurrentgpt.library import Library

    return Library().open(story).head


def test_an_entry_whose_key_is_in_the_plan_reaches_the_request(cli, server, story):
    folder = bible_dir(cli, story)
    (folder / "bell.md").write_text("Keys: bronze bell, the bell\n\nThe bronze bell was cast from a drowned ship's "
                                    "anchor and rings by itself before a death.\n", encoding="utf-8")
    (folder / "engine.md").write_text("Keys: Zanzibar drive\n\nThe starship's faster-than-light quantum engine "
                                      "runs on dark matter harvested from nebulae.\n", encoding="utf-8")
    result = cli("write", story, "--plan", "Mara rings the bronze bell to warn the village.")
    assert result.code == 0, result.err
    prompt = server.requests[-1].prompt
    assert "Story bible" in prompt
    assert "cast from a drowned ship's anchor" in prompt
    assert "quantum engine" not in prompt  # its key is not there and it is not close
    used = head(story).bible
    assert [u["name"] for u in used] == ["bell"]
    assert used[0]["reason"] == "plan" and used[0]["key"] == "bronze bell"


def test_an_entry_close_to_the_plan_joins_without_its_key(cli, server, story):
    folder = bible_dir(cli, story)
    (folder / "brennan.md").write_text("Keys: Brennan\n\nBrennan is a retired sea captain with a wooden leg who "
                                       "drinks alone in the harbour tavern.\n", encoding="utf-8")
    (folder / "engine.md").write_text("Keys: Zanzibar drive\n\nThe starship's faster-than-light quantum engine "
                                      "runs on dark matter harvested from nebulae.\n", encoding="utf-8")
    assert cli("write", story, "--plan", "An old sea captain with a wooden leg limps into the harbour tavern.").code == 0
    prompt = server.requests[-1].prompt
    assert "retired sea captain" in prompt
    assert "quantum engine" not in prompt
    assert [(u["name"], u["reason"]) for u in head(story).bible] == [("brennan", "similar")]


def test_the_token_budget_holds_with_500_entries(cli, server, story, tmp_path, monkeypatch):
    from recurrentgpt.library import Library

    # Keys only: embedding 500 entries the first time takes minutes on a small CI box
    # (they are embedded once and cached; test_entry_vectors_are_cached covers that).
    monkeypatch.setenv("RECURRENTGPT_BIBLE_SIMILARITY", "1.0")

    plan = "Mara walks to the shore."
    folder = bible_dir(cli, story)
    text = ("Mara's record number {i}: she once saw a whale off the north rocks, mended the lamp with wire, "
            "and wrote it all down in the log in her small, slanted hand. ") * 3
    for i in range(500):
        (folder / f"fact-{i:03d}.md").write_text(f"Keys: Mara, keeper\n\n{text.format(i=i)}\n", encoding="utf-8")
    folder.rename(tmp_path / "aside")
    baseline = Library().open(story).context(plan).tokens  # the same step without a bible
    (tmp_path / "aside").rename(folder)
    result = cli("write", story, "--plan", plan)
    assert result.code == 0, result.err
    prompt = server.requests[-1].prompt
    grown = count_tokens(prompt) - baseline
    assert 400 < grown <= 600 + 20, grown  # the bible block (budget 600) and its heading, nothing more
    used = head(story).bible
    assert 1 < len(used) < 500
    assert sum(u["tokens"] for u in used) <= 600
    listed = cli("bible", story, "--next", plan)
    assert listed.code == 0 and len(listed.out.strip().splitlines()) == len(used)


def test_a_hand_edited_entry_is_used_at_the_next_step(cli, server, story):
    folder = bible_dir(cli, story)
    entry = folder / "mara.md"
    entry.write_text("Keys: Mara\n\nMara's eyes are grey as the winter sea.\n", encoding="utf-8")
    assert cli("write", story, "--plan", "1").code == 0
    assert "grey as the winter sea" in server.requests[-1].prompt
    entry.write_text("Keys: Mara\nAlways: yes\n\nMara's eyes are green as bottle glass.\n", encoding="utf-8")
    assert cli("write", story, "--plan", "1").code == 0
    prompt = server.requests[-1].prompt
    assert "green as bottle glass" in prompt and "grey as the winter sea" not in prompt
    assert head(story).bible[0]["reason"] == "always"


def test_a_malformed_entry_is_refused_naming_file_and_line(cli, server, story):
    folder = bible_dir(cli, story)
    bad = folder / "mara.md"
    bad.write_text("Keys: Mara\nEyes: grey\n\nMara keeps the light.\n", encoding="utf-8")
    before = head(story).id
    requests = len(server.requests)
    result = cli("write", story, "--plan", "1")
    assert result.code == 1
    assert f"{bad}:2" in result.err and "Eyes" in result.err
    assert len(server.requests) == requests  # nothing was asked of the model
    assert head(story).id == before
    assert bad.read_text(encoding="utf-8").startswith("Keys: Mara\nEyes: grey")  # nothing overwritten
    listed = cli("bible", story, "--list")
    assert listed.code == 1 and f"{bad}:2" in listed.err
    checked = cli("memory", story, "--check")
    assert checked.code == 1 and f"{bad}:2" in checked.err


def test_world_info_json_imports_with_keys_and_contents(cli, server, story, tmp_path):
    source = json.loads((FIXTURES / "sillytavern_world.json").read_text(encoding="utf-8"))["entries"]
    result = cli("bible", story, "--import", FIXTURES / "sillytavern_world.json")
    assert result.code == 0, result.err
    assert "Imported 3 entries" in result.out and "1 disabled or empty skipped" in result.out
    folder = bible_dir(cli, story)
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["mara-protagonist.md", "rules-of-the-sea.md", "the-sea-door.md"]
    mara = (folder / "mara-protagonist.md").read_text(encoding="utf-8")
    assert mara.startswith("Keys: Mara, the keeper\n")
    assert source["0"]["content"] in mara
    door = (folder / "the-sea-door.md").read_text(encoding="utf-8")
    assert "Keys: sea door, /door(s)? in the (sea|waves)/i\n" in door and "Secondary: storm, night\n" in door
    assert source["1"]["content"] in door
    # exported again, as ours and as World Info, it reads the same
    ours, world = tmp_path / "bible.json", tmp_path / "world.json"
    assert cli("bible", story, "--export", ours).code == 0
    assert cli("bible", story, "--export", world, "--world-info").code == 0
    exported = {e["title"]: e for e in json.loads(ours.read_text())["entries"]}
    assert exported["Mara (protagonist)"]["keys"] == source["0"]["key"]
    assert exported["Mara (protagonist)"]["text"] == source["0"]["content"]
    wi = {e["comment"]: e for e in json.loads(world.read_text())["entries"].values()}
    assert wi["The Sea Door"]["key"] == source["1"]["key"] and wi["The Sea Door"]["selectiveLogic"] == 3
    # and the imported entries work: the always-on rule is in every prompt
    assert cli("write", story, "--plan", "1").code == 0
    assert source["2"]["content"] in server.requests[-1].prompt


def test_a_bad_import_is_refused(cli, server, story, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    result = cli("bible", story, "--import", bad)
    assert result.code == 1 and "not valid JSON" in result.err


def test_the_model_proposes_an_entry_for_a_new_name(cli, server, story, monkeypatch):
    monkeypatch.setenv("RECURRENTGPT_BIBLE_SUGGEST", "on")
    server.enqueue(step_reply(90, extra="At the quay Mara met Tomas Reyes, the ferryman, who carried a lantern. "),
                   "Name: Tomas Reyes\nKeys: Tomas Reyes, Tomas, the ferryman\n"
                   "Entry: Tomas Reyes is the ferryman of the quay. He carries a lantern.")
    requests = len(server.requests)
    assert cli("write", story, "--plan", "1").code == 0
    assert len(server.requests) == requests + 2
    assert "Tomas Reyes" in server.requests[-1].prompt and "Name:" in server.requests[-1].prompt
    listed = cli("bible", story, "--suggestions")
    assert listed.code == 0 and listed.out.startswith("tomas-reyes\tTomas Reyes, Tomas, the ferryman")
    assert cli("bible", story, "--accept", "tomas-reyes").code == 0
    entry = bible_dir(cli, story) / "tomas-reyes.md"
    assert "He carries a lantern." in entry.read_text(encoding="utf-8")
    assert cli("bible", story, "--suggestions").out == ""
    # a step that names nobody new costs no extra call
    requests = len(server.requests)
    assert cli("write", story, "--plan", "1").code == 0
    assert len(server.requests) == requests + 1


def test_a_rejected_suggestion_is_not_proposed_again(cli, server, story, monkeypatch):
    monkeypatch.setenv("RECURRENTGPT_BIBLE_SUGGEST", "on")
    paragraph = step_reply(91, extra="On the stairs Mara found Ilse Brand asleep. ")
    server.enqueue(paragraph, "Name: Ilse Brand\nKeys: Ilse Brand, Ilse\nEntry: A girl from the village.")
    assert cli("write", story, "--plan", "1").code == 0
    assert cli("bible", story, "--reject", "ilse-brand").code == 0
    assert cli("bible", story, "--suggestions").out == ""
    server.enqueue(paragraph)
    requests = len(server.requests)
    assert cli("write", story, "--plan", "1").code == 0
    assert len(server.requests) == requests + 1  # known now: no proposal call


def test_suggestions_are_off_for_the_local_backend_by_default():
    from recurrentgpt.settings import Settings

    assert not Settings(backend="local").suggests_bible
    assert Settings(backend="openai").suggests_bible
    assert not Settings(backend="openai", bible_suggest="off").suggests_bible
    assert Settings(backend="local", bible_suggest="on").suggests_bible


def test_the_chinese_prompt_has_the_bible_block():
    from recurrentgpt.prompts import step_messages

    values = dict(title="灯塔", premise="p", genre="", outline="o", short_term="s", retrieved=[], previous="",
                  plan="x", mode="novel", persona="", memory_words=100)
    zh = step_messages(lang="zh", bible="- 玛拉: 灰色的眼睛", **values)[-1].content
    assert "设定集" in zh and "灰色的眼睛" in zh
    assert "设定集" not in step_messages(lang="zh", **values)[-1].content
    assert "Story bible" not in step_messages(lang="en", **values)[-1].content
