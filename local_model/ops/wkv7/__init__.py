"""WKV-7: the RWKV-7 state update (naive torch reference; Triton kernels alongside).

`wkv7_naive` imports torch only. The Triton kernels (`wkv7_fused_recurrent`,
`wkv7_chunk`) are loaded on first access so that importing this package never
imports triton; `select_wkv7(r)` picks one of the three per call.
"""

from local_model.ops.wkv7.dispatch import select_wkv7
from local_model.ops.wkv7.naive import wkv7_naive

__all__ = ["wkv7_naive", "wkv7_fused_recurrent", "wkv7_chunk", "select_wkv7"]


def __getattr__(name: str):
    # Lazy: triton is heavy and optional (CPU-only installs have no use for it).
    if name == "wkv7_fused_recurrent":
        from local_model.ops.wkv7.fused_recurrent import wkv7_fused_recurrent

        return wkv7_fused_recurrent
    if name == "wkv7_chunk":
        from local_model.ops.wkv7.chunk import wkv7_chunk

        return wkv7_chunk
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
