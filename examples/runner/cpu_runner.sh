#!/bin/sh
# An external runner for esm-build (docs/runner.md), working as it stands: it measures each
# architecture with libesm's own CPU executor through esm-measure, so it runs anywhere.
# To build a predictor for another runtime, replace the marked part with that runtime's
# measurement and keep the contract: print the latency in ms as the last line of stdout.
#
#   esm-build --space mobilenetv3 --runner 'examples/runner/cpu_runner.sh "$1" "$2"' -o out/runner
#
# $1: the architecture text (e.g. mobilenetv3:k3e67/k5e100-k5e100/k7e50-k3e50-k3e67/k5e67)
# $2: the space description file (docs/space_format.md), to build the network from
# Logs go to stderr; exit non-zero on failure (esm-build reports the stderr tail).
set -eu
arch="$1"
space="$2"
esm_measure="${ESM_MEASURE:-esm-measure}"   # build/esm-measure when not installed
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the measurement: replace from here ----------------------------------------------
# e.g. TFLite on a phone: export "$arch" to model.tflite with your framework, then
#   adb push model.tflite /data/local/tmp/ >&2
#   adb shell /data/local/tmp/benchmark_model --graph=/data/local/tmp/model.tflite \
#       --num_runs=150 --warmup_runs=10 > "$tmp/log"
#   awk '/avg=/ { sub(/.*avg=/, ""); print $1 / 1000 }' "$tmp/log" | tail -n 1   (us -> ms)
# Here: 10 warm-up and 50 timed runs on one CPU thread, the middle 60 % averaged (robust to
# a few slow runs, so no outlier rule: --outlier-spread 1); no reference models (esm-build's
# quality control keeps its own around this runner).
echo "$arch" | "$esm_measure" --space "$space" --archs - --warmup 10 --runs 50 --refs 0 \
    --outlier-spread 1 -o "$tmp/one.csv" >&2
# the latency_ms column of the measured row
latency=$(awk -F, '!/^#/ && $6 == "sample" { print $3 }' "$tmp/one.csv")
# ---- to here ---------------------------------------------------------------------------

if [ -z "$latency" ]; then
    echo "cpu_runner: no steady measurement of $arch" >&2
    exit 1
fi
echo "$latency"
