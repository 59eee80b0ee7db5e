// Squeeze-excite: global average pool, two small fully connected layers (ReLU, then
// hsigmoid) and the channel-wise rescale, in three passes. Not a general linear layer.
#include "kernels.hpp"

namespace esm::cpu {

namespace {

// Sum of x[i] * y[i] (of x[i] when !kDot) in 16 interleaved partial sums, so the loop
// vectorises: one running sum is a chain of dependent adds (~4 cycles each).
template <bool kDot>
ESM_TARGET_CLONES float reduce(const float* x, const float* y, int64_t n) {
    float part[16] = {};
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
        for (int l = 0; l < 16; ++l) part[l] += kDot ? x[j + l] * y[j + l] : x[j + l];
    for (; j < n; ++j) part[0] += kDot ? x[j] * y[j] : x[j];
    float a = 0.0f;
    for (int l = 0; l < 16; ++l) a += part[l];
    return a;
}

ESM_TARGET_CLONES void scale(const float* x, float e, int64_t n, float* y) {
    for (int64_t j = 0; j < n; ++j) y[j] = x[j] * e;
}

}  // namespace

void squeeze_excite(const TensorView& in, const TensorView& out, const float* w1, const float* b1, const float* w2,
                    const float* b2, int reduced, float* scratch, int threads) {
    const int C = in.c, R = reduced, B = in.n;
    float* s = scratch;          // (B, C) squeezed, then the excitation
    float* z = scratch + B * C;  // (B, R)
    const int64_t p = in.plane();
    const float inv = 1.0f / float(p);
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(B) * C * p)) schedule(static)
    for (int i = 0; i < B * C; ++i) s[i] = reduce<false>(in.channel(i / C, i % C), nullptr, p) * inv;
    for (int b = 0; b < B; ++b) {
        for (int r = 0; r < R; ++r)
            z[b * R + r] = act<Act::ReLU>(reduce<true>(w1 + int64_t(r) * C, s + int64_t(b) * C, C) + b1[r]);
        for (int c = 0; c < C; ++c)
            s[b * C + c] = act<Act::HSigmoid>(reduce<true>(w2 + int64_t(c) * R, z + int64_t(b) * R, R) + b2[c]);
    }
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(B) * C * p)) schedule(static)
    for (int i = 0; i < B * C; ++i) scale(in.channel(i / C, i % C), s[i], p, out.channel(i / C, i % C));
}

}  // namespace esm::cpu
