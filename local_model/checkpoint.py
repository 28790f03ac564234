"""Official BlinkDL RWKV-7 (x070) `.pth` files: check them, load them, fake them.

An official file is a flat dict of tensors whose keys our modules use as
parameter names (`blocks.0.att.r_k`, `blocks.0.ffn.key.weight`, ...). Token-mix
vectors are stored as (1, 1, C); our modules hold them as (C,).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import torch

from local_model.config import RWKV7Config
from local_model.errors import CheckpointError

# Keys that mark variants this model does not implement, with what they are.
_UNSUPPORTED_MARKERS = {
    "s_emb": "DeepEmbed (per-token embeddings inside the channel mix)",
    "ffn.s0": "DeepEmbed (per-token embeddings inside the channel mix)",
    "att.time_maa": "RWKV-6 (x060)",
    "att.time_mix_k": "RWKV-4/5",
    "att.time_decay": "RWKV-4/5/6",
}
# Layer 0 computes v_first and never mixes it back, so some files carry unused
# value-residual tensors there; we accept and drop them.
_IGNORED_LAYER0 = ("blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2")


def expected_shapes(config: RWKV7Config) -> dict[str, tuple[int, ...]]:
    """Every key of an official x070 file for `config`, with its stored shape."""
    C, V, H, N, F = config.n_embd, config.vocab_size, config.n_head, config.head_size, config.ffn_dim
    vec = (1, 1, C)
    shapes: dict[str, tuple[int, ...]] = {"emb.weight": (V, C), "blocks.0.ln0.weight": (C,), "blocks.0.ln0.bias": (C,)}
    for i in range(config.n_layer):
        p = f"blocks.{i}."
        shapes.update({p + "ln1.weight": (C,), p + "ln1.bias": (C,), p + "ln2.weight": (C,), p + "ln2.bias": (C,)})
        att = p + "att."
        for name in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "a0", "k_k", "k_a"):
            shapes[att + name] = vec
        shapes.update({
            att + "w1": (C, config.decay_lora), att + "w2": (config.decay_lora, C),
            att + "a1": (C, config.iclr_lora), att + "a2": (config.iclr_lora, C),
            att + "g1": (C, config.gate_lora), att + "g2": (config.gate_lora, C),
            att + "r_k": (H, N),
            att + "receptance.weight": (C, C), att + "key.weight": (C, C),
            att + "value.weight": (C, C), att + "output.weight": (C, C),
            att + "ln_x.weight": (C,), att + "ln_x.bias": (C,),
        })
        if i > 0:
            shapes.update({att + "v0": vec, att + "v1": (C, config.value_lora), att + "v2": (config.value_lora, C)})
        ffn = p + "ffn."
        shapes.update({ffn + "x_k": vec, ffn + "key.weight": (F, C), ffn + "value.weight": (C, F)})
    shapes.update({"ln_out.weight": (C,), "ln_out.bias": (C,), "head.weight": (V, C)})
    return shapes


def check_weights(weights: Mapping[str, torch.Tensor], source: str = "checkpoint") -> RWKV7Config:
    """Infer the config and check every key and shape; raise CheckpointError naming each problem."""
    for key in weights:
        for marker, variant in _UNSUPPORTED_MARKERS.items():
            if marker in key:
                raise CheckpointError(
                    f"{source} is a {variant} checkpoint (key {key!r}); only plain RWKV-7 x070 files are supported. "
                    "Use a G1/World x070 .pth such as rwkv7-g1 from BlinkDL."
                )
    config = RWKV7Config.from_state_dict(weights)
    expected = expected_shapes(config)
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected and k not in _IGNORED_LAYER0]
    wrong = [
        f"{k}: expected {tuple(expected[k])}, found {tuple(weights[k].shape)}"
        for k in expected
        if k in weights and tuple(weights[k].shape) != expected[k]
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {', '.join(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes: {'; '.join(wrong)}")
    if problems:
        raise CheckpointError(f"{source} does not match an RWKV-7 x070 model of {config}: " + " | ".join(problems))
    return config


def load_checkpoint(path: str | Path) -> tuple[RWKV7Config, dict[str, torch.Tensor]]:
    """Read an official `.pth` file (memory-mapped, tensors only) and check it.

    Returns the config and the weights in their stored dtype and shapes, minus
    the unused layer-0 value-residual tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        weights = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {exc}") from exc
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise CheckpointError(f"{path} is not a flat dict of tensors as official RWKV .pth files are")
    config = check_weights(weights, source=str(path))
    return config, {k: v for k, v in weights.items() if k not in _IGNORED_LAYER0}


def random_weights(config: RWKV7Config, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random fp32 weights in the official layout, scaled like a trained model's
    so that activations stay O(1) and the recurrence neither dies nor explodes."""
    gen = torch.Generator().manual_seed(seed)

    def normal(shape, std):
        return torch.randn(shape, generator=gen) * std

    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=gen)

    weights: dict[str, torch.Tensor] = {}
    for key, shape in expected_shapes(config).items():
        name = key.rsplit(".", 1)[-1]
        if key.endswith(".bias"):
            value = normal(shape, 0.02)
        elif key.endswith("ln_x.weight"):
            value = uniform(shape, 0.5, 1.0)
        elif "ln" in key and key.endswith(".weight"):
            value = uniform(shape, 0.8, 1.2)
        elif key == "emb.weight":
            value = normal(shape, 1.0)
        elif key.endswith(".weight"):  # (out, in) linear layers and the head
            value = normal(shape, 1.0 / math.sqrt(shape[1]))
        elif name in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g"):
            value = uniform(shape, 0.0, 1.0)
        elif name == "w0":
            value = uniform(shape, -4.0, 1.0)  # decays from ~1 down to ~0.55 per token
        elif name in ("a0", "v0"):
            value = uniform(shape, -1.0, 1.0)
        elif name == "k_k":
            value = uniform(shape, 0.7, 1.0)
        elif name == "k_a":
            value = uniform(shape, 0.8, 1.2)
        elif name == "r_k":
            value = normal(shape, 0.3)
        else:  # the low-rank factors w1, w2, a1, a2, v1, v2, g1, g2
            value = normal(shape, 1.0 / math.sqrt(shape[0]))
        weights[key] = value.float()
    return weights


def write_random_checkpoint(
    path: str | Path,
    n_layer: int = 2,
    n_embd: int = 128,
    vocab: int = 65536,
    seed: int = 0,
    *,
    head_size: int = 64,
    dtype: torch.dtype = torch.float32,
    ffn_mult: int = 4,
) -> RWKV7Config:
    """Write a random checkpoint in the exact official format and key names.

    The `rwkv` package loads it too (pass the path without `.pth` there), which
    is what the parity tests and the benchmark rely on. Low-rank sizes follow
    the official recipe for the width.
    """

    def lora(scale: float, power: float) -> int:
        return max(32, round(n_embd**power * scale / 32) * 32)

    config = RWKV7Config(
        n_layer=n_layer, n_embd=n_embd, vocab_size=vocab, head_size=head_size,
        decay_lora=lora(1.8, 0.5), iclr_lora=lora(1.8, 0.5), value_lora=lora(1.3, 0.5),
        gate_lora=lora(0.6, 0.8), ffn_dim=ffn_mult * n_embd,
    )
    weights = {k: v.to(dtype).contiguous() for k, v in random_weights(config, seed).items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(weights, path)
    return config
