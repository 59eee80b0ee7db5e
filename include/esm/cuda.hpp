// Whether this build has the CUDA backend and whether a device is present. Safe to call
// in every build: a build without CUDA links a stub that answers "no".
#pragma once
#include <string>

namespace esm::cuda {

bool built_with_cuda();
int device_count();          // 0 without CUDA or without a device
std::string device_summary();  // one line for headers and error messages

}  // namespace esm::cuda
