"""The CPU benchmark script runs end to end at a tiny size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_local_decode_tiny_runs():
    pytest.importorskip("rwkv")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "local_decode.py"), "--tiny", "--threads", "1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "decode" in out.stdout and "prefill" in out.stdout and "step 3" in out.stdout
