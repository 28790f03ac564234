"""Pick the WKV-7 implementation for one call.

Decided per call, not at import, because one process sees both kinds of call
(a long prompt prefill, then single-token decode steps) and may hold tensors
on CPU and on CUDA at once.

    RECURRENTGPT_KERNELS=naive   always the torch reference (debugging, A/B runs)
    RECURRENTGPT_KERNELS=auto    (default) Triton on CUDA when triton imports:
                                 the chunked kernel for T >= 64 tokens, the
                                 fused recurrent one below; otherwise naive.
    RECURRENTGPT_KERNELS=triton  the Triton kernels on any device, CPU tensors
                                 included: for tests of the Triton path on a
                                 machine without a GPU, which must also set
                                 TRITON_INTERPRET=1 before triton is imported
                                 (tests/local_model/ops/conftest.py does).
"""

from __future__ import annotations

import functools
import os
from typing import Callable

import torch

from local_model.ops.wkv7.naive import wkv7_naive

KERNELS_ENV = "RECURRENTGPT_KERNELS"
CHUNK_MIN_TOKENS = 64  # below this the chunked kernel's setup outweighs its parallelism
_CHOICES = ("auto", "naive", "triton")


@functools.lru_cache(maxsize=1)
def triton_available() -> bool:
    """True when the Triton package imports (it is an optional dependency)."""
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except Exception:  # ImportError, or a broken install raising anything else
        return False
    return True


def kernels_setting() -> str:
    """The RECURRENTGPT_KERNELS setting, lower-cased; unknown values are refused."""
    value = os.environ.get(KERNELS_ENV, "auto").strip().lower() or "auto"
    if value not in _CHOICES:
        raise ValueError(f"{KERNELS_ENV}={value!r} is not one of {', '.join(_CHOICES)}")
    return value


def wkv7_choice(
    device_type: str,
    tokens: int,
    *,
    setting: str | None = None,
    triton_ok: bool | None = None,
) -> str:
    """Name the implementation for a call: "chunk", "fused_recurrent" or "naive".

    Args:
        device_type: where the inputs live ("cuda", "cpu", ...).
        tokens: T, the number of tokens in the call.
        setting: "auto", "naive" or "triton"; None reads RECURRENTGPT_KERNELS.
        triton_ok: whether triton imports; None finds out.
    """
    setting = kernels_setting() if setting is None else setting
    if setting == "naive" or (device_type != "cuda" and setting != "triton"):
        return "naive"
    if not (triton_available() if triton_ok is None else triton_ok):
        if setting == "triton":  # asked for by name: silently running naive would hide it
            raise RuntimeError(f"{KERNELS_ENV}=triton but triton does not import")
        return "naive"
    return "chunk" if tokens >= CHUNK_MIN_TOKENS else "fused_recurrent"


def select_wkv7(r: torch.Tensor) -> Callable:
    """Return the WKV-7 function to run for inputs shaped and placed like `r`.

    Args:
        r: (B, T, H, N), the receptance of this call; only its device and T are read.

    Returns:
        A function (r, w, k, v, a, b, state=None) -> (o (B, T, H, N), state
        (B, H, N, N) fp32): `wkv7_chunk`, `wkv7_fused_recurrent` or `wkv7_naive`.
        The Triton ones are inference only (backward raises).
    """
    choice = wkv7_choice(r.device.type, r.shape[1])
    if choice == "chunk":
        from local_model.ops.wkv7.chunk import wkv7_chunk

        return wkv7_chunk
    if choice == "fused_recurrent":
        from local_model.ops.wkv7.fused_recurrent import wkv7_fused_recurrent

        return wkv7_fused_recurrent
    return wkv7_naive


def use_triton(device_type: str) -> bool:
    """Whether the Triton kernels (WKV-7 and the fused time-mix ones) run for
    tensors on `device_type` under the current RECURRENTGPT_KERNELS setting."""
    return wkv7_choice(device_type, 1) != "naive"
