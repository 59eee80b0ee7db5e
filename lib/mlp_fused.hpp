// The trained MLP packed for inference: every hidden layer's weights transposed to
// (in, out) and zero-padded to whole vectors, run row tile by row tile with the three
// layers fused (bias + ReLU in registers, activations never leave L1). AVX-512 or AVX2+FMA
// kernels chosen at run time (the build targets baseline x86-64); elsewhere, or for a
// network the kernels do not cover, the plain Mlp::forward over cblas_sgemm. Also the small
// GEMM and transpose the MLP's training runs on (same ISAs, same fallback).
// Internal: Predictor and Mlp use it; not part of the public API.
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

// The small GEMM training runs on (lib/mlp_train_kernel.inc): c (rows, cols) =
// epilogue(A (rows, K) * B (K, cols) + bias), A(r, k) = a[r * ars + k * aks] (so A may be a
// transposed view), B and c row-major; bias (cols) or null for zero; KeepPositive zeroes c
// where m (rows, cols, row stride ldm) is not > 0 (the ReLU's derivative). Each element adds
// its K products in order, bias first.
enum class GemmEpilogue { None, Relu, KeepPositive };
struct GemmArgs {
    GemmEpilogue epilogue = GemmEpilogue::None;
    int rows = 0, cols = 0, K = 0;
    const float* a = nullptr;
    size_t ars = 0, aks = 0;
    const float* b = nullptr;
    size_t ldb = 0;
    const float* bias = nullptr;
    const float* m = nullptr;
    size_t ldm = 0;
    float* c = nullptr;
    size_t ldc = 0;
};
// Runs g on `isa`'s kernel and returns true; false (nothing done) for Generic or an ISA this
// CPU lacks: the caller uses BLAS.
bool small_gemm(MlpIsa isa, const GemmArgs& g);
// dst (cols, rows) = src (rows, cols)^T on `isa`'s kernel; false as small_gemm.
bool transpose(MlpIsa isa, const float* src, int rows, int cols, float* dst);

}  // namespace esm::detail
