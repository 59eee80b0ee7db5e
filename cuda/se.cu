// CUDA squeeze-excite: global average pool, fc1 + ReLU, fc2 + hsigmoid (one warp per
// output, the FCs are tiny), then the channel-wise scale. Not a general linear layer
// (cuda/linear.cu, cuBLAS).
#include "kernels.hpp"

namespace esm::cuda {

namespace {

constexpr int kThreads = 256;

// y[b, o] = act(sum_i w[o, i] x[b, i] + bias[o]); one warp per (b, o). Relu or hsigmoid.
template <bool HSigmoid>
__global__ void fc_kernel(const float* x, const float* w, const float* bias, float* y, int batch, int in, int out) {
    const int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
    const int lane = threadIdx.x % 32;
    if (warp >= int64_t(batch) * out) return;
    const int b = static_cast<int>(warp / out), o = static_cast<int>(warp % out);
    const float* xb = x + int64_t(b) * in;
    const float* wo = w + int64_t(o) * in;
    float a = 0.0f;
    for (int i = lane; i < in; i += 32) a += wo[i] * xb[i];
    for (int off = 16; off > 0; off /= 2) a += __shfl_down_sync(0xffffffffu, a, off);
    if (lane == 0) {
        a += bias[o];
        y[int64_t(b) * out + o] = HSigmoid ? fminf(fmaxf(a + 3.0f, 0.0f), 6.0f) * (1.0f / 6.0f) : fmaxf(a, 0.0f);
    }
}

__global__ void scale_kernel(const float* in, float* out, const float* e, int64_t total, int64_t plane, int c,
                             int64_t bs_in, int64_t bs_out) {
    const int64_t sample = plane * c;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t b = i / sample, r = i % sample;
        out[b * bs_out + r] = in[b * bs_in + r] * e[b * c + r / plane];
    }
}

unsigned warp_blocks(int64_t warps) { return static_cast<unsigned>((warps * 32 + kThreads - 1) / kThreads); }

}  // namespace

int64_t se_scratch_floats(int batch, int channels, int reduced) {
    return int64_t(batch) * (2 * int64_t(channels) + reduced);
}

void squeeze_excite(const DevView& in, const DevView& out, const float* w1, const float* b1, const float* w2,
                    const float* b2, int reduced, float* scratch, cudaStream_t s) {
    const int B = in.n, C = in.c, R = reduced;
    if (int64_t(B) * C == 0) return;
    float* pooled = scratch;                  // (B, C)
    float* hidden = pooled + int64_t(B) * C;  // (B, R)
    float* excite = hidden + int64_t(B) * R;  // (B, C)
    global_avg_pool(in, DevView{pooled, B, C, 1, 1, C}, s);
    fc_kernel<false><<<warp_blocks(int64_t(B) * R), kThreads, 0, s>>>(pooled, w1, b1, hidden, B, C, R);
    fc_kernel<true><<<warp_blocks(int64_t(B) * C), kThreads, 0, s>>>(hidden, w2, b2, excite, B, R, C);
    const int64_t total = in.size();
    int64_t grid = (total + kThreads - 1) / kThreads;
    if (grid > 65535 * 8) grid = 65535 * 8;
    scale_kernel<<<static_cast<unsigned>(grid), kThreads, 0, s>>>(in.data, out.data, excite, total, in.plane(), C,
                                                                  in.batch_stride, out.batch_stride);
}

}  // namespace esm::cuda
