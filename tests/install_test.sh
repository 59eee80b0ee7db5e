#!/usr/bin/env bash
# ctest: installs the build into a temporary prefix, builds examples/ as an outside
# project against it twice (CMake package, a plain `pkg-config --libs esm`), and runs
# the NAS example on a predictor trained by the installed tools.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/inst" > /dev/null
bin=$tmp/inst/bin

# a predictor from the installed tools: a made-up device whose latency grows with depth
"$bin/esm-sample" --space resnet -n 300 --seed 5 | awk 'BEGIN{print "arch,lat"} {print $0 "," 1+length($0)/20}' > "$tmp/pool.csv"
"$bin/esm-train" "$tmp/pool.csv" --space resnet --encoding fcc --target lat --epochs 20 -o "$tmp/p.esm" > /dev/null

cmake -S "$src/examples" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/inst" > /dev/null
cmake --build "$tmp/cmake-build" > /dev/null
cp -r "$src/examples" "$tmp/pc"
rm -f "$tmp/pc/nas_search"
make -s -C "$tmp/pc" PKG_CONFIG_PATH="$tmp/inst/lib/pkgconfig" > /dev/null

for exe in "$tmp/cmake-build/nas_search" "$tmp/pc/nas_search"; do
  out=$("$exe" "$tmp/p.esm" 30 --generations 5)
  # [[ ]] matching, not `echo | grep -q`: under pipefail, grep -q leaving at its first match
  # makes echo die of SIGPIPE on a long output, which failed the check now and then.
  [[ $out == *"candidates per second"* ]] || { echo "unexpected output of $exe: $out"; exit 1; }
  [[ $out == *"resnet:"* ]] || { echo "no architecture from $exe: $out"; exit 1; }
done
for bad in "" "$tmp/p.esm abc" "$tmp/p.esm 30 --generatons 2" "$tmp/p.esm 30 --objective flops" "$tmp/p.esm 30 --seed"; do
  # shellcheck disable=SC2086
  if "$tmp/cmake-build/nas_search" $bad > /dev/null 2>&1; then echo "nas_search $bad succeeded"; exit 1; fi
done
# a C-only project is told to enable CXX instead of failing on OpenMP's C++ component
mkdir "$tmp/conly"
printf 'cmake_minimum_required(VERSION 3.16)\nproject(conly C)\nfind_package(esm REQUIRED)\n' > "$tmp/conly/CMakeLists.txt"
if msg=$(cmake -S "$tmp/conly" -B "$tmp/conly/b" -DCMAKE_PREFIX_PATH="$tmp/inst" 2>&1); then echo "C-only find_package succeeded"; exit 1; fi
[[ $msg == *"libesm is a C++ library: enable CXX"* ]] || { echo "unclear C-only message: $msg"; exit 1; }
# esm.pc finds its prefix under a multiarch libdir too (Debian's lib/<triplet>): configure only
cmake -S "$src" -B "$tmp/multiarch" -DCMAKE_INSTALL_LIBDIR=lib/x86_64-linux-gnu -DESM_TESTS=OFF -DESM_CUDA=OFF > /dev/null
mkdir -p "$tmp/ma/lib/x86_64-linux-gnu/pkgconfig"
cp "$tmp/multiarch/esm.pc" "$tmp/ma/lib/x86_64-linux-gnu/pkgconfig/"
inc=$(PKG_CONFIG_PATH="$tmp/ma/lib/x86_64-linux-gnu/pkgconfig" pkg-config --cflags esm | xargs)
# the first -L is libesm's own (OpenBLAS's and CUDA's follow when pkg-config keeps them)
# (no `| head`: under pipefail the writer it leaves behind dies of SIGPIPE and fails the script)
lib=$(PKG_CONFIG_PATH="$tmp/ma/lib/x86_64-linux-gnu/pkgconfig" pkg-config --libs-only-L esm | awk '{ print $1 }')
[ "$(realpath -m "${inc#-I}")" = "$tmp/ma/include" ] || { echo "multiarch esm.pc: wrong include dir $inc"; exit 1; }
[ "$(realpath -m "${lib#-L}")" = "$tmp/ma/lib/x86_64-linux-gnu" ] || { echo "multiarch esm.pc: wrong lib dir $lib"; exit 1; }
echo "install + examples (CMake and pkg-config): ok"
