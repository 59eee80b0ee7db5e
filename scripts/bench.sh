#!/usr/bin/env bash
# `make bench`: runs every benchmark binary (build/bench_*) and the optional Python
# comparisons (bench/*.py, only when Debian's python3-torch is installed). Prints figures
# and ratios; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset so OpenBLAS picks its
# kernel for this CPU (each benchmark says which kernel ran).
set -uo pipefail
BUILD=${1:-build}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
status=0
for b in "$BUILD"/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" || status=1
done
# The learning benchmark's PyTorch comparison, only when torch is importable.
if /usr/bin/python3 -c 'import torch' 2>/dev/null && [ -x "$BUILD/bench_learning" ]; then
  echo "== bench/torch_mlp.py"
  /usr/bin/python3 "$(dirname "$0")/../bench/torch_mlp.py" "$BUILD" || status=1
fi
exit $status
