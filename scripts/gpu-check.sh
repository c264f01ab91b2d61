#!/usr/bin/env bash
# The one prepared script for a session that is lent a GPU (see DEVELOPERS.md and the device
# tool's README). It runs from the repository root on the device machine and writes everything
# under $OUT (default ./gpu-out): the test suite on CuPy, a NumPy-vs-CuPy agreement run on shared
# weights, the benchmarks, and the full-profile checks. Each part has its own time limit so one
# slow part cannot eat the others' time.
# Checks hold exact identities to float64 round-off, so tests and checks run in float64 on the
# GPU too; the benchmarks use the backend default (float32).
set -uo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
{
  nvidia-smi || true
  python3 --version
} > "$OUT/device.txt" 2>&1

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv && .venv/bin/pip install -q -e ".[test,gpu]" > "$OUT/install.log" 2>&1
fi
PY=.venv/bin/python
$PY -m rnnproof info > "$OUT/info.txt" 2>&1

# 1. the tests on CuPy (float32 default there; the exact-identity tests run in float64)
RNNPROOF_BACKEND=cupy RNNPROOF_DTYPE=float64 RNNPROOF_PROFILE=quick \
  timeout 240 $PY -m pytest -q -x --junitxml="$OUT/pytest-cupy.xml" > "$OUT/pytest-cupy.txt" 2>&1
echo "pytest (cupy) exit: $?" >> "$OUT/summary.txt"

# 2. NumPy vs CuPy on shared weights
timeout 120 $PY scripts/agreement.py > "$OUT/agreement.txt" 2>&1
echo "agreement exit: $?" >> "$OUT/summary.txt"

# 3. benchmarks (writes benchmarks/results/gpu-*.md; copied to $OUT)
RNNPROOF_BACKEND=cupy timeout 180 $PY -m benchmarks > "$OUT/bench.txt" 2>&1
echo "bench exit: $?" >> "$OUT/summary.txt"
cp benchmarks/results/gpu-*.md "$OUT/" 2>/dev/null

# 4. the full-profile checks
RNNPROOF_BACKEND=cupy RNNPROOF_DTYPE=float64 RNNPROOF_PROFILE=full timeout 240 \
  $PY -m rnnproof check --json "$OUT/checks-full.json" > "$OUT/checks-full.txt" 2>&1
echo "full checks exit: $?" >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
