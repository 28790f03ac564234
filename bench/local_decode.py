"""CPU decode and prefill speed of our RWKV-7 against the `rwkv` package, and
the prefix cache's saving per RecurrentGPT-like step.

    python bench/local_decode.py            # 0.1B-shaped random model (12 x 768, vocab 65536)
    python bench/local_decode.py --tiny     # seconds; what the smoke test runs

Both implementations load the same random checkpoint in fp32 and run with the
same thread count in the same process. Prefill is timed four ways, interleaved:
ours with fp32 matmuls, ours with bf16 prefill matmuls (RECURRENTGPT_PREFILL_DTYPE=bf16:
fp32 weights and state, bf16 weight copies for the matmuls), and the rwkv
package with strategy "cpu fp32" and "cpu bf16" (its weights and activations in bf16).
"""

from __future__ import annotations

import os

# The rwkv package reads these at import time.
os.environ.update(RWKV_V7_ON="1", RWKV_JIT_ON="1", RWKV_CUDA_ON="0")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from local_model.checkpoint import write_random_checkpoint  # noqa: E402
from local_model.engine import Engine, PrefixCache  # noqa: E402
from local_model.model import RWKV7  # noqa: E402
from local_model.precision import cpu_has_native_bf16  # noqa: E402
from local_model.tokenizer import WorldTokenizer  # noqa: E402

PRIDE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pride_and_prejudice.txt"


def timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def ours(path: Path, tokens: list[int], decode_tokens: int):
    """(decode, prefill fp32, prefill bf16) closures for our model; each returns
    seconds; and the relative RMS error of the bf16 prefill's logits over every
    position against fp32."""
    model = RWKV7.from_checkpoint(path)
    prompt = torch.tensor([tokens])

    def decode():
        state = model.zero_state()
        for t in tokens[:decode_tokens]:
            _, state = model.forward_step(torch.tensor([t]), state)

    exact, _ = model.forward_sequence(prompt, all_logits=True, prefill_dtype="fp32")
    low, _ = model.forward_sequence(prompt, all_logits=True, prefill_dtype="bf16")
    error = ((low - exact).norm() / exact.norm()).item(), (low.argmax(-1) == exact.argmax(-1)).float().mean().item()
    return ((lambda: timed(decode)),
            (lambda: timed(lambda: model.forward_sequence(prompt, prefill_dtype="fp32"))),
            (lambda: timed(lambda: model.forward_sequence(prompt, prefill_dtype="bf16"))),
            error)


def reference(path: Path, tokens: list[int], decode_tokens: int):
    """(decode, prefill fp32, prefill bf16) closures for the rwkv package; each returns seconds."""
    with contextlib.redirect_stdout(io.StringIO()):  # it prints banners
        from rwkv.model import RWKV

        model = RWKV(str(path.with_suffix("")), strategy="cpu fp32")
        model_bf16 = RWKV(str(path.with_suffix("")), strategy="cpu bf16")

    def decode():
        state = None
        for t in tokens[:decode_tokens]:
            _, state = model.forward([t], state)

    return ((lambda: timed(decode)), (lambda: timed(lambda: model.forward(list(tokens), None))),
            (lambda: timed(lambda: model_bf16.forward(list(tokens), None))))


def interleaved(runs: dict, rounds: int) -> dict[str, list[float]]:
    """Run every timing once per round, in turn (one warm-up round first), so
    that load from other processes falls on both sides alike."""
    for fn in runs.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            times[name].append(fn())
    return times


def prefix_cache_effect(path: Path, steps: int, scale: int) -> tuple[list[int], list[int]]:
    """Prompt tokens computed per step: a fixed part (instructions and outline)
    then a part that changes every step (memory, last paragraph, plan)."""
    tokenizer = WorldTokenizer()
    text = PRIDE.read_text(encoding="utf-8") if PRIDE.is_file() else "It is a truth universally acknowledged. " * 2000
    fixed = tokenizer.encode("System: " + text[:6 * scale] + "\n\n")
    model = RWKV7.from_checkpoint(path)
    counts = {}
    for label, cache in (("without", PrefixCache(max_bytes=0)), ("with", PrefixCache())):
        engine = Engine(model, tokenizer, cache=cache)
        per_step = []
        for step in range(steps):
            changing = tokenizer.encode(f"User: {text[10_000 + step * 3 * scale: 10_000 + (step + 1) * 3 * scale]}\n\nAssistant:")
            before = engine.stats.computed_tokens
            engine.prefill(fixed + changing, save_at=[len(fixed)])
            per_step.append(engine.stats.computed_tokens - before)
        counts[label] = per_step
    return counts["without"], counts["with"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model: checks the script, not the speed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--decode-tokens", type=int, default=None)
    parser.add_argument("--prefill-tokens", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None, help="interleaved timing rounds (median reported)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.rounds = args.rounds or (1 if args.tiny else 5)
    load_before = f"{os.getloadavg()[0]:.2f}"
    shape = dict(n_layer=2, n_embd=128) if args.tiny else dict(n_layer=12, n_embd=768)
    decode_tokens = args.decode_tokens or (8 if args.tiny else 64)
    prefill_tokens = args.prefill_tokens or (64 if args.tiny else 512)
    tokens = torch.randint(0, 65536, (prefill_tokens,), generator=torch.Generator().manual_seed(0)).tolist()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random-x070.pth"
        write_random_checkpoint(path, vocab=65536, seed=0, **shape)
        our_decode, our_prefill, our_prefill_bf16, bf16_error = ours(path, tokens, decode_tokens)
        ref_decode, ref_prefill, ref_prefill_bf16 = reference(path, tokens, decode_tokens)
        times = interleaved({"our_decode": our_decode, "ref_decode": ref_decode,
                             "our_prefill": our_prefill, "ref_prefill": ref_prefill,
                             "our_prefill_bf16": our_prefill_bf16, "ref_prefill_bf16": ref_prefill_bf16}, args.rounds)
        without, with_cache = prefix_cache_effect(path, steps=3, scale=50 if args.tiny else 250)

    median = statistics.median
    rate = {name: [n / t for t in ts] for name, ts, n in (
        (name, ts, decode_tokens if "decode" in name else prefill_tokens) for name, ts in times.items())}
    print(f"RWKV-7 random checkpoint {shape['n_layer']} layers x {shape['n_embd']}, vocab 65536, "
          f"weights fp32, {args.threads} threads, torch {torch.__version__}; median of {args.rounds} interleaved rounds; "
          f"load average before/after {load_before} / {os.getloadavg()[0]:.2f}")
    print(f"CPU native bf16: {cpu_has_native_bf16()}; bf16 prefill logits vs fp32 over {prefill_tokens} positions: "
          f"relative RMS {bf16_error[0]:.4f}, top-1 equal {bf16_error[1]:.1%}")
    print(f"{'':48}{'ours tok/s':>12}{'rwkv tok/s':>12}{'ratio':>8}   per-round ratios")
    rows = (("decode", "fp32 / rwkv fp32", "our_decode", "ref_decode", decode_tokens),
            ("prefill", "fp32 / rwkv fp32", "our_prefill", "ref_prefill", prefill_tokens),
            ("prefill", "bf16 matmuls / rwkv fp32", "our_prefill_bf16", "ref_prefill", prefill_tokens),
            ("prefill", "bf16 matmuls / rwkv bf16", "our_prefill_bf16", "ref_prefill_bf16", prefill_tokens),
            ("prefill", "fp32 / rwkv bf16", "our_prefill", "ref_prefill_bf16", prefill_tokens))
    for what, label, mine, theirs, n in rows:
        ratios = [a / b for a, b in zip(rate[mine], rate[theirs])]
        print(f"{f'{what} ({n} tokens) {label}':48}{median(rate[mine]):12.1f}{median(rate[theirs]):12.1f}"
              f"{median(ratios):8.2f}   {' '.join(f'{r:.2f}' for r in ratios)}")
    print("prompt tokens computed per step, without / with the prefix cache:")
    for step, (a, b) in enumerate(zip(without, with_cache), 1):
        print(f"  step {step}: {a:6d} / {b:6d}")


if __name__ == "__main__":
    main()
