"""Errors the domain raises. Each message says what to do; the CLI prints it
(exit 1) and the studio shows it in a `gr.Error`."""

from __future__ import annotations

from memory.errors import ConcurrentEdit, InvalidStoryId, MemoryFileError, StorageError, StoryNotFound


class RecurrentGPTError(Exception):
    """A failure the user can act on."""


class ModelError(RecurrentGPTError):
    """The language model could not be reached or did not answer usefully."""


class ModelTimeout(ModelError):
    pass


class MalformedReply(ModelError):
    """The model's reply still lacks required sections after the repair requests."""


class BackendUnavailable(RecurrentGPTError):
    pass


class Cancelled(RecurrentGPTError):
    """The writer stopped the generation; nothing was saved."""


# Everything a user can act on, for the edges (CLI, studio) to catch.
USER_ERRORS = (RecurrentGPTError, StorageError)

__all__ = [
    "RecurrentGPTError", "ModelError", "ModelTimeout", "MalformedReply", "BackendUnavailable",
    "Cancelled", "StorageError", "StoryNotFound", "InvalidStoryId", "ConcurrentEdit",
    "MemoryFileError", "USER_ERRORS",
]
