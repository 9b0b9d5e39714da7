#!/usr/bin/env bash
# The GPU rows of the training benchmark, on a machine with an NVIDIA GPU, JAX and PyTorch with CUDA
# and no TensorFlow (this workplace's device image). Only carried wheels are installed there.
#
# Here, once (the wheels stay out of git; about 2 MiB, well inside a call's 64 MiB):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl keras==3.15.1 namex optree graphviz-pure
# There, from the repository root (carry .whl):
#   bash benchmarks/gpu_rows.sh            # writes $OUT/backends_jax.json, backends_torch.json, gpu_rows.md
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/results}"
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt" || true
STEPS="${STEPS:-1000}" ROUNDS="${ROUNDS:-3}"
: > "$OUT/gpu_rows.md"
for backend in jax torch; do
  KERAS_BACKEND=$backend timeout 280 python3 benchmarks/bench_backends.py --steps "$STEPS" --rounds "$ROUNDS" \
    --out "$OUT/backends_$backend.json" 2>&1 | tee "$OUT/log_$backend.txt" | grep '^|' >> "$OUT/gpu_rows.md" \
    || echo "| $backend | (failed: see log_$backend.txt) | | | | | | |" >> "$OUT/gpu_rows.md"
done
cat "$OUT/gpu_rows.md"
