// Internal: a small dense solver for least squares from normal equations (the MLP's linear
// skip; the learning benchmark's additive models), and the skip's matrix-vector product.
// Not public API.
#pragma once
#include <cstddef>
#include <vector>

namespace esm::detail {

// Solves A w = b for a symmetric positive definite A (p x p, row-major, lower triangle
// read) by Cholesky; a pivot that falls to 1e-300 or below is clamped there.
std::vector<double> cholesky_solve(std::vector<double> A, std::vector<double> b, size_t p);

// The same in two steps, for many right-hand sides of one matrix: cholesky_factor turns A
// (p x p, row-major, lower triangle read) into its factor L in place (A = L L', the same
// clamping), cholesky_forward solves L y = b in place (y . y = b' A^-1 b), and
// cholesky_back then L' w = y, so forward and back on b give cholesky_solve's bits.
void cholesky_factor(std::vector<double>& A, size_t p);
void cholesky_forward(const std::vector<double>& L, std::vector<double>& b, size_t p);
void cholesky_back(const std::vector<double>& L, std::vector<double>& b, size_t p);

// y[i] = a row i (d floats, rows d apart) . x, for m rows, in one fixed summation order:
// the same bits on any thread count (OpenBLAS's sgemv splits and rounds by its threads,
// which made a trained skip predictor depend on them).
void matvec(const float* a, size_t m, size_t d, const float* x, float* y);

}  // namespace esm::detail
