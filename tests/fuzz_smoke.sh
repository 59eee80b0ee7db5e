#!/usr/bin/env bash
# ctest: builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a few seconds
# on its seed corpus, so every parser is fuzzed on every `make test`. Exit 77 (skipped)
# when clang is not installed.
set -euo pipefail
src=$1
build=$2
command -v clang++ >/dev/null 2>&1 || { echo "clang++ not found: fuzz smoke skipped"; exit 77; }
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' > "$probe/p.cpp"
clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" >/dev/null 2>&1 ||
  { echo "clang has no libFuzzer runtime (libclang-rt-14-dev): fuzz smoke skipped"; exit 77; }
cd "$src"
FUZZ_TIME=${FUZZ_TIME:-10} FUZZ_BUILD="$build/fuzz" scripts/fuzz.sh
