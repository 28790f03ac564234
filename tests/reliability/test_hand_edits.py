"""Whatever a person does to the memory files -- random bytes, invalid
UTF-8, huge files, missing folders, links out of the story folder,
thousands of files -- the next command either imports it as a recorded
edit, exactly, or refuses it with an error that names the file; never a
traceback, never a silent loss, and a refused file is left as it was.

Each example runs on a copy of one story's data home. `undo` is the
command under test for the properties (it imports hand edits first, and
needs no model); `write` is used where the model matters."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.reliability.conftest import _library, assert_clean_failure, files_match_database, snapshot, steps_of

FILES = ["memory/outline.md", "memory/short_term.md", "memory/plans.md", "memory/long_term/00001.md",
         "memory/long_term/00002.md", "memory/long_term/00007.md"]
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def template(cli, story, server, home, tmp_path):
    """A story of two paragraphs; each example works on a copy of its home."""
    assert cli("write", story).code == 0
    return story, home


def _copy(template, tmp_path) -> Path:
    _, home = template
    target = tmp_path / f"h{uuid.uuid4().hex[:8]}"
    shutil.copytree(home, target, symlinks=True)
    return target



def _expected_text(data: bytes) -> str | None:
    """What the engine should import from these bytes, or None if it must refuse them."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def _judge(cli, home, story, relpath, data, before, tally, fault) -> None:
    """Imported exactly, or refused naming the file with everything left as it was."""
    path = home / "stories" / story / relpath
    result = cli("--home", home, "undo", story)
    assert "Traceback" not in result.err, result.err
    after = snapshot(home, story)
    if result.code == 0:
        edits = [s for s in steps_of(home, story) if s.kind == "edit"]
        assert len(edits) == 1, "the edit was not recorded as one step"
        edit = edits[0]
        text = _expected_text(data)
        assert text is not None, "bytes that are not UTF-8 text were imported"
        if relpath == "memory/short_term.md":
            assert edit.short_term == text.strip()
        elif relpath.startswith("memory/long_term/"):
            library = _library(home)
            try:
                from sqlalchemy import text as sql

                with library.db.engine.connect() as conn:
                    stored = conn.execute(sql("SELECT text FROM paragraphs WHERE step_id = :s AND number = :n"),
                                          {"s": edit.id, "n": int(Path(relpath).stem)}).scalar()
            finally:
                library.db.dispose()
            assert stored == text.strip()
        # the edit is kept in history after the undo: nothing is lost
        assert after.steps == before.steps + 1
        assert files_match_database(home, story) == []
        survived = True
    else:
        assert_clean_failure(result)
        assert relpath.split("/")[-1] in result.err or str(path) in result.err, result.err
        assert before.same_story(after)
        if path.exists() and not path.is_symlink():
            assert path.read_bytes() == data, "a refused file was overwritten"
        survived = True
    tally.record(fault, survived=survived, lost=0)


@PROPERTY
@given(relpath=st.sampled_from(FILES), data=st.binary(max_size=3000))
def test_random_bytes(template, tmp_path, cli, tally, relpath, data):
    story, _ = template
    home = _copy(template, tmp_path)
    before = snapshot(home, story)
    path = home / "stories" / story / relpath
    path.write_bytes(data)
    _judge(cli, home, story, relpath, data, before, tally, "hand edit: random bytes")


@PROPERTY
@given(relpath=st.sampled_from(FILES[1:4] + FILES[5:]),
       text=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=500),
       crlf=st.booleans(), bom=st.booleans())
def test_random_text(template, tmp_path, cli, tally, relpath, text, crlf, bom):
    story, _ = template
    home = _copy(template, tmp_path)
    before = snapshot(home, story)
    if relpath == "memory/plans.md":
        text = f"## Plan 1\n{text}\n## Plan 2\nWalk.\n## Plan 3\nRun.\n"
    body = text.replace("\n", "\r\n") if crlf else text
    data = (b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8")
    (home / "stories" / story / relpath).write_bytes(data)
    _judge(cli, home, story, relpath, data, before, tally, "hand edit: random unicode text")


@PROPERTY
@given(relpath=st.sampled_from(FILES), prefix=st.text(max_size=50),
       bad=st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf0\x28\x8c\xbc", b"\x80abc"]))
def test_invalid_utf8(template, tmp_path, cli, tally, relpath, prefix, bad):
    story, _ = template
    home = _copy(template, tmp_path)
    before = snapshot(home, story)
    data = prefix.encode("utf-8") + b"\n" + bad + b"\n"
    (home / "stories" / story / relpath).write_bytes(data)
    result = cli("--home", home, "undo", story)
    assert_clean_failure(result, Path(relpath).name, "UTF-8")
    assert before.same_story(snapshot(home, story))
    tally.record("hand edit: invalid UTF-8", survived=True)


@pytest.mark.parametrize("relpath,size", [("memory/short_term.md", 1_500_000), ("memory/long_term/00001.md", 30_000),
                                          ("memory/long_term/00002.md", 5_000_000)])
def test_huge_files(template, tmp_path, cli, tally, relpath, size):
    story, _ = template
    home = _copy(template, tmp_path)
    before = snapshot(home, story)
    (home / "stories" / story / relpath).write_text("word " * (size // 5), encoding="utf-8")
    result = cli("--home", home, "undo", story)
    assert_clean_failure(result, Path(relpath).name)
    assert before.same_story(snapshot(home, story))
    tally.record("hand edit: huge file", survived=True)


def test_missing_folders(template, tmp_path, cli, tally):
    story, _ = template
    # the whole memory folder: rewritten from the database, nothing lost
    home = _copy(template, tmp_path)
    before = snapshot(home, story)
    shutil.rmtree(home / "stories" / story / "memory")
    assert cli("--home", home, "write", story).code == 0
    after = snapshot(home, story)
    assert all(after.paragraphs[n] == t for n, t in before.paragraphs.items())
    assert files_match_database(home, story) == []
    tally.record("hand edit: memory folder deleted", survived=True)
    # the long-term folder alone: refused (deleting paragraphs means deleting their files)
    home = _copy(template, tmp_path)
    before = snapshot(home, story)
    shutil.rmtree(home / "stories" / story / "memory" / "long_term")
    result = cli("--home", home, "write", story)
    assert_clean_failure(result, "long_term")
    assert before.same_story(snapshot(home, story))
    tally.record("hand edit: long_term folder deleted", survived=True)
    # one state file: refused, naming it, and saying how to get it back
    home = _copy(template, tmp_path)
    before = snapshot(home, story)
    (home / "stories" / story / "memory" / "short_term.md").unlink()
    result = cli("--home", home, "write", story)
    assert_clean_failure(result, "short_term.md")
    assert before.same_story(snapshot(home, story))
    tally.record("hand edit: short_term.md deleted", survived=True)


@pytest.mark.parametrize("what", ["paragraph file", "short_term.md", "long_term folder", "story folder"])
def test_symlink_out_of_the_story_folder(template, tmp_path, cli, tally, what):
    story, _ = template
    home = _copy(template, tmp_path)
    before = snapshot(home, story)
    outside = tmp_path / f"outside-{uuid.uuid4().hex[:6]}"
    outside.mkdir()
    secret = "OUTSIDE-THE-STORY-FOLDER private text"
    for name in ("00001.md", "00002.md", "00003.md", "short_term.md"):
        (outside / name).write_text(secret + "\n", encoding="utf-8")
    root = home / "stories" / story
    if what == "paragraph file":
        os.symlink(outside / "00003.md", root / "memory" / "long_term" / "00003.md")
    elif what == "short_term.md":
        (root / "memory" / "short_term.md").unlink()
        os.symlink(outside / "short_term.md", root / "memory" / "short_term.md")
    elif what == "long_term folder":
        shutil.rmtree(root / "memory" / "long_term")
        os.symlink(outside, root / "memory" / "long_term")
    else:  # the story folder itself is a link: its files are the story's own, through the link
        moved = tmp_path / f"moved-{uuid.uuid4().hex[:6]}"
        shutil.move(root, moved)
        os.symlink(moved, root)
    result = cli("--home", home, "write", story)
    assert "Traceback" not in result.err
    db = (home / "recurrentgpt.db").read_bytes() if (home / "recurrentgpt.db").exists() else b""
    if what == "story folder":
        assert result.code == 0, result.err
    else:
        assert_clean_failure(result)
        assert before.same_story(snapshot(home, story))
        assert secret.encode() not in db
    tally.record(f"hand edit: symlink ({what}) out of the story folder", survived=True)


def test_thousands_of_files(template, tmp_path, cli, tally):
    story, _ = template
    # 2,000 new paragraph files: imported, all of them, as one edit
    home = _copy(template, tmp_path)
    folder = home / "stories" / story / "memory" / "long_term"
    for n in range(3, 2003):
        (folder / f"{n:05d}.md").write_text(f"Added by hand, paragraph {n}.\n", encoding="utf-8")
    result = cli("--home", home, "undo", story)
    assert result.code == 0, result.err
    edit = next(s for s in steps_of(home, story) if s.kind == "edit")
    assert edit.paragraph_count == 2002
    tally.record("hand edit: 2,000 paragraph files added", survived=True)
    # 1,000 files that are not paragraphs: refused, naming one of them
    home = _copy(template, tmp_path)
    before = snapshot(home, story)
    folder = home / "stories" / story / "memory" / "long_term"
    for n in range(1000):
        (folder / f"notes-{n}.txt").write_text("x", encoding="utf-8")
    result = cli("--home", home, "undo", story)
    assert_clean_failure(result, "notes-")
    assert before.same_story(snapshot(home, story))
    tally.record("hand edit: 1,000 stray files", survived=True)


def test_the_highest_paragraph_number(template, tmp_path, cli, tally):
    """A paragraph file 99999.md is imported; the step after it must not
    write a file the next command refuses."""
    story, _ = template
    home = _copy(template, tmp_path)
    folder = home / "stories" / story / "memory" / "long_term"
    (folder / "99999.md").write_text("The very last paragraph, numbered by hand.\n", encoding="utf-8")
    first = cli("--home", home, "write", story)
    assert "Traceback" not in first.err
    if first.code == 0:
        second = cli("--home", home, "write", story)
        assert second.code == 0, second.err
        assert cli("--home", home, "memory", story, "--check").code == 0
    else:
        assert_clean_failure(first, "99999")
    tally.record("hand edit: paragraph 99999.md", survived=True)
