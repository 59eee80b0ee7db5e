// Depthwise convolution (groups == channels), direct: one (sample, channel) plane per
// OpenMP iteration, rows accumulated with unit-stride inner loops the compiler vectorises.
// Not a general grouped conv (cpu/conv.cpp handles those through GEMM).
#include "kernels.hpp"

namespace esm::cpu {

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
                int threads) {
    const int n = out.n * out.c, kk = s.k * s.k;
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(n) * out.plane() * kk)) schedule(static)
    for (int i = 0; i < n; ++i) {
        const int b = i / out.c, c = i % out.c;
        if (s.stride == 1 && s.k <= 15)
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
                    const ConvShape& s, int threads) {
    switch (s.act) {
        case Act::None: run<Act::None>(in, out, w, bias, s, threads); break;
        case Act::ReLU: run<Act::ReLU>(in, out, w, bias, s, threads); break;
        case Act::HSwish: run<Act::HSwish>(in, out, w, bias, s, threads); break;
        case Act::HSigmoid: run<Act::HSigmoid>(in, out, w, bias, s, threads); break;
    }
}

}  // namespace esm::cpu
