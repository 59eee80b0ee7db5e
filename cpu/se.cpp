// Squeeze-excite: global average pool, two small fully connected layers (ReLU, then
// hsigmoid) and the channel-wise rescale, in three passes. Not a general linear layer.
#include "kernels.hpp"

namespace esm::cpu {

void squeeze_excite(const TensorView& in, const TensorView& out, const float* w1, const float* b1, const float* w2,
                    const float* b2, int reduced, float* scratch, int threads) {
    const int C = in.c, R = reduced, B = in.n;
    float* s = scratch;          // (B, C) squeezed, then the excitation
    float* z = scratch + B * C;  // (B, R)
    const int64_t p = in.plane();
    const float inv = 1.0f / float(p);
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(B) * C * p)) schedule(static)
    for (int i = 0; i < B * C; ++i) {
        const float* x = in.channel(i / C, i % C);
        float a = 0.0f;
        for (int64_t j = 0; j < p; ++j) a += x[j];
        s[i] = a * inv;
    }
    for (int b = 0; b < B; ++b) {
        for (int r = 0; r < R; ++r) {
            const float* wr = w1 + int64_t(r) * C;
            const float* sb = s + int64_t(b) * C;
            float a = 0.0f;
            for (int c = 0; c < C; ++c) a += wr[c] * sb[c];
            z[b * R + r] = act<Act::ReLU>(a + b1[r]);
        }
        for (int c = 0; c < C; ++c) {
            const float* wc = w2 + int64_t(c) * R;
            const float* zb = z + int64_t(b) * R;
            float a = 0.0f;
            for (int r = 0; r < R; ++r) a += wc[r] * zb[r];
            s[b * C + c] = act<Act::HSigmoid>(a + b2[c]);
        }
    }
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(B) * C * p)) schedule(static)
    for (int i = 0; i < B * C; ++i) {
        const float* x = in.channel(i / C, i % C);
        float* y = out.channel(i / C, i % C);
        const float e = s[i];
        for (int64_t j = 0; j < p; ++j) y[j] = x[j] * e;
    }
}

}  // namespace esm::cpu
