// Internal CUDA kernels and op runners (cuda/*.cu), the twins of cpu/kernels.hpp. They only
// enqueue on the given stream: never throw, exit, print, allocate or synchronise; cuDNN and
// cuBLAS calls return their status, launch errors are left to the executor's cudaGetLastError.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdint>
#include <string>

#include "esm/plan.hpp"
#include "esm/space.hpp"

namespace esm::cuda {

// A device view of (n, c, h, w) floats; sample b's channel ch starts at
// data + b * batch_stride + ch * h * w (batch_stride = buf.c*h*w for a channel slice).
struct DevView {
    float* data = nullptr;
    int n = 0, c = 0, h = 0, w = 0;
    int64_t batch_stride = 0;
    int64_t plane() const { return int64_t(h) * w; }
    int64_t size() const { return int64_t(n) * c * h * w; }
};

// activation.cu. In place x[b,c,:] = act(x[b,c,:] + bias[c]) (bias may be null).
void bias_act(const DevView& x, const float* bias, Act a, cudaStream_t s);
// out = act(in * scale[c] + shift[c]) (BN in inference form: DenseNet pre-activation).
void scale_shift_act(const DevView& in, const DevView& out, const float* scale, const float* shift, Act a,
                     cudaStream_t s);
// out = act(a + b), all (B, C, H, W).
void add_act(const DevView& a, const DevView& b, const DevView& out, Act act, cudaStream_t s);

// dst = src, same (n, c, h, w), any batch strides (staging a slice through a packed copy).
void copy_view(const DevView& src, const DevView& dst, cudaStream_t s);

// pooling.cu. Avg divides by the full k*k window (padding counts), like cpu/pooling.cpp.
void max_pool(const DevView& in, const DevView& out, int k, int stride, int pad, cudaStream_t s);
void avg_pool(const DevView& in, const DevView& out, int k, int stride, int pad, cudaStream_t s);
void global_avg_pool(const DevView& in, const DevView& out, cudaStream_t s);

// se.cu. w1: (R, C) b1: (R) w2: (C, R) b2: (C); scratch: se_scratch_floats(B, C, R).
int64_t se_scratch_floats(int batch, int channels, int reduced);
void squeeze_excite(const DevView& in, const DevView& out, const float* w1, const float* b1, const float* w2,
                    const float* b2, int reduced, float* scratch, cudaStream_t s);

// conv.cu: one convolution (groups included: depthwise too) through cuDNN. Descriptors
// carry explicit strides, so it reads a channel prefix and writes a channel slice.
struct ConvAlgo {
    cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    cudnnMathType_t math = CUDNN_FMA_MATH;
    size_t workspace = 0;
    std::string how;  // "find" | "heuristic" | "cache"
};

class CudnnConv {
public:
    CudnnConv() = default;
    ~CudnnConv();
    CudnnConv(const CudnnConv&) = delete;
    CudnnConv& operator=(const CudnnConv&) = delete;
    CudnnConv(CudnnConv&& o) noexcept;
    CudnnConv& operator=(CudnnConv&& o) noexcept;

    // Create time: descriptors, then the algorithm from the per-device cache or, the
    // first time this problem is seen, cudnnFindConvolutionForwardAlgorithmEx on the real
    // buffers (within find_ws bytes of find_ws_ptr). Throws esm::Error naming the call.
    // in: (B, Cin, H, W)  out: (B, Cout, Ho, Wo)  w: (Cout, Cin/groups, k, k)
    void setup(cudnnHandle_t h, int device, const Op& op, const DevView& in, const DevView& out, const float* w,
               bool tf32, void* find_ws_ptr, size_t find_ws);
    // Run time: y = conv(x) (no bias: bias_act follows). Returns the cuDNN status.
    cudnnStatus_t run(cudnnHandle_t h, const DevView& in, const DevView& out, const float* w, void* ws,
                      size_t ws_bytes) const;
    const ConvAlgo& algo() const { return algo_; }

private:
    void release();
    cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
    cudnnFilterDescriptor_t f_ = nullptr;
    cudnnConvolutionDescriptor_t c_ = nullptr;
    ConvAlgo algo_;
};

// Entries in the calling process's algorithm cache (all devices), for tests and logs.
size_t conv_algo_cache_size();

// linear.cu. out(B, O) = in(B, F) w(O, F)^T through cublasSgemm; bias and act follow.
cublasStatus_t linear(cublasHandle_t h, const DevView& in, const DevView& out, const float* w);

}  // namespace esm::cuda
