// Small dense linear algebra (lib/linalg.hpp).
#include "linalg.hpp"

#include <cmath>

namespace esm::detail {

void cholesky_factor(std::vector<double>& A, size_t p) {
    for (size_t j = 0; j < p; ++j) {
        for (size_t k = 0; k < j; ++k) {
            double s = A[j * p + k];
            for (size_t m = 0; m < k; ++m) s -= A[j * p + m] * A[k * p + m];
            A[j * p + k] = s / A[k * p + k];
        }
        double s = A[j * p + j];
        for (size_t m = 0; m < j; ++m) s -= A[j * p + m] * A[j * p + m];
        A[j * p + j] = std::sqrt(s > 1e-300 ? s : 1e-300);
    }
}

void cholesky_forward(const std::vector<double>& L, std::vector<double>& b, size_t p) {
    for (size_t j = 0; j < p; ++j) {
        for (size_t m = 0; m < j; ++m) b[j] -= L[j * p + m] * b[m];
        b[j] /= L[j * p + j];
    }
}

void cholesky_back(const std::vector<double>& L, std::vector<double>& b, size_t p) {
    for (size_t j = p; j-- > 0;) {
        for (size_t m = j + 1; m < p; ++m) b[j] -= L[m * p + j] * b[m];
        b[j] /= L[j * p + j];
    }
}

std::vector<double> cholesky_solve(std::vector<double> A, std::vector<double> b, size_t p) {
    cholesky_factor(A, p);
    cholesky_forward(A, b, p);
    cholesky_back(A, b, p);
    return b;
}

void matvec(const float* a, size_t m, size_t d, const float* x, float* y) {
    constexpr size_t W = 8;  // independent partial sums, reduced pairwise at the end
    const size_t d8 = d - d % W;
    for (size_t i = 0; i < m; ++i) {
        const float* r = a + i * d;
        float acc[W] = {};
        for (size_t j = 0; j < d8; j += W)
            for (size_t k = 0; k < W; ++k) acc[k] += r[j + k] * x[j + k];
        for (size_t j = d8; j < d; ++j) acc[j - d8] += r[j] * x[j];
        y[i] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    }
}

}  // namespace esm::detail
