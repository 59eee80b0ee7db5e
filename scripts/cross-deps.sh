#!/usr/bin/env bash
# Installs what `make cross` / `make cross-test` need, only where missing: the aarch64
# cross compiler, arm64 OpenBLAS and GoogleTest (Debian multiarch), the arm64 C++ and OpenMP
# runtimes (qemu runs the tests with the multiarch loader and libraries: `-L /`), and qemu-user.
set -euo pipefail
need=()
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || need+=(g++-aarch64-linux-gnu)
[ -e /usr/include/aarch64-linux-gnu/cblas.h ] || need+=(libopenblas-dev:arm64)
[ -e /usr/lib/aarch64-linux-gnu/libgtest.a ] || need+=(libgtest-dev:arm64)
[ -e /usr/lib/aarch64-linux-gnu/libstdc++.so.6 ] || need+=(libstdc++6:arm64)
[ -e /usr/lib/aarch64-linux-gnu/libgomp.so.1 ] || need+=(libgomp1:arm64)
command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "libesm: installing ${need[*]}" >&2
$SUDO dpkg --add-architecture arm64
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q "${need[@]}" >&2
