"""WKV-7 as a fused recurrent Triton kernel: for decoding and short inputs.

One program owns one (batch, head, block of value rows) and walks the tokens
in order, keeping its slice of the state in registers the whole time, so the
state is read from memory once and written once however many tokens there are.
Splitting over value rows is exact: each row i of the state only ever needs
its own row (S a and S r are row-wise dot products), so programs never talk.

Same maths as `wkv7_naive`:

    S_t = S_{t-1} · diag(exp(w_t)) + (S_{t-1} a_t) b_tᵀ + v_t k_tᵀ
    o_t = S_t r_t
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from local_model.ops.wkv7.inference_only import inference_only


# T is not specialised: one compiled kernel serves every length (and a CUDA
# graph captured after a warm-up at another length never triggers a compile).
@triton.jit(do_not_specialize=["T"])
def _wkv7_fused_recurrent_kernel(
    r_ptr, w_ptr, k_ptr, v_ptr, a_ptr, b_ptr,  # (B, T, H, N), any float dtype
    s0_ptr,  # (B, H, N, N) fp32, read only when HAS_INITIAL_STATE
    o_ptr,  # (B, T, H, N), dtype of r
    sT_ptr,  # (B, H, N, N) fp32, written
    T, H,
    N: tl.constexpr,
    BK: tl.constexpr,  # N rounded up to a power of two (tl.arange needs one)
    BV: tl.constexpr,  # value rows per program
    HAS_INITIAL_STATE: tl.constexpr,
):
    i_v = tl.program_id(0)
    i_bh = tl.program_id(1)
    i_b = i_bh // H
    i_h = i_bh % H

    rows = i_v * BV + tl.arange(0, BV)  # value index i
    cols = tl.arange(0, BK)  # key index j
    row_ok = rows < N
    col_ok = cols < N
    mask_s = row_ok[:, None] & col_ok[None, :]

    # The state slice S[i, j], rows = values, columns = keys (as in naive.py).
    s_offs = i_bh * N * N + rows[:, None] * N + cols[None, :]
    if HAS_INITIAL_STATE:
        S = tl.load(s0_ptr + s_offs, mask=mask_s, other=0.0).to(tl.float32)
    else:
        S = tl.zeros([BV, BK], dtype=tl.float32)

    # Token t of head h lives at ((b * T + t) * H + h) * N.
    base = (i_b * T * H + i_h) * N
    step = H * N
    for t in range(0, T):
        p = base + t * step
        r_t = tl.load(r_ptr + p + cols, mask=col_ok, other=0.0).to(tl.float32)
        w_t = tl.load(w_ptr + p + cols, mask=col_ok, other=0.0).to(tl.float32)
        k_t = tl.load(k_ptr + p + cols, mask=col_ok, other=0.0).to(tl.float32)
        a_t = tl.load(a_ptr + p + cols, mask=col_ok, other=0.0).to(tl.float32)
        b_t = tl.load(b_ptr + p + cols, mask=col_ok, other=0.0).to(tl.float32)
        v_t = tl.load(v_ptr + p + rows, mask=row_ok, other=0.0).to(tl.float32)

        sa = tl.sum(S * a_t[None, :], axis=1)  # (BV,) = S_{t-1} a_t
        S = S * tl.exp(w_t)[None, :] + sa[:, None] * b_t[None, :] + v_t[:, None] * k_t[None, :]
        o_t = tl.sum(S * r_t[None, :], axis=1)  # (BV,) = S_t r_t
        tl.store(o_ptr + p + rows, o_t.to(o_ptr.dtype.element_ty), mask=row_ok)

    tl.store(sT_ptr + s_offs, S, mask=mask_s)


def check_wkv7_inputs(r, w, k, v, a, b, state) -> None:
    """Refuse inputs the kernels cannot take, naming what is wrong."""
    shape = r.shape
    if r.dim() != 4:
        raise ValueError(f"r must be (B, T, H, N), got shape {tuple(shape)}")
    for name, x in (("w", w), ("k", k), ("v", v), ("a", a), ("b", b)):
        if x.shape != shape:
            raise ValueError(f"{name} has shape {tuple(x.shape)}, expected {tuple(shape)} like r")
        if x.device != r.device:
            raise ValueError(f"{name} is on {x.device}, r on {r.device}")
    B, _, H, N = shape
    if state is not None and state.shape != (B, H, N, N):
        raise ValueError(f"state has shape {tuple(state.shape)}, expected {(B, H, N, N)}")


def _forward(r, w, k, v, a, b, state=None):
    """Triton forward; see `wkv7_fused_recurrent` for shapes."""
    check_wkv7_inputs(r, w, k, v, a, b, state)
    B, T, H, N = r.shape
    r, w, k, v, a, b = (x.contiguous() for x in (r, w, k, v, a, b))
    o = torch.empty_like(r)
    final = torch.empty(B, H, N, N, dtype=torch.float32, device=r.device)
    if state is not None:
        state = state.to(torch.float32).contiguous()
    BK = triton.next_power_of_2(N)
    # 32 value rows per program gives B*H*2 programs at N=64: enough to fill
    # the GPU at batch 1 with 12-32 heads, few enough registers (32x64 fp32).
    BV = min(BK, 32)
    grid = (triton.cdiv(N, BV), B * H)
    _wkv7_fused_recurrent_kernel[grid](
        r, w, k, v, a, b,
        state if state is not None else final,  # unused pointer when no state
        o, final,
        T, H,
        N=N, BK=BK, BV=BV,
        HAS_INITIAL_STATE=state is not None,
    )
    return o, final


_forward.__doc__ = None
wkv7_fused_recurrent = inference_only("wkv7_fused_recurrent", _forward)
wkv7_fused_recurrent.__doc__ = """WKV-7 with the state kept in registers across tokens (Triton).

Best for decoding (T = 1) and short inputs; `wkv7_chunk` is faster for
prefill. Inference only: backward raises `InferenceOnlyError`.

Args:
    r, w, k, v, a, b: (B, T, H, N) on a Triton device (CUDA, or CPU under
        TRITON_INTERPRET=1), any float dtype; `w` is the log decay (<= 0).
    state: (B, H, N, N) fp32 (rows values, columns keys), or None for zeros.
        Not modified in place.

Returns:
    o: (B, T, H, N) in the dtype of `r`.
    state: (B, H, N, N) fp32, the state after the last token.
"""
