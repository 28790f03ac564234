"""The shape of an RWKV-7 ("x070") model, read off an official checkpoint."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import torch

from local_model.errors import CheckpointError


@dataclass(frozen=True)
class RWKV7Config:
    """Sizes of one RWKV-7 model.

    The low-rank sizes are the inner widths of the LoRA-style projections that
    make the decay (w), the in-context learning rate (a), the value residual
    mix (v) and the output gate (g) depend on the token.
    """

    n_layer: int
    n_embd: int
    vocab_size: int
    head_size: int
    decay_lora: int
    iclr_lora: int
    value_lora: int
    gate_lora: int
    ffn_dim: int

    @property
    def n_head(self) -> int:
        return self.n_embd // self.head_size

    def __post_init__(self) -> None:
        if self.n_embd % self.head_size:
            raise CheckpointError(f"width {self.n_embd} is not a multiple of the head size {self.head_size}")
        for name in ("n_layer", "n_embd", "vocab_size", "head_size", "decay_lora", "iclr_lora", "gate_lora", "ffn_dim"):
            if getattr(self, name) <= 0:
                raise CheckpointError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def from_state_dict(cls, weights: Mapping[str, torch.Tensor]) -> "RWKV7Config":
        """Infer the sizes from the tensors of an official x070 `.pth` file."""

        def shape(key: str) -> tuple[int, ...]:
            if key not in weights:
                raise CheckpointError(f"missing key {key!r}: this is not an RWKV-7 (x070) checkpoint")
            return tuple(weights[key].shape)

        vocab_size, n_embd = shape("emb.weight")
        n_head, head_size = shape("blocks.0.att.r_k")
        if n_head * head_size != n_embd:
            raise CheckpointError(
                f"blocks.0.att.r_k is {n_head}x{head_size} but the width is {n_embd}: heads x head size must equal it"
            )
        layer_ids = {int(m.group(1)) for k in weights if (m := re.match(r"blocks\.(\d+)\.", k))}
        n_layer = max(layer_ids) + 1
        # Layer 0 has no value-residual projection (it is the source of v_first),
        # so its size is read from layer 1; a 1-layer model never uses it.
        value_lora = shape("blocks.1.att.v1")[1] if n_layer > 1 else 0
        return cls(
            n_layer=n_layer,
            n_embd=n_embd,
            vocab_size=vocab_size,
            head_size=head_size,
            decay_lora=shape("blocks.0.att.w1")[1],
            iclr_lora=shape("blocks.0.att.a1")[1],
            value_lora=value_lora,
            gate_lora=shape("blocks.0.att.g1")[1],
            ffn_dim=shape("blocks.0.ffn.key.weight")[0],
        )
