"""Every Triton kernel of the local model compiles for sm_90 (H100/H200), without a GPU.

Runs `local_model.ops.compile_check` in a child process: the kernel tests in
this session may have set TRITON_INTERPRET=1, which replaces the compiler, and
triton reads it once at import. A fresh cache directory makes it really compile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_kernels_compile_for_sm90_without_register_spills(tmp_path):
    pytest.importorskip("triton")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update(TRITON_CACHE_DIR=str(tmp_path / "triton-cache"), TRITON_DEFAULT_FP_FUSION="1",
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "local_model.ops.compile_check", "--arch", "90"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    for kernel in ("wkv7_fused_recurrent", "wkv7_chunk", "token_shift_mix", "group_norm_bonus"):
        assert kernel in done.stdout
