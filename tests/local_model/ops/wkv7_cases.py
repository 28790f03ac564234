"""Inputs shaped like RWKV-7's, and the error measure the kernel tests use."""

from __future__ import annotations

import math

import torch

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def rwkv7_inputs(B: int, T: int, H: int, N: int, *, seed: int = 0, device: str = DEVICE):
    """r, w, k, v, a, b as RWKV-7 makes them, each (B, T, H, N) fp32.

    w = -exp(-0.5) * sigmoid(x) is RWKV-7's log decay; kk is the normalised
    key, a = -kk and b = kk * iclr with iclr = sigmoid(x) in (0, 1), so the
    middle term of the update is a delta-rule correction.
    """
    g = torch.Generator().manual_seed(seed)

    def randn():
        return torch.randn(B, T, H, N, generator=g)

    r, k, v = randn(), randn() / math.sqrt(N) * 4, randn()
    w = -math.exp(-0.5) * torch.sigmoid(randn() + 1.0)
    kk = torch.nn.functional.normalize(randn(), dim=-1)
    a = -kk
    b = kk * torch.sigmoid(randn())
    return tuple(x.to(device) for x in (r, w, k, v, a, b))


def initial_state(B: int, H: int, N: int, *, seed: int = 1, device: str = DEVICE) -> torch.Tensor:
    """A non-trivial starting state (B, H, N, N) fp32, like one left by a prompt."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, H, N, N, generator=g).to(device)


def relative_rms(ref: torch.Tensor, got: torch.Tensor) -> float:
    """||ref - got|| / ||ref||, both taken in fp32."""
    ref, got = ref.float(), got.float()
    return float((ref - got).norm() / ref.norm().clamp_min(1e-30))
