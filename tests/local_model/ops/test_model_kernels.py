"""Model-level checks of the Triton path, on CPU under TRITON_INTERPRET=1 (see conftest).

RECURRENTGPT_KERNELS=triton makes the model run every Triton kernel on CPU
tensors (the WKV-7 chunk and fused recurrent kernels, the fused time-mix
ones); =naive runs the torch reference. A tiny random checkpoint keeps the
interpreter quick: 2 layers, width 64, 4 heads of 16.
"""

from __future__ import annotations

import pytest
import torch

from local_model.checkpoint import write_random_checkpoint
from local_model.model import RWKV7
from local_model.ops.wkv7.dispatch import KERNELS_ENV
from local_model.state import RecurrentState
from tests.local_model.ops.wkv7_cases import DEVICE, relative_rms

VOCAB = 256
TOLERANCE = 2e-3  # relative RMS in fp32, as for the kernels themselves


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny-h16-x070.pth"
    write_random_checkpoint(path, n_layer=2, n_embd=64, vocab=VOCAB, seed=5, head_size=16)
    return RWKV7.from_checkpoint(path, device=DEVICE)


def tokens(B: int, T: int, seed: int) -> torch.Tensor:
    return torch.randint(0, VOCAB, (B, T), generator=torch.Generator().manual_seed(seed)).to(DEVICE)


def assert_states_close(ours: RecurrentState, ref: RecurrentState) -> None:
    for mine, theirs in zip(ours.layers, ref.layers, strict=True):
        for name in ("att_shift", "ffn_shift", "wkv"):
            assert relative_rms(getattr(theirs, name), getattr(mine, name)) < TOLERANCE, name


def test_triton_full_sequence_logits_equal_naive(model, monkeypatch):
    prompt = tokens(2, 70, seed=0)  # T >= 64: the chunked kernel
    monkeypatch.setenv(KERNELS_ENV, "naive")
    ref, ref_state = model.forward_sequence(prompt, all_logits=True)
    monkeypatch.setenv(KERNELS_ENV, "triton")
    got, state = model.forward_sequence(prompt, all_logits=True)
    assert relative_rms(ref, got) < TOLERANCE
    assert_states_close(state, ref_state)


def test_triton_chunked_prefill_then_decode_equals_full_sequence(model, monkeypatch):
    seq = tokens(1, 68, seed=1)
    monkeypatch.setenv(KERNELS_ENV, "naive")
    full, full_state = model.forward_sequence(seq, all_logits=True)
    monkeypatch.setenv(KERNELS_ENV, "triton")
    logits, state = model.forward_sequence(seq[:, :64])  # chunked kernel
    pieces = [logits]
    for t in range(64, 68):  # fused recurrent + fused time-mix kernels, one token each
        logits, state = model.forward_step(seq[:, t], state)
        pieces.append(logits)
    got = torch.stack(pieces, dim=1)  # logits after tokens 63..67
    assert relative_rms(full[:, 63:], got) < TOLERANCE
    assert_states_close(state, full_state)


@pytest.mark.parametrize("kernels", ["naive", "triton"])
def test_batched_decode_equals_each_sequence_alone(model, monkeypatch, kernels):
    monkeypatch.setenv(KERNELS_ENV, "naive")  # prefill is not what this test is about
    prompts = [tokens(1, T, seed=10 + T) for T in (3, 7, 12)]  # different lengths, different states
    states = [model.forward_sequence(p)[1] for p in prompts]
    steps = tokens(3, 4, seed=2)  # tokens (sequence, step)
    monkeypatch.setenv(KERNELS_ENV, kernels)

    batched = RecurrentState.stack(states)
    batched_logits = []
    for t in range(steps.shape[1]):
        logits, batched = model.forward_step(steps[:, t], batched)
        batched_logits.append(logits)
    for i, state in enumerate(states):
        for t in range(steps.shape[1]):
            alone, state = model.forward_step(steps[i : i + 1, t], state)
            torch.testing.assert_close(batched_logits[t][i : i + 1], alone, atol=1e-5, rtol=1e-5)
        assert_states_close(batched.select(i), state)


def test_state_stack_select_and_copy(model):
    a = model.forward_sequence(tokens(1, 5, seed=3))[1]
    b = model.forward_sequence(tokens(2, 5, seed=4))[1]
    both = RecurrentState.stack([a, b])
    assert both.batch == 3
    parts = both.unstack()
    assert torch.equal(parts[0].layers[1].wkv, a.layers[1].wkv)
    assert torch.equal(parts[2].layers[0].att_shift, b.select(1).layers[0].att_shift)
    target = model.zero_state(1)
    target.copy_(parts[1])
    assert torch.equal(target.layers[0].ffn_shift, b.layers[0].ffn_shift[:1])
    with pytest.raises(ValueError, match="shapes differ"):
        model.zero_state(3).copy_(a)  # would broadcast one sequence over three


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_graphed_decode_equals_eager_decode(model):
    from local_model.cuda_graph import EagerStepper, GraphedStepper

    prompt_state = model.forward_sequence(tokens(2, 9, seed=6))[1]
    steps = tokens(2, 5, seed=7)
    eager, graphed = EagerStepper(model, 2), GraphedStepper(model, 2)
    eager.load(prompt_state)
    graphed.load(prompt_state)
    for t in range(steps.shape[1]):
        torch.testing.assert_close(graphed.step(steps[:, t]), eager.step(steps[:, t]), atol=1e-4, rtol=1e-4)
    assert_states_close(graphed.state(), eager.state())
    assert graphed.state().layers[0].wkv.data_ptr() != graphed.static_state.layers[0].wkv.data_ptr()


def test_triton_setting_forces_the_kernels_on_cpu(monkeypatch):
    from local_model.ops.wkv7.dispatch import use_triton, wkv7_choice

    assert wkv7_choice("cpu", 64, setting="triton", triton_ok=True) == "chunk"
    assert wkv7_choice("cpu", 1, setting="triton", triton_ok=True) == "fused_recurrent"
    with pytest.raises(RuntimeError, match="triton does not import"):
        wkv7_choice("cpu", 1, setting="triton", triton_ok=False)
    monkeypatch.setenv(KERNELS_ENV, "triton")
    assert use_triton("cpu")
    monkeypatch.setenv(KERNELS_ENV, "auto")
    assert use_triton("cpu") is False
