# Friendly front end over CMake (the real build). `make help` lists the targets.
BUILD     ?= build
PREFIX    ?= /usr/local
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps configure build test run bench install clean help fuzz sanitize static cross cross-test memcheck FORCE

# -DESM_CUDA only when ESM_CUDA is given (command line or environment): a build folder
# otherwise keeps the setting it was configured with (CMake's default is AUTO). Passing
# AUTO every time turned a folder configured with ESM_CUDA=OFF back to AUTO whenever it
# reconfigured (CMakeLists.txt touched by a git pull).
ESM_CUDA_ARG := $(if $(filter command environment,$(firstword $(origin ESM_CUDA))),-DESM_CUDA=$(ESM_CUDA))
ESM_CMAKE_ARGS := $(strip $(ESM_CUDA_ARG) $(CMAKE_ARGS))

all: build

help:
	@echo "make            build libesm.a, the tools and the tests (in $(BUILD)/)"
	@echo "make test       build and run the test suite"
	@echo "make run        the main job on a small default"
	@echo "make bench      benchmarks (figures and ratios)"
	@echo "make install PREFIX=/usr/local"
	@echo "make sanitize   the test suite under ASan + UBSan (build-asan/)"
	@echo "make static     statically linked tools without CUDA (build-static/)"
	@echo "make cross      cross build for 64-bit Arm (build-aarch64/); make cross-test runs the tests under qemu"
	@echo "make fuzz       libFuzzer targets for every parser, FUZZ_TIME seconds (or FUZZ_RUNS executions) each (build-fuzz/)"
	@echo "make memcheck   a smoke run of every tool under valgrind memcheck"
	@echo "variables: ESM_CUDA=AUTO|ON|OFF  BUILD=dir  JOBS=n  CMAKE_ARGS=..."

deps:
	@scripts/install-deps.sh

# What this `make` was given for CMake, rewritten only when it differs from the last time:
# a changed ESM_CUDA or CMAKE_ARGS reconfigures the folder (they were ignored once it had a
# cache), the same ones do not, and none at all leaves the record alone (a bare `make`, or a
# `sudo make install` that lost an exported ESM_CUDA, keeps the folder's settings without
# reconfiguring it, as root too).
$(BUILD)/make-cmake-args.txt: FORCE
	@mkdir -p $(BUILD)
	@if [ -n '$(subst ','\'',$(ESM_CMAKE_ARGS))' ] || [ ! -e $@ ]; then \
	  printf '%s\n' '$(subst ','\'',$(ESM_CMAKE_ARGS))' | cmp -s - $@ || \
	  printf '%s\n' '$(subst ','\'',$(ESM_CMAKE_ARGS))' > $@; fi

# A failed configure leaves no record of the arguments, so the next `make` configures again;
# the cache stays, with the folder's other settings (removing it lost them, ESM_CUDA=OFF
# too). touch: CMake leaves an unchanged cache as it was, older than what made it reconfigure.
$(BUILD)/CMakeCache.txt: CMakeLists.txt $(BUILD)/make-cmake-args.txt | deps
	cmake -S . -B $(BUILD) $(ESM_CMAKE_ARGS) && touch $@ || { rm -f $(BUILD)/make-cmake-args.txt; exit 1; }

configure: $(BUILD)/make-cmake-args.txt | deps
	cmake -S . -B $(BUILD) $(ESM_CMAKE_ARGS) && touch $(BUILD)/CMakeCache.txt

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

run: build
	scripts/main-job.sh $(BUILD)

bench: build
	scripts/bench.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

sanitize: deps
	cmake -S . -B build-asan -DESM_CUDA=OFF -DESM_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# `file` shows "statically linked"; a fresh Debian lacks it, which must not fail the target.
static: deps
	cmake -S . -B build-static -DESM_CUDA=OFF -DESM_STATIC_TOOLS=ON -DESM_TESTS=OFF $(CMAKE_ARGS)
	cmake --build build-static -j $(JOBS)
	@if command -v file >/dev/null 2>&1; then file build-static/esm-predict; \
	 else echo "build-static/esm-predict built (install 'file' to see that it is statically linked)"; fi

cross:
	scripts/cross-deps.sh
	cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DESM_CUDA=OFF $(CMAKE_ARGS)
	cmake --build build-aarch64 -j $(JOBS)

cross-test: cross
	cd build-aarch64 && ESM_TOOL_WRAPPER="qemu-aarch64 -L /" \
	  ctest --output-on-failure -j $(JOBS) -E install_and_examples

fuzz: deps
	scripts/fuzz.sh

memcheck: deps
	scripts/memcheck.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-static build-aarch64 build-memcheck
