// Small dense linear algebra (lib/linalg.hpp).
#include "linalg.hpp"

#include <cmath>

namespace esm::detail {

std::vector<double> cholesky_solve(std::vector<double> A, std::vector<double> b, size_t p) {
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
    for (size_t j = 0; j < p; ++j) {
        for (size_t m = 0; m < j; ++m) b[j] -= A[j * p + m] * b[m];
        b[j] /= A[j * p + j];
    }
    for (size_t j = p; j-- > 0;) {
        for (size_t m = j + 1; m < p; ++m) b[j] -= A[m * p + j] * b[m];
        b[j] /= A[j * p + j];
    }
    return b;
}

}  // namespace esm::detail
