"""A story folder becomes a story: `recurrentgpt import FOLDER`.

Only the memory files are read (outline, short-term memory, plans, one file
per paragraph, story-bible entries; story.md is a view and is ignored).
Everything is validated before anything is created, so a folder with an
error is refused with a message naming the file and the line, and the
library is left as it was. The paragraphs are embedded once, in one batch,
and the vector index saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from memory.bible import BIBLE, BibleFolder
from memory.errors import InvalidStoryId, MemoryFileError, StoryNotFound
from memory.files import OUTLINE, PLANS, SHORT_TERM, StoryFolder, paragraph_number, parse_outline, parse_plans
from memory.ids import check_story_id, slugify
from memory.locks import story_lock
from memory.store import StepDraft
from memory.sync import MAX_PARAGRAPH_CHARS, MAX_SHORT_TERM_CHARS
from recurrentgpt.errors import RecurrentGPTError

if TYPE_CHECKING:
    from recurrentgpt.library import Library
    from recurrentgpt.novel import Novel

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class SourceFolder(StoryFolder):
    """A story folder anywhere on disk, read with the same validation as a story's own."""

    def __init__(self, root: Path):
        self.story_id = root.name
        self.root = root


@dataclass
class FolderStory:
    """What a story folder holds, validated."""

    name: str
    title: str
    premise: str
    outline: str
    short_term: str
    plans: list[str]
    paragraphs: dict[int, str]
    lang: str
    bible: dict[str, str]  # relpath under the folder -> the entry file's text


def story_root(folder: Path) -> Path:
    """The story folder for FOLDER: itself, or its parent when FOLDER is its `memory/` folder."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise RecurrentGPTError(f"{folder} is not a folder; give a story folder (the one holding memory/).")
    if (folder / "memory").is_dir():
        return folder.resolve()
    if folder.name == "memory" and (folder / "outline.md").exists():
        return folder.resolve().parent
    raise RecurrentGPTError(f"{folder} holds no memory/ folder; give a story folder "
                            "(`recurrentgpt memory STORY --path` prints one).")


def read_folder(folder: Path) -> FolderStory:
    """Read and validate every memory file. Raises MemoryFileError naming the file."""
    root = story_root(folder)
    source = SourceFolder(root)
    for relpath in (OUTLINE, SHORT_TERM, PLANS):
        if not source.path(relpath).exists():
            raise MemoryFileError(source.path(relpath), None, "is missing; a story folder needs outline.md, "
                                  "short_term.md and plans.md in memory/")
    files = source.scan({}).changed  # every memory file, read and checked (names, links, size, UTF-8)
    title, premise, outline = parse_outline(files[OUTLINE], str(source.path(OUTLINE)))
    short_term = files[SHORT_TERM].strip()
    if len(short_term) > MAX_SHORT_TERM_CHARS:
        raise MemoryFileError(source.path(SHORT_TERM), None,
                              f"holds {len(short_term):,} characters; keep the short-term memory under {MAX_SHORT_TERM_CHARS:,}")
    plans = parse_plans(files[PLANS], str(source.path(PLANS)))
    paragraphs: dict[int, str] = {}
    for relpath, text in sorted(files.items()):
        number = paragraph_number(relpath)
        if number is None:
            continue
        body = text.strip()
        if not body:
            raise MemoryFileError(source.path(relpath), None, "is empty; delete the file or write the paragraph")
        if len(body) > MAX_PARAGRAPH_CHARS:
            raise MemoryFileError(source.path(relpath), None,
                                  f"holds {len(body):,} characters; a paragraph may hold at most {MAX_PARAGRAPH_CHARS:,}")
        if number == 0:
            raise MemoryFileError(source.path(relpath), None, "paragraph files are numbered from 00001.md")
        paragraphs[number] = body
    if not paragraphs:
        raise MemoryFileError(source.path("memory/long_term"), None,
                              "holds no paragraph files (00001.md, 00002.md, ...); a story needs at least one")
    bible = {f"{BIBLE}/{entry.name}.md": source.read(f"{BIBLE}/{entry.name}.md")
             for entry in BibleFolder(source).entries()}  # every entry parsed: errors name the file and line
    text = "".join(paragraphs.values())
    lang = "zh" if len(_CJK.findall(text)) > 0.3 * max(1, len(text.replace(" ", ""))) else "en"
    return FolderStory(root.name, title, premise, outline, short_term, plans, dict(sorted(paragraphs.items())), lang,
                       bible)


def _is_free(library: "Library", candidate: str, root: Path) -> bool:
    """No story has the id, and its folder is absent (or is the folder being imported)."""
    try:
        library.store.story(candidate)
        return False
    except StoryNotFound:
        target = StoryFolder(library.settings.home, candidate).root
        return not target.exists() or target.resolve() == root


def _free_id(library: "Library", story: FolderStory, root: Path) -> str:
    """The folder's name when it is a valid id that no story uses; otherwise one from the title."""
    try:
        if _is_free(library, check_story_id(story.name), root):
            return story.name
    except InvalidStoryId:
        pass
    base = slugify(story.title)
    candidate, n = base, 2
    while not _is_free(library, candidate, root):
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def import_folder(library: "Library", folder: Path) -> "Novel":
    """Make a story from a story folder's memory files; returns it, embedded and indexed."""
    story = read_folder(folder)  # refuses before anything is created
    root = story_root(folder)
    story_id = _free_id(library, story, root)
    draft = StepDraft(kind="import", title=story.title, outline=story.outline, short_term=story.short_term,
                      plans=story.plans, paragraphs=dict(story.paragraphs))
    draft.extras = {"instruction": f"Imported from {root}", "choice": "import"}
    library.store.create_story(story_id, draft, title=story.title, premise=story.premise, genre="",
                               lang=story.lang, mode="novel", persona="")
    try:
        novel = library.open(story_id)
        with story_lock(novel.folder.root):
            head = novel.head
            novel.files.write_all(novel.refresh(), head)
            for relpath, text in story.bible.items():
                novel.folder.write(relpath, text)
        novel.long_term.reindex(head.id)  # embeds every paragraph once, in one batch, and saves the index
        return novel
    except BaseException:
        if root != StoryFolder(library.settings.home, story_id).root.resolve():
            library.delete(story_id)
        else:
            library.store.delete_story(story_id)
        raise
