"""Errors the domain raises. Each message says what to do; the CLI prints it
as is (exit 1) and the studio shows it in a `gr.Error`."""

from __future__ import annotations


class RecurrentGPTError(Exception):
    """A failure the user can act on."""


class StoryNotFound(RecurrentGPTError):
    pass


class InvalidStoryId(RecurrentGPTError):
    pass


class MemoryFileError(RecurrentGPTError):
    """A hand-edited memory file does not parse. Names the file and the line."""

    def __init__(self, path: str, line: int | None, problem: str):
        self.path, self.line, self.problem = path, line, problem
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {problem}. Fix the file and try again; nothing was changed.")


class ModelError(RecurrentGPTError):
    """The language model could not be reached or did not answer usefully."""


class ModelTimeout(ModelError):
    pass


class MalformedReply(ModelError):
    """The model's reply still lacks required sections after the repair requests."""


class ConcurrentEdit(RecurrentGPTError):
    """Someone else changed the story while this step was being written."""


class BackendUnavailable(RecurrentGPTError):
    pass


class Cancelled(RecurrentGPTError):
    """The writer stopped the generation; nothing was saved."""
