"""WKV-7 token by token with batched matmuls, in plain PyTorch (decode on CPU).

Same signature and result as `naive.wkv7_naive`; it only avoids einsum, which
costs milliseconds per call on CPU for these small shapes, while decode calls
WKV once per layer per token.
"""

from __future__ import annotations

import torch


def wkv7_recurrent_torch(
    r: torch.Tensor,
    w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Args: r, w, k, v, a, b (B, T, H, N), `w` the log decay; state (B, H, N, N)
    fp32 (values x keys) or None. Returns o (B, T, H, N) fp32 and the new state;
    the given state is not modified."""
    B, T, H, N = r.shape
    S = torch.zeros(B, H, N, N, dtype=torch.float32, device=r.device) if state is None else state.float()
    r, w, k, v, a, b = (x.float() for x in (r, w, k, v, a, b))
    decay = w.exp()
    out = []
    for t in range(T):
        sa = S @ a[:, t, :, :, None]  # (B, H, N, 1): what the state holds under key a
        S = S * decay[:, t, :, None, :] + sa @ b[:, t, :, None, :] + v[:, t, :, :, None] @ k[:, t, :, None, :]
        out.append(S @ r[:, t, :, :, None])  # (B, H, N, 1)
    return torch.stack(out, dim=1).squeeze(-1), S
