"""Memory files: the story's present state as plain UTF-8 files a person can
edit in any editor (layout in DESIGN.md), written atomically, read back with
validation. Errors name the file and the line; reading never changes a file.
"""

from __future__ import annotations

import hashlib
import os
import re
from stat import S_ISREG
from dataclasses import dataclass, field
from pathlib import Path

from memory.errors import MemoryFileError
from memory.ids import check_story_id

OUTLINE = "memory/outline.md"
SHORT_TERM = "memory/short_term.md"
PLANS = "memory/plans.md"
LONG_TERM = "memory/long_term"
STORY = "story.md"
STATE_FILES = (OUTLINE, SHORT_TERM, PLANS)
MAX_FILE_BYTES = 1_000_000
_PARAGRAPH_NAME = re.compile(r"^(\d{5}|[1-9]\d{5,})\.md$")  # 00001.md ... 99999.md, then 100000.md
_PLAN_HEADING = re.compile(r"^##\s*Plan\s*(\d+)\s*$", re.IGNORECASE)

Mark = tuple[int, int, str]  # size, mtime_ns, digest


def paragraph_path(number: int) -> str:
    return f"{LONG_TERM}/{number:05d}.md"


def paragraph_number(relpath: str) -> int | None:
    if not relpath.startswith(LONG_TERM + "/"):
        return None
    match = _PARAGRAPH_NAME.match(relpath.rsplit("/", 1)[1])
    return int(match.group(1)) if match else None


# -- formats ------------------------------------------------------------------


def render_outline(title: str, premise: str, outline: str) -> str:
    return f"# {title.strip()}\n\n## Premise\n\n{premise.strip()}\n\n## Outline\n\n{outline.strip()}\n"


def parse_outline(text: str, path: str = OUTLINE) -> tuple[str, str, str]:
    """(title, premise, outline) from outline.md."""
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].startswith("# ") or not lines[first][2:].strip():
        raise MemoryFileError(path, (first or 0) + 1, "the first line must be the title, as '# Title'")
    sections: dict[str, list[str]] = {}
    current = None
    for number, line in enumerate(lines[first + 1 :], start=first + 2):
        heading = re.match(r"^##\s+(.+?)\s*$", line)
        if heading:
            current = heading.group(1).strip().lower()
            if current not in ("premise", "outline"):
                raise MemoryFileError(path, number, f"unknown heading '## {heading.group(1)}' (use '## Premise' and '## Outline')")
            sections[current] = []
        elif current:
            sections[current].append(line)
        elif line.strip():
            raise MemoryFileError(path, number, "text before '## Outline'; put it under '## Premise' or '## Outline'")
    if "outline" not in sections:
        raise MemoryFileError(path, None, "there is no '## Outline' heading")
    return (
        lines[first][2:].strip(),
        "\n".join(sections.get("premise", [])).strip(),
        "\n".join(sections["outline"]).strip(),
    )


def render_plans(plans: list[str]) -> str:
    return "".join(f"## Plan {i}\n\n{plan.strip()}\n\n" for i, plan in enumerate(plans, start=1)).rstrip() + "\n"


def parse_plans(text: str, path: str = PLANS) -> list[str]:
    plans: dict[int, list[str]] = {}
    current = None
    for number, line in enumerate(text.split("\n"), start=1):
        heading = _PLAN_HEADING.match(line.strip())
        if heading:
            current = int(heading.group(1))
            if current not in (1, 2, 3) or current in plans:
                raise MemoryFileError(path, number, f"'{line.strip()}': expected '## Plan 1', '## Plan 2' and '## Plan 3', once each")
            plans[current] = []
        elif current:
            plans[current].append(line)
        elif line.strip():
            raise MemoryFileError(path, number, "text outside a plan; every plan goes under a line '## Plan N' (N = 1, 2, 3)")
    missing = [str(n) for n in (1, 2, 3) if n not in plans]
    if missing:
        raise MemoryFileError(path, None, f"missing the heading(s) '## Plan {', '.join(missing)}'; each plan goes under a line '## Plan N'")
    result = ["\n".join(plans[n]).strip() for n in (1, 2, 3)]
    for n, plan in enumerate(result, start=1):
        if not plan:
            raise MemoryFileError(path, None, f"Plan {n} is empty")
    return result


def render_story(title: str, paragraphs: list[str]) -> str:
    return f"# {title.strip()}\n\n" + "".join(p.strip() + "\n\n" for p in paragraphs)


# -- the folder ---------------------------------------------------------------


@dataclass
class FileChanges:
    """Memory files that differ from what was last written or read."""

    changed: dict[str, str] = field(default_factory=dict)  # relpath -> new text
    deleted: list[str] = field(default_factory=list)
    marks: dict[str, Mark | None] = field(default_factory=dict)  # to record once imported

    def __bool__(self) -> bool:
        return bool(self.changed or self.deleted)

    @property
    def touched_only(self) -> bool:
        return not self and bool(self.marks)


class StoryFolder:
    """`<home>/stories/<story-id>/`: one story's memory files."""

    def __init__(self, home: Path, story_id: str):
        self.story_id = check_story_id(story_id)
        self.root = Path(home) / "stories" / story_id

    def path(self, relpath: str) -> Path:
        return self.root / relpath

    # -- writing --------------------------------------------------------------

    def write(self, relpath: str, text: str) -> Mark:
        """Write a file atomically (temp file, fsync, rename); returns its mark."""
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        stat = target.stat()
        return (stat.st_size, stat.st_mtime_ns, _digest(data))

    def append(self, relpath: str, text: str) -> None:
        with open(self.path(relpath), "a", encoding="utf-8") as handle:
            handle.write(text)

    def remove(self, relpath: str) -> None:
        try:
            self.path(relpath).unlink()
        except FileNotFoundError:
            pass

    def write_state(self, title: str, premise: str, outline: str, short_term: str, plans: list[str]) -> dict[str, Mark]:
        return {
            OUTLINE: self.write(OUTLINE, render_outline(title, premise, outline)),
            SHORT_TERM: self.write(SHORT_TERM, short_term.strip() + "\n"),
            PLANS: self.write(PLANS, render_plans(plans)),
        }

    def write_paragraph(self, number: int, text: str) -> Mark:
        return self.write(paragraph_path(number), text.strip() + "\n")

    def existing_paragraph_files(self) -> list[str]:
        folder = self.path(LONG_TERM)
        if not folder.is_dir():
            return []
        return [f"{LONG_TERM}/{e.name}" for e in os.scandir(folder) if _PARAGRAPH_NAME.match(e.name)]

    # -- reading --------------------------------------------------------------

    def read(self, relpath: str) -> str:
        """A memory file's text, validated: a plain file inside the folder,
        at most MAX_FILE_BYTES, UTF-8."""
        path = self.path(relpath)
        if path.is_symlink() or not path.resolve().is_relative_to(self.root.resolve()):
            raise MemoryFileError(path, None, "is a link; memory files must be plain files inside the story folder")
        if not path.is_file():
            raise MemoryFileError(path, None, "is not a regular file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise MemoryFileError(path, None, f"is {size:,} bytes; a memory file may hold at most {MAX_FILE_BYTES:,}")
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise MemoryFileError(path, line, "is not valid UTF-8 text; save it as UTF-8") from None
        if "\x00" in text:
            line = text[: text.index("\x00")].count("\n") + 1
            raise MemoryFileError(path, line, "contains a NUL byte; memory files are plain text")
        return text.removeprefix("\ufeff").replace("\r\n", "\n")

    def scan(self, marks: dict[str, Mark], only: set[str] | None = None) -> FileChanges:
        """Find files that differ from their marks, by a stat per file; only
        those are read. `only` names the long-term files that may have
        changed (from a FolderWatch); None checks them all. Raises
        MemoryFileError for a file that does not belong."""
        changes = FileChanges()
        seen: set[str] = set()
        for relpath, stat in self._stats(only):
            seen.add(relpath)
            mark = marks.get(relpath)
            if mark is not None and mark[0] == stat.st_size and mark[1] == stat.st_mtime_ns:
                continue
            text = self.read(relpath)
            new_mark = (stat.st_size, stat.st_mtime_ns, _digest(text.encode("utf-8")))
            changes.marks[relpath] = new_mark
            if mark is None or mark[2] != new_mark[2]:
                changes.changed[relpath] = text
            # else: touched, same content; only the mark is refreshed
        for relpath in marks:
            checked = only is None or not relpath.startswith(LONG_TERM + "/") or relpath.rsplit("/", 1)[1] in only
            if checked and relpath not in seen:
                changes.deleted.append(relpath)
                changes.marks[relpath] = None
        return changes

    def _stats(self, only: set[str] | None):
        """(relpath, lstat) of the state files and of the long-term files (all, or those in `only`)."""
        memory = self.path("memory")
        if not memory.is_dir():
            return
        for entry in os.scandir(memory):
            relpath = f"memory/{entry.name}"
            if relpath in STATE_FILES:
                yield relpath, entry.stat(follow_symlinks=False)
        folder = self.path(LONG_TERM)
        if not folder.is_dir():
            return
        names = (e.name for e in os.scandir(folder)) if only is None else iter(sorted(only))
        for name in names:
            if name.startswith(".") or name.endswith("~") or name.endswith(".swp"):
                continue  # editors' temporary files
            try:
                stat = os.lstat(folder / name)
            except FileNotFoundError:
                continue  # reported as deleted when it had a mark
            if not _PARAGRAPH_NAME.match(name):
                raise MemoryFileError(
                    folder / name, None,
                    "is not a paragraph file; long-term memory files are named NNNNN.md (five digits), "
                    "rename or move it",
                )
            if not S_ISREG(stat.st_mode):
                raise MemoryFileError(folder / name, None, "is a link or a folder; memory files must be plain files")
            yield f"{LONG_TERM}/{name}", stat


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]
