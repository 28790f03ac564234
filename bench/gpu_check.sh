#!/usr/bin/env bash
# Device check for a lent GPU machine. Takes about 5 minutes on one H100
# (hard limit 7.5 minutes: each phase runs under `timeout`):
#   1. the kernel tests on the GPU (WKV-7 head sizes 16 and 64, fused time mix, and the
#      model-level ones: Triton vs naive logits, chunked prefill then decode, batched
#      decode, CUDA-graph decode vs eager)   (~1.5 min, 180 s cap; mostly Triton
#      compiling each kernel variant once)
#   2. bench/gpu_bench.py: random 0.1B (L12 D768), 0.4B (L24 D1024), 1.5B (L24 D2048)
#      checkpoints in bf16; decode tok/s at batch 1 (eager, and the engine's path:
#      fused kernels replayed from a CUDA graph, local_model.cuda_graph) and
#      prefill tok/s (1024 tokens), Triton kernels against the naive torch path in
#      the same run, and decode's fraction of the memory-bandwidth bound   (~3 min, 270 s cap)
# Usage: bench/gpu_check.sh [extra gpu_bench.py options, e.g. --models 1.5B]
# Uses $PYTHON, else python3 (on the lent machines, the one that holds CUDA PyTorch and Triton).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if ! "$PY" -c 'import torch, triton, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: $PY has no CUDA PyTorch with Triton; set PYTHON to one that does" >&2
    exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
"$PY" -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'

status=0
echo "== 1/2 kernel tests (tests/local_model/ops) on the GPU"
SECONDS=0
timeout 180 "$PY" -m pytest tests/local_model/ops -q -p no:cacheprovider || status=1
echo "   ($SECONDS s)"

echo "== 2/2 decode and prefill speed, kernels vs naive"
SECONDS=0
timeout 270 "$PY" bench/gpu_bench.py "$@" || status=1
echo "   ($SECONDS s)"
exit $status
