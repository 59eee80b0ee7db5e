#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs
# each on a copy of its seed corpus (tests/fuzz/corpus/NAME) for FUZZ_TIME seconds
# (default 60), or until FUZZ_RUNS executions (default: no limit) when that comes first; the
# issue's full run is `make fuzz FUZZ_TIME=1800 FUZZ_RUNS=10000000`. New inputs stay in
# build-fuzz/corpus; crashes land in build-fuzz/crashes. FUZZ_TARGETS picks a subset.
set -euo pipefail
FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_RUNS=${FUZZ_RUNS:--1}
BUILD=${FUZZ_BUILD:-build-fuzz}
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DESM_FUZZ=ON -DESM_CUDA=OFF \
  -DESM_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
read -r -a targets <<< "${FUZZ_TARGETS:-arch space table predictor lut runner}"
cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" > "$BUILD/build.log" 2>&1 ||
  { tail -30 "$BUILD/build.log"; exit 1; }
mkdir -p "$BUILD/crashes"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$BUILD/corpus/$t"
  cp -n "tests/fuzz/corpus/$t/"* "$BUILD/corpus/$t/" 2>/dev/null || true
  echo "== fuzz_$t for ${FUZZ_TIME}s"
  if ! "$BUILD/fuzz_$t" "$BUILD/corpus/$t" -max_total_time="$FUZZ_TIME" -runs="$FUZZ_RUNS" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$BUILD/crashes/$t-" -print_final_stats=1 2>"$BUILD/fuzz_$t.log"; then
    echo "fuzz_$t FAILED: see $BUILD/fuzz_$t.log and $BUILD/crashes/"; status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs" "$BUILD/fuzz_$t.log" | tr '\n' ' '; echo
done
exit $status
