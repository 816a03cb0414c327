#!/usr/bin/env bash
# GPU check, one short script (< 8 minutes on one CUDA device): the gpu-marked tests,
# then the scale benchmark on the device (row-sparse and dense AdamW), printing figures.
# Needs a CUDA build of torch in the environment (see docs/scaling.md, "GPU").
# Usage: benchmarks/gpu_check.sh [ratings]   (default 10,000,000; PYTHON overrides .venv)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
N=${1:-10000000}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "nvidia-smi: not found"
if ! "$PY" -c "import sys, torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available()); sys.exit(0 if torch.cuda.is_available() else 3)"; then
    echo "no CUDA device visible to torch (a CPU-only torch wheel?): nothing to check"
    exit 3
fi
status=0
echo "== gpu tests"
timeout 180 "$PY" -m pytest tests/training/test_gpu.py -m gpu -q -rs -p no:cacheprovider || status=1
echo "== bench scale on cuda: $N ratings, dim 64, batch 65,536"
timeout 150 "$PY" -m recsys_utils bench scale --ratings "$N" --device cuda --epochs 3 \
    --surprise-ratings 0 || status=1
timeout 120 "$PY" -m recsys_utils bench scale --ratings "$N" --device cuda --epochs 2 \
    --optimizer adamw --surprise-ratings 0 || status=1
exit $status
