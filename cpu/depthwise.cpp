// Depthwise convolution (groups == channels), direct: one (sample, channel) plane per
// OpenMP iteration, rows accumulated with unit-stride inner loops the compiler vectorises.
// Not a general grouped conv (cpu/conv.cpp handles those through GEMM).
#include <omp.h>

#include <cstring>

#include "kernels.hpp"

namespace esm::cpu {

namespace {

typedef float v8 __attribute__((vector_size(32)));

// Stride-1 tile geometry: output tiles of kRows rows x 16 columns (4 independent vector
// accumulators, enough to hide FMA latency); the padded copy has kRows-1 spare rows and
// 16 spare columns of zeros so full tiles never read outside it.
constexpr int kRows = 2, kCols = 16;
struct Padded {
    int hp, wp;
};
Padded padded(int h, int w, int pad) { return {h + 2 * pad + kRows - 1, w + 2 * pad + kCols}; }

// One stride-1 plane from its zero-padded copy xp: every (ky, kx) tap is an unaligned
// vector load; accumulators stay in registers over all k*k taps and are stored once.
template <Act A>
__attribute__((target_clones("arch=x86-64-v3", "default"))) void plane_s1(const float* xp, Padded pd, float* y,
                                                                           int ho, int wo, const float* wk,
                                                                           float bias, int k) {
    for (int oy = 0; oy < ho; oy += kRows)
        for (int ox = 0; ox < wo; ox += kCols) {
            v8 acc[kRows][2];
            for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = v8{} + bias;
            for (int ky = 0; ky < k; ++ky)
                for (int kx = 0; kx < k; ++kx) {
                    const float wv = wk[ky * k + kx];
                    for (int r = 0; r < kRows; ++r) {
                        const float* src = xp + int64_t(oy + r + ky) * pd.wp + ox + kx;
                        v8 a, b;
                        std::memcpy(&a, src, sizeof a);
                        std::memcpy(&b, src + 8, sizeof b);
                        acc[r][0] += wv * a;
                        acc[r][1] += wv * b;
                    }
                }
            const int n = std::min(kCols, wo - ox);
            for (int r = 0; r < kRows && oy + r < ho; ++r) {
                float t[kCols];
                std::memcpy(t, &acc[r][0], 32);
                std::memcpy(t + 8, &acc[r][1], 32);
                float* o = y + int64_t(oy + r) * wo + ox;
                for (int i = 0; i < n; ++i) o[i] = act<A>(t[i]);
            }
        }
}

}  // namespace

int64_t depthwise_scratch_floats(const TensorView& in, const ConvShape& s, int threads) {
    if (s.stride != 1) return 0;
    const Padded pd = padded(in.h, in.w, s.pad);
    return int64_t(threads) * ((int64_t(pd.hp) * pd.wp + 15) / 16 * 16);
}

// One output plane. Column bounds per kx are computed once, so the inner loops are plain
// unit-stride (S = 1) or stride-2 multiply-adds over a row. Cloned for x86-64-v3 (AVX2+FMA) so the
// binary still runs on any x86-64 while using wide vectors where the CPU has them.
template <Act A, int S>
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void plane(const float* x, int h, int w, float* y,
                                                                             int ho, int wo, const float* wk,
                                                                             float bias, int k, int pad) {
    int lo[16], hi[16];  // k <= 15 (checked by the caller)
    for (int kx = 0; kx < k; ++kx) {
        // ox with 0 <= ox*S - pad + kx < w
        int l = pad - kx > 0 ? (pad - kx + S - 1) / S : 0;
        int r = (w - 1 + pad - kx) >= 0 ? (w - 1 + pad - kx) / S + 1 : 0;
        lo[kx] = std::min(l, wo);
        hi[kx] = std::max(lo[kx], std::min(r, wo));
    }
    for (int oy = 0; oy < ho; ++oy) {
        float* __restrict out = y + int64_t(oy) * wo;
        for (int ox = 0; ox < wo; ++ox) out[ox] = bias;
        const int ky0 = std::max(0, pad - oy * S), ky1 = std::min(k, h + pad - oy * S);
        for (int ky = ky0; ky < ky1; ++ky) {
            const float* row = x + int64_t(oy * S - pad + ky) * w;
            for (int kx = 0; kx < k; ++kx) {
                const float wv = wk[ky * k + kx];
                const float* __restrict src = row + kx - pad;
                const int l = lo[kx], r = hi[kx];
                for (int ox = l; ox < r; ++ox) out[ox] += wv * src[ox * S];
            }
        }
        if constexpr (A != Act::None)
            for (int ox = 0; ox < wo; ++ox) out[ox] = act<A>(out[ox]);
    }
}

template <Act A>
static void run(const TensorView& in, const TensorView& out, const float* w, const float* bias, const ConvShape& s,
                float* scratch, int threads) {
    const int n = out.n * out.c, kk = s.k * s.k;
    const Padded pd = padded(in.h, in.w, s.pad);
    const int64_t per_thread = (int64_t(pd.hp) * pd.wp + 15) / 16 * 16;
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(n) * out.plane() * kk)) schedule(static)
    for (int i = 0; i < n; ++i) {
        const int b = i / out.c, c = i % out.c;
        if (s.stride == 1 && scratch) {
            float* xp = scratch + per_thread * omp_get_thread_num();
            std::fill(xp, xp + int64_t(pd.hp) * pd.wp, 0.0f);
            const float* x = in.channel(b, c);
            for (int y = 0; y < in.h; ++y)
                std::memcpy(xp + int64_t(y + s.pad) * pd.wp + s.pad, x + int64_t(y) * in.w, sizeof(float) * size_t(in.w));
            plane_s1<A>(xp, pd, out.channel(b, c), out.h, out.w, w + c * kk, bias[c], s.k);
        } else if (s.stride == 1 && s.k <= 15)
            plane<A, 1>(in.channel(b, c), in.h, in.w, out.channel(b, c), out.h, out.w, w + c * kk, bias[c], s.k, s.pad);
        else if (s.stride == 2 && s.k <= 15)
            plane<A, 2>(in.channel(b, c), in.h, in.w, out.channel(b, c), out.h, out.w, w + c * kk, bias[c], s.k, s.pad);
        else {
            // Strides above 2 or huge kernels (no preset has them): a plain loop.
            const float* x = in.channel(b, c);
            float* y = out.channel(b, c);
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox) {
                    float acc = bias[c];
                    for (int ky = 0; ky < s.k; ++ky)
                        for (int kx = 0; kx < s.k; ++kx) {
                            const int iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
                            if (iy >= 0 && iy < in.h && ix >= 0 && ix < in.w)
                                acc += w[c * kk + ky * s.k + kx] * x[int64_t(iy) * in.w + ix];
                        }
                    y[int64_t(oy) * out.w + ox] = act<A>(acc);
                }
        }
    }
}

void conv_depthwise(const TensorView& in, const TensorView& out, const float* w, const float* bias,
                    const ConvShape& s, float* scratch, int threads) {
    switch (s.act) {
        case Act::None: run<Act::None>(in, out, w, bias, s, scratch, threads); break;
        case Act::ReLU: run<Act::ReLU>(in, out, w, bias, s, scratch, threads); break;
        case Act::HSwish: run<Act::HSwish>(in, out, w, bias, s, scratch, threads); break;
        case Act::HSigmoid: run<Act::HSigmoid>(in, out, w, bias, s, scratch, threads); break;
    }
}

}  // namespace esm::cpu
