// CUDA device discovery for the CUDA build (the stub in stub.cpp answers otherwise).
// Not the executor: this only says whether a usable GPU is present and what it is.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "esm/cuda.hpp"

namespace esm::cuda {

bool built_with_cuda() { return true; }

int device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky "no device" error
        return 0;
    }
    return n;
}

std::string device_summary() {
    const int n = device_count();
    std::string s = "CUDA build (cuDNN " + std::to_string(cudnnGetVersion()) + "), ";
    if (n == 0) return s + "no CUDA device present";
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    return s + std::to_string(n) + " device(s), device 0: " + prop.name;
}

}  // namespace esm::cuda
