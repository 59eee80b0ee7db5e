// esm::max_cpu_threads (esm/executor.hpp), apart from Executor::create: dataset headers check
// it too, in builds without the CPU kernels (the fuzz targets).
#include <algorithm>
#include <thread>

#include "esm/executor.hpp"

namespace esm {

int max_cpu_threads() {
    return std::min(1024, std::max(8, 4 * static_cast<int>(std::thread::hardware_concurrency())));
}

}  // namespace esm
