// Depthwise convolution (groups == channels), direct: one (sample, channel) plane per
// OpenMP iteration. Stride 1 and 2 run register tiles over a zero-padded (for stride 2
// also column-deinterleaved) copy of the plane: with AVX-512, 8 or 16 accumulators of 16
// lanes (tile_for) and, for k = 3, 5, 7, the kernel size compiled in and each input row
// loaded once per kernel column for every output row it feeds; with AVX2 + FMA 12 or 8
// accumulators of 8 lanes (6 rows x 16 or 8 x 8 columns); otherwise 2 rows x 16 columns in
// AVX2 or baseline vectors.
// Other strides run a plain loop. Not a general grouped conv (cpu/conv.cpp: GEMM).

#include <cstring>

#include "blas.hpp"
#include "cpu_features.hpp"
#include "kernels.hpp"
#include "simd.hpp"

namespace esm::cpu {

namespace {

typedef float v8 __attribute__((vector_size(32)));

// Output tiles of `rows` x `cols` outputs whose vector accumulators stay in registers over
// all k*k taps and are stored once. Without AVX-512 or AVX2: kRows x kCols, 4 accumulators of 8.
constexpr int kRows = 2, kCols = 16;
enum class Isa { Clone, Avx2, Avx512 };
struct Tile {
    int rows, cols;
    Isa isa;
};

Tile tile_for(int wo, int k) {
    // AVX-512: 8 rows x 16 columns up to 16 wide; wider, 4 x 32, or 8 x 32 for k = 5 (the
    // faster of the two per kernel size on 56x56 and 28x28 planes, Zen 4).
    if (cpu_has_avx512()) return wo > 16 ? Tile{k == 5 ? 8 : 4, 32, Isa::Avx512} : Tile{8, 16, Isa::Avx512};
    // AVX2: 6 rows x 16 columns, or 8 x 8 on planes up to 8 wide (7x7).
    if (cpu_has_avx2_fma()) return wo > 8 ? Tile{6, 16, Isa::Avx2} : Tile{8, 8, Isa::Avx2};
    return Tile{kRows, kCols, Isa::Clone};
}

// The padded copy: S planes (stride 2: even and odd padded columns) of hq rows x wq
// columns, large enough that full tiles past the plane's edge read zeros, not memory.
struct Geometry {
    int hq, wq;
    int64_t plane;  // floats per deinterleaved plane, 16-aligned
};

Geometry geometry(int ho, int wo, int k, int stride, Tile t) {
    const int ho_r = (ho + t.rows - 1) / t.rows * t.rows, wo_r = (wo + t.cols - 1) / t.cols * t.cols;
    Geometry g;
    g.hq = stride * (ho_r - 1) + k;
    g.wq = wo_r + (k - 1) / stride + 1;
    g.plane = (int64_t(g.hq) * g.wq + 15) / 16 * 16;
    return g;
}

// xp: plane(s) of the padded input; tap (ky, kx) of output (oy, ox) reads row
// S*oy + ky, padded column S*ox + kx = plane (kx % S), column ox + kx / S.
template <Act A, int S>
ESM_TARGET_CLONES void plane_tiled(const float* xp, Geometry g, float* y,
                                                                              int ho, int wo, const float* wk,
                                                                              float bias, int k) {
    for (int oy = 0; oy < ho; oy += kRows)
        for (int ox = 0; ox < wo; ox += kCols) {
            v8 acc[kRows][2];
            for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = v8{} + bias;
            for (int ky = 0; ky < k; ++ky)
                for (int kx = 0; kx < k; ++kx) {
                    const float wv = wk[ky * k + kx];
                    const float* base = xp + (kx % S) * g.plane + ox + kx / S;
                    for (int r = 0; r < kRows; ++r) {
                        const float* src = base + int64_t(S * (oy + r) + ky) * g.wq;
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

#if defined(ESM_X86_SIMD)
// R rows x NV vectors of 16 columns per tile; K = 0: the kernel size k at run time.
// Full tiles past the plane's edge read the padded copy's zeros; stores are masked.
template <Act A, int S, int R, int NV, int K>
ESM_AVX512 void plane512(const float* xp, Geometry g, float* y, int ho, int wo, const float* wk, float bias,
                         int k_run) {
    const int k = K ? K : k_run;
    for (int ox = 0; ox < wo; ox += 16 * NV) {
        __mmask16 mask[NV];
        for (int v = 0; v < NV; ++v) mask[v] = lanes(wo - ox - 16 * v);
        for (int oy = 0; oy < ho; oy += R) {
            __m512 acc[R][NV];
            for (int r = 0; r < R; ++r)
                for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_set1_ps(bias);
            if constexpr (K > 0) {
                // Column kx of the kernel in registers; each input row the tile needs is
                // loaded once and feeds every output row it reaches (ky = t - S r).
                for (int kx = 0; kx < K; ++kx) {
                    __m512 wcol[K];
#pragma GCC unroll 8
                    for (int ky = 0; ky < K; ++ky) wcol[ky] = _mm512_set1_ps(wk[ky * K + kx]);
                    const float* base = xp + (kx % S) * g.plane + int64_t(S * oy) * g.wq + ox + kx / S;
#pragma GCC unroll 32
                    for (int t = 0; t < S * (R - 1) + K; ++t) {
                        __m512 in[NV];
#pragma GCC unroll 4
                        for (int v = 0; v < NV; ++v) in[v] = _mm512_loadu_ps(base + int64_t(t) * g.wq + 16 * v);
#pragma GCC unroll 8
                        for (int r = 0; r < R; ++r) {
                            const int ky = t - S * r;
                            if (ky >= 0 && ky < K)
#pragma GCC unroll 4
                                for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(wcol[ky], in[v], acc[r][v]);
                        }
                    }
                }
            } else {
                for (int ky = 0; ky < k; ++ky)
                    for (int kx = 0; kx < k; ++kx) {
                        const __m512 wv = _mm512_set1_ps(wk[ky * k + kx]);
                        const float* base = xp + (kx % S) * g.plane + int64_t(S * oy + ky) * g.wq + ox + kx / S;
                        for (int r = 0; r < R; ++r)
                            for (int v = 0; v < NV; ++v)
                                acc[r][v] = _mm512_fmadd_ps(
                                    wv, _mm512_loadu_ps(base + int64_t(S * r) * g.wq + 16 * v), acc[r][v]);
                    }
            }
            for (int r = 0; r < R; ++r)
                if (oy + r < ho)
                    for (int v = 0; v < NV; ++v)
                        _mm512_mask_storeu_ps(y + int64_t(oy + r) * wo + ox + 16 * v, mask[v], act512<A>(acc[r][v]));
        }
    }
}

// AVX2 + FMA: R rows x NV vectors of 8 columns, R * NV = 12 or 8 independent accumulators
// (an FMA's 4-5 cycle latency on two pipes needs about 10 in flight; the 2 x 2 tiles of
// plane_tiled had 4). Per tap one broadcast weight, the inputs read by the FMAs straight
// from the padded copy (L1).
template <Act A, int S, int R, int NV>
ESM_AVX2 void plane256(const float* xp, Geometry g, float* y, int ho, int wo, const float* wk, float bias, int k) {
    for (int ox = 0; ox < wo; ox += 8 * NV) {
        __m256i mask[NV];
        for (int v = 0; v < NV; ++v) mask[v] = lanes8(wo - ox - 8 * v);
        for (int oy = 0; oy < ho; oy += R) {
            __m256 acc[R][NV];
#pragma GCC unroll 12
            for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
                for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_set1_ps(bias);
            for (int ky = 0; ky < k; ++ky)
                for (int kx = 0; kx < k; ++kx) {
                    const __m256 wv = _mm256_broadcast_ss(wk + ky * k + kx);
                    const float* base = xp + (kx % S) * g.plane + int64_t(S * oy + ky) * g.wq + ox + kx / S;
#pragma GCC unroll 12
                    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
                        for (int v = 0; v < NV; ++v)
                            acc[r][v] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(base + int64_t(S * r) * g.wq + 8 * v),
                                                        acc[r][v]);
                }
            // Masked stores only where the plane ends: vmaskmovps stores are slow on AMD cores.
#pragma GCC unroll 12
            for (int r = 0; r < R; ++r)
                if (oy + r < ho)
#pragma GCC unroll 2
                    for (int v = 0; v < NV; ++v) {
                        float* o = y + int64_t(oy + r) * wo + ox + 8 * v;
                        if (ox + 8 * v + 8 <= wo)
                            _mm256_storeu_ps(o, act256<A>(acc[r][v]));
                        else
                            _mm256_maskstore_ps(o, mask[v], act256<A>(acc[r][v]));
                    }
        }
    }
}

template <Act A, int S, int R, int NV>
void plane512_k(const float* xp, Geometry g, float* y, int ho, int wo, const float* wk, float bias, int k) {
    switch (k) {
        case 3: plane512<A, S, R, NV, 3>(xp, g, y, ho, wo, wk, bias, k); break;
        case 5: plane512<A, S, R, NV, 5>(xp, g, y, ho, wo, wk, bias, k); break;
        case 7: plane512<A, S, R, NV, 7>(xp, g, y, ho, wo, wk, bias, k); break;
        default: plane512<A, S, R, NV, 0>(xp, g, y, ho, wo, wk, bias, k); break;
    }
}

#endif

template <Act A, int S>
void plane(const float* xp, Geometry g, Tile t, float* y, int ho, int wo, const float* wk, float bias, int k) {
#if defined(ESM_X86_SIMD)
    if (t.isa == Isa::Avx2) {
        if (t.cols == 16)
            plane256<A, S, 6, 2>(xp, g, y, ho, wo, wk, bias, k);
        else
            plane256<A, S, 8, 1>(xp, g, y, ho, wo, wk, bias, k);
        return;
    }
    if (t.isa == Isa::Avx512) {
        if (t.cols == 16)
            plane512_k<A, S, 8, 1>(xp, g, y, ho, wo, wk, bias, k);
        else if (t.rows == 4)
            plane512_k<A, S, 4, 2>(xp, g, y, ho, wo, wk, bias, k);
        else
            plane512_k<A, S, 8, 2>(xp, g, y, ho, wo, wk, bias, k);
        return;
    }
#endif
    (void)t;
    plane_tiled<A, S>(xp, g, y, ho, wo, wk, bias, k);
}

// Zero-padded (and for S = 2 column-deinterleaved) copy of one input plane into xp: each
// row of each plane is written once, zeros only where no input lands.
template <int S>
void fill_padded(const float* x, int h, int w, int pad, Geometry g, Tile t, float* xp) {
    (void)t;  // only the AVX-512 build looks at it
    for (int p = 0; p < S; ++p) {
        // Columns j of plane p hold input column S*j + p - pad; valid for j in [lo, hi).
        const int lo = std::min(g.wq, std::max(0, (pad - p + S - 1) / S));
        const int hi = std::max(lo, std::min(g.wq, (w - 1 + pad - p) >= 0 ? (w - 1 + pad - p) / S + 1 : 0));
        float* plane = xp + p * g.plane;
#if defined(ESM_X86_SIMD)
        const bool avx512 = t.isa == Isa::Avx512;
        const RowCopy512<S> copy(avx512 ? w : 0, p - pad, avx512 ? g.wq : 0);
#endif
        for (int r = 0; r < g.hq; ++r) {
            float* d = plane + int64_t(r) * g.wq;
            const int yy = r - pad;
            if (yy < 0 || yy >= h) {
                std::fill(d, d + g.wq, 0.0f);
                continue;
            }
            const float* row = x + int64_t(yy) * w;
#if defined(ESM_X86_SIMD)
            if (avx512) {
                copy(row, d);
                continue;
            }
#endif
            std::fill(d, d + lo, 0.0f);
            if (S == 1) {
                if (hi > lo) std::memcpy(d + lo, row + (lo - pad), sizeof(float) * size_t(hi - lo));
            } else {
                for (int j = lo; j < hi; ++j) d[j] = row[S * j + p - pad];
            }
            std::fill(d + hi, d + g.wq, 0.0f);
        }
    }
}

template <Act A>
void plain(const float* x, int h, int w, float* y, int ho, int wo, const float* wk, float bias, const ConvShape& s) {
    for (int oy = 0; oy < ho; ++oy)
        for (int ox = 0; ox < wo; ++ox) {
            float acc = bias;
            for (int ky = 0; ky < s.k; ++ky)
                for (int kx = 0; kx < s.k; ++kx) {
                    const int iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
                    if (iy >= 0 && iy < h && ix >= 0 && ix < w) acc += wk[ky * s.k + kx] * x[int64_t(iy) * w + ix];
                }
            y[int64_t(oy) * wo + ox] = act<A>(acc);
        }
}

bool tiled(const ConvShape& s) { return s.stride == 1 || s.stride == 2; }

template <Act A>
void run(const TensorView& in, const TensorView& out, const float* w, const float* bias, const ConvShape& s,
         float* scratch, int threads) {
    const int n = out.n * out.c, kk = s.k * s.k;
    const Tile t = tile_for(out.w, s.k);
    const Geometry g = geometry(out.h, out.w, s.k, s.stride, t);
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(n) * out.plane() * kk)) schedule(static)
    for (int i = 0; i < n; ++i) {
        const int b = i / out.c, c = i % out.c;
        const float* x = in.channel(b, c);
        float* y = out.channel(b, c);
        if (tiled(s)) {
            float* xp = scratch + s.stride * g.plane * omp_thread_num();
            if (s.stride == 1) {
                fill_padded<1>(x, in.h, in.w, s.pad, g, t, xp);
                plane<A, 1>(xp, g, t, y, out.h, out.w, w + c * kk, bias[c], s.k);
            } else {
                fill_padded<2>(x, in.h, in.w, s.pad, g, t, xp);
                plane<A, 2>(xp, g, t, y, out.h, out.w, w + c * kk, bias[c], s.k);
            }
        } else {
            plain<A>(x, in.h, in.w, y, out.h, out.w, w + c * kk, bias[c], s);
        }
    }
}

}  // namespace

int64_t depthwise_scratch_floats(const TensorView& out, const ConvShape& s, int threads) {
    if (!tiled(s)) return 0;
    return int64_t(threads) * s.stride * geometry(out.h, out.w, s.k, s.stride, tile_for(out.w, s.k)).plane;
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
