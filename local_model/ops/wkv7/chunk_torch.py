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
    chunk_size: int = 32,
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
    S = torch.zeros(B * H, N, N, dtype=torch.float32, device=device) if state is None else state.float().reshape(B * H, N, N)
    L = _chunk_length(w, chunk_size)
    n_chunks = -(-T // L)
    pad = n_chunks * L - T

    def chunked(x: torch.Tensor) -> torch.Tensor:  # (B, T, H, N) -> (B*H, n_chunks, L, N), one contiguous copy
        if pad:  # padding tokens have decay 1 and zero inputs: they leave the state as is
            x = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, pad))
        return x.float().permute(0, 2, 1, 3).reshape(B * H, n_chunks, L, N)

    r, w, k, v, a, b = (chunked(x) for x in (r, w, k, v, a, b))
    cw = w.cumsum(dim=-2)  # log decay from chunk start through token t
    cw_last = cw[..., -1:, :]  # (BH, n_chunks, 1, N)
    a_hat = a * (cw - w).exp_()  # e^{cw_{t-1}}
    r_hat = r * cw.exp()
    decay_from = (-cw).exp_()
    bk_hat = torch.cat((b * decay_from, k * decay_from), dim=-2)  # (BH, n_chunks, 2L, N): b̂ then k̂
    to_end = (cw_last - cw).exp_()  # e^{cw_L - cw_s}
    bk_end = torch.cat((b * to_end, k * to_end), dim=-2)
    chunk_decay = cw_last.exp()  # (BH, n_chunks, 1, N)

    strict = torch.ones(L, L, dtype=torch.bool, device=device).tril(-1)
    inclusive = torch.ones(L, L, dtype=torch.bool, device=device).tril().repeat(1, 2)
    a_bk = a_hat @ bk_hat.transpose(-1, -2)  # (BH, n_chunks, L, 2L): [Ã B̂ᵀ | Ã K̂ᵀ]
    a_bk.masked_fill_(~strict.repeat(1, 2), 0.0)
    r_bk = (r_hat @ bk_hat.transpose(-1, -2)).masked_fill_(~inclusive, 0.0)  # [R̃ B̂ᵀ | R̃ K̂ᵀ], token s <= t
    system = torch.eye(L, dtype=torch.float32, device=device) - a_bk[..., :L]
    # U = W S_0ᵀ + U_v: one triangular solve for both parts of the delta-rule reads.
    solved = torch.linalg.solve_triangular(
        system, torch.cat((a_hat, a_bk[..., L:] @ v), dim=-1), upper=False, unitriangular=True)
    W, U_v = solved[..., :N], solved[..., N:]

    # The sequential part: per chunk, the reads U and the state carried on.
    uv = torch.empty(B * H, n_chunks, 2 * L, N, dtype=torch.float32, device=device)  # [U; V] per chunk
    uv[:, :, L:] = v
    states_in = torch.empty(B * H, n_chunks, N, N, dtype=torch.float32, device=device)
    for c in range(n_chunks):
        states_in[:, c] = S
        uv[:, c, :L] = torch.baddbmm(U_v[:, c], W[:, c], S.transpose(-1, -2))
        S = torch.baddbmm(S * chunk_decay[:, c], uv[:, c].transpose(-1, -2), bk_end[:, c])
    # Every chunk's output at once: o_t = S_0 r̃_t + sum_{s<=t} (r̃_t·b̂_s) u_s + (r̃_t·k̂_s) v_s.
    out = (r_hat @ states_in.transpose(-1, -2)).add_(r_bk @ uv)
    o = out.view(B, H, n_chunks * L, N).permute(0, 2, 1, 3)[:, :T]
    return o, S.view(B, H, N, N)
