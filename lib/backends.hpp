// Internal: the per-backend executor factories behind Executor::create.
// Not public API; a backend adds one function here and one case in lib/executor.cpp.
#pragma once
#include <memory>

#include "esm/executor.hpp"

namespace esm::cpu {
std::unique_ptr<Executor> make_executor(const Plan& plan, const Weights& weights, const ExecutorOptions& options);
}  // namespace esm::cpu

namespace esm::cuda {
// cuda/executor.cpp in a CUDA build; cuda/stub.cpp otherwise. Throws esm::Error
// (Unsupported) when this build has no CUDA or no device is present.
std::unique_ptr<Executor> make_executor(const Plan& plan, const Weights& weights, const ExecutorOptions& options);
}  // namespace esm::cuda
