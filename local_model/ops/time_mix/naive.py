"""The elementwise parts of RWKV-7's time mix, in plain PyTorch: twins of fused.py.

At batch 1 a decode step is dozens of tiny elementwise kernels per layer
around the matmuls; these two groups are the largest:

- token shift with its six mixes: x + (x_prev - x) * mix_i for the receptance,
  decay, key, value, learning-rate and gate inputs (13 kernels in torch);
- the per-head group norm of the WKV output, the "bonus" of the current
  token ((r · (k ⊙ r_k)) v per head) and the output gate (about 10 kernels).

Both compute in fp32 and round once to the dtype of `x` / `o`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def token_shift_mix_naive(x: torch.Tensor, last: torch.Tensor, mixes: torch.Tensor) -> torch.Tensor:
    """Interpolate each token with the previous one, six ways.

    Args:
        x: (B, T, C) the normalised input of the time mix.
        last: (B, C) the input of the token before x[:, 0] (the token-shift state).
        mixes: (M, C) interpolation weights, in RWKV-7 M = 6 (x_r, x_w, x_k, x_v, x_a, x_g).

    Returns:
        (M, B, T, C) in the dtype of x: out[i] = x + (x_prev - x) * mixes[i].
    """
    xf = x.float()
    prev = torch.cat((last.float().unsqueeze(1), xf[:, :-1]), dim=1)
    out = torch.addcmul(xf.unsqueeze(0), (prev - xf).unsqueeze(0), mixes.float()[:, None, None, :])
    return out.to(x.dtype)


def group_norm_bonus_naive(
    o: torch.Tensor,
    r: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    r_k: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    gate: torch.Tensor,
    eps: float,
) -> torch.Tensor:
    """(group_norm(o) + (r · (k ⊙ r_k)) v) ⊙ gate, per head.

    Args:
        o, r, k, v: (B, T, H, N): the WKV output and the time mix's r, k, v.
        r_k: (H, N) the per-channel weight of the current-token bonus.
        weight, bias: (H * N,) the group norm's affine parameters.
        gate: (B, T, H * N) the output gate.
        eps: the group norm's epsilon.

    Returns:
        (B, T, H * N) in the dtype of `gate`.
    """
    B, T, H, N = o.shape
    normed = F.group_norm(o.float().reshape(B * T, H * N), H, weight.float(), bias.float(), eps)
    bonus = (r.float() * k.float() * r_k.float()).sum(dim=-1, keepdim=True) * v.float()
    out = (normed.view(B, T, H * N) + bonus.view(B, T, H * N)) * gate.float()
    return out.to(gate.dtype)
