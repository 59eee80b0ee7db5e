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
# The tools on a million lines (docs/performance.md, "Speed (one core)"): esm-sample streams
# them (time and peak memory), esm-predict reads them from stdin with a predictor built in
# replay on HELP's data when ../shared/data holds it.
if [ -x "$BUILD/esm-sample" ] && [ -x /usr/bin/time ]; then
  tmp=$(mktemp -d)
  echo "== esm-sample / esm-predict, 1 M ofa-mbv3 lines"
  /usr/bin/time -f "esm-sample -n 1000000: %e s, %M KiB peak" \
    "$BUILD/esm-sample" --space ofa-mbv3 -n 1000000 --seed 3 > "$tmp/m.txt" || status=1
  data="$HERE/../shared/data/ofa_mbv3_help.csv"
  if [ -f "$data" ] && "$BUILD/esm-build" --space ofa-mbv3 --pool "$data" --target v100_bs64_ms -o "$tmp/r" > /dev/null 2>&1; then
    /usr/bin/time -f "esm-predict from stdin: %e s, %M KiB peak" \
      "$BUILD/esm-predict" "$tmp/r/predictor.esm" - < "$tmp/m.txt" > /dev/null || status=1
  fi
  rm -rf "$tmp"
fi
exit $status
