"""Bible entry files (format, validation) and the selection, without a model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memory.bible import BibleEntry, BibleFolder, check_entry_name, entry_name_for, parse_entry, render_entry
from memory.errors import MemoryFileError
from memory.files import StoryFolder
from recurrentgpt.bible import new_names, select
from recurrentgpt.world_info import from_json, to_json, to_world_info
from recurrentgpt.prompts import count_tokens

FIXTURES = Path(__file__).parent / "fixtures"


def test_entry_round_trip():
    entry = BibleEntry(name="sea-door", keys=["sea door", "the door"], text="Oak, bound in copper.", always=True,
                       title="The Sea Door", secondary=["storm"], logic="and all", priority=3)
    assert parse_entry(render_entry(entry), "sea-door", "x.md") == entry


@pytest.mark.parametrize("text, line, words", [
    ("Mara keeps the light.\n", 1, "header"),
    ("Keys: Mara\nColour: blue\n\nText.\n", 2, "unknown header field 'Colour'"),
    ("Keys: Mara\nAlways: sometimes\n\nText.\n", 2, "Always: yes"),
    ("Keys: Mara\nKeys: keeper\n\nText.\n", 2, "twice"),
    ("Keys: Mara\nPriority: high\n\nText.\n", 2, "whole number"),
    ("Keys: /[unclosed/\n\nText.\n", 1, "regular expression"),
    ("Keys:\n\nText.\n", 1, "at least one key"),
    ("Keys: Mara\n", 2, "no text"),
    ("Keys: Mara", 1, "no text"),
    ("Keys: Mara\nthe keeper of the light\n\nText.\n", 2, "Field: value"),
])
def test_malformed_entries_name_the_line(text, line, words):
    with pytest.raises(MemoryFileError) as error:
        parse_entry(text, "mara", "/story/memory/bible/mara.md")
    assert error.value.line == line
    assert f"/story/memory/bible/mara.md:{line}" in str(error.value)
    assert words in str(error.value)


def test_entry_names(tmp_path):
    assert check_entry_name("mara-2") == "mara-2"
    for bad in ("Mara", "-mara", "ma ra", "mara.md", ""):
        with pytest.raises(ValueError):
            check_entry_name(bad)
    assert entry_name_for("Mara (protagonist)") == "mara-protagonist"
    assert entry_name_for("Mara", {"mara"}) == "mara-2"
    assert entry_name_for("灯塔").startswith("entry-")
    folder = StoryFolder(tmp_path, "s")
    (folder.root / "memory/bible").mkdir(parents=True)
    (folder.root / "memory/bible/Bad Name.md").write_text("Keys: x\n\ny\n")
    with pytest.raises(MemoryFileError, match="Bad Name.md"):
        BibleFolder(folder).entries()


def test_keys_match_whole_words_case_insensitively():
    entries = [BibleEntry("mara", ["Mara"], "A."), BibleEntry("art", ["art"], "B."), BibleEntry("cjk", ["灯塔"], "C.")]
    chosen = select(entries, plan="MARA walks past the martial arts school to the 灯塔看守", budget=600)
    assert sorted(chosen.names) == ["cjk", "mara"]  # 'art' is not a word in 'martial arts'


def test_secondary_keys_and_regex_keys():
    door = BibleEntry("door", ["/door(s)? in the (sea|waves)/i"], "Oak.", secondary=["storm", "night"], logic="and all")
    assert select([door], plan="A door in the waves", recent="a storm at night").names == ["door"]
    assert select([door], plan="A door in the waves", recent="a storm at noon").names == []
    nope = BibleEntry("nope", ["door"], "x", secondary=["storm"], logic="not any")
    assert select([nope], plan="the door", recent="a storm").names == []


def test_rank_and_budget_drop_the_lowest_first():
    long_text = " ".join(["word"] * 200)
    entries = [BibleEntry(f"e{i:03d}", ["Mara"], long_text) for i in range(500)]
    entries += [BibleEntry("rule", [], "Always on.", always=True), BibleEntry("in-plan", ["door"], "In the plan.")]
    similarities = np.zeros(len(entries))
    chosen = select(entries, plan="She opens the door", recent="", short_term="Mara keeps the light.",
                    similarities=similarities, budget=600)
    assert chosen.names[:2] == ["rule", "in-plan"]
    assert chosen.tokens + len(chosen.chosen) <= 600
    assert count_tokens(chosen.text) <= 600
    assert len(chosen.dropped) == 502 - len(chosen.chosen)
    assert all(d.reason == "memory" for d in chosen.dropped)  # the lowest rank went first


def test_similarity_selects_a_few_above_the_threshold():
    entries = [BibleEntry(f"e{i}", ["zzz"], f"text {i}") for i in range(10)]
    similarities = np.array([0.9, 0.1, 0.45, 0.39, 0.8, 0.7, 0.6, 0.2, 0.41, 0.5])
    chosen = select(entries, plan="nothing in common", similarities=similarities, threshold=0.4, max_similar=4)
    assert chosen.names == ["e0", "e4", "e5", "e6"]
    assert {c.reason for c in chosen.chosen} == {"similar"}


def test_new_names_are_capitalised_mid_sentence_and_unknown():
    paragraph = ("The wind rose. Mara met Tomas Reyes at the quay, and they walked to the Salt Market. "
                 "Somewhere a bell rang.")
    assert new_names(paragraph, known_text="Mara keeps the light.", known_keys=["salt market"]) == ["Tomas Reyes"]
    assert new_names("The wind rose. Somewhere below, a rope knocked.", "", []) == []


def test_sillytavern_world_info_keeps_keys_and_content():
    data = json.loads((FIXTURES / "sillytavern_world.json").read_text())
    entries, skipped = from_json(data)
    assert skipped == 1  # the disabled one
    by_title = {e.title: e for e in entries}
    source = data["entries"]
    for uid in ("0", "1"):
        entry = by_title[source[uid]["comment"]]
        assert entry.keys == source[uid]["key"]
        assert entry.secondary == source[uid]["keysecondary"]
        assert entry.text == source[uid]["content"]
    assert by_title["The Sea Door"].logic == "and all"  # selectiveLogic 3
    assert by_title["Rules of the sea"].always and by_title["Rules of the sea"].text == source["2"]["content"]
    # and back: our World Info export reads the same
    again, _ = from_json(to_world_info(entries))
    assert [(e.keys, e.text, e.always) for e in again] == [(e.keys, e.text, e.always) for e in entries]
    assert from_json(to_json(entries))[0] == entries


def test_character_book_lorebook():
    entries, skipped = from_json(json.loads((FIXTURES / "character_book.json").read_text()))
    assert skipped == 1
    assert entries[0].keys == ["Skerry Light", "lighthouse"]
    assert entries[0].text.startswith("The Skerry Light stands on a rock")
    assert entries[0].name == "skerry-light" and entries[0].priority == 5


def test_entry_vectors_are_cached_by_content(tmp_path, embedder):
    from memory.bible import EntryVectors

    entries = [BibleEntry("mara", ["Mara"], "The keeper."), BibleEntry("bell", ["bell"], "A bronze bell.")]
    vectors = EntryVectors(tmp_path / "s.bible.npz", embedder)
    first = vectors.vectors(entries)
    assert vectors.embedded == 2 and first.shape == (2, embedder.dim)
    again = EntryVectors(tmp_path / "s.bible.npz", embedder)  # another process: read from the cache file
    assert np.allclose(again.vectors(entries), first) and again.embedded == 0
    entries[1] = BibleEntry("bell", ["bell"], "A bronze bell, cracked.")
    again.vectors(entries)
    assert again.embedded == 1  # only the edited entry


def test_an_older_database_gains_steps_bible(tmp_path):
    from sqlalchemy import inspect, text

    from memory.database import Database

    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    with db.engine.begin() as conn:  # as the schema was before the bible
        conn.execute(text("ALTER TABLE steps DROP COLUMN bible"))
        conn.execute(text("DELETE FROM schema_migrations WHERE name = '002_step_bible'"))
    db.dispose()
    db = Database(url)
    assert "bible" in {c["name"] for c in inspect(db.engine).get_columns("steps")}
    db.dispose()
