"""Triton kernels for the elementwise parts of RWKV-7's time mix (see naive.py).

Each replaces a chain of small torch kernels with one pass over memory, which
is what a batch-1 decode step is made of once the matmuls are fast. Inference
only: backward raises `InferenceOnlyError`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from local_model.ops.wkv7.inference_only import inference_only


@triton.jit(do_not_specialize=["T"])
def _token_shift_mix_kernel(
    x_ptr,  # (B, T, C)
    last_ptr,  # (B, C)
    mix_ptr,  # (M, C)
    out_ptr,  # (M, B, T, C), dtype of x
    T, C, BTC,  # BTC = B * T * C, the stride between the M outputs
    M: tl.constexpr,
    BC: tl.constexpr,
):
    row = tl.program_id(0)  # b * T + t
    cols = tl.program_id(1) * BC + tl.arange(0, BC)
    ok = cols < C
    t = row % T + tl.zeros([BC], dtype=tl.int32)  # as a block: scalar masks are not portable
    b = row // T
    x = tl.load(x_ptr + row * C + cols, mask=ok, other=0.0).to(tl.float32)
    # The previous token is in x except for the first, whose is the carried state.
    from_x = tl.load(x_ptr + (row - 1) * C + cols, mask=ok & (t > 0), other=0.0).to(tl.float32)
    from_last = tl.load(last_ptr + b * C + cols, mask=ok & (t == 0), other=0.0).to(tl.float32)
    delta = from_x + from_last - x
    for i in tl.static_range(M):
        mix = tl.load(mix_ptr + i * C + cols, mask=ok, other=0.0).to(tl.float32)
        tl.store(out_ptr + i * BTC + row * C + cols, (x + delta * mix).to(out_ptr.dtype.element_ty), mask=ok)


def _token_shift_mix(x, last, mixes):
    B, T, C = x.shape
    if last.shape != (B, C) or mixes.dim() != 2 or mixes.shape[1] != C:
        raise ValueError(f"expected last (B, C) = {(B, C)} and mixes (M, {C}), "
                         f"got {tuple(last.shape)} and {tuple(mixes.shape)}")
    x, last, mixes = x.contiguous(), last.contiguous(), mixes.contiguous()
    M = mixes.shape[0]
    out = torch.empty(M, B, T, C, dtype=x.dtype, device=x.device)
    BC = min(1024, triton.next_power_of_2(C))
    _token_shift_mix_kernel[(B * T, triton.cdiv(C, BC))](x, last, mixes, out, T, C, B * T * C, M=M, BC=BC)
    return out


token_shift_mix = inference_only("token_shift_mix", _token_shift_mix)
token_shift_mix.__doc__ = """Token shift with M mixes in one kernel (Triton).

Args:
    x: (B, T, C); last: (B, C) the token before x[:, 0]; mixes: (M, C).

Returns:
    (M, B, T, C) in the dtype of x: out[i] = x + (x_prev - x) * mixes[i].
"""


@triton.jit
def _group_norm_bonus_kernel(
    o_ptr, r_ptr, k_ptr, v_ptr,  # (B, T, H, N)
    rk_ptr,  # (H, N)
    weight_ptr, bias_ptr,  # (H * N,)
    gate_ptr,  # (B, T, H * N)
    out_ptr,  # (B, T, H * N), dtype of gate
    H, eps,
    N: tl.constexpr,
    BN: tl.constexpr,
):
    i = tl.program_id(0)  # (b * T + t) * H + h: one head of one token
    h = i % H
    cols = tl.arange(0, BN)
    ok = cols < N
    offs = i * N + cols  # (B, T, H, N) and (B, T, H * N) share this layout
    o = tl.load(o_ptr + offs, mask=ok, other=0.0).to(tl.float32)
    mean = tl.sum(o, axis=0) / N
    centred = tl.where(ok, o - mean, 0.0)
    var = tl.sum(centred * centred, axis=0) / N
    weight = tl.load(weight_ptr + h * N + cols, mask=ok, other=0.0).to(tl.float32)
    bias = tl.load(bias_ptr + h * N + cols, mask=ok, other=0.0).to(tl.float32)
    normed = centred * tl.rsqrt(var + eps) * weight + bias

    r = tl.load(r_ptr + offs, mask=ok, other=0.0).to(tl.float32)
    k = tl.load(k_ptr + offs, mask=ok, other=0.0).to(tl.float32)
    v = tl.load(v_ptr + offs, mask=ok, other=0.0).to(tl.float32)
    rk = tl.load(rk_ptr + h * N + cols, mask=ok, other=0.0).to(tl.float32)
    bonus = tl.sum(r * k * rk, axis=0) * v
    gate = tl.load(gate_ptr + offs, mask=ok, other=0.0).to(tl.float32)
    tl.store(out_ptr + offs, ((normed + bonus) * gate).to(out_ptr.dtype.element_ty), mask=ok)


def _group_norm_bonus(o, r, k, v, r_k, weight, bias, gate, eps):
    B, T, H, N = o.shape
    for name, x in (("r", r), ("k", k), ("v", v)):
        if x.shape != o.shape:
            raise ValueError(f"{name} has shape {tuple(x.shape)}, expected {tuple(o.shape)} like o")
    if r_k.shape != (H, N) or weight.shape != (H * N,) or bias.shape != (H * N,) or gate.shape != (B, T, H * N):
        raise ValueError("expected r_k (H, N), weight and bias (H*N,), gate (B, T, H*N)")
    o, r, k, v, r_k, weight, bias, gate = (x.contiguous() for x in (o, r, k, v, r_k, weight, bias, gate))
    out = torch.empty_like(gate)
    _group_norm_bonus_kernel[(B * T * H,)](
        o, r, k, v, r_k, weight, bias, gate, out, H, float(eps), N=N, BN=triton.next_power_of_2(N)
    )
    return out


group_norm_bonus = inference_only("group_norm_bonus", _group_norm_bonus)
group_norm_bonus.__doc__ = """(group_norm(o) + (r · (k ⊙ r_k)) v) ⊙ gate per head, in one kernel (Triton).

Args:
    o, r, k, v: (B, T, H, N); r_k: (H, N); weight, bias: (H * N,);
    gate: (B, T, H * N); eps: the group norm's epsilon.

Returns:
    (B, T, H * N) in the dtype of `gate`.
"""
