"""Mixed-precision prefill on CPU.

A prompt's cost is its matmuls (compute-bound), and CPUs with native bf16
(avx512_bf16, amx_bf16) run bf16 matmuls about 5x faster than fp32. So
`RWKV7.forward_sequence` of an fp32 model may run its matmuls on bf16 copies of
the weights (made once), casting the activations around each matmul;
everything else (norms, the WKV recurrence, the residual stream, the state)
stays fp32, and decode (`forward_step`, memory-bound, where bf16
matrix-vector products are slower here) stays fp32 throughout. The choice is
`RWKV7.prefill_dtype`, from RECURRENTGPT_PREFILL_DTYPE:

    auto (default)  bf16 on a CPU with native bf16, else fp32
    fp32            fp32 matmuls (what the parity tests against `rwkv` run)
    bf16            bf16 matmuls on CPU even without native support (slow there)

On CUDA, for a model loaded in fp16/bf16, and where RECURRENTGPT_KERNELS forces
the naive reference or Triton, prefill runs in the model's dtype.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

from local_model.ops.wkv7.dispatch import kernels_setting

PREFILL_DTYPE_ENV = "RECURRENTGPT_PREFILL_DTYPE"
_PREFILL_CHOICES = ("auto", "fp32", "bf16")
# CPU feature flags (/proc/cpuinfo "flags" on x86, "Features" on arm64) that mean bf16 matmuls in hardware.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def prefill_dtype_setting(value: str | None = None) -> str:
    """The prefill dtype setting ("auto", "fp32" or "bf16"): `value`, else
    RECURRENTGPT_PREFILL_DTYPE, else "auto". Unknown values are refused."""
    raw = os.environ.get(PREFILL_DTYPE_ENV, "auto") if value is None else value
    setting = raw.strip().lower() or "auto"
    aliases = {"float32": "fp32", "bfloat16": "bf16"}
    setting = aliases.get(setting, setting)
    if setting not in _PREFILL_CHOICES:
        raise ValueError(f"{PREFILL_DTYPE_ENV}={raw!r} is not one of {', '.join(_PREFILL_CHOICES)}")
    return setting


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (or the given text); empty where unreadable."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return frozenset()
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, rest = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(rest.split())
    return frozenset(flags)


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware: a bf16 flag in
    /proc/cpuinfo, or else torch's own CPU capability naming AMX."""
    if cpu_flags() & NATIVE_BF16_FLAGS:
        return True
    try:
        return "AMX" in torch.backends.cpu.get_cpu_capability().upper()
    except Exception:
        return False


def resolve_prefill_dtype(
    setting: str, device_type: str, model_dtype: torch.dtype, *, native_bf16: bool | None = None
) -> torch.dtype | None:
    """The dtype of a prefill's matmuls, or None for the model's own dtype.

    Only an fp32 model on CPU's torch path changes: bf16 for "bf16", and for
    "auto" when the CPU has native bf16 (`native_bf16`, None: find out). CUDA,
    fp16/bf16 models, and the kernels forced by RECURRENTGPT_KERNELS (the naive
    reference, or Triton on CPU tensors in tests) keep their path.
    """
    setting = prefill_dtype_setting(setting)
    if device_type != "cpu" or model_dtype != torch.float32 or setting == "fp32" or kernels_setting() != "auto":
        return None
    if setting == "bf16" or (cpu_has_native_bf16() if native_bf16 is None else native_bf16):
        return torch.bfloat16
    return None
