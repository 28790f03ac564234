"""Which WKV-7 implementation runs for which call."""

from __future__ import annotations

import pytest
import torch

from local_model.ops.wkv7 import select_wkv7, wkv7_naive
from local_model.ops.wkv7.dispatch import KERNELS_ENV, wkv7_choice


@pytest.mark.parametrize(
    ("device", "tokens", "setting", "triton_ok", "expected"),
    [
        ("cuda", 64, "auto", True, "chunk"),
        ("cuda", 1000, "auto", True, "chunk"),
        ("cuda", 63, "auto", True, "fused_recurrent"),
        ("cuda", 1, "auto", True, "fused_recurrent"),
        ("cuda", 1000, "auto", False, "naive"),
        ("cuda", 1, "naive", True, "naive"),
        ("cpu", 1000, "auto", True, "naive"),
        ("cpu", 1, "auto", True, "naive"),
    ],
)
def test_choice_by_device_length_setting_and_triton(device, tokens, setting, triton_ok, expected):
    assert wkv7_choice(device, tokens, setting=setting, triton_ok=triton_ok) == expected


def test_environment_forces_the_naive_path(monkeypatch):
    monkeypatch.setenv(KERNELS_ENV, "naive")
    assert wkv7_choice("cuda", 1000, triton_ok=True) == "naive"
    monkeypatch.setenv(KERNELS_ENV, "Auto")
    assert wkv7_choice("cuda", 1000, triton_ok=True) == "chunk"


def test_unknown_setting_is_refused(monkeypatch):
    monkeypatch.setenv(KERNELS_ENV, "fast")
    with pytest.raises(ValueError, match="RECURRENTGPT_KERNELS='fast'"):
        select_wkv7(torch.zeros(1, 1, 1, 16))


def test_cpu_tensors_get_the_naive_path(monkeypatch):
    monkeypatch.delenv(KERNELS_ENV, raising=False)
    assert select_wkv7(torch.zeros(1, 200, 2, 16)) is wkv7_naive
    assert select_wkv7(torch.zeros(1, 1, 2, 16)) is wkv7_naive


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_get_triton_kernels_by_length(monkeypatch):
    from local_model.ops.wkv7 import wkv7_chunk, wkv7_fused_recurrent

    monkeypatch.delenv(KERNELS_ENV, raising=False)
    assert select_wkv7(torch.zeros(1, 64, 2, 64, device="cuda")) is wkv7_chunk
    assert select_wkv7(torch.zeros(1, 63, 2, 64, device="cuda")) is wkv7_fused_recurrent
