// The trained MLP packed for inference: every hidden layer's weights transposed to
// (in, out) and zero-padded to whole vectors, run row tile by row tile with the three
// layers fused (bias + ReLU in registers, activations never leave L1). AVX-512 or AVX2+FMA
// kernels chosen at run time (the build targets baseline x86-64); elsewhere, or for a
// network the kernels do not cover, the plain Mlp::forward over cblas_sgemm.
// Internal: Predictor uses it; not part of the public API.
#pragma once
#include <cstddef>
#include <vector>

#include "esm/mlp.hpp"

namespace esm::detail {

enum class MlpIsa { Generic, Avx2, Avx512 };

// The packed weights (read by the kernels).
struct PackedMlp {
    int inputs = 0;                // x row length (unpadded)
    std::vector<int> width;        // padded output width of each hidden layer
    std::vector<size_t> w_off, b_off;  // per hidden layer: (in_padded, width) weights, (width) bias
    size_t last_w = 0;             // output layer weights, padded like its input
    float last_b = 0;
    int max_width = 0;
    std::vector<float> data;
};

class FusedMlp {
public:
    FusedMlp() = default;
    // `isa` Generic forces the fallback; a vector ISA the CPU lacks falls back as well.
    explicit FusedMlp(const Mlp& net, MlpIsa isa = best_isa());
    static MlpIsa best_isa();
    MlpIsa isa() const { return isa_; }
    // y: (n) = net(x), x: (n, inputs) row-major. Allocates only per-thread scratch, once.
    void forward(const float* x, size_t n, float* y) const;

private:
    Mlp net_;  // the fallback
    PackedMlp packed_;
    MlpIsa isa_ = MlpIsa::Generic;
};

}  // namespace esm::detail
