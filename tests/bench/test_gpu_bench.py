"""The GPU benchmark runs end to end at a tiny size on CPU (its GPU run cannot happen here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_benchmark_prints_a_row_per_path_with_matching_logits():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RECURRENTGPT_KERNELS", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_bench.py"), "--tiny"],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| tiny")]
    assert [cells[1].strip() for cells in rows] == ["naive", "kernels"]
    for cells in rows:
        assert float(cells[2].replace(",", "")) > 0  # decode tokens/s
        assert float(cells[6].replace(",", "")) > 0  # prefill tokens/s
    # The two paths compute the same model: last-token logits agree.
    assert float(rows[1][8]) < 1e-3
