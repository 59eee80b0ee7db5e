// Direct convolution for k x k convs with few output channels (DenseNet's 128 -> 32 conv,
// MobileNetV3's 3 -> 16 stride-2 stem): im2col + SGEMM would move ~k*k times the input
// through memory for only 16-32 multiply-adds per element. Here a zero-padded copy of the
// input is swept with register tiles over one output row: with AVX-512, all (<= 32) output
// channels in the lanes x up to 14 columns, stride 1 or 2; else (stride 1 only) 4 channels x
// 16 columns in AVX2 or baseline vectors. Not for wide convs (GEMM wins there).
#include <array>
#include <cstring>
#include <utility>

#include "cpu_features.hpp"
#include "kernels.hpp"
#include "simd.hpp"

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
// AVX-512: output channels in the lanes (NC vectors of 16, weights packed (Cin, k, k, 16 NC)),
// P <= kP output columns of one row as accumulators, each input value broadcast once per
// tap: 2P FMAs per 2 weight loads and P broadcasts (what oneDNN's blocked direct conv does,
// here on NCHW; 56x56 k5, 128 -> 32: 91 -> 112 GFLOP/s in bench_kernels). Taps that only
// read the zero border are skipped: a whole kernel row outside the plane, kernel columns
// outside it for every column of the tile.
constexpr int kP = 14;  // NC * kP accumulators + weights + a broadcast: 31 of 32 registers

int co_pad(int cout) { return cout <= 16 ? 16 : 32; }

struct Taps {
    int ky0, ky1, kx0, kx1;
};

// GCC's predictive commoning (-O3) would keep row[p + kx] of one tap in stack slots for
// the next and spill an accumulator to make room (the loop then ran at 82, not 113 GFLOP/s).
#if defined(__clang__)
#define ESM_NO_PREDCOM
#else
#define ESM_NO_PREDCOM __attribute__((optimize("no-predictive-commoning")))
#endif

// acc (P, 16 NC) = bias + the convolution (stride S) at output row oy, columns [ox0, ox0 + P).
template <int NC, int P, int S>
ESM_AVX512 ESM_NO_PREDCOM void tile512(const float* xp, Pad pd, int cin, int k, const float* w, const float* bias,
                                       int cout, int oy, int ox0, Taps t, float* acc_out) {
    const int64_t plane = int64_t(pd.hp) * pd.wp;
    __m512 acc[NC][P];
#pragma GCC unroll 2
    for (int c = 0; c < NC; ++c) {
        const __m512 b = _mm512_maskz_loadu_ps(lanes(cout - 16 * c), bias + 16 * c);
#pragma GCC unroll 14
        for (int p = 0; p < P; ++p) acc[c][p] = b;
    }
    for (int ci = 0; ci < cin; ++ci)
        for (int ky = t.ky0; ky < t.ky1; ++ky) {
            const float* row = xp + ci * plane + int64_t(S * oy + ky) * pd.wp + S * ox0;
            const float* wr = w + (int64_t(ci) * k + ky) * k * 16 * NC;
            for (int kx = t.kx0; kx < t.kx1; ++kx) {
                __m512 wv[NC];
#pragma GCC unroll 2
                for (int c = 0; c < NC; ++c) wv[c] = _mm512_loadu_ps(wr + (kx * NC + c) * 16);
#pragma GCC unroll 14
                for (int p = 0; p < P; ++p) {
                    const __m512 x = _mm512_set1_ps(row[S * p + kx]);
#pragma GCC unroll 2
                    for (int c = 0; c < NC; ++c) acc[c][p] = _mm512_fmadd_ps(wv[c], x, acc[c][p]);
                }
            }
        }
#pragma GCC unroll 14
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 2
        for (int c = 0; c < NC; ++c) _mm512_storeu_ps(acc_out + (p * NC + c) * 16, acc[c][p]);
}

// r[i] lane j -> r[j] lane i.
ESM_AVX512 inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {  // 2x2 blocks of single floats
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)  // of float pairs
        for (int j = 0; j < 2; ++j) {
            const __m512d a = _mm512_castps_pd(t[i + j]), b = _mm512_castps_pd(t[i + j + 2]);
            r[i + 2 * j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            r[i + 2 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        }
    for (int i = 0; i < 16; i += 8)  // of 128-bit lanes
        for (int j = 0; j < 4; ++j) {
            t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
            t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xDD);
        }
    for (int j = 0; j < 8; ++j) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xDD);
    }
}

using Tile512 = void (*)(const float*, Pad, int, int, const float*, const float*, int, int, int, Taps, float*);

template <int NC, int S, int... Ps>
constexpr std::array<Tile512, sizeof...(Ps)> tiles512(std::integer_sequence<int, Ps...>) {
    return {&tile512<NC, Ps + 1, S>...};
}

// Output row oy, all channels: the row split into ceil(W / kP) tiles of near-equal width.
template <Act A, int S>
ESM_AVX512 void row512(const float* xp, Pad pd, int cin, int k, int pad, const float* packed, const float* bias,
            const TensorView& in, const TensorView& out, int b, int oy) {
    static constexpr auto one = tiles512<1, S>(std::make_integer_sequence<int, kP>{});
    static constexpr auto two = tiles512<2, S>(std::make_integer_sequence<int, kP>{});
    const int nc = co_pad(out.c) / 16, wo = out.w, tiles = (wo + kP - 1) / kP;
    alignas(64) float acc[16 * 32] = {};  // (column < kP, channel); 16 rows for the transpose
    // taps reading input row S oy + ky - pad, column S (ox0 + j) + kx - pad, j < p
    Taps t{std::max(0, pad - S * oy), std::min(k, pad + in.h - S * oy), 0, 0};
    for (int i = 0, ox0 = 0; i < tiles; ++i) {
        const int p = wo / tiles + (i < wo % tiles);
        t.kx0 = std::max(0, pad - S * (ox0 + p - 1));
        t.kx1 = std::min(k, pad + in.w - S * ox0);
        (nc == 1 ? one : two)[p - 1](xp, pd, cin, k, packed, bias, out.c, oy, ox0, t, acc);
        for (int c = 0; c < nc; ++c) {
            // acc holds (column, channel): 16 columns x 16 channels transposed in registers
            // (columns past p are stale or zero; their lanes are not stored)
            __m512 r[16];
            for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(acc + (j * nc + c) * 16);
            transpose16(r);
            for (int j = 0; j < 16 && 16 * c + j < out.c; ++j)
                _mm512_mask_storeu_ps(out.channel(b, 16 * c + j) + int64_t(oy) * wo + ox0, lanes(p), act512<A>(r[j]));
        }
        ox0 += p;
    }
}
#endif

// Output row oy of channel block cb (kCo channels).
template <Act A>
void row_job(const float* xp, Pad pd, int cin, int k, const float* packed, const float* bias, const TensorView& out,
             int b, int cb, int oy) {
    float* rows[kCo];
    float bs[kCo];
    for (int j = 0; j < kCo; ++j) {
        const int co = cb * kCo + j;
        rows[j] = co < out.c ? out.channel(b, co) : nullptr;
        bs[j] = co < out.c ? bias[co] : 0.0f;
    }
    tile_rows<A>(xp, pd, cin, k, packed + int64_t(cb) * cin * k * k * kCo, bs, rows, oy, out.w);
}

// Output row oy (and, without AVX-512, channel block cb) of batch item b.
template <Act A>
void job(const float* xp, Pad pd, const TensorView& in, const TensorView& out, const ConvShape& s,
         const float* packed, const float* bias, int b, int cb, int oy) {
#if defined(ESM_X86_SIMD)
    if (cpu_has_avx512()) {
        if (s.stride == 2) return row512<A, 2>(xp, pd, in.c, s.k, s.pad, packed, bias, in, out, b, oy);
        return row512<A, 1>(xp, pd, in.c, s.k, s.pad, packed, bias, in, out, b, oy);
    }
#endif
    row_job<A>(xp, pd, in.c, s.k, packed, bias, out, b, cb, oy);
}

}  // namespace

bool direct_conv_suits(const TensorView& in, const TensorView& out, const ConvShape& s) {
    if (s.groups != 1 || s.k < 3 || s.k > 15 || out.c > 32) return false;
    // AVX-512: any input width and padding, stride 1 or 2 (MobileNetV3's 3 -> 16 stem too)
    if (cpu_has_avx512()) return s.stride <= 2;
    return s.stride == 1 && in.c >= 16 && out.h == in.h && out.w == in.w;
}

int64_t direct_conv_scratch_floats(const TensorView& in, const ConvShape& s) {
    const Pad pd = pad_dims(in, s);
    return int64_t(in.c) * pd.hp * pd.wp;
}

int64_t direct_conv_packed_floats(int cout, int cin, int k) {
    int64_t couts = (cout + kCo - 1) / kCo * kCo;  // channels with the zero-filled ones
#if defined(ESM_X86_SIMD)
    if (cpu_has_avx512()) couts = co_pad(cout);
#endif
    return couts * cin * k * k;
}

void direct_conv_pack(const float* w, int cout, int cin, int k, float* packed) {
    // (Cout/kCo, Cin, k, k, kCo), or with AVX-512 (Cin, k, k, co_pad): zero-filled channels
    int outer = (cout + kCo - 1) / kCo, inner = kCo;
#if defined(ESM_X86_SIMD)
    if (cpu_has_avx512()) outer = 1, inner = co_pad(cout);
#endif
    for (int cb = 0; cb < outer; ++cb)
        for (int ci = 0; ci < cin; ++ci)
            for (int t = 0; t < k * k; ++t)
                for (int j = 0; j < inner; ++j) {
                    const int co = cb * inner + j;
                    packed[((int64_t(cb) * cin + ci) * k * k + t) * inner + j] =
                        co < cout ? w[(int64_t(co) * cin + ci) * k * k + t] : 0.0f;
                }
}

void direct_conv(const TensorView& in, const TensorView& out, const float* packed, const float* bias,
                 const ConvShape& s, float* scratch, int threads) {
    const Pad pd = pad_dims(in, s);
    const int64_t plane = int64_t(pd.hp) * pd.wp;
    for (int b = 0; b < in.n; ++b) {
        std::fill(scratch, scratch + in.c * plane, 0.0f);
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(in.c * in.plane())) schedule(static)
        for (int c = 0; c < in.c; ++c)
            for (int y = 0; y < in.h; ++y)
                std::memcpy(scratch + c * plane + int64_t(y + s.pad) * pd.wp + s.pad, in.channel(b, c) + int64_t(y) * in.w,
                            sizeof(float) * size_t(in.w));
        // AVX-512: one job per output row (all channels); else per row and kCo-block
        const int blocks = cpu_has_avx512() ? 1 : (out.c + kCo - 1) / kCo, jobs = blocks * out.h;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
        for (int j = 0; j < jobs; ++j) {
            const int cb = j / out.h, oy = j % out.h;
            switch (s.act) {
                case Act::None: job<Act::None>(scratch, pd, in, out, s, packed, bias, b, cb, oy); break;
                case Act::ReLU: job<Act::ReLU>(scratch, pd, in, out, s, packed, bias, b, cb, oy); break;
                case Act::HSwish: job<Act::HSwish>(scratch, pd, in, out, s, packed, bias, b, cb, oy); break;
                case Act::HSigmoid: job<Act::HSigmoid>(scratch, pd, in, out, s, packed, bias, b, cb, oy); break;
            }
        }
    }
}

}  // namespace esm::cpu
