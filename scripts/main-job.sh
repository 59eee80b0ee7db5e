#!/usr/bin/env bash
# The main job on a small default (README): the ESM loop on this machine's CPU for the
# mobilenetv3 preset, balanced sampling, FCC encoding, bin-wise evaluation, with a time
# budget that keeps it near 10 minutes on 2 cores. Then shows how to use the predictor.
# Reference QC is set to 50 % here, not the paper's 3 %: on the shared 2-core VMs this
# project runs on, the same network's latency moves 10-20 % between executor instances
# and over minutes (spikes of 25 % seen; docs/performance.md), so 3 % would reject
# every batch; 50 % still stops a device that halves its speed. On a real
# target device keep the default (--qc-threshold 0.03).
set -euo pipefail
BUILD=${1:-build}
OUT=${ESM_OUT:-out/main-job}
THREADS=${ESM_THREADS:-1}  # one thread: steadier timings on a small shared machine
set +e
"$BUILD/esm-build" --space mobilenetv3 --device cpu --threads "$THREADS" --res 128 --warmup 5 --runs 100 \
  --qc-threshold 0.5 --qc-retries 4 --qc-wait 5 --strategy balanced --encoding fcc --eval binwise --bins 5 --acc 90 \
  --initial 100 --step 50 --test-size 100 --max-time "${ESM_MAX_TIME:-540}" --seed 1 -o "$OUT"
status=$?
set -e
if [ $status -ne 0 ] && [ $status -ne 3 ]; then exit $status; fi  # 3: stopped by the budget, predictor written
echo
echo "example: predicted latency (ms) of three new architectures (esm-predict $OUT/predictor.esm ARCH...):"
"$BUILD/esm-sample" --space mobilenetv3 -n 3 --seed 123 > "$OUT/example-archs.txt"
"$BUILD/esm-predict" "$OUT/predictor.esm" - < "$OUT/example-archs.txt" | paste - "$OUT/example-archs.txt"
