// Max, average and global average pooling, direct loops parallel over planes.
// Not the squeeze of squeeze-excite (cpu/se.cpp has its own fused pass).
#include <cfloat>

#include "kernels.hpp"

namespace esm::cpu {

template <bool Max>
static void pool(const TensorView& in, const TensorView& out, int k, int stride, int pad, int threads) {
    const int n = out.n * out.c;
    const float inv = 1.0f / float(k * k);
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(n) * out.plane() * k * k)) schedule(static)
    for (int i = 0; i < n; ++i) {
        const int b = i / out.c, c = i % out.c;
        const float* x = in.channel(b, c);
        float* y = out.channel(b, c);
        for (int oy = 0; oy < out.h; ++oy) {
            const int y0 = std::max(oy * stride - pad, 0), y1 = std::min(oy * stride - pad + k, in.h);
            for (int ox = 0; ox < out.w; ++ox) {
                const int x0 = std::max(ox * stride - pad, 0), x1 = std::min(ox * stride - pad + k, in.w);
                float acc = Max ? -FLT_MAX : 0.0f;
                for (int iy = y0; iy < y1; ++iy)
                    for (int ix = x0; ix < x1; ++ix) {
                        const float v = x[int64_t(iy) * in.w + ix];
                        acc = Max ? std::max(acc, v) : acc + v;
                    }
                y[int64_t(oy) * out.w + ox] = Max ? acc : acc * inv;
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
