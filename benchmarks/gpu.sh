#!/usr/bin/env bash
# GravityViT-B/16 multi-view training and inference on one GPU: bf16, with and without torch.compile,
# samples/s, MFU, peak memory and the largest batch that fits (see benchmarks/gpu_bench.py).
#
#   bash benchmarks/gpu.sh                      # defaults: gravityvit/multiview-b16, batch 64
#   bash benchmarks/gpu.sh --batch 128 --steps 30
#   bash benchmarks/gpu.sh --dry-run            # tiny model on CPU: checks the script in seconds
#
# Writes benchmarks/gpu_results.json (override with OUTPUT=...) and prints a markdown table.
# PYTHON defaults to the repository's .venv, else python3; the checkout is put on PYTHONPATH so an
# uninstalled copy of the repository runs too.
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
OUTPUT="${OUTPUT:-benchmarks/gpu_results.json}"
export HF_HUB_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
fi
"$PYTHON" - <<'EOF'
import torch
print(f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()}",
      f"({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "")
EOF
exec "$PYTHON" benchmarks/gpu_bench.py --output "$OUTPUT" "$@"
