// esm::max_cpu_threads (esm/executor.hpp) and its check, apart from Executor::create: dataset
// headers check it too, in builds without the CPU kernels (the fuzz targets).
#include "cpu_threads.hpp"

#include <algorithm>
#include <string>
#include <thread>

#include "esm/common.hpp"
#include "esm/executor.hpp"

namespace esm {

int max_cpu_threads() {
    return std::min(1024, std::max(8, 4 * static_cast<int>(std::thread::hardware_concurrency())));
}

void detail::check_cpu_threads(int threads) {
    // More than 4 per hardware thread only wait, and an OpenMP runtime that cannot start
    // them (an address-space limit: 1,024 stacks) ends the process from inside it.
    if (threads < 1 || threads > max_cpu_threads())
        throw Error(ErrorKind::InvalidArgument, "CPU threads must be 1.." + std::to_string(max_cpu_threads()) +
                                                    " (at most 4 per hardware thread of this machine's " +
                                                    std::to_string(std::thread::hardware_concurrency()) + "), got " +
                                                    std::to_string(threads));
}

int detail::cpu_threads_run(int threads) {
#ifdef _OPENMP
    return threads;
#else
    (void)threads;
    return 1;
#endif
}

}  // namespace esm
