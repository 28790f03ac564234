"""Decode and prefill speed of the local RWKV-7 model: our kernels against the naive torch path.

For each model shape a random checkpoint in the official format is written
(`local_model.checkpoint.write_random_checkpoint`), loaded with
`RWKV7.from_checkpoint`, and timed twice in the same run:

    naive   RECURRENTGPT_KERNELS=naive: the WKV recurrence as a per-token torch loop,
            the time mix in plain torch ops
    kernels RECURRENTGPT_KERNELS=auto: Triton on CUDA (chunked prefill, fused
            recurrent WKV decode, fused token-shift mixes and group norm +
            bonus + gate); on CPU the chunked torch prefill

Decode is batch 1, one token per step, both eagerly and (on CUDA) through the
engine's real decode path: `local_model.cuda_graph.GraphedStepper`, the whole
step replayed from one CUDA graph. Its bound is the memory bandwidth: every
step reads every weight once (the embedding only one row), so
tokens/s <= bandwidth / weight bytes. The table gives the fraction reached.

    python bench/gpu_bench.py                 # on a GPU: 0.1B, 0.4B, 1.5B in bf16
    python bench/gpu_bench.py --tiny          # on CPU in seconds: a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from local_model.checkpoint import write_random_checkpoint  # noqa: E402
from local_model.cuda_graph import GraphedStepper  # noqa: E402
from local_model.model import RWKV7  # noqa: E402

# name -> (layers, width), the official RWKV-7 "Goose" sizes.
SHAPES = {"0.1B": (12, 768), "0.4B": (24, 1024), "1.5B": (24, 2048)}
TINY_SHAPES = {"tiny": (2, 128)}

# Peak memory bandwidth in bytes/s, by a substring of torch's device name,
# most specific first (the "H100" fallback is the SXM part).
BANDWIDTH = [
    ("H200", 4.8e12),
    ("H100 NVL", 3.9e12),
    ("H100 PCIe", 2.0e12),
    ("H100", 3.35e12),
    ("GH200", 4.0e12),
    ("A100-SXM4-80GB", 2.039e12),
    ("A100 80GB PCIe", 1.935e12),
    ("A100", 1.555e12),
    ("L40S", 0.864e12),
    ("L4", 0.3e12),
    ("A10", 0.6e12),
    ("RTX 4090", 1.008e12),
    ("V100", 0.9e12),
]


@dataclass
class Row:
    model: str
    path: str
    decode_eager: float  # tokens/s
    decode_graph: float | None  # tokens/s, None where CUDA graphs do not apply
    prefill: float  # tokens/s
    bound: float | None  # decode tokens/s at peak bandwidth
    logits_rel_diff: float | None = None  # against the naive path, last prefill token


@contextlib.contextmanager
def kernels(setting: str):
    """Run the block with RECURRENTGPT_KERNELS=setting (read per WKV call)."""
    old = os.environ.get("RECURRENTGPT_KERNELS")
    os.environ["RECURRENTGPT_KERNELS"] = setting
    try:
        yield
    finally:
        if old is None:
            del os.environ["RECURRENTGPT_KERNELS"]
        else:
            os.environ["RECURRENTGPT_KERNELS"] = old


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bandwidth_of(device: torch.device, override_gbs: float | None) -> float | None:
    """Peak memory bandwidth of `device` in bytes/s, or None when unknown (CPU)."""
    if override_gbs:
        return override_gbs * 1e9
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for part, bandwidth in BANDWIDTH:
        if part in name:
            return bandwidth
    props = torch.cuda.get_device_properties(device)
    clock_khz = getattr(props, "memory_clock_rate", 0)
    bus_bits = getattr(props, "memory_bus_width", 0)
    # Double data rate: two transfers per memory clock.
    return 2 * clock_khz * 1e3 * bus_bits / 8 if clock_khz and bus_bits else None


def weight_bytes_per_token(model: RWKV7) -> int:
    """Bytes of weights one decode step reads: all of them, but one embedding row."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    emb = model.emb.weight
    return total - emb.numel() * emb.element_size() + emb.shape[1] * emb.element_size()


def time_decode_eager(model: RWKV7, steps: int) -> float:
    """Tokens/s feeding one token at a time at batch 1, greedy, state carried."""
    token = torch.zeros(1, dtype=torch.long, device=model.device)
    state = model.zero_state(1)
    for _ in range(3):  # compile kernels, warm the allocator and cuBLAS
        logits, state = model.forward_step(token, state)
        token = logits.argmax(-1)
    sync(model.device)
    start = time.perf_counter()
    for _ in range(steps):
        logits, state = model.forward_step(token, state)
        token = logits.argmax(-1)  # stays on the device: no sync per step
    sync(model.device)
    return steps / (time.perf_counter() - start)


def time_decode_graph(model: RWKV7, steps: int) -> float:
    """Tokens/s through the engine's decode path on CUDA: `GraphedStepper`
    (local_model.cuda_graph), one CUDA-graph replay of the whole step with the
    fused kernels per token, then argmax outside the graph as a sampler would.
    The token stays on the device (no sync per step), as in a greedy loop.
    """
    stepper = GraphedStepper(model, 1)  # warm-up and capture
    stepper.load(model.zero_state(1))
    token = torch.zeros(1, dtype=torch.long, device=model.device)
    for _ in range(3):
        token = stepper.step(token).argmax(-1)
    sync(model.device)
    start = time.perf_counter()
    for _ in range(steps):
        token = stepper.step(token).argmax(-1)
    sync(model.device)
    return steps / (time.perf_counter() - start)


def time_prefill(model: RWKV7, tokens: torch.Tensor, reps: int) -> tuple[float, torch.Tensor]:
    """Tokens/s feeding `tokens` (1, T) from a zero state; also the last logits (1, V)."""
    model.forward_sequence(tokens[:, :80])  # warm-up: compile both WKV kernels, init cuBLAS
    sync(model.device)
    start = time.perf_counter()
    for _ in range(reps):
        logits, _ = model.forward_sequence(tokens)
    sync(model.device)
    return reps * tokens.shape[1] / (time.perf_counter() - start), logits


def bench_model(name: str, n_layer: int, n_embd: int, args, device: torch.device, workdir: Path) -> list[Row]:
    dtype = getattr(torch, args.dtype)
    path = workdir / f"rwkv7-{name}.pth"
    started = time.perf_counter()
    write_random_checkpoint(path, n_layer=n_layer, n_embd=n_embd, vocab=args.vocab, dtype=dtype)
    model = RWKV7.from_checkpoint(path, device=device, dtype=dtype)
    path.unlink()  # the 1.5B file is 3 GB; the model now holds its own copy
    print(f"# {name}: L{n_layer} D{n_embd}, {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B params,"
          f" built in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)

    bandwidth = bandwidth_of(device, args.bandwidth_gbs)
    bound = bandwidth / weight_bytes_per_token(model) if bandwidth else None
    prompt = torch.randint(0, args.vocab, (1, args.prefill_tokens), generator=torch.Generator().manual_seed(0))
    prompt = prompt.to(device)
    rows, reference_logits = [], None
    for path_name, setting in (("naive", "naive"), ("kernels", "auto")):
        with kernels(setting):
            eager = time_decode_eager(model, args.decode_steps)
            graph = time_decode_graph(model, args.decode_steps) if device.type == "cuda" and not args.no_graph else None
            # The naive prefill is a Python loop per token per layer: one rep is plenty.
            reps = 1 if setting == "naive" else args.prefill_reps
            prefill, logits = time_prefill(model, prompt, reps)
        diff = None
        if reference_logits is None:
            reference_logits = logits
        else:
            diff = float((logits - reference_logits).norm() / reference_logits.norm())
        rows.append(Row(name, path_name, eager, graph, prefill, bound, diff))
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def format_table(rows: list[Row], device_name: str, bandwidth: float | None, prefill_tokens: int) -> str:
    bw = f"{bandwidth / 1e12:.2f} TB/s" if bandwidth else "unknown"
    lines = [
        f"device: {device_name}, peak bandwidth {bw}; decode batch 1; prefill batch 1 x {prefill_tokens} tokens",
        "",
        "| model | path | decode tok/s eager | decode tok/s graph | bound tok/s | of bound | prefill tok/s | prefill vs naive | logits rel diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    naive_prefill = {r.model: r.prefill for r in rows if r.path == "naive"}
    for r in rows:
        best = max(r.decode_eager, r.decode_graph or 0.0)
        graph = f"{r.decode_graph:,.1f}" if r.decode_graph else "-"
        bound = f"{r.bound:,.0f}" if r.bound else "-"
        fraction = f"{best / r.bound:.1%}" if r.bound else "-"
        speedup = r.prefill / naive_prefill[r.model]
        diff = "-" if r.logits_rel_diff is None else f"{r.logits_rel_diff:.1e}"
        lines.append(
            f"| {r.model} | {r.path} | {r.decode_eager:,.1f} | {graph} | {bound} | {fraction} |"
            f" {r.prefill:,.0f} | {speedup:.1f}x | {diff} |"
        )
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="one 2-layer, 128-wide model on CPU in fp32 (smoke test)")
    parser.add_argument("--models", nargs="*", choices=sorted(SHAPES), help="which shapes (default all)")
    parser.add_argument("--dtype", default=None, help="bfloat16 on CUDA (default), float32 with --tiny")
    parser.add_argument("--device", default=None, help="cuda when available, else cpu")
    parser.add_argument("--vocab", type=int, default=None, help="65536 (the World tokenizer); 512 with --tiny")
    parser.add_argument("--decode-steps", type=int, default=None)
    parser.add_argument("--prefill-tokens", type=int, default=None)
    parser.add_argument("--prefill-reps", type=int, default=3)
    parser.add_argument("--no-graph", action="store_true", help="skip the CUDA-graph decode")
    parser.add_argument("--bandwidth-gbs", type=float, default=None, help="override the card's peak bandwidth")
    args = parser.parse_args(argv)
    args.device = args.device or ("cpu" if args.tiny or not torch.cuda.is_available() else "cuda")
    args.dtype = args.dtype or ("float32" if args.tiny else "bfloat16")
    args.vocab = args.vocab or (512 if args.tiny else 65536)
    args.decode_steps = args.decode_steps or (8 if args.tiny else 100)
    args.prefill_tokens = args.prefill_tokens or (96 if args.tiny else 1024)
    if args.tiny:
        args.prefill_reps = 1
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        # Both paths compare kernels, not precisions: keep CPU prefill in fp32
        # (its default there may be bf16 matmuls, see RECURRENTGPT_PREFILL_DTYPE).
        os.environ["RECURRENTGPT_PREFILL_DTYPE"] = "fp32"
    shapes = TINY_SHAPES if args.tiny else {m: SHAPES[m] for m in (args.models or SHAPES)}
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    rows: list[Row] = []
    with torch.inference_mode(), tempfile.TemporaryDirectory(prefix="rwkv7-bench-") as tmp:
        for name, (n_layer, n_embd) in shapes.items():
            rows += bench_model(name, n_layer, n_embd, args, device, Path(tmp))
    print(format_table(rows, device_name, bandwidth_of(device, args.bandwidth_gbs), args.prefill_tokens))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
