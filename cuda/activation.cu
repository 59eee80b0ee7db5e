// CUDA elementwise kernels: fused bias (folded BN) + activation, BN+act (BnAct), and
// residual add + act, on strided channel-slice views. Not convolutions (cuda/conv.cu).
#include <type_traits>

#include "kernels.hpp"

namespace esm::cuda {

namespace {

__device__ __forceinline__ float relu6(float x) { return fminf(fmaxf(x, 0.0f), 6.0f); }

template <Act A>
__device__ __forceinline__ float act(float x) {
    if constexpr (A == Act::ReLU) return x > 0.0f ? x : 0.0f;
    if constexpr (A == Act::HSwish) return x * relu6(x + 3.0f) * (1.0f / 6.0f);
    if constexpr (A == Act::HSigmoid) return relu6(x + 3.0f) * (1.0f / 6.0f);
    return x;
}

// Element i of a (n, c, plane) view: its offset under batch stride bs.
__device__ __forceinline__ int64_t at(int64_t i, int64_t sample, int64_t bs) { return (i / sample) * bs + i % sample; }

template <Act A>
__global__ void bias_act_kernel(float* x, const float* bias, int64_t total, int64_t sample, int64_t plane, int c,
                                int64_t bs) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = i % sample;
        float* p = x + (i / sample) * bs + r;
        *p = act<A>(*p + (bias ? bias[(r / plane) % c] : 0.0f));
    }
}

template <Act A>
__global__ void scale_shift_kernel(const float* in, float* out, const float* scale, const float* shift, int64_t total,
                                   int64_t sample, int64_t plane, int64_t bs_in, int64_t bs_out) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int ch = static_cast<int>((i % sample) / plane);
        out[at(i, sample, bs_out)] = act<A>(in[at(i, sample, bs_in)] * scale[ch] + shift[ch]);
    }
}

template <Act A>
__global__ void add_kernel(const float* a, const float* b, float* out, int64_t total, int64_t sample, int64_t bs_a,
                           int64_t bs_b, int64_t bs_out) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
        out[at(i, sample, bs_out)] = act<A>(a[at(i, sample, bs_a)] + b[at(i, sample, bs_b)]);
}

__global__ void copy_kernel(const float* src, float* dst, int64_t total, int64_t sample, int64_t bs_src,
                            int64_t bs_dst) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
        dst[at(i, sample, bs_dst)] = src[at(i, sample, bs_src)];
}

constexpr int kThreads = 256;
unsigned blocks(int64_t total) {
    const int64_t b = (total + kThreads - 1) / kThreads;
    return static_cast<unsigned>(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

}  // namespace

// Calls f(std::integral_constant<Act, a>) so each activation is its own kernel.
template <typename F>
void dispatch(Act a, F&& f) {
    switch (a) {
        case Act::None: f(std::integral_constant<Act, Act::None>()); break;
        case Act::ReLU: f(std::integral_constant<Act, Act::ReLU>()); break;
        case Act::HSwish: f(std::integral_constant<Act, Act::HSwish>()); break;
        case Act::HSigmoid: f(std::integral_constant<Act, Act::HSigmoid>()); break;
    }
}

void bias_act(const DevView& x, const float* bias, Act a, cudaStream_t s) {
    if (!bias && a == Act::None) return;
    const int64_t total = x.size();
    if (total == 0) return;
    dispatch(a, [&](auto A) {
        bias_act_kernel<A()>
            <<<blocks(total), kThreads, 0, s>>>(x.data, bias, total, x.c * x.plane(), x.plane(), x.c, x.batch_stride);
    });
}

void scale_shift_act(const DevView& in, const DevView& out, const float* scale, const float* shift, Act a,
                     cudaStream_t s) {
    const int64_t total = in.size();
    if (total == 0) return;
    dispatch(a, [&](auto A) {
        scale_shift_kernel<A()><<<blocks(total), kThreads, 0, s>>>(
            in.data, out.data, scale, shift, total, in.c * in.plane(), in.plane(), in.batch_stride, out.batch_stride);
    });
}

void add_act(const DevView& a, const DevView& b, const DevView& out, Act act, cudaStream_t s) {
    const int64_t total = out.size();
    if (total == 0) return;
    dispatch(act, [&](auto A) {
        add_kernel<A()><<<blocks(total), kThreads, 0, s>>>(a.data, b.data, out.data, total, out.c * out.plane(),
                                                           a.batch_stride, b.batch_stride, out.batch_stride);
    });
}

void copy_view(const DevView& src, const DevView& dst, cudaStream_t s) {
    const int64_t total = src.size();
    if (total == 0) return;
    copy_kernel<<<blocks(total), kThreads, 0, s>>>(src.data, dst.data, total, src.c * src.plane(), src.batch_stride,
                                                   dst.batch_stride);
}

}  // namespace esm::cuda
