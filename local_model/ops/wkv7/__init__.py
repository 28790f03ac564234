"""WKV-7: the RWKV-7 state update (naive torch reference; Triton kernels alongside)."""

from local_model.ops.wkv7.naive import wkv7_naive

__all__ = ["wkv7_naive"]
