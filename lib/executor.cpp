// The backend facade of Executor::create: picks the backend the options ask for.
// Not an executor itself (cpu/executor.cpp, cuda/executor.cpp or cuda/stub.cpp).
#include "esm/executor.hpp"

#include <chrono>

#include "backends.hpp"
#include "cpu_threads.hpp"
#include "esm/common.hpp"
#include "esm/cuda.hpp"

namespace esm {

const char* backend_name(Backend b) { return b == Backend::Cpu ? "cpu" : "cuda"; }

Backend parse_backend(const std::string& s) {
    if (s == "cpu") return Backend::Cpu;
    if (s == "cuda") return Backend::Cuda;
    throw Error(ErrorKind::InvalidArgument, "unknown backend '" + s + "' (expected cpu or cuda)");
}

double Executor::timed_run_ms() {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

std::unique_ptr<Executor> Executor::create(const Plan& plan, const ExecutorOptions& options) {
    return create(plan, make_weights(plan, options.seed), options);
}

std::unique_ptr<Executor> Executor::create(const Plan& plan, const Weights& weights, const ExecutorOptions& options) {
    if (options.threads < 1 || options.threads > 1024)
        throw Error(ErrorKind::InvalidArgument, "threads must be 1..1024, got " + std::to_string(options.threads));
    if (options.backend == Backend::Cpu) detail::check_cpu_threads(options.threads);
    if (weights.ops.size() != plan.ops.size())
        throw Error(ErrorKind::InvalidArgument, "weights do not belong to this plan (op count differs)");
    switch (options.backend) {
        case Backend::Cpu: return cpu::make_executor(plan, weights, options);
        case Backend::Cuda: return cuda::make_executor(plan, weights, options);
    }
    throw Error(ErrorKind::InvalidArgument, "unknown backend");
}

}  // namespace esm
