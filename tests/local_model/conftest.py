"""Tiny random RWKV-7 checkpoints in the official format, written once per session."""

from __future__ import annotations

import pytest
import torch

from local_model.checkpoint import write_random_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """2 layers, width 128 (2 heads of 64), vocabulary 1000: for model maths."""
    path = tmp_path_factory.mktemp("ckpt") / "tiny-x070.pth"
    write_random_checkpoint(path, n_layer=2, n_embd=128, vocab=1000, seed=0)
    return path


@pytest.fixture(scope="session")
def world_checkpoint(tmp_path_factory):
    """2 layers, width 64, the full World vocabulary: for tokenizer-driven generation."""
    path = tmp_path_factory.mktemp("ckpt") / "world-x070.pth"
    write_random_checkpoint(path, n_layer=2, n_embd=64, vocab=65536, seed=1)
    return path


@pytest.fixture(autouse=True)
def _single_thread():
    # Tiny shapes: more threads only add contention on a busy CI machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
