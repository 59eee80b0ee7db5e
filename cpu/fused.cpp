// An inverted residual's expansion (a 1x1 stride-1 conv on packed_gemm) and the depthwise
// conv that alone reads its output, run together in chunks of expanded channels: each
// chunk's planes are computed into a per-thread buffer small enough to stay in L2 and the
// depthwise conv consumes them there. Run apart, the expanded tensor (e.g. 96 x 112 x 112
// floats, 4.8 MB) is written out to L3 by the GEMM and read back by the depthwise conv's
// padded copy, both at the rate of memory, not of the FMAs.
#include "blas.hpp"
#include "kernels.hpp"

namespace esm::cpu {

namespace {

constexpr int64_t kChunkFloats = 128 * 1024;  // 512 KiB of expanded planes per thread

int chunk_channels(int m, int64_t n) {
    const int64_t c = std::max<int64_t>(1, kChunkFloats / n) / 8 * 8;
    return static_cast<int>(std::min<int64_t>(std::max<int64_t>(8, c), (m + 7) / 8 * 8));
}

struct Parts {
    int cc;                                  // channels per chunk (a multiple of 8: whole A panels)
    int64_t packed_b, mid, dw, per_thread;  // floats: B packed once; per thread chunk planes, padded planes
};

Parts parts(const TensorView& mid, const TensorView& out, int k_in, const ConvShape& dw) {
    Parts p;
    p.cc = chunk_channels(mid.c, mid.plane());
    p.packed_b = (packed_gemm_b_floats(k_in, mid.plane()) + 15) / 16 * 16;
    p.mid = (p.cc * mid.plane() + 15) / 16 * 16;
    p.dw = (depthwise_scratch_floats(out, dw, 1) + 15) / 16 * 16;
    p.per_thread = p.mid + p.dw;
    return p;
}

}  // namespace

bool expand_depthwise_worth(const TensorView& mid) {
    // Below ~1 MiB per sample the expanded tensor stays in L2 anyway, and the separate ops
    // share their work between threads more evenly.
    return mid.sample_size() * int64_t(sizeof(float)) >= (int64_t(1) << 20);
}

int64_t expand_depthwise_scratch_floats(const TensorView& mid, const TensorView& out, int k_in, const ConvShape& dw,
                                        int threads) {
    const Parts p = parts(mid, out, k_in, dw);
    return p.packed_b + int64_t(threads) * p.per_thread;
}

void expand_depthwise(const TensorView& in, const TensorView& mid, const TensorView& out, const float* packed_a,
                      const float* bias, Act act, const Prologue* pre, const float* dw_w, const float* dw_bias,
                      const ConvShape& dw, float* scratch, int threads) {
    const Parts p = parts(mid, out, in.c, dw);
    const int m = mid.c, kk = dw.k * dw.k, chunks = (m + p.cc - 1) / p.cc;
    const int64_t n = mid.plane();
    [[maybe_unused]] const int team = threads > 1 && chunks > 1 ? threads : 1;  // (unused without OpenMP)
    float* packed_b = scratch;
    for (int b = 0; b < in.n; ++b) {
        // B (the input planes) packed once for every chunk of output channels.
        packed_gemm_pack_b(in.channel(b, 0), in.plane(), in.c, n, pre, packed_b);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
        for (int i = 0; i < chunks; ++i) {
            const int c0 = i * p.cc, rows = std::min(p.cc, m - c0);
            float* buf = scratch + p.packed_b + omp_thread_num() * p.per_thread;
            packed_gemm_prepacked(rows, n, in.c, packed_a + int64_t(c0) * in.c, packed_b, bias + c0, act, buf, n);
            const TensorView chunk{buf, 1, rows, mid.h, mid.w, rows * n};
            const TensorView dst{out.channel(b, c0), 1, rows, out.h, out.w, out.batch_stride};
            conv_depthwise(chunk, dst, dw_w + int64_t(c0) * kk, dw_bias + c0, dw, buf + p.mid, 1);
        }
    }
}

}  // namespace esm::cpu
