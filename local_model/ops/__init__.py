"""The one place that picks a WKV-7 implementation for each call.

The model only ever calls `wkv7`; faster kernels plug in here.
"""

from __future__ import annotations

import torch

from local_model.ops.wkv7.chunk_torch import wkv7_chunk_torch
from local_model.ops.wkv7.naive import wkv7_naive


def wkv7(
    r: torch.Tensor,
    w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """WKV-7 state update over a sequence.

    Args:
        r, w, k, v, a, b: (B, T, H, N); `w` is the log decay (<= 0).
        state: (B, H, N, N) fp32 or None for zeros; never modified in place.

    Returns:
        o: (B, T, H, N) fp32 and the new state (B, H, N, N) fp32.
    """
    if r.shape[1] > 1 and r.device.type == "cpu":
        # A chunked form turns the per-token loop into batched matmuls.
        return wkv7_chunk_torch(r, w, k, v, a, b, state)
    return wkv7_naive(r, w, k, v, a, b, state)


__all__ = ["wkv7"]
