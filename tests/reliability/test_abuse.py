"""Abuse: story ids that try to leave the data folder or look like another
story, export paths that point at the story's own data, and the API key,
which must appear nowhere: not in the database, the memory files, the
index, the output of any command, or an export."""

from __future__ import annotations

import pytest

from tests.reliability.conftest import SECRET, assert_clean_failure, snapshot
from tests.support.openai_server import Fault

BAD_IDS = [
    "..", "../..", "../the-door-in-the-sea", "the-door-in-the-sea/..", "a/b", "/etc", "/tmp/x",
    "the-door-in-the-se\u0430",  # Cyrillic a
    "\uff54he-door-in-the-sea",  # fullwidth t
    "the-door-in-the-sea\u200b",  # zero-width space
    "The-Door-In-The-Sea", "the-door-in-the-sea\n", "the door", "the_door", "%2e%2e", "~", "x" * 65,
]
COMMANDS = [["write"], ["show"], ["undo"], ["export", "--format", "md"], ["memory", "--path"], ["memory", "--check"]]


@pytest.mark.parametrize("bad", BAD_IDS, ids=[repr(b) for b in BAD_IDS])
def test_story_ids_that_try_to_escape(bad, cli, story, server, home, tmp_path, tally):
    before_tree = sorted(str(p) for p in tmp_path.rglob("*"))
    before = snapshot(home, story)
    requests = len(server.requests)
    for command in COMMANDS:
        result = cli(command[0], bad, *command[1:])
        assert_clean_failure(result, "story id")
    assert len(server.requests) == requests  # refused before the model was asked
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before_tree  # nothing created anywhere
    assert before.same_story(snapshot(home, story))
    tally.record("abuse: story id trying to escape or impersonate (6 commands each)", survived=True)


def test_export_paths(cli, story, home, tmp_path, tally):
    before = snapshot(home, story)
    database = home / "recurrentgpt.db"
    database_bytes = database.read_bytes()
    folder = home / "stories" / story
    targets = [database, folder / "memory" / "short_term.md", folder / "memory" / "long_term" / "00001.md",
               home / "index" / f"{story}.faiss", folder / ".." / story / "story.md"]
    for target in targets:
        result = cli("export", story, "-o", target)
        assert_clean_failure(result, "data folder")
        tally.record("abuse: export onto the story's own data", survived=True)
    assert database.read_bytes() == database_bytes
    assert before.same_story(snapshot(home, story)) and before.files == snapshot(home, story).files
    for target, words in [(tmp_path / "no" / "such" / "dir" / "n.md", ["cannot write"]), (tmp_path, ["cannot write"])]:
        assert_clean_failure(cli("export", story, "-o", target), *words)
        tally.record("abuse: export to an unwritable path", survived=True)
    assert cli("export", story, "-o", tmp_path / "novel.md").code == 0


def test_the_api_key_appears_nowhere(cli, story, server, home, tmp_path, tally):
    """After a story's life -- writing, repairs, refused requests, an edit,
    undo, export, check -- the key is in no file and no output."""
    outputs = []

    def run(*args):
        result = cli(*args)
        outputs.append(result.out + result.err)
        return result

    # servers that echo what they were sent back in their errors
    server.enqueue(Fault(status=401, body=f'{{"error": {{"message": "bad key {SECRET}"}}}}'.encode()))
    run("write", story)
    server.enqueue(Fault(status=400, body=f'{{"error": {{"message": "echo Authorization: Bearer {SECRET}"}}}}'.encode()))
    run("write", story)
    server.enqueue("Paragraph: no memory here", Fault(status=500, headers={"Retry-After": "0"}))
    run("write", story)
    assert run("write", story, "--steps", "2").code == 0
    (home / "stories" / story / "memory" / "short_term.md").write_text("Edited by hand.\n", encoding="utf-8")
    assert run("write", story).code == 0
    assert run("undo", story).code == 0
    run("show", story)
    run("show", story, "--memory")
    run("memory", story, "--check")
    run("memory", story, "--reindex")
    run("list")
    for fmt in ("md", "txt", "epub"):
        assert run("export", story, "--format", fmt, "-o", tmp_path / f"novel.{fmt}").code == 0
    assert all(SECRET in r.headers.get("authorization", "") for r in server.requests)  # it was really used
    key = SECRET.encode()
    places = [p for p in home.rglob("*") if p.is_file()] + list(tmp_path.glob("novel.*"))
    assert len(places) > 10
    for path in places:
        assert key not in path.read_bytes(), f"the API key is in {path}"
    for text in outputs:
        assert SECRET not in text
    tally.record("abuse: API key searched in database, files, index, outputs, exports", survived=True)
