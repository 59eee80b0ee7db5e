// Fully connected layer: one SGEMM (batch rows x weight^T), or SGEMVs for a few rows, then
// bias + activation.
// Not a conv (1x1 convs are GEMMs in cpu/conv.cpp).
#include "blas.hpp"
#include "kernels.hpp"

namespace esm::cpu {

void linear(const TensorView& in, const TensorView& out, const float* w, const float* bias, Act a, int threads) {
    // in: (B, F) rows with stride in.batch_stride; out: (B, O) rows with stride out.batch_stride.
    if (in.n <= 4) {
        // A few rows: matrix-vector products read the weights once, where SGEMM would first
        // repack all of them (MobileNetV3's 960x1280 and 1280x1000 heads: a quarter of a
        // batch-1 run). Output rows split over the threads.
        const int parts = threads > 1 && parallel_worth(int64_t(out.c) * in.c) ? threads : 1;
#pragma omp parallel for num_threads(parts) if (parts > 1) schedule(static)
        for (int t = 0; t < parts; ++t) {
            const int step = (out.c + parts - 1) / parts;
            const int o0 = std::min(out.c, t * step), o1 = std::min(out.c, o0 + step);
            if (o1 <= o0) continue;
            for (int b = 0; b < in.n; ++b)
                blas::sgemv(o1 - o0, in.c, w + int64_t(o0) * in.c, in.c, in.data + b * in.batch_stride,
                            out.data + b * out.batch_stride + o0);
        }
    } else {
        sgemm(true, in.n, out.c, in.c, in.data, static_cast<int>(in.batch_stride), w, in.c, out.data,
              static_cast<int>(out.batch_stride), threads);
    }
    bias_act(out, bias, a, threads);
}

}  // namespace esm::cpu
