// Compiled instead of cuda/*.cu when the CUDA backend is off (Caffe's CPU_ONLY idea):
// every CUDA entry point reports that this build has no CUDA. Not a CPU fallback.
#include "esm/cuda.hpp"

namespace esm::cuda {

bool built_with_cuda() { return false; }
int device_count() { return 0; }
std::string device_summary() { return "this libesm was built without CUDA (ESM_CUDA=OFF or no nvcc/cuDNN found)"; }

}  // namespace esm::cuda
