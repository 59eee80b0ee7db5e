// Direct convolution for stride-1 k x k convs with few output channels (DenseNet's
// 128 -> 32 conv): im2col + SGEMM would move ~k*k times the input through memory for only
// 32 multiply-adds per element. Here a zero-padded copy of the input is swept with register
// tiles of output channels x columns of one output row: 8 x 32 (8 x 16 on planes at most
// 16 wide) in AVX-512 registers, else 4 x 16 in AVX2 or baseline vectors. Not for wide
// convs (GEMM wins there).
#include <cstring>

#include "avx512.hpp"
#include "cpu_features.hpp"
#include "kernels.hpp"

namespace esm::cpu {

namespace {

typedef float v8 __attribute__((vector_size(32)));


constexpr int kCo = 4, kOx = 16;

// Padded plane geometry: rows H + 2p, row width W + 2p + kOx (zeros on the right so full
// 16-column tiles never read past a row).
struct Pad {
    int hp, wp;
};
Pad pad_dims(const TensorView& in, const ConvShape& s) { return {in.h + 2 * s.pad, in.w + 2 * s.pad + kOx}; }

template <Act A>
ESM_TARGET_CLONES void tile_rows(const float* xp, Pad pd, int cin, int k,
                                                                            const float* wp, const float* bias,
                                                                            float* const* out_rows, int oy, int wo) {
    // wp: packed (cin, k, k, kCo) weights of these kCo output channels.
    const int64_t plane = int64_t(pd.hp) * pd.wp;
    for (int ox0 = 0; ox0 < wo; ox0 += kOx) {
        v8 acc[kCo][2];
        for (int j = 0; j < kCo; ++j) acc[j][0] = acc[j][1] = v8{} + bias[j];
        for (int ci = 0; ci < cin; ++ci)
            for (int ky = 0; ky < k; ++ky) {
                const float* row = xp + ci * plane + int64_t(oy + ky) * pd.wp + ox0;
                const float* w = wp + ((int64_t(ci) * k + ky) * k) * kCo;
                for (int kx = 0; kx < k; ++kx, w += kCo) {
                    v8 x0, x1;  // unaligned loads (memcpy: no ABI-visible vector calls)
                    std::memcpy(&x0, row + kx, sizeof x0);
                    std::memcpy(&x1, row + kx + 8, sizeof x1);
                    for (int j = 0; j < kCo; ++j) {
                        acc[j][0] += w[j] * x0;
                        acc[j][1] += w[j] * x1;
                    }
                }
            }
        const int n = std::min(kOx, wo - ox0);
        for (int j = 0; j < kCo; ++j) {
            if (!out_rows[j]) continue;
            float tmp[kOx];
            std::memcpy(tmp, &acc[j][0], 32);
            std::memcpy(tmp + 8, &acc[j][1], 32);
            float* o = out_rows[j] + int64_t(oy) * wo + ox0;
            for (int i = 0; i < n; ++i) o[i] = act<A>(tmp[i]);
        }
    }
}

#if defined(ESM_X86_SIMD)
// The same over 2 kCo-blocks (weights wa, wb) x 16 NV columns, 8 NV accumulators. Full
// tiles read past the row's end into the next row (or the scratch's slack); those
// columns' outputs are never stored.
template <Act A, int NV>
ESM_AVX512 void tile_rows512(const float* xp, Pad pd, int cin, int k, const float* wa, const float* wb,
                             const float* bias, float* const* out_rows, int oy, int wo) {
    const int64_t plane = int64_t(pd.hp) * pd.wp;
    for (int ox0 = 0; ox0 < wo; ox0 += 16 * NV) {
        __m512 acc[2 * kCo][NV];
#pragma GCC unroll 8
        for (int j = 0; j < 2 * kCo; ++j)
#pragma GCC unroll 2
            for (int v = 0; v < NV; ++v) acc[j][v] = _mm512_set1_ps(bias[j]);
        for (int ci = 0; ci < cin; ++ci)
            for (int ky = 0; ky < k; ++ky) {
                const float* row = xp + ci * plane + int64_t(oy + ky) * pd.wp + ox0;
                const int64_t t = (int64_t(ci) * k + ky) * k * kCo;
                for (int kx = 0; kx < k; ++kx) {
                    __m512 x[NV];
#pragma GCC unroll 2
                    for (int v = 0; v < NV; ++v) x[v] = _mm512_loadu_ps(row + kx + 16 * v);
#pragma GCC unroll 8
                    for (int j = 0; j < 2 * kCo; ++j) {
                        const __m512 w = _mm512_set1_ps((j < kCo ? wa : wb)[t + kx * kCo + j % kCo]);
#pragma GCC unroll 2
                        for (int v = 0; v < NV; ++v) acc[j][v] = _mm512_fmadd_ps(w, x[v], acc[j][v]);
                    }
                }
            }
#pragma GCC unroll 8
        for (int j = 0; j < 2 * kCo; ++j) {
            if (!out_rows[j]) continue;
            float* o = out_rows[j] + int64_t(oy) * wo + ox0;
#pragma GCC unroll 2
            for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(o + 16 * v, lanes(wo - ox0 - 16 * v), act512<A>(acc[j][v]));
        }
    }
}
#endif

// Output row oy of channel blocks [cb, cb + nb), nb = 1 or (AVX-512) 2.
template <Act A>
void row_job(const float* xp, Pad pd, int cin, int k, const float* packed, const float* bias, const TensorView& out,
             int b, int cb, int nb, int oy) {
    float* rows[2 * kCo];
    float bs[2 * kCo];
    for (int j = 0; j < 2 * kCo; ++j) {
        const int co = cb * kCo + j;
        rows[j] = j < nb * kCo && co < out.c ? out.channel(b, co) : nullptr;
        bs[j] = j < nb * kCo && co < out.c ? bias[co] : 0.0f;
    }
    const int64_t block = int64_t(cin) * k * k * kCo;
    const float* wa = packed + cb * block;
#if defined(ESM_X86_SIMD)
    if (nb == 2) {
        if (out.w > 16)
            tile_rows512<A, 2>(xp, pd, cin, k, wa, wa + block, bs, rows, oy, out.w);
        else
            tile_rows512<A, 1>(xp, pd, cin, k, wa, wa + block, bs, rows, oy, out.w);
        return;
    }
#endif
    tile_rows<A>(xp, pd, cin, k, wa, bs, rows, oy, out.w);
}

}  // namespace

bool direct_conv_suits(const TensorView& in, const TensorView& out, const ConvShape& s) {
    return s.groups == 1 && s.stride == 1 && s.k >= 3 && s.k <= 15 && out.c <= 32 && in.c >= 16 &&
           out.h == in.h && out.w == in.w;
}

int64_t direct_conv_scratch_floats(const TensorView& in, const ConvShape& s) {
    const Pad pd = pad_dims(in, s);
    return int64_t(in.c) * pd.hp * pd.wp + 32;  // + the slack full AVX-512 tiles read
}

int64_t direct_conv_packed_floats(int cout, int cin, int k) { return int64_t((cout + kCo - 1) / kCo) * cin * k * k * kCo; }

void direct_conv_pack(const float* w, int cout, int cin, int k, float* packed) {
    for (int cb = 0; cb < (cout + kCo - 1) / kCo; ++cb)
        for (int ci = 0; ci < cin; ++ci)
            for (int t = 0; t < k * k; ++t)
                for (int j = 0; j < kCo; ++j) {
                    const int co = cb * kCo + j;
                    packed[((int64_t(cb) * cin + ci) * k * k + t) * kCo + j] =
                        co < cout ? w[(int64_t(co) * cin + ci) * k * k + t] : 0.0f;
                }
}

void direct_conv(const TensorView& in, const TensorView& out, const float* packed, const float* bias,
                 const ConvShape& s, float* scratch, int threads) {
    const Pad pd = pad_dims(in, s);
    const int64_t plane = int64_t(pd.hp) * pd.wp;
    const int blocks = (out.c + kCo - 1) / kCo, k = s.k;
    for (int b = 0; b < in.n; ++b) {
        std::fill(scratch, scratch + in.c * plane + 32, 0.0f);
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(in.c * in.plane())) schedule(static)
        for (int c = 0; c < in.c; ++c)
            for (int y = 0; y < in.h; ++y)
                std::memcpy(scratch + c * plane + int64_t(y + s.pad) * pd.wp + s.pad, in.channel(b, c) + int64_t(y) * in.w,
                            sizeof(float) * size_t(in.w));
        // AVX-512: pairs of kCo-blocks (the last may be single)
        const int per_job = cpu_has_avx512() ? 2 : 1;
        const int groups = (blocks + per_job - 1) / per_job;
        const int jobs = groups * out.h;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
        for (int job = 0; job < jobs; ++job) {
            const int cb = job / out.h * per_job, oy = job % out.h, nb = std::min(per_job, blocks - cb);
            switch (s.act) {
                case Act::None: row_job<Act::None>(scratch, pd, in.c, k, packed, bias, out, b, cb, nb, oy); break;
                case Act::ReLU: row_job<Act::ReLU>(scratch, pd, in.c, k, packed, bias, out, b, cb, nb, oy); break;
                case Act::HSwish: row_job<Act::HSwish>(scratch, pd, in.c, k, packed, bias, out, b, cb, nb, oy); break;
                case Act::HSigmoid:
                    row_job<Act::HSigmoid>(scratch, pd, in.c, k, packed, bias, out, b, cb, nb, oy);
                    break;
            }
        }
    }
}

}  // namespace esm::cpu
