// The key of the CUDA backend's per-device convolution algorithm cache: every field that
// can change cuDNN's choice. Host-only and backend-neutral so that it is unit-tested in
// every build (tests/test_cuda.cpp); not the cache itself (cuda/conv.cu).
#pragma once
#include <cstdint>
#include <string>

namespace esm {

struct ConvProblem {
    int n = 1, c = 1, h = 1, w = 1;            // input
    int64_t in_n_stride = 0, in_c_stride = 0;  // input strides in floats (channel slices)
    int k_out = 1, kh = 1, kw = 1;             // filter (k_out, c/groups, kh, kw)
    int stride = 1, pad = 0, dilation = 1, groups = 1;
    int out_h = 1, out_w = 1;
    int64_t out_n_stride = 0, out_c_stride = 0;
    std::string dtype = "f32";  // data, filter and compute type
    std::string math = "fma";   // "fma" (TF32 off) | "tf32"
    // The smallest alignment of the input, output and filter addresses in bytes, capped at
    // 256: DenseNet's layers write one unit's buffer at other channel offsets, and cuDNN's
    // kernels may need an alignment that Find saw on one of them only.
    int align = 256;
};

// One line naming every field: equal keys <=> equal problems.
std::string conv_problem_key(const ConvProblem& p);

}  // namespace esm
