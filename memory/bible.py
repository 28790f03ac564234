"""Story-bible entries as memory files: `memory/bible/<entry-name>.md`.

An entry file is a small header, a blank line, and free text:

    Keys: Mara, the keeper
    Always: no

    Mara is the lighthouse keeper. Her left eye is grey, the right one brown.

Header fields (one per line, `Field: value`, case-insensitive names):

- `Keys`: comma-separated names and keywords that call the entry up; a key
  written `/pattern/flags` is a regular expression.
- `Secondary`: comma-separated optional filter keys (World Info's
  "keysecondary"), applied with `Logic` (and any | and all | not any | not all).
- `Always`: yes | no, include the entry at every step.
- `Title`: a label for people (World Info's "comment"); never sent to the model.
- `Priority`: an integer; among entries selected for the same reason, higher first.

The files are the source of the bible: they are read and validated before
every step, and errors name the file and the line. Model suggestions wait in
`memory/bible-suggestions/<entry-name>.md`, in the same format, until the
writer accepts (the file moves into `bible/`) or rejects them (it is removed).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memory.errors import MemoryFileError
from memory.files import StoryFolder

BIBLE = "memory/bible"
SUGGESTIONS = "memory/bible-suggestions"
REJECTED = "memory/bible-suggestions/.rejected"
MAX_ENTRY_CHARS = 20_000
MAX_KEY_CHARS = 100
MAX_KEYS = 50
LOGICS = ("and any", "and all", "not any", "not all")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_FIELD = re.compile(r"^([A-Za-z][A-Za-z ]*?)\s*:\s*(.*)$")
_FIELDS = ("keys", "secondary", "always", "title", "priority", "logic")
_YES = {"yes": True, "true": True, "on": True, "1": True, "no": False, "false": False, "off": False, "0": False}


def check_entry_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{name!r} is not a valid bible entry name: use lowercase letters, digits and '-' "
            "(at most 80 characters, not starting with '-')"
        )
    return name


def entry_name_for(text: str, taken: set[str] | None = None) -> str:
    """A valid, unused entry name made from a title or key ('Mara the Keeper' -> 'mara-the-keeper')."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
    if not base:
        base = "entry-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    taken = taken or set()
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


@dataclass
class BibleEntry:
    name: str
    keys: list[str] = field(default_factory=list)
    text: str = ""
    always: bool = False
    title: str = ""
    secondary: list[str] = field(default_factory=list)
    logic: str = "and any"
    priority: int = 0

    @property
    def label(self) -> str:
        return self.title or (self.keys[0] if self.keys else self.name)

    @property
    def digest(self) -> str:
        """A hash of what is embedded for semantic selection (keys and text)."""
        return hashlib.sha256(self.embedding_text.encode("utf-8")).hexdigest()[:32]

    @property
    def embedding_text(self) -> str:
        return (", ".join(self.keys) + "\n" + self.text[:600]).strip()  # the gist; MiniLM reads ~256 tokens

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "keys": list(self.keys), "secondary": list(self.secondary),
                "logic": self.logic, "always": self.always, "priority": self.priority, "text": self.text}


def _split_keys(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def render_entry(entry: BibleEntry) -> str:
    lines = [f"Keys: {', '.join(entry.keys)}"]
    if entry.title:
        lines.append(f"Title: {entry.title}")
    if entry.secondary:
        lines.append(f"Secondary: {', '.join(entry.secondary)}")
        if entry.logic != "and any":
            lines.append(f"Logic: {entry.logic}")
    if entry.always:
        lines.append("Always: yes")
    if entry.priority:
        lines.append(f"Priority: {entry.priority}")
    return "\n".join(lines) + "\n\n" + entry.text.strip() + "\n"


def parse_entry(text: str, name: str, path: str) -> BibleEntry:
    """An entry from its file's text; MemoryFileError naming `path` and the line otherwise."""
    lines = text.split("\n")
    entry = BibleEntry(name=name)
    seen: dict[str, int] = {}
    number = 0
    body_start = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            if seen:
                body_start = number
                break
            continue  # blank lines before the header
        match = _FIELD.match(line.strip())
        key = match.group(1).strip().lower() if match else ""
        if not match or key not in _FIELDS:
            if not seen:
                raise MemoryFileError(path, number, "a bible entry starts with a header such as 'Keys: Mara, the keeper', "
                                                    "then a blank line, then the text")
            if match:
                raise MemoryFileError(path, number, f"unknown header field '{match.group(1).strip()}' "
                                                    f"(known: {', '.join(f.capitalize() for f in _FIELDS)}); "
                                                    "leave a blank line between the header and the text")
            raise MemoryFileError(path, number, "expected 'Field: value' in the header, or a blank line before the text")
        if key in seen:
            raise MemoryFileError(path, number, f"'{match.group(1).strip()}' appears twice (first on line {seen[key]})")
        seen[key] = number
        value = match.group(2).strip()
        if key in ("keys", "secondary"):
            keys = _split_keys(value)
            if len(keys) > MAX_KEYS:
                raise MemoryFileError(path, number, f"{len(keys)} keys; an entry may have at most {MAX_KEYS}")
            for k in keys:
                if len(k) > MAX_KEY_CHARS:
                    raise MemoryFileError(path, number, f"the key '{k[:30]}…' is longer than {MAX_KEY_CHARS} characters")
                if k.startswith("/") and _regex_key(k) is None:
                    raise MemoryFileError(path, number, f"the key {k!r} is not a valid /regular expression/")
            setattr(entry, key, keys)
        elif key == "always":
            if value.lower() not in _YES:
                raise MemoryFileError(path, number, f"'Always: {value}': write 'Always: yes' or 'Always: no'")
            entry.always = _YES[value.lower()]
        elif key == "logic":
            logic = " ".join(value.lower().replace("_", " ").split())
            if logic not in LOGICS:
                raise MemoryFileError(path, number, f"'Logic: {value}': use one of {', '.join(LOGICS)}")
            entry.logic = logic
        elif key == "priority":
            try:
                entry.priority = int(value)
            except ValueError:
                raise MemoryFileError(path, number, f"'Priority: {value}' is not a whole number") from None
        else:
            entry.title = value
    if not seen:
        raise MemoryFileError(path, None, "is empty; a bible entry needs a header ('Keys: ...'), a blank line and text")
    if body_start is None:
        raise MemoryFileError(path, number, "there is no text: leave a blank line after the header and describe the entry")
    entry.text = "\n".join(lines[body_start:]).strip()
    if not entry.text:
        raise MemoryFileError(path, body_start, "there is no text after the header; describe the entry")
    if len(entry.text) > MAX_ENTRY_CHARS:
        raise MemoryFileError(path, body_start + 1, f"the text holds {len(entry.text):,} characters; "
                                                    f"keep an entry under {MAX_ENTRY_CHARS:,}")
    if not entry.keys and not entry.always:
        where = seen.get("keys", 1)
        raise MemoryFileError(path, where, "give the entry at least one key ('Keys: Mara, the keeper') "
                                           "or include it at every step ('Always: yes')")
    return entry


def _regex_key(key: str) -> re.Pattern | None:
    match = re.match(r"^/(.+)/([a-z]*)$", key, re.DOTALL)
    if not match:
        return None
    flags = re.IGNORECASE if "i" in match.group(2) else 0
    flags |= re.MULTILINE if "m" in match.group(2) else 0
    flags |= re.DOTALL if "s" in match.group(2) else 0
    try:
        return re.compile(match.group(1), flags)
    except re.error:
        return None


def key_pattern(key: str) -> re.Pattern:
    """How a key is matched: `/regex/flags` as a regular expression; a plain key
    case-insensitively at word boundaries (no boundary next to CJK text)."""
    regex = _regex_key(key) if key.startswith("/") else None
    if regex is not None:
        return regex
    escaped = r"\s+".join(re.escape(part) for part in key.split())
    left = r"(?<!\w)" if re.match(r"\w", key[0]) and not _cjk(key[0]) else ""
    right = r"(?!\w)" if re.match(r"\w", key[-1]) and not _cjk(key[-1]) else ""
    return re.compile(left + escaped + right, re.IGNORECASE)


def _cjk(char: str) -> bool:
    return bool(re.match(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]", char))


class BibleFolder:
    """The bible entries of one story folder, and the model's pending suggestions."""

    def __init__(self, folder: StoryFolder):
        self.folder = folder
        self._cache: dict[str, tuple[tuple[int, int], BibleEntry]] = {}

    # -- reading ------------------------------------------------------------------

    def names(self, where: str = BIBLE) -> list[str]:
        directory = self.folder.path(where)
        if not directory.is_dir():
            return []
        names = []
        for item in os.scandir(directory):
            if item.name.startswith(".") or item.name.endswith("~") or item.name.endswith(".swp"):
                continue  # editors' temporary files, the rejected list
            stem = item.name[:-3] if item.name.endswith(".md") else None
            if stem is None or not _NAME.match(stem):
                raise MemoryFileError(directory / item.name, None,
                                      "is not a bible entry: entries are named <name>.md, the name in lowercase "
                                      "letters, digits and '-'; rename or move it")
            if item.is_symlink() or not item.is_file(follow_symlinks=False):
                raise MemoryFileError(directory / item.name, None, "is a link or a folder; memory files must be plain files")
            names.append(stem)
        return sorted(names)

    def entries(self, where: str = BIBLE) -> list[BibleEntry]:
        """Every entry, validated (MemoryFileError names the first bad file and line).
        A file is parsed again only when its size or modification time changed."""
        result = []
        for name in self.names(where):
            relpath = f"{where}/{name}.md"
            stat = self.folder.path(relpath).stat()
            mark = (stat.st_size, stat.st_mtime_ns)
            cached = self._cache.get(relpath)
            if cached is None or cached[0] != mark:
                text = self.folder.read(relpath)
                cached = (mark, parse_entry(text, name, str(self.folder.path(relpath))))
                self._cache[relpath] = cached
            result.append(cached[1])
        return result

    def get(self, name: str, where: str = BIBLE) -> BibleEntry:
        check_entry_name(name)
        relpath = f"{where}/{name}.md"
        if not self.folder.path(relpath).is_file():
            raise MemoryFileError(self.folder.path(relpath), None, "does not exist")
        return parse_entry(self.folder.read(relpath), name, str(self.folder.path(relpath)))

    def exists(self, name: str, where: str = BIBLE) -> bool:
        return self.folder.path(f"{where}/{check_entry_name(name)}.md").is_file()

    # -- writing ------------------------------------------------------------------

    def save(self, entry: BibleEntry, where: str = BIBLE) -> Path:
        """Write an entry (validated first, so a file on disk always parses)."""
        check_entry_name(entry.name)
        relpath = f"{where}/{entry.name}.md"
        text = render_entry(entry)
        parse_entry(text, entry.name, str(self.folder.path(relpath)))
        self.folder.write(relpath, text)
        return self.folder.path(relpath)

    def delete(self, name: str, where: str = BIBLE) -> None:
        self.folder.remove(f"{where}/{check_entry_name(name)}.md")

    # -- suggestions -----------------------------------------------------------------

    def suggestions(self) -> list[BibleEntry]:
        return self.entries(SUGGESTIONS)

    def accept(self, name: str, edited: BibleEntry | None = None) -> BibleEntry:
        """A pending suggestion (or the writer's edit of it) becomes a bible entry."""
        entry = edited or self.get(name, SUGGESTIONS)
        if self.exists(entry.name) and entry.name != name:
            raise ValueError(f"A bible entry named {entry.name!r} exists already; choose another name.")
        self.save(entry)
        self.delete(name, SUGGESTIONS)
        return entry

    def reject(self, name: str) -> None:
        """Remove a suggestion and remember its keys, so they are not suggested again."""
        try:
            entry = self.get(name, SUGGESTIONS)
            keys = entry.keys
        except MemoryFileError:
            keys = [name]
        self.delete(name, SUGGESTIONS)
        known = self.rejected()
        self.folder.write(REJECTED, "\n".join(sorted(set(known) | {k.lower() for k in keys})) + "\n")

    def rejected(self) -> list[str]:
        path = self.folder.path(REJECTED)
        if not path.is_file():
            return []
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class EntryVectors:
    """Embeddings of bible entries, cached by content hash so an entry is
    embedded once (again only when its keys or text change). Derived data,
    kept next to the vector index: `<home>/index/<story>.bible.npz`."""

    def __init__(self, path: Path, embedder):
        self.path = Path(path)
        self.embedder = embedder
        self._vectors: dict[str, np.ndarray] | None = None
        self.embedded = 0  # how many texts this object has embedded (for tests and timings)

    def _load(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            if self.path.is_file():
                try:
                    with np.load(self.path) as data:
                        digests, matrix = data["digests"], data["vectors"]
                    if matrix.ndim == 2 and matrix.shape[1] == self.embedder.dim:
                        self._vectors = {str(d): matrix[i] for i, d in enumerate(digests)}
                except (OSError, ValueError, KeyError):
                    self._vectors = {}  # a damaged cache is rebuilt
        return self._vectors

    def vectors(self, entries: list[BibleEntry]) -> np.ndarray:
        """(len(entries), dim) unit vectors, embedding only the entries not seen before."""
        cache = self._load()
        missing = {e.digest: e.embedding_text for e in entries if e.digest not in cache}
        if missing:
            new = self.embedder.embed(list(missing.values()))
            self.embedded += len(missing)
            for digest, vector in zip(missing, new):
                cache[digest] = vector
            live = {e.digest for e in entries}
            self._save({d: v for d, v in cache.items() if d in live})
        if not entries:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([cache[e.digest] for e in entries]).astype(np.float32)

    def _save(self, vectors: dict[str, np.ndarray]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.npz")
        digests = np.array(list(vectors), dtype="U32")
        matrix = np.stack(list(vectors.values())) if vectors else np.zeros((0, self.embedder.dim), np.float32)
        np.savez(temp, digests=digests, vectors=matrix.astype(np.float32))
        os.replace(temp, self.path)


__all__ = ["BIBLE", "SUGGESTIONS", "BibleEntry", "BibleFolder", "EntryVectors", "check_entry_name",
           "entry_name_for", "key_pattern", "parse_entry", "render_entry"]
