"""One model, two paths: a whole-prompt prefill and token-by-token decode agree."""

from __future__ import annotations

import pytest
import torch

from local_model.model import RWKV7
from local_model.ops import wkv7
from local_model.ops.wkv7.chunk_torch import wkv7_chunk_torch
from local_model.ops.wkv7.naive import wkv7_naive
from local_model.ops.wkv7.recurrent_torch import wkv7_recurrent_torch
from local_model.state import RecurrentState


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    model = RWKV7.from_checkpoint(tiny_checkpoint)
    model.prefill_dtype = "fp32"  # these compare fp32 paths; the bf16 prefill has its own tests
    return model


def rwkv7_like_inputs(B, T, H, N, seed=0, steep=False):
    g = torch.Generator().manual_seed(seed)
    r, k, v = (torch.randn(B, T, H, N, generator=g) for _ in range(3))
    # RWKV-7's decay range, or much steeper to exercise the chunk shortening.
    w = -(5.0 if steep else 0.606531) * torch.rand(B, T, H, N, generator=g)
    kk = torch.nn.functional.normalize(torch.randn(B, T, H, N, generator=g), dim=-1)
    a, b = -kk, kk * torch.rand(B, T, H, N, generator=g)
    state = torch.randn(B, H, N, N, generator=g)
    return r, w, k, v, a, b, state


def rel_rms(x, y):
    return ((x - y).norm() / y.norm()).item()


@pytest.mark.parametrize("T", [1, 15, 16, 63, 100])
@pytest.mark.parametrize("N", [32, 64])
def test_chunked_wkv_equals_naive(T, N):
    inputs = rwkv7_like_inputs(2, T, 2, N, seed=T)
    o_ref, s_ref = wkv7_naive(*inputs)
    o, s = wkv7_chunk_torch(*inputs)
    assert rel_rms(o, o_ref) < 1e-5 and rel_rms(s, s_ref) < 1e-5


def test_chunked_wkv_survives_steep_decays():
    inputs = rwkv7_like_inputs(1, 80, 2, 64, steep=True)
    o_ref, s_ref = wkv7_naive(*inputs)
    o, s = wkv7_chunk_torch(*inputs)
    assert torch.isfinite(o).all() and rel_rms(o, o_ref) < 1e-5 and rel_rms(s, s_ref) < 1e-5


@pytest.mark.parametrize("T", [1, 7])
def test_recurrent_wkv_equals_naive(T):
    inputs = rwkv7_like_inputs(2, T, 3, 64)
    o_ref, s_ref = wkv7_naive(*inputs)
    o, s = wkv7_recurrent_torch(*inputs)
    assert rel_rms(o, o_ref) < 1e-6 and rel_rms(s, s_ref) < 1e-6


def test_dispatch_never_modifies_the_given_state():
    inputs = rwkv7_like_inputs(1, 20, 2, 64)
    before = inputs[-1].clone()
    wkv7(*inputs)
    wkv7(*(x[:, :1] for x in inputs[:-1]), inputs[-1])
    assert torch.equal(inputs[-1], before)


def test_full_sequence_equals_chunked_prefill_then_decode(model):
    tokens = torch.randint(0, 1000, (2, 90), generator=torch.Generator().manual_seed(3))
    full, full_state = model.forward_sequence(tokens, all_logits=True)
    state, pieces = None, []
    for start, end in ((0, 37), (37, 60)):  # uneven chunks, state carried across
        logits, state = model.forward_sequence(tokens[:, start:end], state, all_logits=True)
        pieces.append(logits)
    for t in range(60, 90):
        logits, state = model.forward_step(tokens[:, t], state)
        pieces.append(logits[:, None])
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-4, rtol=0)
    for ours, theirs in zip(state.layers, full_state.layers):
        torch.testing.assert_close(ours.wkv, theirs.wkv, atol=1e-4, rtol=0)


def test_state_clone_save_load_and_move(model, tmp_path):
    _, state = model.forward_sequence(torch.tensor([[1, 2, 3, 4]]))
    state.save(tmp_path / "s.pt")
    loaded = RecurrentState.load(tmp_path / "s.pt")
    copy = state.clone()
    half = state.to(dtype=torch.bfloat16)
    assert half.layers[0].att_shift.dtype == torch.bfloat16 and half.layers[0].wkv.dtype == torch.float32
    next_a, _ = model.forward_step(torch.tensor([5]), loaded)
    next_b, _ = model.forward_step(torch.tensor([5]), copy)
    next_c, _ = model.forward_step(torch.tensor([5]), state)
    assert torch.equal(next_a, next_c) and torch.equal(next_b, next_c)
    assert copy.nbytes() == state.nbytes() == 2 * (2 * 128 * 4 + 2 * 64 * 64 * 4)


def test_bf16_model_stays_close_to_fp32(tiny_checkpoint, model):
    bf16 = RWKV7.from_checkpoint(tiny_checkpoint, dtype=torch.bfloat16)
    tokens = torch.tensor([[10, 20, 30, 40, 50]])
    ref, _ = model.forward_sequence(tokens)
    low, state = bf16.forward_sequence(tokens)
    assert state.layers[0].wkv.dtype == torch.float32
    assert rel_rms(low, ref) < 0.1
