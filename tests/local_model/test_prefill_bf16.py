"""Mixed-precision CPU prefill: bf16 matmuls, everything else (and decode) fp32."""

from __future__ import annotations

import pytest
import torch

from local_model.engine import Engine
from local_model.model import RWKV7
from local_model.precision import (
    PREFILL_DTYPE_ENV,
    cpu_flags,
    cpu_has_native_bf16,
    prefill_dtype_setting,
    resolve_prefill_dtype,
)
from local_model.ops.wkv7.dispatch import KERNELS_ENV
from local_model.tokenizer import WorldTokenizer

TOKENS = torch.randint(0, 1000, (2, 96), generator=torch.Generator().manual_seed(11))


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return RWKV7.from_checkpoint(tiny_checkpoint)


@pytest.fixture(autouse=True)
def _auto_kernels(monkeypatch):
    monkeypatch.delenv(KERNELS_ENV, raising=False)  # the CPU torch path, where bf16 prefill applies


def rel_rms(x, y):
    return ((x - y).norm() / y.norm()).item()


def test_bf16_prefill_logits_stay_close_to_fp32(model):
    ref, _ = model.forward_sequence(TOKENS, all_logits=True, prefill_dtype="fp32")
    low, _ = model.forward_sequence(TOKENS, all_logits=True, prefill_dtype="bf16")
    assert low.dtype == torch.float32 and low.shape == ref.shape
    assert not torch.equal(low, ref)  # the bf16 matmuls did run
    assert rel_rms(low, ref) < 2e-2
    assert (low.argmax(-1) == ref.argmax(-1)).float().mean() > 0.9
    last, _ = model.forward_sequence(TOKENS, prefill_dtype="bf16")  # the fp32 head on the last token only
    assert rel_rms(last, ref[:, -1]) < 2e-2


def test_bf16_prefill_keeps_the_state_fp32_and_the_weights_fp32(model):
    _, state = model.forward_sequence(TOKENS, prefill_dtype="bf16")
    for layer in state.layers:
        assert layer.att_shift.dtype == layer.ffn_shift.dtype == layer.wkv.dtype == torch.float32
    _, ref_state = model.forward_sequence(TOKENS, prefill_dtype="fp32")
    for ours, theirs in zip(state.layers, ref_state.layers):
        assert rel_rms(ours.wkv, theirs.wkv) < 2e-2
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # The bf16 copies are made once and reused.
    att = model.blocks[1].att
    copies = att.__dict__["_low_precision"][1]
    assert copies["key.weight"].dtype == torch.bfloat16 and set(copies) == set(att.MATRICES)
    model.forward_sequence(TOKENS[:, :5], prefill_dtype="bf16")
    assert att.__dict__["_low_precision"][1]["key.weight"] is copies["key.weight"]


def test_bf16_chunked_prefill_then_fp32_decode_matches_fp32(model):
    full, full_state = model.forward_sequence(TOKENS, all_logits=True, prefill_dtype="fp32")
    state, pieces = None, []
    for start, end in ((0, 37), (37, 70)):  # uneven chunks, state carried across
        logits, state = model.forward_sequence(TOKENS[:, start:end], state, all_logits=True, prefill_dtype="bf16")
        pieces.append(logits)
    for t in range(70, 96):
        logits, state = model.forward_step(TOKENS[:, t], state)
        pieces.append(logits[:, None])
    got = torch.cat(pieces, dim=1)
    assert rel_rms(got, full) < 2e-2
    assert (got.argmax(-1) == full.argmax(-1)).float().mean() > 0.9
    # Decode from the bf16-prefilled state is close to decode from the fp32 one.
    assert rel_rms(got[:, 70:], full[:, 70:]) < 2e-2
    for ours, theirs in zip(state.layers, full_state.layers):
        assert ours.wkv.dtype == torch.float32 and rel_rms(ours.wkv, theirs.wkv) < 2e-2


def test_engine_runs_its_own_prefill_setting(world_checkpoint):
    model = RWKV7.from_checkpoint(world_checkpoint)
    tokens = list(range(100, 140))
    runs = {}
    for setting in ("fp32", "bf16"):
        cursor = Engine(model, WorldTokenizer(), prefill_dtype=setting).prefill(tokens)
        runs[setting] = cursor.logits
        assert cursor.state.layers[0].wkv.dtype == torch.float32
        expected, _ = model.forward_sequence(torch.tensor([tokens]), prefill_dtype=setting)
        torch.testing.assert_close(cursor.logits, expected[0], atol=0, rtol=0)
    assert not torch.equal(runs["fp32"], runs["bf16"]) and rel_rms(runs["bf16"], runs["fp32"]) < 2e-2
    with pytest.raises(ValueError):
        Engine(model, WorldTokenizer(), prefill_dtype="fp8")


def test_the_setting_comes_from_the_environment(tiny_checkpoint, monkeypatch):
    monkeypatch.delenv(PREFILL_DTYPE_ENV, raising=False)
    assert prefill_dtype_setting() == "auto"
    for raw, expected in (("FP32", "fp32"), (" bf16 ", "bf16"), ("bfloat16", "bf16"), ("", "auto")):
        monkeypatch.setenv(PREFILL_DTYPE_ENV, raw)
        assert prefill_dtype_setting() == expected
    monkeypatch.setenv(PREFILL_DTYPE_ENV, "fp16")
    with pytest.raises(ValueError, match=PREFILL_DTYPE_ENV):
        prefill_dtype_setting()
    monkeypatch.setenv(PREFILL_DTYPE_ENV, "bf16")
    model = RWKV7.from_checkpoint(tiny_checkpoint)
    assert model.prefill_dtype == "bf16" and model.prefill_matmul_dtype() == torch.bfloat16
    assert model.prefill_matmul_dtype("fp32") is None


def test_auto_picks_bf16_only_on_a_cpu_with_native_bf16(monkeypatch):
    f32 = torch.float32
    assert resolve_prefill_dtype("auto", "cpu", f32, native_bf16=True) == torch.bfloat16
    assert resolve_prefill_dtype("auto", "cpu", f32, native_bf16=False) is None
    assert resolve_prefill_dtype("bf16", "cpu", f32, native_bf16=False) == torch.bfloat16  # asked for by name
    assert resolve_prefill_dtype("fp32", "cpu", f32, native_bf16=True) is None
    # CUDA and fp16/bf16 models keep their own path.
    for setting in ("auto", "bf16"):
        assert resolve_prefill_dtype(setting, "cuda", f32, native_bf16=True) is None
        assert resolve_prefill_dtype(setting, "cpu", torch.bfloat16, native_bf16=True) is None
        assert resolve_prefill_dtype(setting, "cuda", torch.float16, native_bf16=True) is None
    # Kernels forced by name (the naive reference, Triton on CPU in tests) run as stored.
    monkeypatch.setenv(KERNELS_ENV, "naive")
    assert resolve_prefill_dtype("bf16", "cpu", f32, native_bf16=True) is None
    monkeypatch.setenv(KERNELS_ENV, "auto")
    assert resolve_prefill_dtype("auto", "cpu", f32) == (torch.bfloat16 if cpu_has_native_bf16() else None)


def test_native_bf16_is_read_from_the_cpu_flags():
    x86 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
    sapphire = "flags\t\t: avx512f amx_tile amx_bf16 amx_int8\n"
    old_x86 = "flags\t\t: fpu sse2 avx2 avx512f avx512bw\n"
    arm = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
    assert "avx512_bf16" in cpu_flags(x86) and "amx_bf16" in cpu_flags(sapphire) and "bf16" in cpu_flags(arm)
    assert not cpu_flags(old_x86) & {"avx512_bf16", "amx_bf16", "bf16"}
    assert cpu_flags("") == frozenset()
