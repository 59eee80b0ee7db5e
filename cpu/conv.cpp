// Dense and grouped convolution as GEMM. On packed_gemm (ungrouped, stride <= 2, AVX-512 or
// AVX2 + FMA; bias + activation fused): a 1x1 stride-1 conv multiplies the weights by the
// input planes directly, any other has its im2col columns made from the input as packed_gemm
// packs them (Im2colSource). Otherwise im2col into preallocated scratch, then OpenBLAS and
// the bias + activation pass. Also the one threaded SGEMM of the CPU backend. Not depthwise
// (cpu/depthwise.cpp) and not the BN folding (cpu/executor.cpp).

#include "blas.hpp"
#include "cpu_features.hpp"
#include "kernels.hpp"
#include "simd.hpp"

namespace esm::cpu {

// One threading model: OpenBLAS runs single-threaded (set in Executor::run) and we split
// the product into `threads` independent column (or row) blocks inside our own OpenMP
// region, so BLAS threads and OpenMP threads never compete for the cores.
void sgemm(bool trans_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
           int threads) {
    const int parts = parallel_worth(int64_t(m) * n * k / 16) ? threads : 1;
    const bool split_n = n >= 64 * parts || m < 16 * parts;
#pragma omp parallel for num_threads(parts) if (parts > 1) schedule(static)
    for (int t = 0; t < parts; ++t) {
        if (split_n) {
            const int step = (n + parts - 1) / parts;
            const int chunk = (step + 15) / 16 * 16;
            const int j0 = std::min(n, t * chunk), j1 = std::min(n, j0 + chunk);
            if (j1 <= j0) continue;
            const float* bb = trans_b ? b + int64_t(j0) * ldb : b + j0;
            blas::sgemm(false, trans_b, m, j1 - j0, k, 1.0f, a, lda,
                        bb, ldb, 0.0f, c + j0, ldc);
        } else {
            const int step = (m + parts - 1) / parts;
            const int chunk = (step + 7) / 8 * 8;
            const int i0 = std::min(m, t * chunk), i1 = std::min(m, i0 + chunk);
            if (i1 <= i0) continue;
            blas::sgemm(false, trans_b, i1 - i0, n, k, 1.0f,
                        a + int64_t(i0) * lda, lda, b, ldb, 0.0f, c + int64_t(i0) * ldc, ldc);
        }
    }
}

static bool direct_gemm(const ConvShape& s) { return s.k == 1 && s.stride == 1 && s.pad == 0; }

bool conv_packed(const ConvShape& s) {
    return s.groups == 1 && (direct_gemm(s) || s.stride <= 2) && packed_gemm_suits();
}

// Output rows per im2col tile for OpenBLAS: ~8 MB of columns, still in cache when SGEMM packs
// them (a 7x7 conv at 56x56 would otherwise stream 40 MB through DRAM twice).
static int tile_rows(int kdim, int ho, int wo) {
    const int64_t rows = (int64_t(2) << 20) / (int64_t(kdim) * wo);
    return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(ho, rows)));
}

int64_t conv_scratch_floats(const TensorView& in, const TensorView& out, const ConvShape& s, int threads) {
    const int kdim = in.c / s.groups * s.k * s.k;
    if (conv_packed(s)) return packed_gemm_scratch_floats(kdim, threads);
    return direct_gemm(s) ? 0 : int64_t(kdim) * tile_rows(kdim, out.h, out.w) * out.w;
}

// Row r = (ci, ky, kx) of the column matrix of channels [c0, c0 + cin) for output rows
// [oy0, oy1): (oy1 - oy0) * Wo floats into dst.
static void im2col_row(const TensorView& in, int b, int c0, int r, int oy0, int oy1, int wo, const ConvShape& s,
                       float* dst) {
    const int k = s.k;
    const int ci = r / (k * k), ky = (r / k) % k, kx = r % k;
    const float* x = in.channel(b, c0 + ci);
    // Output columns whose input column ix = ox*stride - pad + kx lies inside [0, W).
    int ox_lo = 0;
    while (ox_lo < wo && ox_lo * s.stride - s.pad + kx < 0) ++ox_lo;
    int ox_hi = wo;
    while (ox_hi > ox_lo && (ox_hi - 1) * s.stride - s.pad + kx >= in.w) --ox_hi;
#if defined(ESM_X86_SIMD)
    const bool fast = cpu_has_avx512() && s.stride <= 2;
    const RowCopy512<1> copy1(fast ? in.w : 0, kx - s.pad, fast && s.stride == 1 ? wo : 0);
    const RowCopy512<2> copy2(fast ? in.w : 0, kx - s.pad, fast && s.stride == 2 ? wo : 0);
#endif
    for (int oy = oy0; oy < oy1; ++oy) {
        float* d = dst + int64_t(oy - oy0) * wo;
        const int iy = oy * s.stride - s.pad + ky;
        if (iy < 0 || iy >= in.h) {
            std::fill(d, d + wo, 0.0f);
            continue;
        }
#if defined(ESM_X86_SIMD)
        if (fast) {
            const float* xrow = x + int64_t(iy) * in.w;
            if (s.stride == 1)
                copy1(xrow, d);
            else
                copy2(xrow, d);
            continue;
        }
#endif
        const float* row = x + int64_t(iy) * in.w + kx - s.pad;
        std::fill(d, d + ox_lo, 0.0f);
        if (s.stride == 1) {
            for (int ox = ox_lo; ox < ox_hi; ++ox) d[ox] = row[ox];
        } else {
            for (int ox = ox_lo; ox < ox_hi; ++ox) d[ox] = row[ox * s.stride];
        }
        std::fill(d + ox_hi, d + wo, 0.0f);
    }
}

// col: (cin * k * k, (oy1 - oy0) * Wo) input patches of channels [c0, c0 + cin) for
// output rows [oy0, oy1).
static void im2col(const TensorView& in, int b, int c0, int cin, int oy0, int oy1, int wo, const ConvShape& s,
                   float* col, int threads) {
    const int rows = cin * s.k * s.k;
    const int64_t hw = int64_t(oy1 - oy0) * wo;
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(rows) * hw)) schedule(static)
    for (int r = 0; r < rows; ++r) im2col_row(in, b, c0, r, oy0, oy1, wo, s, col + r * hw);
}

#if defined(ESM_X86_SIMD)
// The im2col matrix of image b made block by block as packed_gemm packs it (packed_gemm_from),
// never stored whole: a large-kernel conv's matrix (a 7x7 conv of 128 channels at 28x28: 19
// MB) went through memory twice, written by im2col and read by the GEMM. Strides 1 and 2.
// Columns are output pixels p = oy Wo + ox; rows r = (ci, ky, kx) as im2col's. Per kernel tap
// the block's vectors are worked out once (plan) and replayed for every input channel.
class Im2colSource final : public BSource {
public:
    Im2colSource(const TensorView& in, int b, int wo, const ConvShape& s) : in_(in), b_(b), wo_(wo), s_(s) {}

    void rows(int k0, int kc, int64_t n0, int cols, int width, float* dst) const override {
        if (cpu_has_avx512())
            rows512(k0, kc, n0, cols, width, dst);
        else
            rows256(k0, kc, n0, cols, width, dst);
    }

private:
    // One vector of V lanes of a row: d[dst + j] = the input plane's [src + S j] for lanes
    // j < n, where input column i + S j lies inside the row [0, W) (the input row iy inside
    // the plane too), else 0. i: the input column of lane 0.
    struct Vec {
        int64_t src;
        int dst, n, i;
        bool inside;
    };
    static constexpr int kMaxVecs = 64;  // 48 columns: at most 48 output rows + 6 vectors

    // The vectors of kernel tap (ky, kx) for columns [n0, n0 + cols): per output row they
    // cover, its input row's columns (the same for every channel).
    int plan(int ky, int kx, int64_t n0, int cols, int V, Vec* vecs) const {
        const int S = s_.stride;
        int nv = 0;
        for (int j = 0; j < cols;) {
            const int64_t p = n0 + j;
            const int oy = static_cast<int>(p / wo_), ox = static_cast<int>(p % wo_);
            const int seg = std::min(cols - j, wo_ - ox);
            const int iy = oy * S - s_.pad + ky;
            const bool inside = iy >= 0 && iy < in_.h;
            for (int t = 0; t < seg; t += V) {
                const int i = (ox + t) * S - s_.pad + kx;
                vecs[nv++] = Vec{inside ? int64_t(iy) * in_.w + i : 0, j + t, std::min(V, seg - t), i, inside};
            }
            j += seg;
        }
        return nv;
    }

    // Rows r = ci kk + q of the pass [k0, k0 + kc): ci in [*lo, *hi).
    static bool channels(int k0, int kc, int q, int kk, int* lo, int* hi) {
        *lo = (k0 - q + kk - 1) / kk;
        *hi = (k0 + kc - q + kk - 1) / kk;
        return *lo < *hi;
    }

    ESM_AVX512 void rows512(int k0, int kc, int64_t n0, int cols, int width, float* dst) const {
        struct Op {
            int64_t src;
            int dst;
            __mmask16 a, b, s;  // loads of [src, src + 16) and (stride 2) [src + 16, src + 32); store
        };
        const int kk = s_.k * s_.k, w = in_.w;
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        for (int q = 0, lo, hi; q < kk; ++q) {
            if (!channels(k0, kc, q, kk, &lo, &hi)) continue;
            Vec vecs[kMaxVecs];
            Op ops[kMaxVecs];
            const int nops = plan(q / s_.k, q % s_.k, n0, cols, 16, vecs);
            for (int o = 0; o < nops; ++o) {
                const Vec& v = vecs[o];
                const int i = v.i;
                ops[o] = Op{v.src, v.dst, static_cast<__mmask16>(v.inside ? lanes(w - i) & ~lanes(-i) : 0),
                            static_cast<__mmask16>(v.inside ? lanes(w - i - 16) & ~lanes(-i - 16) : 0), lanes(v.n)};
            }
            for (int ci = lo; ci < hi; ++ci) {
                const float* x = in_.channel(b_, ci);
                float* d = dst + int64_t(ci * kk + q - k0) * width;
                for (int o = 0; o < nops; ++o) {
                    const Op& op = ops[o];
                    __m512 v = _mm512_maskz_loadu_ps(op.a, x + op.src);
                    if (s_.stride == 2) v = _mm512_permutex2var_ps(v, even, _mm512_maskz_loadu_ps(op.b, x + op.src + 16));
                    _mm512_mask_storeu_ps(d + op.dst, op.s, v);
                }
                if (cols < width) _mm512_mask_storeu_ps(d + cols, lanes(width - cols), _mm512_setzero_ps());
            }
        }
    }

    // The same on 8 lanes. Stores are whole vectors where they stay inside the row: the lanes
    // past a vector's n are overwritten by the vectors after it (vmaskmovps stores are slow on
    // AMD cores); a masked store only where a vector would cross the row's end.
    ESM_AVX2 void rows256(int k0, int kc, int64_t n0, int cols, int width, float* dst) const {
        struct Op {
            int64_t src;
            int dst;
            bool whole;
            __m256i a, b, s;  // loads of [src, src + 8) and (stride 2) [src + 8, src + 16); store
        };
        const int kk = s_.k * s_.k, w = in_.w;
        const __m256i none = _mm256_setzero_si256();
        for (int q = 0, lo, hi; q < kk; ++q) {
            if (!channels(k0, kc, q, kk, &lo, &hi)) continue;
            Vec vecs[kMaxVecs];
            Op ops[kMaxVecs];
            const int nops = plan(q / s_.k, q % s_.k, n0, cols, 8, vecs);
            for (int o = 0; o < nops; ++o) {
                const Vec& v = vecs[o];
                const int i = v.i;
                ops[o] = Op{v.src, v.dst, v.dst + 8 <= width,
                            v.inside ? _mm256_andnot_si256(lanes8(-i), lanes8(w - i)) : none,
                            v.inside ? _mm256_andnot_si256(lanes8(-i - 8), lanes8(w - i - 8)) : none, lanes8(v.n)};
            }
            for (int ci = lo; ci < hi; ++ci) {
                const float* x = in_.channel(b_, ci);
                float* d = dst + int64_t(ci * kk + q - k0) * width;
                for (int o = 0; o < nops; ++o) {
                    const Op& op = ops[o];
                    __m256 v = _mm256_maskload_ps(x + op.src, op.a);
                    if (s_.stride == 2) {
                        // even lanes of [v, next]: lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6, then the
                        // middle 64-bit pairs swapped
                        const __m256 odd = _mm256_shuffle_ps(v, _mm256_maskload_ps(x + op.src + 8, op.b), 0x88);
                        v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(odd), 0xD8));
                    }
                    if (op.whole)
                        _mm256_storeu_ps(d + op.dst, v);
                    else
                        _mm256_maskstore_ps(d + op.dst, op.s, v);
                }
                if (cols < width) _mm256_maskstore_ps(d + cols, lanes8(width - cols), _mm256_setzero_ps());
            }
        }
    }

    const TensorView& in_;
    int b_, wo_;
    ConvShape s_;
};
#endif

void conv_gemm(const TensorView& in, const TensorView& out, const float* w, const float* bias, const ConvShape& s,
               float* scratch, int threads, const Prologue* pre, const TensorView* res) {
    const int cin_g = in.c / s.groups, cout_g = out.c / s.groups;
    const int kdim = cin_g * s.k * s.k;
    const int hw = out.h * out.w;
    if (conv_packed(s)) {  // groups == 1
        for (int b = 0; b < out.n; ++b) {
            float* c = out.channel(b, 0);
            const float* r = res ? res->channel(b, 0) : nullptr;
            if (direct_gemm(s)) {
                packed_gemm(out.c, hw, kdim, w, in.channel(b, 0), hw, bias, s.act, c, hw, scratch, threads, pre, r);
                continue;
            }
#if defined(ESM_X86_SIMD)
            packed_gemm_from(out.c, hw, kdim, w, Im2colSource(in, b, out.w, s), bias, s.act, c, hw, scratch, threads, r);
#endif
        }
        return;
    }
    // OpenBLAS: C (cout_g, n) = W_g B, B (kdim, n); then one pass of bias + activation.
    const int tile = tile_rows(kdim, out.h, out.w);
    for (int b = 0; b < out.n; ++b)
        for (int g = 0; g < s.groups; ++g) {
            const float* wg = w + int64_t(g) * cout_g * kdim;
            float* dst = out.channel(b, g * cout_g);
            if (direct_gemm(s)) {
                sgemm(false, cout_g, hw, kdim, wg, kdim, in.channel(b, g * cin_g), hw, dst, hw, threads);
                continue;
            }
            for (int oy0 = 0; oy0 < out.h; oy0 += tile) {
                const int oy1 = std::min(out.h, oy0 + tile), n = (oy1 - oy0) * out.w;
                // C is the column block [oy0*Wo, oy1*Wo) of the (Cout, Ho*Wo) output.
                im2col(in, b, g * cin_g, cin_g, oy0, oy1, out.w, s, scratch, threads);
                sgemm(false, cout_g, n, kdim, wg, kdim, scratch, n, dst + int64_t(oy0) * out.w, hw, threads);
            }
        }
    bias_act(out, bias, s.act, threads);
}

}  // namespace esm::cpu
