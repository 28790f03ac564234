"""WKV-7 over a whole sequence in chunks, in plain PyTorch (fast prefill on CPU).

Same signature and result as `naive.wkv7_naive`, but the only Python loop is
over chunks of L tokens. Within a chunk (state S_0 on entry, cw_t the cumulative
log decay up to and including token t, so token t sees exp(cw_t - cw_s) of
token s's contribution) the state is

    S_t = S_0 diag(e^{cw_t}) + sum_{s<=t} (u_s b_sᵀ + v_s k_sᵀ) diag(e^{cw_t - cw_s})

where u_s = S_{s-1} a_s is the delta-rule read of the state. Writing
ã_t = a_t e^{cw_{t-1}}, b̂_s = b_s e^{-cw_s}, k̂_s = k_s e^{-cw_s} gives the
L x L lower-triangular system (I - tril(Ã B̂ᵀ)) U = Ã S_0ᵀ + tril(Ã K̂ᵀ) V.
Its inverse depends on the inputs only, so every chunk solves it at once; the
sequential part is four (L x N) x (N x N) products per chunk.
"""

from __future__ import annotations

import torch

# e^{-cw} over a chunk must stay well inside fp32 range (e^88): cap the total
# log decay a chunk can accumulate.
_MAX_CHUNK_LOG_DECAY = 60.0


def _chunk_length(w: torch.Tensor, preferred: int) -> int:
    steepest = float(-w.min()) if w.numel() else 0.0
    if steepest <= 0.0:
        return preferred
    return max(1, min(preferred, int(_MAX_CHUNK_LOG_DECAY / steepest)))


def wkv7_chunk_torch(
    r: torch.Tensor,
    w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    state: torch.Tensor | None = None,
    chunk_size: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunked WKV-7.

    Args:
        r, w, k, v, a, b: (B, T, H, N). `w` is the log decay (<= 0).
        state: (B, H, N, N) fp32 (values x keys), or None for zeros. Not modified.
        chunk_size: tokens per chunk; shortened when decays are steep.

    Returns:
        o: (B, T, H, N) fp32.
        state: (B, H, N, N) fp32 after the last token.
    """
    B, T, H, N = r.shape
    device = r.device
    S = torch.zeros(B, H, N, N, dtype=torch.float32, device=device) if state is None else state.float()
    r, w, k, v, a, b = (x.float() for x in (r, w, k, v, a, b))
    L = _chunk_length(w, chunk_size)
    n_chunks = -(-T // L)
    pad = n_chunks * L - T
    if pad:
        # Padding tokens have decay 1 and zero inputs: they leave the state as is.
        r, w, k, v, a, b = (torch.nn.functional.pad(x, (0, 0, 0, 0, 0, pad)) for x in (r, w, k, v, a, b))

    def chunked(x: torch.Tensor) -> torch.Tensor:  # (B, T, H, N) -> (B, H, n_chunks, L, N)
        return x.view(B, n_chunks, L, H, N).permute(0, 3, 1, 2, 4)

    r, w, k, v, a, b = (chunked(x) for x in (r, w, k, v, a, b))
    cw = w.cumsum(dim=-2)  # log decay from chunk start through token t
    cw_before = cw - w  # ... through token t-1
    a_hat = a * cw_before.exp()
    r_hat = r * cw.exp()
    b_hat = b * (-cw).exp()
    k_hat = k * (-cw).exp()
    decay_to_end = (cw[..., -1:, :] - cw).exp()  # e^{cw_L - cw_s}
    b_end, k_end = b * decay_to_end, k * decay_to_end
    chunk_decay = cw[..., -1, :].exp()  # (B, H, n_chunks, N)

    strict = torch.ones(L, L, dtype=torch.bool, device=device).tril(-1)
    inclusive = torch.ones(L, L, dtype=torch.bool, device=device).tril()
    ab = (a_hat @ b_hat.transpose(-1, -2)).masked_fill(~strict, 0.0)
    ak = (a_hat @ k_hat.transpose(-1, -2)).masked_fill(~strict, 0.0)
    rb = (r_hat @ b_hat.transpose(-1, -2)).masked_fill(~inclusive, 0.0)
    rk = (r_hat @ k_hat.transpose(-1, -2)).masked_fill(~inclusive, 0.0)
    eye = torch.eye(L, dtype=torch.float32, device=device)
    system = eye - ab
    # U = W S_0ᵀ + U_v: the parts of the delta-rule reads that do not depend on S_0.
    W = torch.linalg.solve_triangular(system, a_hat, upper=False, unitriangular=True)
    U_v = torch.linalg.solve_triangular(system, ak @ v, upper=False, unitriangular=True)
    # Everything in O not involving S_0 or U: the plain intra-chunk attention.
    O_v = rk @ v

    out = torch.empty(B, H, n_chunks, L, N, dtype=torch.float32, device=device)
    for c in range(n_chunks):
        S_t = S.transpose(-1, -2)  # (B, H, N_k, N_v)
        U = W[:, :, c] @ S_t + U_v[:, :, c]  # (B, H, L, N_v)
        out[:, :, c] = r_hat[:, :, c] @ S_t + rb[:, :, c] @ U + O_v[:, :, c]
        S = (
            S * chunk_decay[:, :, c, None, :]
            + U.transpose(-1, -2) @ b_end[:, :, c]
            + v[:, :, c].transpose(-1, -2) @ k_end[:, :, c]
        )
    o = out.permute(0, 2, 3, 1, 4).reshape(B, n_chunks * L, H, N)[:, :T]
    return o, S
