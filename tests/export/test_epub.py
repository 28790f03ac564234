"""EPUB 3 export: structure, metadata, chapters, contents, epubcheck."""

from __future__ import annotations

import pytest

from tests.export.epub_check import check_epub, epubcheck_command, run_epubcheck


def _export(cli, story, tmp_path, *extra) -> bytes:
    out = tmp_path / f"{story}.epub"
    result = cli("export", story, "--format", "epub", "-o", out, *extra)
    assert result.code == 0, result.err
    return out.read_bytes()


def test_exported_epub_is_structurally_valid_with_title_author_language(cli, story, tmp_path):
    assert cli("write", story, "--steps", "2", "--plan", "1").code == 0
    book = check_epub(_export(cli, story, tmp_path, "--author", "Ada Writer"))
    title = cli("show", story).out.splitlines()[0].removeprefix("# ")
    assert book["metadata"]["title"] == [title]
    assert book["metadata"]["creator"] == ["Ada Writer"]
    assert book["metadata"]["language"] == ["en"]
    assert book["chapters"] == [title]  # no chapter headings: one chapter named after the book
    paragraphs = [p for p in cli("show", story).out.split("\n\n")[1:] if p.strip()]
    assert len(paragraphs) == 3
    for paragraph in paragraphs:
        assert paragraph.strip() in book["texts"][0]


def test_chapters_follow_headings_in_the_text_and_take_names_from_the_outline(cli, story, tmp_path, embedder):
    from recurrentgpt.library import Library

    assert cli("write", story, "--steps", "3", "--plan", "1").code == 0
    novel = Library(embedder=embedder).open(story)
    text = novel.paragraphs()
    novel.edit(outline="Chapter 1: The Keeper\nMara alone.\nChapter 2: The Door\nIt opens.",
               paragraphs={1: "Chapter 1\n\n" + text[1], 3: "## Chapter 2\n" + text[3]})
    book = check_epub(_export(cli, story, tmp_path))
    assert book["chapters"] == ["Chapter 1: The Keeper", "Chapter 2: The Door"]
    assert book["toc"] == book["chapters"]
    assert text[2].strip()[:40] in book["texts"][0] and text[4].strip()[:40] in book["texts"][1]
    assert "## Chapter" not in "".join(book["texts"])


def test_interactive_fiction_exports_the_path_taken(cli, server, tmp_path):
    result = cli("new", "--premise", "A heist on a moon", "--mode", "fiction", "--persona", "a cautious reader")
    assert result.code == 0, result.err
    story = result.last_line
    assert cli("write", story, "--plan", "Sneak past the guard").code == 0
    assert cli("undo", story).code == 0
    assert cli("write", story, "--plan", "Bribe the pilot").code == 0
    book = check_epub(_export(cli, story, tmp_path))
    text = "".join(book["texts"])
    assert "You chose: Bribe the pilot" in text
    assert "Sneak past the guard" not in text  # the undone branch is not the path taken


def test_chinese_book_has_its_language_and_chapter_headings():
    from recurrentgpt.epub import epub_bytes

    data = epub_bytes(story_id="hai-men", title="海门", author="作者", lang="zh", outline="第一章 灯塔",
                      paragraphs=["第一章\n她每晚都爬上灯塔。", "风很大。", "第二章 门\n海上出现了一扇门。"])
    book = check_epub(data)
    assert book["metadata"]["language"] == ["zh"]
    assert book["chapters"] == ["第一章 灯塔", "第二章 门"]


def test_epub_needs_an_output_file(cli, story):
    result = cli("export", story, "--format", "epub")
    assert result.code == 1 and "-o FILE" in result.err


@pytest.mark.skipif(epubcheck_command() is None, reason="epubcheck is not installed (Debian package 'epubcheck')")
def test_epubcheck_finds_no_errors(cli, story, tmp_path):
    assert cli("write", story, "--steps", "2", "--plan", "2").code == 0
    _export(cli, story, tmp_path)
    report = run_epubcheck(tmp_path / f"{story}.epub")
    assert report.returncode == 0, report.stdout + report.stderr
    assert "0 fatals / 0 errors / 0 warnings" in report.stdout
