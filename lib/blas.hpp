// Internal: the one place libesm calls a BLAS or asks OpenMP for a thread number, so a
// build without OpenBLAS (ESM_OPENBLAS=OFF: a plain built-in GEMM) or without OpenMP
// (ESM_OPENMP=OFF: one thread) still works. Not public API; kernels include it.
#pragma once
#ifdef _OPENMP
#include <omp.h>
#endif

namespace esm::blas {

// Row-major C(m, n) = alpha * op(A) op(B) + beta * C with op(A) (m, k) and op(B) (k, n);
// A is (k, m) when trans_a, B is (n, k) when trans_b. Calls OpenBLAS when built with it.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc);
// y (m) = A (m, n) x, row-major A: a matrix-vector product reads A once, unpacked.
void sgemv(int m, int n, const float* a, int lda, const float* x, float* y);
// Threads of the BLAS's own pool (a no-op for the built-in GEMM, which is single-threaded).
void set_threads(int n);
// "Haswell", "Cooperlake", ... (OpenBLAS's kernel for this CPU), or "builtin".
const char* core_name();
// Whether this build calls OpenBLAS.
bool is_openblas();

}  // namespace esm::blas

namespace esm {

// The calling thread's number inside an OpenMP parallel region (0 without OpenMP).
inline int omp_thread_num() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

inline int omp_num_threads() {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

}  // namespace esm
