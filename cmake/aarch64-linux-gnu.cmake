# Cross build for 64-bit Arm Linux (Raspberry Pi 4 and the like) with Debian's
# g++-aarch64-linux-gnu and multiarch libopenblas-dev:arm64 / libgtest-dev:arm64.
# Tests run under qemu-aarch64 (Debian's qemu-user). Used by `make cross` / `make cross-test`.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# qemu runs the Arm binaries with the loader and libraries of the multiarch arm64 packages
# (`-L /`): libopenblas-dev:arm64 pulls in libc6:arm64, and its libc.so.6 is found first on
# the multiarch path, so the cross toolchain's own loader (-L /usr/aarch64-linux-gnu, an older
# libc6-arm64-cross build) would pair with a libc.so.6 of another build; that pair hangs in
# the first pthread_create.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /)
