"""The recurrent state of RWKV-7: everything the model remembers of a prefix.

Fixed in size whatever the prefix length, so a story can keep the state after
its fixed prompt prefix and after each step, and resume from it for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

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

    @classmethod
    def stack(cls, states: Sequence["RecurrentState"]) -> "RecurrentState":
        """One state for several sequences decoded together: the states (of
        batch B_i each) joined along the batch, in order, into batch sum(B_i).
        A new tensor per field; the given states are left as they are."""
        if not states:
            raise ValueError("nothing to stack")
        if len({len(s.layers) for s in states}) != 1:
            raise ValueError("states of models with different layer counts cannot be stacked")
        return cls(tuple(
            LayerState(
                torch.cat([s.layers[i].att_shift for s in states]),
                torch.cat([s.layers[i].ffn_shift for s in states]),
                torch.cat([s.layers[i].wkv for s in states]),
            )
            for i in range(len(states[0].layers))
        ))

    def select(self, index: int) -> "RecurrentState":
        """Sequence `index` alone, batch 1. Views into this state's tensors:
        safe because the model never writes a state in place."""
        return RecurrentState(tuple(
            LayerState(s.att_shift[index : index + 1], s.ffn_shift[index : index + 1], s.wkv[index : index + 1])
            for s in self.layers
        ))

    def unstack(self) -> list["RecurrentState"]:
        """The inverse of `stack` for batch-1 parts: one state per sequence (views, see `select`)."""
        return [self.select(i) for i in range(self.batch)]

    def copy_(self, other: "RecurrentState") -> "RecurrentState":
        """Overwrite this state's tensors with `other`'s (same shapes), in place:
        only for buffers a caller owns, such as a CUDA graph's static state."""
        for mine, theirs in zip(self.layers, other.layers, strict=True):
            if mine.wkv.shape != theirs.wkv.shape or mine.att_shift.shape != theirs.att_shift.shape:
                # copy_ would broadcast a batch-1 state over every row without a word
                raise ValueError(f"state shapes differ: {tuple(theirs.wkv.shape)} into {tuple(mine.wkv.shape)}")
            mine.att_shift.copy_(theirs.att_shift)
            mine.ffn_shift.copy_(theirs.ffn_shift)
            mine.wkv.copy_(theirs.wkv)
        return self

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
