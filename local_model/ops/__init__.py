"""The one place the model calls WKV-7 through; it picks an implementation per call.

`select_wkv7` (the kernels' dispatch) chooses Triton on CUDA. Where it falls
back to the naive loop on CPU, torch twins with the same result run instead:
the chunked form for a prompt (batched matmuls instead of a loop per token),
the matmul recurrence for one decode token (einsum is slow on CPU).
RECURRENTGPT_KERNELS=naive still forces the reference everywhere.
"""

from __future__ import annotations

import torch

from local_model.ops.wkv7.chunk_torch import wkv7_chunk_torch
from local_model.ops.wkv7.dispatch import kernels_setting, select_wkv7
from local_model.ops.wkv7.naive import wkv7_naive
from local_model.ops.wkv7.recurrent_torch import wkv7_recurrent_torch


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
        o: (B, T, H, N) and the new state (B, H, N, N) fp32.
    """
    impl = select_wkv7(r)
    if impl is wkv7_naive and r.device.type == "cpu" and kernels_setting() != "naive":
        impl = wkv7_chunk_torch if r.shape[1] > 1 else wkv7_recurrent_torch
    return impl(r, w, k, v, a, b, state)


__all__ = ["wkv7"]
