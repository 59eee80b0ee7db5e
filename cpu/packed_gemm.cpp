// Our own GEMM with the bias + activation epilogue for the convolutions (1x1 straight on the
// input planes, k x k on im2col columns a BSource makes as they are packed), on CPUs with
// AVX-512 or AVX2 + FMA: weights packed at create into panels of 8 output channels, 48
// columns of B at a time copied into contiguous blocks (input rows a plane apart would share
// L1 sets), and register tiles keeping their accumulators over a pass of up to 512 rows of
// K: 8 channels x 48 columns
// (24 zmm) with AVX-512, 4 channels x 24 columns (12 of the 16 ymm) with AVX2. Bias and
// activation are applied in registers before the one store, after a residual (a block's
// shortcut, rows ldc apart like C) is added there when given: the residual add is then no
// pass of its own. OpenBLAS spent a third of its time on MobileNetV3's small matrices
// packing them, and the epilogue was another pass. Without either ISA convs keep OpenBLAS
// (cpu/conv.cpp).
#include "blas.hpp"
#include "cpu_features.hpp"
#include "kernels.hpp"
#include "simd.hpp"

namespace esm::cpu {

namespace {

constexpr int kMr = 8;       // output channels per panel
constexpr int kNvMax = 3;    // vectors of 16 columns per tile
// K is taken in passes of at most this many rows (C holds the partial sums between passes):
// an A panel's pass (16 KiB) stays in L1 while the tile streams B from L2. Large-K products
// ran 10-20 % faster than in passes of 2,048 (bench_kernels, 128 x 784 x 1000 and the like;
// 128, 256 and 384 within the noise of 512; DenseNet's 1x1 convs with K 512-672 a few %
// slower in passes of 256).
constexpr int kMaxK = 512;
// Packed B blocks shared by the threads (a super-block, see run()): at most this many floats.
constexpr int64_t kWholeB = int64_t(1) << 18;  // 1 MiB
// Column blocks a thread packs at once when A is large (see run()).
constexpr int kGroup = 4;

// Floats per row of B's packed block starting at column n0 (48, or fewer in a partial last
// block: whole vectors of `lanes`, 16 with AVX-512, 8 with AVX2).
int64_t row_width(int64_t n, int64_t n0, int lanes) {
    const int64_t cols = std::min<int64_t>(16 * kNvMax, n - n0);
    return (cols + lanes - 1) / lanes * lanes;
}

}  // namespace

bool packed_gemm_suits() { return cpu_has_avx512() || cpu_has_avx2_fma(); }

int64_t packed_gemm_a_floats(int m, int k) { return int64_t(m + kMr - 1) / kMr * kMr * k; }

void packed_gemm_pack_a(const float* a, int m, int k, float* packed) {
    for (int m0 = 0; m0 < m; m0 += kMr)
        for (int j = 0; j < k; ++j)
            for (int r = 0; r < kMr; ++r) *packed++ = m0 + r < m ? a[int64_t(m0 + r) * k + j] : 0.0f;
}

// Rows of B per pass over K: K split evenly into passes of at most kMaxK.
static int k_pass(int k) {
    const int passes = (k + kMaxK - 1) / kMaxK;
    return (k + passes - 1) / std::max(1, passes);
}

int64_t packed_gemm_scratch_floats(int k, int threads) {
    return std::max(int64_t(threads) * kGroup * k_pass(k) * 16 * kNvMax, int64_t(threads) * kWholeB);
}

#if defined(ESM_X86_SIMD)
namespace {

// One pass over a range of K: the first starts from the bias, the others from the partial
// sums in C; the last adds the residual and applies the activation, the others store raw sums.
struct Pass {
    bool first, last;
};

// C rows [m0, m0 + rows) x 16 NV columns (the last vector's store masked by `last`):
// acc = bias (or C); acc += A panel (K, 8) x packed B (K, 16 NV); acc += res (when given); act;
// store (the last two on the last pass only).
template <Act A, int NV>
ESM_AVX512 void tile(const float* ap, const float* bp, int kdim, const float* bias, int rows, float* c, int64_t ldc,
                     __mmask16 last, const float* res, Pass pass) {
    __m512 acc[kMr][NV];
    if (pass.first) {
#pragma GCC unroll 8
        for (int r = 0; r < kMr; ++r) {
            const __m512 bv = _mm512_set1_ps(r < rows ? bias[r] : 0.0f);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] = bv;
        }
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v)
                acc[r][v] = _mm512_maskz_loadu_ps(r < rows ? (v + 1 < NV ? 0xFFFF : last) : 0, c + r * ldc + 16 * v);
    }
    for (int k = 0; k < kdim; ++k) {
        __m512 bv[NV];
        for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(bp + (int64_t(k) * NV + v) * 16);
        const float* ak = ap + int64_t(k) * kMr;
        for (int r = 0; r < kMr; ++r) {
            const __m512 av = _mm512_set1_ps(ak[r]);
            for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    // Fully unrolled (GCC's default limits stop short of 24 masked stores and spill every
    // accumulator to the stack between the K loop and the stores).
    if (!pass.last) {
#pragma GCC unroll 8
        for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v)
                _mm512_mask_storeu_ps(c + r * ldc + 16 * v, r < rows ? (v + 1 < NV ? 0xFFFF : last) : 0, acc[r][v]);
        return;
    }
    if (res) {
#pragma GCC unroll 8
        for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v)
                acc[r][v] = _mm512_add_ps(
                    acc[r][v],
                    _mm512_maskz_loadu_ps(r < rows ? (v + 1 < NV ? 0xFFFF : last) : 0, res + r * ldc + 16 * v));
    }
#pragma GCC unroll 8
    for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
            _mm512_mask_storeu_ps(c + r * ldc + 16 * v, r < rows ? (v + 1 < NV ? 0xFFFF : last) : 0,
                                  act512<A>(acc[r][v]));
}

// 16 nv columns of K rows ldb apart (the last vector's columns masked by `last`) -> (K, 16 nv)
// contiguous, zero-filled past the mask: the tile then streams one buffer (input rows a
// plane apart would share L1 sets). kPre: row k is act P(b * scale[k] + shift[k]) (past the
// mask too: those columns' results are never stored).
template <bool kPre, Act P>
ESM_AVX512 void pack_b_t(const float* b, int64_t ldb, int kdim, int nv, __mmask16 last, const Prologue* pre,
                         float* bp) {
    for (int k = 0; k < kdim; ++k) {
        const float* bk = b + k * ldb;
        float* d = bp + int64_t(k) * nv * 16;
        __m512 sc = _mm512_setzero_ps(), sh = _mm512_setzero_ps();
        if constexpr (kPre) sc = _mm512_set1_ps(pre->scale[k]), sh = _mm512_set1_ps(pre->shift[k]);
        for (int v = 0; v < nv; ++v) {
            __m512 x = v + 1 < nv ? _mm512_loadu_ps(bk + 16 * v) : _mm512_maskz_loadu_ps(last, bk + 16 * v);
            if constexpr (kPre) x = act512<P>(_mm512_fmadd_ps(x, sc, sh));
            _mm512_storeu_ps(d + 16 * v, x);
        }
    }
}

ESM_AVX512 void pack_b(const float* b, int64_t ldb, int kdim, int nv, __mmask16 last, const Prologue* pre,
                       float* bp) {
    if (!pre) return pack_b_t<false, Act::None>(b, ldb, kdim, nv, last, pre, bp);
    switch (pre->act) {
        case Act::ReLU: return pack_b_t<true, Act::ReLU>(b, ldb, kdim, nv, last, pre, bp);
        case Act::HSwish: return pack_b_t<true, Act::HSwish>(b, ldb, kdim, nv, last, pre, bp);
        case Act::HSigmoid: return pack_b_t<true, Act::HSigmoid>(b, ldb, kdim, nv, last, pre, bp);
        default: return pack_b_t<true, Act::None>(b, ldb, kdim, nv, last, pre, bp);
    }
}

// The 16-lane vectors of C columns [n0, n0 + 48) (fewer at the end), the last one's lanes.
struct Cols512 {
    int nv;
    __mmask16 last;
};
inline Cols512 cols512(int64_t n, int64_t n0) {
    const int64_t cols = std::min<int64_t>(16 * kNvMax, n - n0);
    const int nv = static_cast<int>((cols + 15) / 16);
    return Cols512{nv, lanes(static_cast<int>(cols - 16 * (nv - 1)))};
}

// That block of B packed into bp.
ESM_AVX512 void pack_block(const float* b, int64_t ldb, int kdim, int64_t n, int64_t n0, const Prologue* pre,
                           float* bp) {
    const Cols512 g = cols512(n, n0);
    pack_b(b + n0, ldb, kdim, g.nv, g.last, pre, bp);
}

// C rows [m0, m0 + rows) x NC (<= 4) columns from a block of B packed 16 wide (the last
// columns of a plane: 7 x 7 = 48 + 1, 14 x 14 = 192 + 4): per column and panel the panel's 8
// rows in one ymm, A's (K, 8) rows loaded as they lie, 1 FMA per k, column and panel where
// the 16-lane tile spends 8 FMAs and 8 broadcasts on one useful lane each. 8 / NC panels at
// once (panel q's A at ap + q astride, its C rows 8 q on), so that 8 chains of FMAs run side
// by side (one column of one panel was one chain: an FMA's latency per k). Panels past the
// `rows` are computed on the last one's A and not stored.
// Same order of additions per output as the tile: results bit-identical.
template <Act A, int NC>
ESM_AVX512 void narrow(const float* ap, int64_t astride, const float* bp, int kdim, const float* bias, int rows,
                       float* c, int64_t ldc, const float* res, Pass pass) {
    constexpr int P = 8 / NC;
    alignas(32) float t[8];
    const int np = std::min(P, (rows + kMr - 1) / kMr);
    const float* aq[P];
    __m256 acc[P][NC];
    for (int q = 0; q < P; ++q) {
        aq[q] = ap + std::min(q, np - 1) * astride;
        const int rq = std::min(kMr, rows - q * kMr);  // <= 0 past the last panel
        for (int j = 0; j < NC; ++j) {
            for (int r = 0; r < 8; ++r)
                t[r] = r >= rq ? 0.0f : pass.first ? bias[q * kMr + r] : c[(q * kMr + r) * ldc + j];
            acc[q][j] = _mm256_load_ps(t);
        }
    }
    for (int k = 0; k < kdim; ++k) {
        __m256 b[NC];
        for (int j = 0; j < NC; ++j) b[j] = _mm256_broadcast_ss(bp + int64_t(k) * 16 + j);
        for (int q = 0; q < P; ++q) {
            const __m256 a = _mm256_loadu_ps(aq[q] + int64_t(k) * kMr);
            for (int j = 0; j < NC; ++j) acc[q][j] = _mm256_fmadd_ps(a, b[j], acc[q][j]);
        }
    }
    for (int q = 0; q < np; ++q) {
        const int rq = std::min(kMr, rows - q * kMr);
        float* cq = c + q * kMr * ldc;
        for (int j = 0; j < NC; ++j) {
            __m256 y = acc[q][j];
            if (pass.last) {
                if (res) {
                    for (int r = 0; r < 8; ++r) t[r] = r < rq ? res[(q * kMr + r) * ldc + j] : 0.0f;
                    y = _mm256_add_ps(y, _mm256_load_ps(t));
                }
                y = act256<A>(y);
            }
            _mm256_store_ps(t, y);
            for (int r = 0; r < rq; ++r) cq[r * ldc + j] = t[r];
        }
    }
}

// Rows [k0, k0 + kc) of a product with K = kdim: C columns [n0, n0 + 48), output-channel
// panels [p0, p1), from those rows of that block of B packed in bp: one register tile per
// panel (or, for up to 4 columns, narrow()).
template <Act A>
ESM_AVX512 void column_block(int m, int64_t n, int64_t n0, int p0, int p1, int kdim, int k0, int kc, Pass pass,
                             const float* packed, const float* bias, float* c, int64_t ldc, const float* res,
                             const float* bp) {
    const Cols512 g = cols512(n, n0);
    const int nv = g.nv;
    const __mmask16 last = g.last;
    const int cols = static_cast<int>(std::min<int64_t>(16 * kNvMax, n - n0));
    // narrow() takes 8 / cols panels at a time, the tile one
    const int step = cols <= 4 ? 8 / cols : 1;
    for (int p = p0; p < p1; p += step) {
        const int m0 = p * kMr;
        const float* ap = packed + int64_t(m0) * kdim + int64_t(k0) * kMr;
        float* cm = c + m0 * ldc + n0;
        const int rows = std::min(kMr, m - m0);
        const int nrows = std::min(step * kMr, std::min(p1 * kMr, m) - m0);  // narrow's panels [p, p + step)
        const float* rm = res ? res + m0 * ldc + n0 : nullptr;
        const int64_t as = int64_t(kMr) * kdim;
        switch (cols <= 4 ? -cols : nv) {
            case -1: narrow<A, 1>(ap, as, bp, kc, bias + m0, nrows, cm, ldc, rm, pass); break;
            case -2: narrow<A, 2>(ap, as, bp, kc, bias + m0, nrows, cm, ldc, rm, pass); break;
            case -3: narrow<A, 3>(ap, as, bp, kc, bias + m0, nrows, cm, ldc, rm, pass); break;
            case -4: narrow<A, 4>(ap, as, bp, kc, bias + m0, nrows, cm, ldc, rm, pass); break;
            case 1: tile<A, 1>(ap, bp, kc, bias + m0, rows, cm, ldc, last, rm, pass); break;
            case 2: tile<A, 2>(ap, bp, kc, bias + m0, rows, cm, ldc, last, rm, pass); break;
            default: tile<A, 3>(ap, bp, kc, bias + m0, rows, cm, ldc, last, rm, pass); break;
        }
    }
}

// --- AVX2 + FMA: the same packing of A and blocking of B, on 8-lane vectors -------------

// C rows [0, rows) (rows <= 4) x 8 NV columns, the last vector's store masked by `last`
// when `partial` (only then: vmaskmovps stores are slow on AMD cores):
// acc = bias (or C); acc += A half panel (K, 4 of the panel's 8) x packed B (K, ldp); acc +=
// res (when given); act; store (the last two on the last pass only).
template <Act A, int NV>
ESM_AVX2 void tile2(const float* ap, const float* bp, int64_t ldp, int kdim, const float* bias, int rows, float* c,
                    int64_t ldc, bool partial, __m256i last, const float* res, Pass pass) {
    __m256 acc[4][NV];
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
        const __m256 bv = _mm256_set1_ps(r < rows ? bias[r] : 0.0f);
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) {
            const float* cv = c + r * ldc + 8 * v;
            acc[r][v] = pass.first || r >= rows ? bv
                        : v + 1 < NV || !partial ? _mm256_loadu_ps(cv)
                                                 : _mm256_maskload_ps(cv, last);
        }
    }
    for (int k = 0; k < kdim; ++k) {
        __m256 bv[NV];
        for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(bp + k * ldp + 8 * v);
        const float* ak = ap + int64_t(k) * kMr;
        for (int r = 0; r < 4; ++r) {
            const __m256 av = _mm256_broadcast_ss(ak + r);
            for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
        if (r >= rows) break;
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) {
            __m256 a = acc[r][v];
            if (!pass.last) {
                if (v + 1 < NV || !partial)
                    _mm256_storeu_ps(c + r * ldc + 8 * v, a);
                else
                    _mm256_maskstore_ps(c + r * ldc + 8 * v, last, a);
                continue;
            }
            if (res) {
                const float* rv = res + r * ldc + 8 * v;
                a = _mm256_add_ps(a, v + 1 < NV || !partial ? _mm256_loadu_ps(rv) : _mm256_maskload_ps(rv, last));
            }
            const __m256 y = act256<A>(a);
            if (v + 1 < NV || !partial)
                _mm256_storeu_ps(c + r * ldc + 8 * v, y);
            else
                _mm256_maskstore_ps(c + r * ldc + 8 * v, last, y);
        }
    }
}

// nv vectors of 8 columns of K rows ldb apart (the last vector's columns masked to `tail`
// lanes) -> (K, 8 nv) contiguous, zero-filled past the mask. kPre: as pack_b_t.
template <bool kPre, Act P>
ESM_AVX2 void pack_b2_t(const float* b, int64_t ldb, int kdim, int nv, int tail, const Prologue* pre, float* bp) {
    const __m256i last = lanes8(tail);
    for (int k = 0; k < kdim; ++k) {
        const float* bk = b + k * ldb;
        float* d = bp + int64_t(k) * nv * 8;
        __m256 sc = _mm256_setzero_ps(), sh = _mm256_setzero_ps();
        if constexpr (kPre) sc = _mm256_set1_ps(pre->scale[k]), sh = _mm256_set1_ps(pre->shift[k]);
        for (int v = 0; v < nv; ++v) {
            __m256 x = v + 1 < nv ? _mm256_loadu_ps(bk + 8 * v) : _mm256_maskload_ps(bk + 8 * v, last);
            if constexpr (kPre) x = act256<P>(_mm256_fmadd_ps(x, sc, sh));
            _mm256_storeu_ps(d + 8 * v, x);
        }
    }
}

ESM_AVX2 void pack_b2(const float* b, int64_t ldb, int kdim, int nv, int tail, const Prologue* pre, float* bp) {
    if (!pre) return pack_b2_t<false, Act::None>(b, ldb, kdim, nv, tail, pre, bp);
    switch (pre->act) {
        case Act::ReLU: return pack_b2_t<true, Act::ReLU>(b, ldb, kdim, nv, tail, pre, bp);
        case Act::HSwish: return pack_b2_t<true, Act::HSwish>(b, ldb, kdim, nv, tail, pre, bp);
        case Act::HSigmoid: return pack_b2_t<true, Act::HSigmoid>(b, ldb, kdim, nv, tail, pre, bp);
        default: return pack_b2_t<true, Act::None>(b, ldb, kdim, nv, tail, pre, bp);
    }
}

// The 8-lane vectors of C columns [n0, n0 + 48) and the lanes of the last one.
struct Cols256 {
    int nv, tail;
};
inline Cols256 cols256(int64_t n, int64_t n0) {
    const int cols = static_cast<int>(std::min<int64_t>(16 * kNvMax, n - n0));
    const int nv = (cols + 7) / 8;
    return Cols256{nv, cols - 8 * (nv - 1)};
}

ESM_AVX2 void pack_block2(const float* b, int64_t ldb, int kdim, int64_t n, int64_t n0, const Prologue* pre,
                          float* bp) {
    const Cols256 g = cols256(n, n0);
    pack_b2(b + n0, ldb, kdim, g.nv, g.tail, pre, bp);
}

// As column_block: per panel and half panel (4 channels) tiles of up to 3 vectors.
template <Act A>
ESM_AVX2 void column_block2(int m, int64_t n, int64_t n0, int p0, int p1, int kdim, int k0, int kc, Pass pass,
                            const float* packed, const float* bias, float* c, int64_t ldc, const float* res,
                            const float* bp) {
    const Cols256 g = cols256(n, n0);
    const int nv = g.nv, tail = g.tail;
    const __m256i last = lanes8(tail);
    for (int p = p0; p < p1; ++p)
        for (int h = 0; h < 2; ++h) {
            const int m0 = p * kMr + 4 * h;
            const int rows = std::min(4, m - m0);
            if (rows <= 0) break;
            const float* ap = packed + int64_t(p) * kMr * kdim + int64_t(k0) * kMr + 4 * h;
            for (int v0 = 0; v0 < nv; v0 += 3) {
                const int nvt = std::min(3, nv - v0);
                const bool partial = v0 + nvt == nv && tail < 8;
                float* cm = c + m0 * ldc + n0 + 8 * v0;
                const float* rm = res ? res + m0 * ldc + n0 + 8 * v0 : nullptr;
                const float* bt = bp + 8 * v0;
                switch (nvt) {
                    case 1: tile2<A, 1>(ap, bt, 8 * nv, kc, bias + m0, rows, cm, ldc, partial, last, rm, pass); break;
                    case 2: tile2<A, 2>(ap, bt, 8 * nv, kc, bias + m0, rows, cm, ldc, partial, last, rm, pass); break;
                    default: tile2<A, 3>(ap, bt, 8 * nv, kc, bias + m0, rows, cm, ldc, partial, last, rm, pass); break;
                }
            }
        }
}

// Compiled for baseline x86-64 (it only shares out the work): 48-column blocks of B packed
// (pack_block, pack_block2), then column_block<A> (AVX-512) or column_block2<A> (AVX2) on
// them. prepacked: B already packed by packed_gemm_pack_b (b ignored, block i at
// prepacked + i K 48).
//
// Two orders. Packing and computing one 48-column block at a time over all M rows keeps a
// write stream per row open: 256 for a 56 x 56 x 256 output, and a 1x1 conv with K = 32
// writing that (3.2 MB, out of L2) spent 1.3 ms where it computes for 0.3. So when C is
// larger than 2 MiB and has >= 8 panels (and 4 per thread), B goes in super-blocks of
// as many column blocks as fit in kWholeB: the threads pack one, then each sweeps its
// panels of output channels across it: C is written 8 rows at a time along up to 1,024
// columns and B read along rows of up to 4 KiB, streams the prefetchers follow. Otherwise
// block by block, each block read from L1 by every panel while it is hot (15-30 % faster on
// MobileNetV3's small products, 5-10 % on DenseNet's 1x1 convs with 1.6 MB outputs).
template <Act A, bool kAvx512>
void run(int m, int64_t n, int kdim, const float* packed, const float* b, int64_t ldb, const float* bias, float* c,
         int64_t ldc, const float* res, float* scratch, int threads, const Prologue* pre, const float* prepacked,
         const BSource* src) {
    const int64_t chunk = 16 * kNvMax;
    constexpr int vec_floats = kAvx512 ? 16 : 8;  // a packed row is whole vectors of these
    const int kc_max = k_pass(kdim);
    // Block i's rows [k0, k0 + kc) packed into bp.
    const auto pack = [&](int64_t i, int k0, int kc, float* bp) {
        if (src) {
            const int cols = static_cast<int>(std::min(chunk, n - i * chunk));
            return src->rows(k0, kc, i * chunk, cols, static_cast<int>(row_width(n, i * chunk, vec_floats)), bp);
        }
        const Prologue pk = pre ? Prologue{pre->scale + k0, pre->shift + k0, pre->act} : Prologue{};
        const float* bk = b + int64_t(k0) * ldb;
        if constexpr (kAvx512)
            pack_block(bk, ldb, kc, n, i * chunk, pre ? &pk : nullptr, bp);
        else
            pack_block2(bk, ldb, kc, n, i * chunk, pre ? &pk : nullptr, bp);
    };
    const auto compute = [&](int64_t i, int p0, int p1, int k0, int kc, const float* bb) {
        const Pass pass{k0 == 0, k0 + kc == kdim};
        if constexpr (kAvx512)
            column_block<A>(m, n, i * chunk, p0, p1, kdim, k0, kc, pass, packed, bias, c, ldc, res, bb);
        else
            column_block2<A>(m, n, i * chunk, p0, p1, kdim, k0, kc, pass, packed, bias, c, ldc, res, bb);
    };
    const int64_t chunks = (n + chunk - 1) / chunk;
    const int panels = (m + kMr - 1) / kMr;
    const int parts = threads > 1 && parallel_worth(int64_t(m) * n * kdim / 16) ? threads : 1;
    const int64_t block = int64_t(kc_max) * chunk;
    const int64_t super = prepacked ? chunks : std::max<int64_t>(1, kWholeB / block);
    // Threads take panels when there are too few column blocks to share evenly (a 7x7 plane
    // is 48 + 1 columns), or when C is large (see above); otherwise column blocks.
    const bool few_blocks = parts > 1 && chunks < 3 * parts && panels >= parts;
    const bool large_c = panels >= std::max(8, 4 * parts) && int64_t(m) * n > 2 * kWholeB;
    // An A past 1 MiB (it leaves L2) is read once per group of up to kGroup column blocks
    // instead of once per block: each pass of a panel runs over the group's blocks while it
    // is in L1 (a 7 x 7 conv with 344 channels, K 16,856, A 23 MB: 48 + 1 columns read it
    // twice from DRAM). Smaller ones go block by block, each block hot in L1 for every panel.
    const int64_t group = int64_t(m) * kdim <= kWholeB  ? 1
                          : parts == 1 || few_blocks     ? kGroup
                                                         : std::clamp<int64_t>(chunks / (3 * parts), 1, kGroup);
#pragma omp parallel num_threads(parts) if (parts > 1)
    {
        const int t = omp_thread_num(), nt = omp_num_threads();
        const int p0 = panels * t / nt, p1 = panels * (t + 1) / nt;
        // Column blocks [i0, i1), pass by pass over K: packed into buf (by all threads
        // together when `shared`, which then wait for each other; else by this thread alone),
        // then this thread's panels [q0, q1) swept across them, each panel's pass hot in L1.
        const auto sweep = [&](int64_t i0, int64_t i1, int q0, int q1, float* buf, bool shared) {
            for (int k0 = 0; k0 < kdim; k0 += kc_max) {
                const int kc = std::min(kc_max, kdim - k0);
                // Block i's pass: in buf, or prepacked with all K rows (as wide as the block's
                // vectors: 48 floats but in a partial last block).
                const auto at = [&](int64_t i) -> const float* {
                    if (!prepacked) return buf + (i - i0) * kc * chunk;
                    return prepacked + i * kdim * chunk + k0 * row_width(n, i * chunk, vec_floats);
                };
                if (!prepacked && shared) {
#pragma omp for schedule(static)
                    for (int64_t i = i0; i < i1; ++i) pack(i, k0, kc, buf + (i - i0) * kc * chunk);
                } else if (!prepacked) {
                    for (int64_t i = i0; i < i1; ++i) pack(i, k0, kc, buf + (i - i0) * kc * chunk);
                }
                // a last block of <= 4 columns (narrow()) takes several panels at once
                const int64_t iw = n - (i1 - 1) * chunk <= 4 ? i1 - 1 : i1;
                for (int p = q0; p < q1; ++p)
                    for (int64_t i = i0; i < iw; ++i) compute(i, p, p + 1, k0, kc, at(i));
                if (iw < i1) compute(iw, q0, q1, k0, kc, at(iw));
                if (shared) {
#pragma omp barrier
                }
            }
        };
        if (large_c && (nt == 1 || chunks < 2 * nt || !src)) {
            for (int64_t s0 = 0; s0 < chunks; s0 += super)
                sweep(s0, std::min(chunks, s0 + super), p0, p1, scratch, true);
        } else if (large_c) {
            // B made by a BSource (an implicit im2col: its packing costs more, and unevenly):
            // each thread its own half of the columns in super-blocks it packs alone, all
            // panels, no barrier (ResNet's 7x7 stem at two threads 2.5 -> 1.8 ms; the shared
            // super-blocks above stay better for B read from memory).
            float* bp = scratch + t * kWholeB;
            const int64_t c0 = chunks * t / nt, c1 = chunks * (t + 1) / nt;
            for (int64_t s0 = c0; s0 < c1; s0 += super)
                sweep(s0, std::min(c1, s0 + super), 0, panels, bp, false);
        } else {
            // Groups of `group` column blocks shared out (or, few_blocks, every thread packing
            // every group for its own panels): no thread waits for another until the end. The
            // groups left over when they do not divide among the threads (the last one usually
            // partial) are shared by panels too.
            float* bp = prepacked ? nullptr : scratch + t * kGroup * block;
            const int64_t groups = (chunks + group - 1) / group;
            const int64_t whole = few_blocks ? 0 : groups - groups % nt;
            const auto one_group = [&](int64_t g, int q0, int q1) {
                sweep(g * group, std::min(chunks, (g + 1) * group), q0, q1, bp, false);
            };
#pragma omp for schedule(static) nowait
            for (int64_t g = 0; g < whole; ++g) one_group(g, 0, panels);
            for (int64_t g = whole; g < groups; ++g) one_group(g, p0, p1);
        }
    }
}

// run<A, kAvx512> for the activation known only at run time.
template <bool kAvx512>
void run_act(int m, int64_t n, int k, const float* packed_a, const float* b, int64_t ldb, const float* bias, Act act,
             float* c, int64_t ldc, const float* res, float* scratch, int threads, const Prologue* pre,
             const float* pb, const BSource* src) {
#define ESM_RUN(A) run<A, kAvx512>(m, n, k, packed_a, b, ldb, bias, c, ldc, res, scratch, threads, pre, pb, src)
    switch (act) {
        case Act::ReLU: return ESM_RUN(Act::ReLU);
        case Act::HSwish: return ESM_RUN(Act::HSwish);
        case Act::HSigmoid: return ESM_RUN(Act::HSigmoid);
        default: return ESM_RUN(Act::None);
    }
#undef ESM_RUN
}

// Every 48-column block of B packed as run() packs it, block i at pb + i K 48.
ESM_AVX512 void pack_b_all512(const float* b, int64_t ldb, int kdim, int64_t n, const Prologue* pre, float* pb) {
    for (int64_t n0 = 0; n0 < n; n0 += 16 * kNvMax, pb += int64_t(kdim) * 16 * kNvMax)
        pack_block(b, ldb, kdim, n, n0, pre, pb);
}

ESM_AVX2 void pack_b_all256(const float* b, int64_t ldb, int kdim, int64_t n, const Prologue* pre, float* pb) {
    for (int64_t n0 = 0; n0 < n; n0 += 16 * kNvMax, pb += int64_t(kdim) * 16 * kNvMax)
        pack_block2(b, ldb, kdim, n, n0, pre, pb);
}

}  // namespace
#endif

int64_t packed_gemm_b_floats(int k, int64_t n) {
    const int64_t block = 16 * kNvMax;
    return int64_t(k) * ((n + block - 1) / block) * block;
}

void packed_gemm_pack_b(const float* b, int64_t ldb, int k, int64_t n, const Prologue* pre, float* packed_b) {
#if defined(ESM_X86_SIMD)
    (cpu_has_avx512() ? pack_b_all512 : pack_b_all256)(b, ldb, k, n, pre, packed_b);
#else
    (void)b, (void)ldb, (void)k, (void)n, (void)pre, (void)packed_b;
#endif
}

void packed_gemm_prepacked(int m, int64_t n, int k, const float* packed_a, const float* packed_b, const float* bias,
                           Act act, float* c, int64_t ldc) {
#if defined(ESM_X86_SIMD)
    (cpu_has_avx512() ? run_act<true> : run_act<false>)(m, n, k, packed_a, nullptr, 0, bias, act, c, ldc, nullptr,
                                                        nullptr, 1, nullptr, packed_b, nullptr);
#else
    (void)m, (void)n, (void)k, (void)packed_a, (void)packed_b, (void)bias, (void)act, (void)c, (void)ldc;
#endif
}

void packed_gemm_from(int m, int64_t n, int k, const float* packed_a, const BSource& b, const float* bias, Act act,
                      float* c, int64_t ldc, float* scratch, int threads, const float* res) {
#if defined(ESM_X86_SIMD)
    (cpu_has_avx512() ? run_act<true> : run_act<false>)(m, n, k, packed_a, nullptr, 0, bias, act, c, ldc, res, scratch,
                                                        threads, nullptr, nullptr, &b);
#else
    (void)m, (void)n, (void)k, (void)packed_a, (void)b, (void)bias, (void)act, (void)c, (void)ldc, (void)scratch,
        (void)threads, (void)res;
#endif
}

void packed_gemm(int m, int64_t n, int k, const float* packed_a, const float* b, int64_t ldb, const float* bias,
                 Act act, float* c, int64_t ldc, float* scratch, int threads, const Prologue* pre, const float* res) {
#if defined(ESM_X86_SIMD)
    (cpu_has_avx512() ? run_act<true> : run_act<false>)(m, n, k, packed_a, b, ldb, bias, act, c, ldc, res, scratch,
                                                        threads, pre, nullptr, nullptr);
#else
    // packed_gemm_suits() is false without AVX-512 or AVX2: never called
    (void)m, (void)n, (void)k, (void)packed_a, (void)b, (void)ldb, (void)bias, (void)act, (void)c, (void)ldc,
        (void)scratch, (void)threads, (void)pre, (void)res;
#endif
}

}  // namespace esm::cpu
