// Internal: a small dense solver for least squares from normal equations (the MLP's linear
// skip; the learning benchmark's additive models). Not public API.
#pragma once
#include <cstddef>
#include <vector>

namespace esm::detail {

// Solves A w = b for a symmetric positive definite A (p x p, row-major, lower triangle
// read) by Cholesky; a pivot that falls to 1e-300 or below is clamped there.
std::vector<double> cholesky_solve(std::vector<double> A, std::vector<double> b, size_t p);

}  // namespace esm::detail
