// CUDA pooling kernels: max and average k x k windows and global average pooling, on
// strided channel-slice views (one thread per output, one warp per plane for global).
// Not SE's squeeze (cuda/se.cu reuses global_avg_pool).
#include <cfloat>

#include "kernels.hpp"

namespace esm::cuda {

namespace {

constexpr int kThreads = 256;

template <bool Max>
__global__ void pool_kernel(const float* in, float* out, int n, int c, int h, int w, int ho, int wo, int k, int stride,
                            int pad, int64_t bs_in, int64_t bs_out) {
    const int64_t total = int64_t(n) * c * ho * wo;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int ox = static_cast<int>(i % wo);
        const int oy = static_cast<int>((i / wo) % ho);
        const int ch = static_cast<int>((i / (int64_t(wo) * ho)) % c);
        const int b = static_cast<int>(i / (int64_t(wo) * ho * c));
        const float* x = in + b * bs_in + int64_t(ch) * h * w;
        const int y0 = max(oy * stride - pad, 0), y1 = min(oy * stride - pad + k, h);
        const int x0 = max(ox * stride - pad, 0), x1 = min(ox * stride - pad + k, w);
        float acc = Max ? -FLT_MAX : 0.0f;
        for (int y = y0; y < y1; ++y)
            for (int xx = x0; xx < x1; ++xx) {
                const float v = x[int64_t(y) * w + xx];
                acc = Max ? fmaxf(acc, v) : acc + v;
            }
        out[b * bs_out + (int64_t(ch) * ho + oy) * wo + ox] = Max ? acc : acc / float(k * k);
    }
}

// One warp per (b, c) plane.
__global__ void gap_kernel(const float* in, float* out, int n, int c, int64_t plane, int64_t bs_in, int64_t bs_out) {
    const int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
    const int lane = threadIdx.x % 32;
    if (warp >= int64_t(n) * c) return;
    const int b = static_cast<int>(warp / c), ch = static_cast<int>(warp % c);
    const float* x = in + b * bs_in + ch * plane;
    float a = 0.0f;
    for (int64_t j = lane; j < plane; j += 32) a += x[j];
    for (int off = 16; off > 0; off /= 2) a += __shfl_down_sync(0xffffffffu, a, off);
    if (lane == 0) out[b * bs_out + ch] = a / float(plane);
}

unsigned blocks(int64_t total) {
    const int64_t b = (total + kThreads - 1) / kThreads;
    return static_cast<unsigned>(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

template <bool Max>
void pool(const DevView& in, const DevView& out, int k, int stride, int pad, cudaStream_t s) {
    const int64_t total = out.size();
    if (total == 0) return;
    pool_kernel<Max><<<blocks(total), kThreads, 0, s>>>(in.data, out.data, in.n, in.c, in.h, in.w, out.h, out.w, k,
                                                        stride, pad, in.batch_stride, out.batch_stride);
}

}  // namespace

void max_pool(const DevView& in, const DevView& out, int k, int stride, int pad, cudaStream_t s) {
    pool<true>(in, out, k, stride, pad, s);
}

void avg_pool(const DevView& in, const DevView& out, int k, int stride, int pad, cudaStream_t s) {
    pool<false>(in, out, k, stride, pad, s);
}

void global_avg_pool(const DevView& in, const DevView& out, cudaStream_t s) {
    const int64_t warps = int64_t(in.n) * in.c;
    if (warps == 0) return;
    const unsigned grid = static_cast<unsigned>((warps * 32 + kThreads - 1) / kThreads);
    gap_kernel<<<grid, kThreads, 0, s>>>(in.data, out.data, in.n, in.c, in.plane(), in.batch_stride, out.batch_stride);
}

}  // namespace esm::cuda
