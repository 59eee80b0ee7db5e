// Depthwise convolution (groups == channels), direct: one (sample, channel) plane per
// OpenMP iteration, rows accumulated with unit-stride inner loops the compiler vectorises.
// Not a general grouped conv (cpu/conv.cpp handles those through GEMM).
#include "kernels.hpp"

namespace esm::cpu {

template <Act A, int S>
static void plane(const float* x, int h, int w, float* y, int ho, int wo, const float* wk, float bias, int k,
                  int pad) {
    for (int oy = 0; oy < ho; ++oy) {
        float* out = y + int64_t(oy) * wo;
        for (int ox = 0; ox < wo; ++ox) out[ox] = bias;
        for (int ky = 0; ky < k; ++ky) {
            const int iy = oy * S - pad + ky;
            if (iy < 0 || iy >= h) continue;
            const float* row = x + int64_t(iy) * w;
            for (int kx = 0; kx < k; ++kx) {
                const float wv = wk[ky * k + kx];
                int lo = 0;
                while (lo < wo && lo * S - pad + kx < 0) ++lo;
                int hi = wo;
                while (hi > lo && (hi - 1) * S - pad + kx >= w) --hi;
                const float* src = row + kx - pad;
                for (int ox = lo; ox < hi; ++ox) out[ox] += wv * src[ox * S];
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
        if (s.stride == 1)
            plane<A, 1>(in.channel(b, c), in.h, in.w, out.channel(b, c), out.h, out.w, w + c * kk, bias[c], s.k, s.pad);
        else if (s.stride == 2)
            plane<A, 2>(in.channel(b, c), in.h, in.w, out.channel(b, c), out.h, out.w, w + c * kk, bias[c], s.k, s.pad);
        else {
            // Strides above 2 (no preset has them): a plain loop.
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
