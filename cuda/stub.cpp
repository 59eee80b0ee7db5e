// Compiled instead of cuda/*.cu when the CUDA backend is off (Caffe's CPU_ONLY idea):
// every CUDA entry point reports that this build has no CUDA. Not a CPU fallback.
#include "backends.hpp"
#include "esm/common.hpp"
#include "esm/cuda.hpp"

namespace esm::cuda {

bool built_with_cuda() { return false; }
int device_count() { return 0; }
std::string device_summary() { return "this libesm was built without CUDA (ESM_CUDA=OFF or no nvcc/cuDNN found)"; }
DeviceInfo device_info(int) { return DeviceInfo{}; }
std::string device_header(int) { return "gpu=none;cuda=off"; }

void require_device(int) {
    throw Error(ErrorKind::Unsupported,
                "backend cuda: this libesm was built without CUDA (ESM_CUDA=OFF, or AUTO found no nvcc/cuDNN); "
                "rebuild with -DESM_CUDA=ON on a machine with the CUDA toolkit and cuDNN");
}

std::unique_ptr<Executor> make_executor(const Plan&, const Weights&, const ExecutorOptions&) {
    require_device(0);
    return nullptr;  // not reached
}

}  // namespace esm::cuda
