"""The WKV-7 recurrence in plain PyTorch: the reference every kernel is tested against.

RWKV-7 keeps, per head, a matrix state S of shape (N, N) (rows index values,
columns index keys). For each token t:

    S_t = S_{t-1} · diag(exp(w_t)) + (S_{t-1} a_t) b_tᵀ + v_t k_tᵀ
    o_t = S_t r_t

`w` is the log of the per-channel decay (always <= 0). In RWKV-7 itself
`a = -kk` (the normalised key) and `b = kk * iclr` (the in-context learning
rate), which makes the middle term a delta-rule correction of the state.
"""

from __future__ import annotations

import torch


def wkv7_naive(
    r: torch.Tensor,
    w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the recurrence token by token.

    Args:
        r, w, k, v, a, b: (B, T, H, N). `w` is the log decay (<= 0).
        state: (B, H, N, N) fp32, or None for zeros. Not modified in place.

    Returns:
        o: (B, T, H, N) in the dtype of `r`.
        state: (B, H, N, N) fp32, the state after the last token.
    """
    B, T, H, N = r.shape
    if state is None:
        S = torch.zeros(B, H, N, N, dtype=torch.float32, device=r.device)
    else:
        S = state.to(torch.float32).clone()
    r, w, k, v, a, b = (x.to(torch.float32) for x in (r, w, k, v, a, b))
    decay = torch.exp(w)
    out = torch.empty(B, T, H, N, dtype=torch.float32, device=r.device)
    for t in range(T):
        sa = torch.einsum("bhij,bhj->bhi", S, a[:, t])  # (B, H, N)
        S = (
            S * decay[:, t, :, None, :]
            + sa[..., :, None] * b[:, t, :, None, :]
            + v[:, t, :, :, None] * k[:, t, :, None, :]
        )
        out[:, t] = torch.einsum("bhij,bhj->bhi", S, r[:, t])
    return out.to(r.dtype), S
