"""Compile every Triton kernel of the local model for a GPU architecture, without a GPU.

The Triton wheel carries LLVM and ptxas, so a CPU-only machine can turn each
kernel into a cubin for, say, sm_90 (H100) and read its register and stack
use with the bundled cuobjdump. That catches what the interpreter cannot:
a kernel that does not compile for the real target, or one whose registers
spill to local memory (stack > 0), which on a GPU is a silent slowdown.

Shapes are the decode and prefill ones of the real models: head size 64,
width 2048 (the 1.5B model), bf16 activations, fp32 state; pointer arguments
16-byte aligned as torch allocates them, so the code is what a launch builds.

    python -m local_model.ops.compile_check            # sm_90, prints a table
    python -m local_model.ops.compile_check --arch 80

Must run without TRITON_INTERPRET (the interpreter replaces the compiler).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Compiled:
    name: str
    seconds: float
    registers: int | None  # per thread, from cuobjdump -res-usage
    stack: int | None  # bytes of local memory per thread; > 0 means spills
    shared: int  # bytes of shared memory


def kernel_specs() -> list[tuple[str, object, dict[str, str], dict[str, object], int]]:
    """(name, jit function, signature, constexprs, num_warps) as the launchers use them."""
    from local_model.ops.time_mix.fused import _group_norm_bonus_kernel, _token_shift_mix_kernel
    from local_model.ops.wkv7.chunk import CHUNK, LOG2_CHUNK, _wkv7_chunk_kernel
    from local_model.ops.wkv7.fused_recurrent import _wkv7_fused_recurrent_kernel

    wkv_args = {**{p: "*bf16" for p in ("r_ptr", "w_ptr", "k_ptr", "v_ptr", "a_ptr", "b_ptr")},
                "s0_ptr": "*fp32", "o_ptr": "*bf16", "sT_ptr": "*fp32", "T": "i32", "H": "i32"}
    return [
        ("wkv7_fused_recurrent", _wkv7_fused_recurrent_kernel, wkv_args,
         {"N": 64, "BK": 64, "BV": 32, "HAS_INITIAL_STATE": True}, 4),
        ("wkv7_chunk", _wkv7_chunk_kernel, wkv_args,
         {"N": 64, "BK": 64, "BV": 32, "BT": CHUNK, "LOG2_BT": LOG2_CHUNK, "HAS_INITIAL_STATE": True}, 8),
        ("token_shift_mix", _token_shift_mix_kernel,
         {"x_ptr": "*bf16", "last_ptr": "*bf16", "mix_ptr": "*bf16", "out_ptr": "*bf16",
          "T": "i32", "C": "i32", "BTC": "i32"},
         {"M": 6, "BC": 1024}, 4),
        ("group_norm_bonus", _group_norm_bonus_kernel,
         {**{p: "*bf16" for p in ("o_ptr", "r_ptr", "k_ptr", "v_ptr", "rk_ptr", "weight_ptr", "bias_ptr",
                                  "gate_ptr", "out_ptr")}, "H": "i32", "eps": "fp32"},
         {"N": 64, "BN": 64}, 4),
    ]


def _resource_usage(cubin: bytes) -> tuple[int | None, int | None]:
    """(registers, stack bytes) of the one kernel in `cubin`, via the wheel's cuobjdump."""
    import triton

    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    if not tool.exists():
        return None, None
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        out = subprocess.run([str(tool), "-res-usage", f.name], capture_output=True, text=True).stdout
    regs, stack = re.search(r"REG:(\d+)", out), re.search(r"STACK:(\d+)", out)
    return (int(regs.group(1)) if regs else None, int(stack.group(1)) if stack else None)


def compile_all(arch: int = 90) -> list[Compiled]:
    """Compile each kernel for sm_`arch`; raises on any compile error."""
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        raise RuntimeError("unset TRITON_INTERPRET: the interpreter does not compile")
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    target = GPUTarget("cuda", arch, 32)
    results = []
    for name, fn, signature, constexprs, num_warps in kernel_specs():
        # Every pointer 16-byte aligned, as for tensors from torch's allocator.
        attrs = {(i,): [["tt.divisibility", 16]] for i, (_, kind) in enumerate(signature.items()) if kind.startswith("*")}
        full_signature = {**signature, **{k: "constexpr" for k in constexprs}}
        started = time.perf_counter()
        compiled = triton.compile(
            ASTSource(fn=fn, signature=full_signature, constexprs=constexprs, attrs=attrs),
            target=target, options={"num_warps": num_warps},
        )
        seconds = time.perf_counter() - started
        registers, stack = _resource_usage(compiled.asm["cubin"])
        results.append(Compiled(name, seconds, registers, stack, compiled.metadata.shared))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", type=int, default=90, help="compute capability x10 (90: H100/H200)")
    args = parser.parse_args(argv)
    results = compile_all(args.arch)
    print(f"sm_{args.arch}: kernel, compile s, registers/thread, stack bytes (spills), shared bytes")
    for r in results:
        print(f"{r.name:22s} {r.seconds:6.1f} {r.registers!s:>5} {r.stack!s:>5} {r.shared:>7}")
    spilled = [r.name for r in results if r.stack]
    if spilled:
        print(f"register spills in: {', '.join(spilled)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
