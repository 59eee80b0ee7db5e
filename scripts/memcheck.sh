#!/usr/bin/env bash
# `make memcheck`: a smoke run of every tool under valgrind memcheck, on small inputs, the
# happy path and a few error paths. A tool fails the check on any memcheck error (invalid
# read/write, uninitialised value used, bad free) or a definite/indirect leak; "possibly lost"
# and "still reachable" blocks are not errors (libgomp's and OpenBLAS's thread pools keep
# theirs until exit). The tools are built without CUDA (build-memcheck/, RelWithDebInfo):
# CUDA cannot run without a GPU, and cuBLAS's start-up code alone gives memcheck reports
# inside the dynamic loader. Usage: scripts/memcheck.sh [BUILD_DIR] (default build-memcheck/).
set -uo pipefail
B=${1:-build-memcheck}
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (apt-get install valgrind)" >&2; exit 77; }
mkdir -p "$B"
cmake -S . -B "$B" -DESM_CUDA=OFF -DESM_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$B/build.log" 2>&1 &&
  cmake --build "$B" -j "$(nproc)" >> "$B/build.log" 2>&1 || { tail -30 "$B/build.log"; exit 1; }
exec 3>&2  # results go to fd 3: the checks redirect the tools' own stderr
W=$(mktemp -d /tmp/esm-memcheck.XXXXXX)
trap 'rm -rf "$W"' EXIT
LOGS="$B/memcheck"
rm -rf "$LOGS"; mkdir -p "$LOGS"
export OMP_NUM_THREADS=2
VG=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
    --track-origins=yes --num-callers=30)
n=0 failed=0
# check NAME EXPECTED_STATUS TOOL ARGS... (stdin and stdout as the caller sets them; the
# tool's stderr goes to the log directory)
check() {
  local name=$1 want=$2; shift 2
  n=$((n + 1))
  local log="$LOGS/$n-$name.log"
  "${VG[@]}" --log-file="$log" "$B/$@" 2> "$log.stderr"
  local rc=$?
  local errs; errs=$(grep -Eo "ERROR SUMMARY: [0-9]+" "$log" | awk '{s += $3} END {print s + 0}')
  if [ "$rc" -eq 99 ] || [ "$errs" -ne 0 ]; then
    echo "FAIL $name: memcheck errors ($errs), see $log" >&3; failed=$((failed + 1))
  elif [ "$rc" -ne "$want" ]; then
    echo "FAIL $name: exit $rc, expected $want ($log)" >&3; tail -3 "$log.stderr" >&3; failed=$((failed + 1))
  else
    printf '  ok  %-28s exit %d, %s\n' "$name" "$rc" "$(grep -Eo 'total heap usage: [0-9,]+ allocs' "$log" | head -1)" >&3
  fi
}

POOL=${ESM_DATA:-../shared/data}/ofa_mbv3_help.csv
head -301 "$POOL" > "$W/pool.csv" 2>/dev/null || {
  # no shared data: a synthetic pool from the sampler, latency = a deterministic function of depth
  echo "arch,lat_ms" > "$W/pool.csv"
  "$B/esm-sample" --space ofa-mbv3 -n 300 --seed 3 | awk '{n = gsub("-", "-"); print $0 "," 5 + n * 0.5}' >> "$W/pool.csv"
}
TARGET=$(head -1 "$W/pool.csv" | tr ',' '\n' | sed -n 2p)

check space-list 0 esm-space --list > /dev/null
check space-print 0 esm-space mobilenetv3 --bins 4 > /dev/null
check sample 0 esm-sample --space mobilenetv3 -n 6 --strategy balanced --seed 2 > "$W/archs.txt"
ARCH=$(head -1 "$W/archs.txt")
check info 0 esm-info "$ARCH" --space mobilenetv3 --res 64 > /dev/null
check info-malformed 1 esm-info "mobilenetv3:k3e4-k9e9" > /dev/null
check run-dump 0 esm-run "$ARCH" --space mobilenetv3 --res 64 --threads 2 --runs 2 --dump-dir "$W/dump" > /dev/null
check run-densenet 0 esm-run "$("$B/esm-sample" --space densenet -n 1 --seed 4)" --space densenet --res 64 --runs 1 > /dev/null
check run-resnet 0 esm-run "$("$B/esm-sample" --space resnet -n 1 --seed 4)" --space resnet --res 32 --runs 1 > /dev/null
check measure 0 esm-measure --space mobilenetv3 --archs "$W/archs.txt" -o "$W/data.csv" --res 64 \
  --runs 5 --warmup 1 --refs 2 --qc-every 3 --qc-threshold 10 --outlier-spread 1
check measure-resume 0 esm-measure --space mobilenetv3 --archs "$W/archs.txt" -o "$W/data.csv" --res 64 \
  --runs 5 --warmup 1 --refs 2 --qc-every 3 --qc-threshold 10 --outlier-spread 1
check measure-other-space 1 esm-measure --space resnet --archs - -o "$W/data.csv" < /dev/null
check train 0 esm-train "$W/pool.csv" --target "$TARGET" --epochs 20 --min-steps 0 -o "$W/p.esm" > /dev/null
check eval 0 esm-eval "$W/p.esm" "$W/pool.csv" --target "$TARGET" --json "$W/eval.json" > /dev/null
"$B/esm-sample" --space ofa-mbv3 -n 50 --seed 5 > "$W/ofa.txt"
check predict-stdin 0 esm-predict "$W/p.esm" - < "$W/ofa.txt" > /dev/null
head -c 700 "$W/p.esm" > "$W/cut.esm"
check predict-truncated 1 esm-predict "$W/cut.esm" "$(head -1 "$W/ofa.txt")" > /dev/null
check lut-build 0 esm-lut build --space mobilenetv3 --res 64 --archs "$W/archs.txt" --runs 3 --warmup 1 \
  --fit "$W/data.csv" -o "$W/t.lut" > /dev/null
check lut-eval 0 esm-lut eval "$W/t.lut" "$W/data.csv" > /dev/null
check build-pool 3 esm-build --space ofa-mbv3 --pool "$W/pool.csv" --target "$TARGET" --initial 60 --step 30 \
  --test-size 60 --epochs 20 --min-steps 0 --max-iterations 2 --acc 99.9 -o "$W/replay" > /dev/null
check build-device 3 esm-build --space mobilenetv3 --res 32 --runs 3 --warmup 1 --refs 2 --qc-threshold 10 \
  --initial 8 --step 4 --test-size 6 --epochs 10 --min-steps 0 --max-iterations 1 --acc 100 -o "$W/device" > /dev/null
check build-bad-option 2 esm-build --space mobilenetv3 --initial -3 -o "$W/bad" > /dev/null

echo "memcheck: $((n - failed)) of $n tool runs clean (logs in $LOGS)" >&2
[ "$failed" -eq 0 ]
