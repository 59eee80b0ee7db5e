#!/usr/bin/env bash
# The main job on a small default (README). Until the ESM loop (esm-build) exists this is
# the best end-to-end job so far: describe a space, sample it balanced over depth bins,
# and show the network plan, params and MACs of the samples.
set -euo pipefail
BUILD=${1:-build}
OUT=${ESM_OUT:-out/main-job}
mkdir -p "$OUT"
"$BUILD/esm-space" mobilenetv3
"$BUILD/esm-sample" --space mobilenetv3 -n 20 --strategy balanced --bins 5 --seed 1 > "$OUT/archs.txt"
echo
echo "sampled $(wc -l < "$OUT/archs.txt") architectures balanced over 5 depth bins -> $OUT/archs.txt"
while read -r arch; do
  "$BUILD/esm-info" "$arch" | sed -n '2,5p' | tr '\n' ' ' | sed 's/  */ /g'
  echo
done < "$OUT/archs.txt" > "$OUT/info.txt"
cat "$OUT/info.txt"
echo "per-architecture depth, params and MACs -> $OUT/info.txt"
