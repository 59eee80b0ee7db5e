# Friendly front end over CMake (the real build). `make help` lists the targets.
BUILD     ?= build
ESM_CUDA  ?= AUTO
PREFIX    ?= /usr/local
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps configure build test run bench install clean help fuzz sanitize static cross cross-test memcheck

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

# A failed configure leaves no cache behind, so the next `make` configures again.
$(BUILD)/CMakeCache.txt: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -DESM_CUDA=$(ESM_CUDA) $(CMAKE_ARGS) || { rm -f $@; exit 1; }

configure: deps
	cmake -S . -B $(BUILD) -DESM_CUDA=$(ESM_CUDA) $(CMAKE_ARGS)

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

static: deps
	cmake -S . -B build-static -DESM_CUDA=OFF -DESM_STATIC_TOOLS=ON -DESM_TESTS=OFF $(CMAKE_ARGS)
	cmake --build build-static -j $(JOBS)
	@file build-static/esm-predict

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
