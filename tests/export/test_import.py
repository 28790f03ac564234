"""`recurrentgpt import FOLDER`: a story folder carried to another data home."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.export.epub_check import check_epub


def _exports(cli, story, tmp_path, tag) -> dict[str, bytes]:
    files = {}
    for fmt in ("md", "txt", "epub"):
        out = tmp_path / f"{tag}.{fmt}"
        result = cli("export", story, "--format", fmt, "-o", out)
        assert result.code == 0, result.err
        files[fmt] = out.read_bytes()
    return files


def _epub_members(data: bytes) -> dict[str, bytes]:
    """Every member's bytes; the package document without its modification date."""
    book = zipfile.ZipFile(io.BytesIO(data))
    members = {name: book.read(name) for name in book.namelist()}
    for name in members:
        if name.endswith(".opf"):
            members[name] = re.sub(rb'<meta property="dcterms:modified">[^<]*</meta>', b"", members[name])
    return members


def _carry(cli, story, tmp_path) -> Path:
    """Copy the story folder somewhere else, as a person would to another machine."""
    folder = Path(cli("memory", story, "--path").last_line)
    carried = tmp_path / "carried" / folder.name
    shutil.copytree(folder, carried)
    return carried


def test_export_import_into_a_fresh_home_export_again_gives_the_same_novel(cli, story, tmp_path, switch_home):
    assert cli("write", story, "--steps", "3", "--plan", "1").code == 0
    before = _exports(cli, story, tmp_path, "before")
    carried = _carry(cli, story, tmp_path)
    (carried / "memory" / "bible").mkdir()
    (carried / "memory" / "bible" / "mara.md").write_text(MARA)

    other = switch_home()
    result = cli("import", carried)
    assert result.code == 0, result.err
    assert result.last_line == story  # the folder's name is a valid, free id
    assert (other / "stories" / story / "memory" / "outline.md").exists()
    after = _exports(cli, story, tmp_path, "after")

    assert after["md"] == before["md"]
    assert after["txt"] == before["txt"]
    assert _epub_members(after["epub"]) == _epub_members(before["epub"])
    check_epub(after["epub"])
    for name in ("outline.md", "short_term.md", "plans.md", "bible/mara.md"):
        assert (other / "stories" / story / "memory" / name).read_text() == (carried / "memory" / name).read_text()


def test_imported_story_is_embedded_once_and_goes_on(cli, story, tmp_path, switch_home, embedder):
    from recurrentgpt.library import Library

    assert cli("write", story, "--steps", "2", "--plan", "1").code == 0
    carried = _carry(cli, story, tmp_path)
    switch_home()
    story_id = cli("import", carried).last_line
    library = Library(embedder=embedder)
    assert library.store.unembedded(story_id) == []  # every paragraph embedded at import
    head = library.open(story_id).head
    assert head.kind == "import" and head.paragraph_count == 3
    assert cli("memory", story_id, "--check").code == 0
    assert cli("write", story_id, "--plan", "2").code == 0
    assert len(library.open(story_id).paragraphs()) == 4


def test_the_memory_folder_itself_and_gaps_in_numbering_are_accepted(cli, story, tmp_path, switch_home):
    assert cli("write", story, "--steps", "2", "--plan", "1").code == 0
    carried = _carry(cli, story, tmp_path)
    (carried / "memory" / "long_term" / "00002.md").unlink()  # deleted by hand
    (carried / "story.md").write_text("not read back")
    switch_home()
    result = cli("import", carried / "memory")
    assert result.code == 0, result.err
    assert cli("show", result.last_line).out.count("Paragraph number") == 1


def test_id_comes_from_the_title_when_the_folder_name_is_not_free(cli, story, tmp_path):
    carried = _carry(cli, story, tmp_path)
    renamed = carried.rename(carried.parent / "My Story!")
    first = cli("import", carried.parent / "My Story!")
    assert first.code == 0, first.err
    title = cli("show", story).out.splitlines()[0].removeprefix("# ")
    assert first.last_line == re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") + "-2"  # story holds the slug
    second = cli("import", renamed)
    assert second.code == 0 and second.last_line not in (story, first.last_line)
    assert len(cli("list").out.strip().splitlines()) == 3


MARA = "Keys: Mara, the keeper\nAlways: no\n\nMara keeps the lighthouse. Her left eye is grey.\n"


def _bible(memory: Path, name: str, text: str) -> None:
    (memory / "bible").mkdir(exist_ok=True)
    (memory / "bible" / name).write_text(text)


BREAKAGES = {
    "plans.md": lambda m: (m / "plans.md").write_text("## Plan 1\n\nGo.\n\n## Plan 3\n\nStay.\n"),
    "outline.md:1": lambda m: (m / "outline.md").write_text("Title without a hash\n\n## Outline\n\nx\n"),
    "notes.txt": lambda m: (m / "long_term" / "notes.txt").write_text("a note"),
    "00002.md:1": lambda m: (m / "long_term" / "00002.md").write_bytes(b"caf\xe9 au lait"),
    "00001.md": lambda m: (m / "long_term" / "00001.md").write_text("   \n"),
    "short_term.md": lambda m: (m / "short_term.md").unlink(),
    "bible/mara.md": lambda m: _bible(m, "mara.md", "Mara keeps the lighthouse, no header.\n"),
    "Mara Notes.md": lambda m: _bible(m, "Mara Notes.md", MARA),
}


@pytest.mark.parametrize("broken", list(BREAKAGES))
def test_a_folder_with_a_broken_file_is_refused_naming_it_and_nothing_is_created(cli, story, tmp_path, switch_home, broken):
    assert cli("write", story, "--plan", "1").code == 0
    carried = _carry(cli, story, tmp_path)
    BREAKAGES[broken](carried / "memory")
    other = switch_home()
    result = cli("import", carried)
    assert result.code == 1
    assert broken in result.err, result.err
    assert "nothing was changed" in result.err or "missing" in result.err
    assert cli("list").out.strip() == ""
    assert not (other / "stories").exists() or not any((other / "stories").iterdir())


def test_a_folder_without_memory_files_is_refused(cli, home, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("import", tmp_path / "empty")
    assert result.code == 1 and "memory/" in result.err
