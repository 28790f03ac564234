"""Errors raised by the local model. Each message says what to do about it."""

from __future__ import annotations


class LocalModelError(Exception):
    """A failure of the local model the user can act on."""


class CheckpointError(LocalModelError):
    """A checkpoint file is not an RWKV-7 (x070) checkpoint we can run."""


class WeightsNotFound(LocalModelError):
    """The weights are neither on disk nor downloadable right now."""
