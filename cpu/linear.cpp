// Fully connected layer: one SGEMM (batch rows x weight^T) then bias + activation.
// Not a conv (1x1 convs are GEMMs in cpu/conv.cpp).
#include "kernels.hpp"

namespace esm::cpu {

void linear(const TensorView& in, const TensorView& out, const float* w, const float* bias, Act a, int threads) {
    // in: (B, F) rows with stride in.batch_stride; out: (B, O) rows with stride out.batch_stride.
    sgemm(true, in.n, out.c, in.c, in.data, static_cast<int>(in.batch_stride), w, in.c, out.data,
          static_cast<int>(out.batch_stride), threads);
    bias_act(out, bias, a, threads);
}

}  // namespace esm::cpu
