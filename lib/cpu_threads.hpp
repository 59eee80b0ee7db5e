// Internal: the one check of a CPU executor's thread count, for Executor::create and the
// dataset header of an executor measurement (executor_dataset_meta). Not public API.
#pragma once

namespace esm::detail {

// Throws esm::Error (InvalidArgument) unless 1 <= threads <= max_cpu_threads().
void check_cpu_threads(int threads);

}  // namespace esm::detail
