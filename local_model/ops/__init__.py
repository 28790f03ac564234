"""The one place the model calls its kernels through; each picks an implementation per call.

`select_wkv7` (the kernels' dispatch) chooses Triton on CUDA. Where it falls
back to the naive loop on CPU, torch twins with the same result run instead:
the chunked form for a prompt (batched matmuls instead of a loop per token),
the matmul recurrence for one decode token (einsum is slow on CPU).
RECURRENTGPT_KERNELS=naive still forces the reference everywhere, and
RECURRENTGPT_KERNELS=triton forces the Triton kernels even on CPU tensors (under
TRITON_INTERPRET=1: how the model-level tests check the Triton path without a GPU).

The fused time-mix ops (`token_shift_mix`, `group_norm_bonus`) follow the same
rule: Triton where the WKV-7 kernels run, their torch twins elsewhere.
"""

from __future__ import annotations

import torch

from local_model.ops.wkv7.chunk_torch import wkv7_chunk_torch
from local_model.ops.time_mix.naive import group_norm_bonus_naive, token_shift_mix_naive
from local_model.ops.wkv7.dispatch import kernels_setting, select_wkv7, use_triton
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


def token_shift_mix(x: torch.Tensor, last: torch.Tensor, mixes: torch.Tensor) -> torch.Tensor:
    """Token shift with M mixes: out[i] = x + (x_prev - x) * mixes[i].

    Args:
        x: (B, T, C); last: (B, C) the token before x[:, 0]; mixes: (M, C).

    Returns:
        (M, B, T, C) in the dtype of x.
    """
    if use_triton(x.device.type):
        from local_model.ops.time_mix.fused import token_shift_mix as fused

        return fused(x, last, mixes)
    return token_shift_mix_naive(x, last, mixes)


def group_norm_bonus(
    o: torch.Tensor, r: torch.Tensor, k: torch.Tensor, v: torch.Tensor, r_k: torch.Tensor,
    weight: torch.Tensor, bias: torch.Tensor, gate: torch.Tensor, eps: float,
) -> torch.Tensor:
    """(group_norm(o) + (r · (k ⊙ r_k)) v) ⊙ gate per head.

    Args:
        o, r, k, v: (B, T, H, N); r_k: (H, N); weight, bias: (H * N,);
        gate: (B, T, H * N); eps: the group norm's epsilon.

    Returns:
        (B, T, H * N) in the dtype of `gate`.
    """
    if use_triton(o.device.type):
        from local_model.ops.time_mix.fused import group_norm_bonus as fused

        return fused(o, r, k, v, r_k, weight, bias, gate, eps)
    return group_norm_bonus_naive(o, r, k, v, r_k, weight, bias, gate, eps)


__all__ = ["wkv7", "token_shift_mix", "group_norm_bonus"]
