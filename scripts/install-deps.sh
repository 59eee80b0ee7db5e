#!/usr/bin/env bash
# Installs what libesm needs to build and test on a fresh Debian machine, only where it
# is missing: a C++ compiler, CMake, OpenBLAS and GoogleTest. Never touches anything else.
set -euo pipefail
missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
# OpenBLAS itself, its library and its header: a cblas.h alone may be netlib's (libblas-dev),
# which CMake does not take.
have() { for f in "$@"; do [ -e "$f" ] && return 0; done; return 1; }
{ have /usr/lib/*/libopenblas.so /usr/lib/libopenblas.so && \
  have /usr/include/*/openblas*/cblas.h /usr/include/openblas/cblas.h; } || missing+=(libopenblas-dev)
[ -e /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "libesm: missing ${missing[*]} (Debian package names), and there is no apt-get here:" \
       "install them with this system's package manager" >&2
  exit 1
fi
echo "libesm: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "libesm: need root to install ${missing[*]} (apt-get install -y ${missing[*]})" >&2; exit 1
  fi
fi
# Through env, not export: sudo's env_reset drops an exported DEBIAN_FRONTEND, and a
# package's debconf question then waits for an answer.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
