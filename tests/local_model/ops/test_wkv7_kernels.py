"""The Triton WKV-7 kernels against the torch reference (`wkv7_naive`).

On CPU the kernels run under TRITON_INTERPRET=1 (see conftest.py) at head size
16; on a GPU head size 64 (the real models') is added.
"""

from __future__ import annotations

import pytest
import torch

from local_model.ops.wkv7 import wkv7_naive
from local_model.ops.wkv7.chunk import wkv7_chunk
from local_model.ops.wkv7.fused_recurrent import wkv7_fused_recurrent
from local_model.ops.wkv7.inference_only import InferenceOnlyError
from tests.local_model.ops.wkv7_cases import DEVICE, initial_state, relative_rms, rwkv7_inputs

KERNELS = {"fused_recurrent": wkv7_fused_recurrent, "chunk": wkv7_chunk}
TOLERANCE = {torch.float32: 2e-3, torch.bfloat16: 8e-3, torch.float16: 8e-3}
HEAD_SIZES = [16, 64] if DEVICE == "cuda" else [16]


@pytest.mark.parametrize("N", HEAD_SIZES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "initial_state"])
@pytest.mark.parametrize("B", [1, 2])
@pytest.mark.parametrize("T", [1, 63, 64, 130])
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_kernel_matches_naive_output_and_final_state(kernel, T, B, with_state, dtype, N):
    H = 2
    inputs = [x.to(dtype) for x in rwkv7_inputs(B, T, H, N)]
    state = initial_state(B, H, N) if with_state else None
    # The reference sees the same (rounded) inputs, computed in fp32.
    ref_o, ref_s = wkv7_naive(*(x.float() for x in inputs), state)

    o, s = KERNELS[kernel](*inputs, state)

    assert o.shape == (B, T, H, N) and o.dtype == dtype
    assert s.shape == (B, H, N, N) and s.dtype == torch.float32
    assert relative_rms(ref_o, o) < TOLERANCE[dtype]
    assert relative_rms(ref_s, s) < TOLERANCE[dtype]


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_kernel_leaves_the_initial_state_untouched(kernel):
    inputs = rwkv7_inputs(1, 5, 2, 16)
    state = initial_state(1, 2, 16)
    before = state.clone()
    KERNELS[kernel](*inputs, state)
    assert torch.equal(state, before)


def test_value_rows_split_across_programs_at_head_size_64():
    # N = 64 uses two programs per head (32 value rows each): check the split.
    inputs = rwkv7_inputs(1, 20, 2, 64, seed=3)
    state = initial_state(1, 2, 64)
    ref_o, ref_s = wkv7_naive(*inputs, state)
    for kernel in KERNELS.values():
        o, s = kernel(*inputs, state)
        assert relative_rms(ref_o, o) < 2e-3
        assert relative_rms(ref_s, s) < 2e-3


def test_chunked_prefill_then_recurrent_decode_equals_the_whole_sequence():
    B, T, H, N = 2, 70, 2, 16
    inputs = rwkv7_inputs(B, T, H, N, seed=7)
    ref_o, ref_s = wkv7_naive(*inputs)

    prefill = 64
    o_prefill, state = wkv7_chunk(*(x[:, :prefill] for x in inputs))
    decoded = [o_prefill]
    for t in range(prefill, T):
        o_t, state = wkv7_fused_recurrent(*(x[:, t : t + 1] for x in inputs), state)
        decoded.append(o_t)

    assert relative_rms(ref_o, torch.cat(decoded, dim=1)) < 2e-3
    assert relative_rms(ref_s, state) < 2e-3


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_backward_raises_a_clear_error(kernel):
    inputs = [x.requires_grad_() for x in rwkv7_inputs(1, 3, 2, 16)]
    o, _ = KERNELS[kernel](*inputs)
    with pytest.raises(InferenceOnlyError, match="inference-only.*wkv7_naive"):
        o.sum().backward()


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_kernel_refuses_mismatched_shapes(kernel):
    r, w, k, v, a, b = rwkv7_inputs(1, 3, 2, 16)
    with pytest.raises(ValueError, match="v has shape"):
        KERNELS[kernel](r, w, k, v[:, :2], a, b)


@pytest.mark.parametrize("steepest", [-0.61, -2.0, -5.0])
def test_chunk_stays_accurate_down_to_its_steepest_supported_decay(steepest):
    # The chunk kernel splits e^{g_t - g_s} into e^{g_t} e^{-g_s}; a whole
    # chunk at the steepest decay is where that split would overflow first.
    r, w, k, v, a, b = rwkv7_inputs(1, 130, 2, 16, seed=5)
    w = steepest * torch.rand(w.shape, generator=torch.Generator().manual_seed(6)).to(w.device)
    w[:, 32:48] = steepest
    ref_o, ref_s = wkv7_naive(r, w, k, v, a, b)
    o, s = wkv7_chunk(r, w, k, v, a, b)
    assert relative_rms(ref_o, o) < 2e-3
    assert relative_rms(ref_s, s) < 2e-3


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_head_size_that_is_not_a_power_of_two(kernel):
    inputs = rwkv7_inputs(2, 70, 2, 48, seed=4)
    state = initial_state(2, 2, 48)
    ref_o, ref_s = wkv7_naive(*inputs, state)
    o, s = KERNELS[kernel](*inputs, state)
    assert relative_rms(ref_o, o) < 2e-3
    assert relative_rms(ref_s, s) < 2e-3
