// Dense and grouped convolution as GEMM: a 1x1 stride-1 conv multiplies the weights by
// the input planes directly; with AVX-512 packed_gemm makes the im2col columns of the others
// (stride <= 2) from the input as it packs them; any other conv goes through im2col into
// preallocated scratch. The GEMM is our packed_gemm (bias + activation fused) where it suits, else
// OpenBLAS followed by the bias + activation pass. Also the one threaded SGEMM of the CPU
// backend. Not depthwise (cpu/depthwise.cpp) and not the BN folding (cpu/executor.cpp).

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

bool conv_packed(const ConvShape& s) { return s.groups == 1 && packed_gemm_suits(); }

// Whether conv_gemm runs a conv as packed_gemm_from on Im2colSource.
static bool implicit_im2col(const ConvShape& s) {
#if defined(ESM_X86_SIMD)
    return conv_packed(s) && !direct_gemm(s) && s.stride <= 2 && cpu_has_avx512();
#else
    (void)s;
    return false;
#endif
}

// Output rows per im2col tile. packed_gemm: the column matrix of one tile stays within ~1 MiB,
// in L2 while packed_gemm copies its 48-column blocks (ResNet's 7x7 stem, 147 x 12,544
// columns in one 7.4 MB tile, ran at 50 GFLOP/s, in 1 MiB tiles at 80-88), but has at least
// 192 columns (a 7x7 conv of 128 channels at 28x28 would get 1 row: 28 of 48 columns used),
// and 3 column blocks per thread (so the threads share column blocks, each packing its own).
// OpenBLAS packs A again for every call, so its tiles are larger: ~8 MB, still in cache when
// SGEMM packs it (a 7x7 conv at 56x56 would otherwise stream 40 MB through DRAM twice).
static int tile_rows(int kdim, int ho, int wo, bool packed, int threads) {
    const int64_t budget = packed ? int64_t(1) << 18 : int64_t(2) << 20;  // floats
    int64_t rows = budget / (int64_t(kdim) * wo);
    const int64_t min_cols = std::max(192, 144 * threads);
    if (packed) rows = std::max<int64_t>(rows, (min_cols + wo - 1) / wo);
    return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(ho, rows)));
}

// The im2col tile's floats: the column matrix, or for packed_gemm the same packed as its B
// blocks plus a row buffer per thread (im2col_packed).
static int64_t col_floats(const TensorView& in, const TensorView& out, const ConvShape& s, int threads) {
    if (direct_gemm(s) || implicit_im2col(s)) return 0;
    const int kdim = in.c / s.groups * s.k * s.k;
    const int64_t cols = int64_t(tile_rows(kdim, out.h, out.w, conv_packed(s), threads)) * out.w;
    if (!conv_packed(s)) return kdim * cols;
    return packed_gemm_b_floats(kdim, cols) + threads * ((cols + 15) / 16 * 16);
}

int64_t conv_scratch_floats(const TensorView& in, const TensorView& out, const ConvShape& s, int threads) {
    return col_floats(in, out, s, threads) +
           (conv_packed(s) ? packed_gemm_scratch_floats(in.c * s.k * s.k, threads) : 0);
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

// The same matrix straight in packed_gemm's B blocks (packed_gemm_put_row), each row made in
// the thread's row buffer (in L1): one copy of the columns less than im2col + packing them.
static void im2col_packed(const TensorView& in, int b, int c0, int cin, int oy0, int oy1, int wo,
                          const ConvShape& s, float* packed, float* row_bufs, int threads) {
    const int rows = cin * s.k * s.k;
    const int64_t hw = int64_t(oy1 - oy0) * wo;
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(rows) * hw)) schedule(static)
    for (int r = 0; r < rows; ++r) {
        float* row = row_bufs + omp_thread_num() * ((hw + 15) / 16 * 16);
        im2col_row(in, b, c0, r, oy0, oy1, wo, s, row);
        packed_gemm_put_row(hw, rows, r, row, packed);
    }
}

#if defined(ESM_X86_SIMD)
// The im2col matrix of image b made block by block as packed_gemm packs it (packed_gemm_from),
// never stored whole: a large-kernel conv's matrix (a 7x7 conv of 128 channels at 28x28: 19
// MB) went through memory twice, written by im2col and read by the GEMM. Strides 1 and 2 on
// AVX-512. Columns are output pixels p = oy Wo + ox; rows r = (ci, ky, kx) as im2col's.
class Im2colSource final : public BSource {
public:
    Im2colSource(const TensorView& in, int b, int wo, const ConvShape& s) : in_(in), b_(b), wo_(wo), s_(s) {}

    ESM_AVX512 void rows(int k0, int kc, int64_t n0, int cols, int width, float* dst) const override {
        const int kk = s_.k * s_.k;
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        for (int q = 0; q < kk; ++q) {
            // rows r = ci kk + q of this pass: ci in [c_lo, c_hi)
            const int c_lo = std::max(0, (k0 - q + kk - 1) / kk), c_hi = (k0 + kc - q + kk - 1) / kk;
            if (c_lo >= c_hi) continue;
            Op ops[kMaxOps];
            const int nops = plan(q / s_.k, q % s_.k, n0, cols, ops);
            for (int ci = c_lo; ci < c_hi; ++ci) {
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

private:
    // One vector of a row: lanes s of d[dst ..] = the input plane's [src + S j] (j a lane),
    // loaded under masks a (input [src, src + 16)) and b (stride 2: [src + 16, src + 32)), zero
    // outside the plane's row (padding).
    struct Op {
        int64_t src;
        int dst;
        __mmask16 a, b, s;
    };
    static constexpr int kMaxOps = 64;  // 48 columns: at most 48 output rows + 3 vectors

    // The vectors of kernel tap (ky, kx) for columns [n0, n0 + cols): per output row they
    // cover, its input row's columns (the same for every channel).
    int plan(int ky, int kx, int64_t n0, int cols, Op* ops) const {
        const int S = s_.stride;
        int nops = 0;
        for (int j = 0; j < cols;) {
            const int64_t p = n0 + j;
            const int oy = static_cast<int>(p / wo_), ox = static_cast<int>(p % wo_);
            const int seg = std::min(cols - j, wo_ - ox);
            const int iy = oy * S - s_.pad + ky;
            const bool inside = iy >= 0 && iy < in_.h;
            for (int t = 0; t < seg; t += 16) {
                const int i = (ox + t) * S - s_.pad + kx;  // input column of lane 0
                const int w = in_.w;
                Op& op = ops[nops++];
                op.src = inside ? int64_t(iy) * w + i : 0;
                op.dst = j + t;
                op.a = inside ? static_cast<__mmask16>(lanes(w - i) & ~lanes(-i)) : 0;
                op.b = inside ? static_cast<__mmask16>(lanes(w - i - 16) & ~lanes(-i - 16)) : 0;
                op.s = lanes(seg - t);
            }
            j += seg;
        }
        return nops;
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
    const bool packed = conv_packed(s);
    const int tile = tile_rows(kdim, out.h, out.w, packed, threads);
    float* col = scratch;
    float* bblocks = scratch + col_floats(in, out, s, threads);
    // C (cout_g, n) = W_g B, B (kdim, n) rows ldb apart: packed_gemm applies bias + activation
    // itself; after OpenBLAS one pass over the output does.
    const auto gemm = [&](const float* wg, const float* b, int n, int ldb, float* c, const float* r) {
        if (packed)
            packed_gemm(cout_g, n, kdim, wg, b, ldb, bias, s.act, c, hw, bblocks, threads, pre, r);
        else
            sgemm(false, cout_g, n, kdim, wg, kdim, b, ldb, c, hw, threads);
    };
#if defined(ESM_X86_SIMD)
    if (implicit_im2col(s)) {
        for (int b = 0; b < out.n; ++b)
            packed_gemm_from(out.c, hw, kdim, w, Im2colSource(in, b, out.w, s), bias, s.act, out.channel(b, 0), hw,
                             scratch, threads, res ? res->channel(b, 0) : nullptr);
        return;
    }
#endif
    for (int b = 0; b < out.n; ++b)
        for (int g = 0; g < s.groups; ++g) {
            const float* wg = w + int64_t(g) * cout_g * kdim;  // packed: groups == 1
            float* dst = out.channel(b, g * cout_g);
            const float* r = res ? res->channel(b, g * cout_g) : nullptr;
            if (direct_gemm(s)) {
                gemm(wg, in.channel(b, g * cin_g), hw, in.h * in.w, dst, r);
                continue;
            }
            for (int oy0 = 0; oy0 < out.h; oy0 += tile) {
                const int oy1 = std::min(out.h, oy0 + tile), n = (oy1 - oy0) * out.w;
                // C is the column block [oy0*Wo, oy1*Wo) of the (Cout, Ho*Wo) output.
                float* c = dst + int64_t(oy0) * out.w;
                const float* rc = r ? r + int64_t(oy0) * out.w : nullptr;
                if (packed) {
                    im2col_packed(in, b, 0, cin_g, oy0, oy1, out.w, s, col, col + packed_gemm_b_floats(kdim, n),
                                  threads);
                    packed_gemm_prepacked(cout_g, n, kdim, wg, col, bias, s.act, c, hw, rc, threads);
                    continue;
                }
                im2col(in, b, g * cin_g, cin_g, oy0, oy1, out.w, s, col, threads);
                gemm(wg, col, n, n, c, rc);
            }
        }
    if (!packed) bias_act(out, bias, s.act, threads);
}

}  // namespace esm::cpu
