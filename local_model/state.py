"""The recurrent state of RWKV-7: everything the model remembers of a prefix.

Fixed in size whatever the prefix length, so a story can keep the state after
its fixed prompt prefix and after each step, and resume from it for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class LayerState:
    """One block's memory.

    att_shift: (B, C) the last token's input to the time mix (token shift).
    ffn_shift: (B, C) the last token's input to the channel mix.
    wkv: (B, H, N, N) fp32, the WKV matrix (values x keys) per head.
    """

    att_shift: torch.Tensor
    ffn_shift: torch.Tensor
    wkv: torch.Tensor


@dataclass(frozen=True)
class RecurrentState:
    """Per-layer states, first layer first. The model never modifies one in
    place: it returns a new state, so a cached state stays valid."""

    layers: tuple[LayerState, ...]

    @classmethod
    def zeros(cls, n_layer: int, n_embd: int, n_head: int, head_size: int, *, batch: int = 1,
              dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> "RecurrentState":
        def layer() -> LayerState:
            return LayerState(
                att_shift=torch.zeros(batch, n_embd, dtype=dtype, device=device),
                ffn_shift=torch.zeros(batch, n_embd, dtype=dtype, device=device),
                wkv=torch.zeros(batch, n_head, head_size, head_size, dtype=torch.float32, device=device),
            )

        return cls(tuple(layer() for _ in range(n_layer)))

    @property
    def batch(self) -> int:
        return self.layers[0].att_shift.shape[0]

    def clone(self) -> "RecurrentState":
        return RecurrentState(tuple(
            LayerState(s.att_shift.clone(), s.ffn_shift.clone(), s.wkv.clone()) for s in self.layers
        ))

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "RecurrentState":
        """Move to `device`; `dtype` applies to the token shifts only (WKV stays fp32)."""
        return RecurrentState(tuple(
            LayerState(
                s.att_shift.to(device=device, dtype=dtype),
                s.ffn_shift.to(device=device, dtype=dtype),
                s.wkv.to(device=device, dtype=torch.float32),
            )
            for s in self.layers
        ))

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for s in self.layers for t in (s.att_shift, s.ffn_shift, s.wkv))

    def save(self, path: str | Path) -> None:
        tensors = {}
        for i, s in enumerate(self.layers):
            tensors[f"{i}.att_shift"], tensors[f"{i}.ffn_shift"], tensors[f"{i}.wkv"] = s.att_shift, s.ffn_shift, s.wkv
        torch.save(tensors, Path(path))

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> "RecurrentState":
        tensors = torch.load(Path(path), map_location=device, weights_only=True)
        n_layer = len(tensors) // 3
        return cls(tuple(
            LayerState(tensors[f"{i}.att_shift"], tensors[f"{i}.ffn_shift"], tensors[f"{i}.wkv"])
            for i in range(n_layer)
        ))
