// Whether this build has the CUDA backend, whether a device is present, and the device
// facts a measurement header records. Safe to call in every build: a build without CUDA
// links a stub that answers "no" and empty facts. Not the executor (esm/executor.hpp).
#pragma once
#include <cstddef>
#include <string>

namespace esm::cuda {

bool built_with_cuda();
int device_count();            // 0 without CUDA or without a device
std::string device_summary();  // one line for headers and error messages

// Throws esm::Error unless this build has CUDA (Unsupported) and device ordinal `device`
// is present (Unsupported without a device, InvalidArgument out of range); what the CUDA
// executor checks first, for callers that must fail before they write anything.
void require_device(int device);

// Facts about one device and the libraries this build runs with. Zero/empty where
// unknown: without CUDA, without a device, or for an ordinal out of range. Never throws.
struct DeviceInfo {
    int index = -1;                  // -1 when no such device
    std::string name;                // "NVIDIA H100 80GB HBM3"
    int cc_major = 0, cc_minor = 0;  // compute capability
    size_t memory_bytes = 0;
    int sm_count = 0;
    int driver_version = 0;    // cudaDriverGetVersion, e.g. 13000
    int runtime_version = 0;   // cudaRuntimeGetVersion
    size_t cudnn_version = 0;  // cudnnGetVersion, e.g. 91300
    int cublas_version = 0;    // major*10000 + minor*100 + patch
};
DeviceInfo device_info(int device = 0);

// "gpu=<name>;cc=9.0;mem_mib=...;driver=...;runtime=...;cudnn=...;cublas=..." for a
// measurement header (which also records ExecutorOptions::tf32); "gpu=none;..." otherwise.
std::string device_header(int device = 0);

}  // namespace esm::cuda
