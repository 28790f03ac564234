"""The fused time-mix kernels (token shift + mixes, group norm + bonus) against their torch twins."""

from __future__ import annotations

import pytest
import torch

from local_model.ops.time_mix import group_norm_bonus_naive, token_shift_mix_naive
from local_model.ops.time_mix.fused import group_norm_bonus, token_shift_mix
from local_model.ops.wkv7.inference_only import InferenceOnlyError
from tests.local_model.ops.wkv7_cases import DEVICE, relative_rms

TOLERANCE = {torch.float32: 2e-3, torch.bfloat16: 8e-3, torch.float16: 8e-3}
DTYPES = [torch.float32, torch.bfloat16, torch.float16]
H, N = 2, 16
EPS = 64e-5  # RWKV-7's group norm epsilon


def randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(DEVICE)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("B", [1, 2])
@pytest.mark.parametrize("T", [1, 63, 64, 130])
def test_token_shift_mix_matches_naive(T, B, dtype):
    C = H * N
    x, last = randn(B, T, C, seed=0).to(dtype), randn(B, C, seed=1).to(dtype)
    mixes = torch.rand(6, C, generator=torch.Generator().manual_seed(2)).to(DEVICE)
    ref = token_shift_mix_naive(x.float(), last.float(), mixes)

    out = token_shift_mix(x, last, mixes)

    assert out.shape == (6, B, T, C) and out.dtype == dtype
    assert relative_rms(ref, out) < TOLERANCE[dtype]


def test_token_shift_mix_uses_the_carried_token_for_the_first_position():
    x, last = randn(1, 3, 8, seed=3), randn(1, 8, seed=4)
    mixes = torch.ones(1, 8, device=DEVICE)  # mix 1 = the previous token itself
    out = token_shift_mix(x, last, mixes)[0]
    assert torch.allclose(out[:, 0], last) and torch.allclose(out[:, 1:], x[:, :-1])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("B", [1, 2])
@pytest.mark.parametrize("T", [1, 63, 64, 130])
def test_group_norm_bonus_matches_naive(T, B, dtype):
    C = H * N
    o, r, k, v = (randn(B, T, H, N, seed=s).to(dtype) for s in range(4))
    r_k = 0.3 * randn(H, N, seed=4)
    weight, bias = 0.5 + torch.rand(C, generator=torch.Generator().manual_seed(5)).to(DEVICE), 0.02 * randn(C, seed=6)
    gate = randn(B, T, C, seed=7).to(dtype)
    args = (r_k, weight, bias)
    ref = group_norm_bonus_naive(o.float(), r.float(), k.float(), v.float(), *args, gate.float(), EPS)

    out = group_norm_bonus(o, r, k, v, *args, gate, EPS)

    assert out.shape == (B, T, C) and out.dtype == dtype
    assert relative_rms(ref, out) < TOLERANCE[dtype]


def test_fused_time_mix_backward_raises():
    x = randn(1, 2, 8, seed=0).requires_grad_()
    out = token_shift_mix(x, randn(1, 8, seed=1), randn(6, 8, seed=2))
    with pytest.raises(InferenceOnlyError, match="token_shift_mix is an inference-only"):
        out.sum().backward()
