#!/usr/bin/env bash
# `make bench`: runs every benchmark binary (build/bench_*) and the optional PyTorch
# comparisons (bench/torch_compare.py, bench/torch_mlp.py; only when /usr/bin/python3 can
# import torch, e.g. Debian's python3-torch). Prints figures and ratios; OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE are unset so OpenBLAS picks its kernel for this CPU (each benchmark
# says which kernel ran). bench_executor's latencies go to $BUILD/bench_executor.txt.
set -uo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")/.." && pwd)
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)  OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}"
status=0
for b in "$BUILD"/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  if [ "$(basename "$b")" = bench_executor ]; then
    "$b" --results "$BUILD/bench_executor.txt" || status=1
  else
    "$b" || status=1
  fi
done
if [ -s "$BUILD/bench_executor.txt" ]; then
  if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
    echo "== torch_compare.py"
    /usr/bin/python3 "$HERE/bench/torch_compare.py" "$BUILD/bench_executor.txt" || status=1
  else
    echo "== torch_compare.py skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch)"
  fi
fi
# The learning benchmark's PyTorch comparison, only when torch is importable.
if /usr/bin/python3 -c 'import torch' 2>/dev/null && [ -x "$BUILD/bench_learning" ]; then
  echo "== bench/torch_mlp.py"
  /usr/bin/python3 "$(dirname "$0")/../bench/torch_mlp.py" "$BUILD" || status=1
fi
exit $status
