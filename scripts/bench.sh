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
# Every optional step says why when it is skipped.
have_torch=0
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 && have_torch=1
no_torch="/usr/bin/python3 cannot import torch (apt-get install python3-torch)"
if [ ! -s "$BUILD/bench_executor.txt" ]; then
  echo "== torch_compare.py skipped: bench_executor wrote no latencies ($BUILD/bench_executor.txt)"
elif [ $have_torch = 1 ]; then
  echo "== torch_compare.py"
  /usr/bin/python3 "$HERE/bench/torch_compare.py" "$BUILD/bench_executor.txt" || status=1
else
  echo "== torch_compare.py skipped: $no_torch"
fi
# The learning benchmark's PyTorch comparison.
if [ $have_torch = 1 ] && [ -x "$BUILD/bench_learning" ]; then
  echo "== bench/torch_mlp.py"
  /usr/bin/python3 "$HERE/bench/torch_mlp.py" "$BUILD" || status=1
else
  echo "== bench/torch_mlp.py skipped: $([ $have_torch = 1 ] && echo "no $BUILD/bench_learning" || echo "$no_torch")"
fi
# The CUDA comparison, where PyTorch sees a GPU (bench_cuda above says whether libesm does).
if [ ! -x "$BUILD/bench_cuda" ]; then
  echo "== bench/torch_cuda_compare.py skipped: no $BUILD/bench_cuda"
elif [ $have_torch = 1 ] && /usr/bin/python3 -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
  echo "== bench/torch_cuda_compare.py"
  /usr/bin/python3 "$HERE/bench/torch_cuda_compare.py" --bench "$BUILD/bench_cuda" || status=1
else
  echo "== bench/torch_cuda_compare.py skipped: no CUDA device for PyTorch here"
fi
# The tools on a million lines (docs/performance.md, "Speed (one core)"): esm-sample streams
# them (time and peak memory), esm-predict reads them from stdin with a predictor built in
# replay on HELP's data when ../shared/data holds it.
if [ -x "$BUILD/esm-sample" ] && [ -x /usr/bin/time ]; then
  tmp=$(mktemp -d)
  echo "== esm-sample / esm-predict, 1 M ofa-mbv3 lines"
  /usr/bin/time -f "esm-sample -n 1000000: %e s, %M KiB peak" \
    "$BUILD/esm-sample" --space ofa-mbv3 -n 1000000 --seed 3 > "$tmp/m.txt" || status=1
  # The data as the benchmarks find it: $ESM_DATA (a file or its folder), else ../shared/data.
  data=${ESM_DATA:-$HERE/../shared/data}
  [ -d "$data" ] && data="$data/ofa_mbv3_help.csv"
  if [ ! -f "$data" ]; then
    echo "esm-predict skipped: $data not found (set ESM_DATA)"
  elif ! "$BUILD/esm-build" --space ofa-mbv3 --pool "$data" --target v100_bs64_ms -o "$tmp/r" > "$tmp/build.log" 2>&1; then
    echo "esm-predict skipped: the replay esm-build failed:"; tail -3 "$tmp/build.log"; status=1
  else
    /usr/bin/time -f "esm-predict from stdin: %e s, %M KiB peak" \
      "$BUILD/esm-predict" "$tmp/r/predictor.esm" - < "$tmp/m.txt" > /dev/null || status=1
    # The NAS example over the C API (docs/performance.md, "NAS example throughput"): built
    # against an install of this build, one BLAS thread, a 20 ms budget on that predictor.
    echo "== examples/nas_search, 1000 generations (target >= 100,000 candidates/s)"
    if cmake --install "$BUILD" --prefix "$tmp/inst" > /dev/null && \
       cmake -S "$HERE/examples" -B "$tmp/ex" -DCMAKE_PREFIX_PATH="$tmp/inst" > /dev/null && \
       cmake --build "$tmp/ex" > /dev/null; then
      "$tmp/ex/nas_search" "$tmp/r/predictor.esm" 20 --generations 1000 --seed 1 | tail -1 | \
        awk '{ print; printf "%.2fx the target\n", $(NF-3) / 100000 }' || status=1
    else
      echo "nas_search skipped: the example did not build against $tmp/inst"; status=1
    fi
  fi
  rm -rf "$tmp"
else
  echo "== esm-sample / esm-predict skipped: no $BUILD/esm-sample or /usr/bin/time"
fi
exit $status
