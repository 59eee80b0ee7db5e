// Internal: the one check of a CPU executor's thread count, for Executor::create and the
// dataset header of an executor measurement (executor_dataset_meta). Not public API.
#pragma once

namespace esm::detail {

// Throws esm::Error (InvalidArgument) unless 1 <= threads <= max_cpu_threads().
void check_cpu_threads(int threads);

// The threads a CPU executor given `threads` runs on: `threads`, or 1 in a build without
// OpenMP (ESM_OPENMP=OFF, where --threads is accepted and ignored). A dataset header records
// these: a single-threaded measurement is not one at `threads`.
int cpu_threads_run(int threads);

}  // namespace esm::detail
