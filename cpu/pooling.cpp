// Max, average and global average pooling, parallel over planes.
// Not the squeeze of squeeze-excite (cpu/se.cpp has its own fused pass).
#include <cfloat>

#include "kernels.hpp"

namespace esm::cpu {

// Rows wider than this take the plain loops (the passes' rows live on the stack).
constexpr int kMaxRow = 2048;

template <bool Max>
static float combine(float acc, float v) {
    return Max ? std::max(acc, v) : acc + v;
}

// Per plane and output row: the k input rows reduced into one row, split by column phase
// (entry j of phase q is column j*stride + q - pad, `init` outside the plane), then each tap
// of the k reduced over contiguous runs of one phase: every loop is unit-stride and
// vectorises. The naive k x k gather per output spent 1.7 ms on ResNet's 64 x 112 x 112
// stem pool. Sums in another order than the reference (vertical, then horizontal).
template <bool Max>
static void pool(const TensorView& in, const TensorView& out, int k, int stride, int pad, int threads) {
    const int n = out.n * out.c;
    const float inv = 1.0f / float(k * k);
    const float init = Max ? -FLT_MAX : 0.0f;
    // Phase arrays of `len` entries each: output ox's tap t reads entry ox + (t / stride) of
    // phase t % stride (taps counted from the padded start of its window).
    const int len = out.w + (k - 1) / stride;
    const bool fast = int64_t(len) * stride <= kMaxRow && in.w <= kMaxRow;
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(n) * out.plane() * k * k)) schedule(static)
    for (int i = 0; i < n; ++i) {
        const int b = i / out.c, c = i % out.c;
        const float* x = in.channel(b, c);
        float* y = out.channel(b, c);
        alignas(64) float row[kMaxRow];
        alignas(64) float phase[kMaxRow];
        for (int oy = 0; oy < out.h; ++oy) {
            const int y0 = std::max(oy * stride - pad, 0), y1 = std::min(oy * stride - pad + k, in.h);
            float* yr = y + int64_t(oy) * out.w;
            if (fast) {
                std::fill(row, row + in.w, init);
                for (int iy = y0; iy < y1; ++iy) {
                    const float* xr = x + int64_t(iy) * in.w;
                    for (int ix = 0; ix < in.w; ++ix) row[ix] = combine<Max>(row[ix], xr[ix]);
                }
                for (int q = 0; q < stride; ++q)
                    for (int j = 0; j < len; ++j) {
                        const int ix = j * stride + q - pad;
                        phase[q * len + j] = ix >= 0 && ix < in.w ? row[ix] : init;
                    }
                std::fill(yr, yr + out.w, init);
                for (int t = 0; t < k; ++t) {
                    const float* ph = phase + (t % stride) * len + t / stride;
                    for (int ox = 0; ox < out.w; ++ox) yr[ox] = combine<Max>(yr[ox], ph[ox]);
                }
                if (!Max)
                    for (int ox = 0; ox < out.w; ++ox) yr[ox] *= inv;
                continue;
            }
            for (int ox = 0; ox < out.w; ++ox) {
                const int x0 = std::max(ox * stride - pad, 0), x1 = std::min(ox * stride - pad + k, in.w);
                float acc = init;
                for (int iy = y0; iy < y1; ++iy)
                    for (int ix = x0; ix < x1; ++ix) acc = combine<Max>(acc, x[int64_t(iy) * in.w + ix]);
                yr[ox] = Max ? acc : acc * inv;
            }
        }
    }
}

void max_pool(const TensorView& in, const TensorView& out, int k, int stride, int pad, int threads) {
    pool<true>(in, out, k, stride, pad, threads);
}

void avg_pool(const TensorView& in, const TensorView& out, int k, int stride, int pad, int threads) {
    pool<false>(in, out, k, stride, pad, threads);
}

void global_avg_pool(const TensorView& in, const TensorView& out, int threads) {
    const int n = in.n * in.c;
    const int64_t p = in.plane();
    const float inv = 1.0f / float(p);
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(n) * p)) schedule(static)
    for (int i = 0; i < n; ++i) {
        const float* x = in.channel(i / in.c, i % in.c);
        float s = 0.0f;
        for (int64_t j = 0; j < p; ++j) s += x[j];
        out.channel(i / in.c, i % in.c)[0] = s * inv;
    }
}

}  // namespace esm::cpu
