#!/usr/bin/env bash
# Set up RecurrentGPT in ./.venv. `--dev` adds what the tests need.
# torch is pinned first so pip takes the CPU build instead of a multi-GB CUDA one;
# on a GPU machine install the CUDA torch you want before running this script.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q "torch==2.13.0"
if [ "${1:-}" = "--dev" ]; then
    .venv/bin/pip install -q -e ".[dev]"
else
    .venv/bin/pip install -q -e .
fi
