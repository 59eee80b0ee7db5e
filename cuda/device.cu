// CUDA device discovery and facts for the CUDA build (the stub in stub.cpp answers
// otherwise). Not the executor: this only says whether a GPU is present and what it is.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <library_types.h>

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
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) cudaGetLastError();
    std::string s = "CUDA build (cuDNN " + std::to_string(cudnnGetVersion()) + "), ";
    if (e != cudaSuccess || n == 0)  // why, when it is not plainly "no device" (an old driver, say)
        return s + "no CUDA device present" +
               (e != cudaSuccess && e != cudaErrorNoDevice ? std::string(" (") + cudaGetErrorString(e) + ")" : "");
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    return s + std::to_string(n) + " device(s), device 0: " + prop.name;
}

DeviceInfo device_info(int device) {
    DeviceInfo d;
    cudaDriverGetVersion(&d.driver_version);
    cudaRuntimeGetVersion(&d.runtime_version);
    cudaGetLastError();
    d.cudnn_version = cudnnGetVersion();
    int major = 0, minor = 0, patch = 0;
    if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
        d.cublas_version = major * 10000 + minor * 100 + patch;
    if (device < 0 || device >= device_count()) return d;
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
        cudaGetLastError();
        return d;
    }
    d.index = device;
    d.name = prop.name;
    d.cc_major = prop.major;
    d.cc_minor = prop.minor;
    d.memory_bytes = prop.totalGlobalMem;
    d.sm_count = prop.multiProcessorCount;
    return d;
}

std::string device_header(int device) {
    const DeviceInfo d = device_info(device);
    std::string s = "gpu=" + (d.index < 0 ? std::string("none") : d.name);
    if (d.index >= 0)
        s += ";cc=" + std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor) +
             ";mem_mib=" + std::to_string(d.memory_bytes >> 20) + ";sms=" + std::to_string(d.sm_count);
    return s + ";driver=" + std::to_string(d.driver_version) + ";runtime=" + std::to_string(d.runtime_version) +
           ";cudnn=" + std::to_string(d.cudnn_version) + ";cublas=" + std::to_string(d.cublas_version);
}

}  // namespace esm::cuda
