"""Elementwise parts of RWKV-7's time mix: torch twins here, Triton kernels in `fused`
(imported on demand, so importing this package never imports triton)."""

from local_model.ops.time_mix.naive import group_norm_bonus_naive, token_shift_mix_naive

__all__ = ["token_shift_mix_naive", "group_norm_bonus_naive"]
