"""Errors of the storage layer. Messages say what to do."""

from __future__ import annotations


class StorageError(Exception):
    """A storage failure the user can act on."""


class StoryNotFound(StorageError):
    pass


class InvalidStoryId(StorageError):
    pass


class ConcurrentEdit(StorageError):
    """Someone else changed the story while this change was being made."""


class MemoryFileError(StorageError):
    """A hand-edited memory file does not parse. Names the file and the line."""

    def __init__(self, path: str, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}. Fix the file and try again; nothing was changed.")
