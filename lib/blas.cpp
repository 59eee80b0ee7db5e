// esm::blas over OpenBLAS's cblas_sgemm and cblas_sgemv, or (ESM_OPENBLAS=OFF) a plain cache-blocked GEMM
// for the smallest images. The fallback favours simplicity over speed: see docs/executor.md.
#include "blas.hpp"

#ifdef ESM_HAVE_OPENBLAS
#include <cblas.h>
#else
#include <algorithm>
#endif

namespace esm::blas {

#ifdef ESM_HAVE_OPENBLAS

void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
           float beta, float* c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
                ldb, beta, c, ldc);
}
void sgemv(int m, int n, const float* a, int lda, const float* x, float* y) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, 1.0f, a, lda, x, 1, 0.0f, y, 1);
}
void set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
const char* core_name() {
    const char* c = openblas_get_corename();
    return c ? c : "unknown";
}
bool is_openblas() { return true; }

#else

// C = alpha * op(A) op(B) + beta * C, row-major. op(B) is copied panel by panel into a
// small stack buffer (no heap: executors must not allocate in run()); the i-p-j loop order
// keeps the inner loop contiguous so the compiler vectorises it.
void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
           float beta, float* c, int ldc) {
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    if (k == 0 || alpha == 0.f) return;
    constexpr int kBlockK = 64, kBlockN = 256;
    alignas(64) float bp[kBlockK * kBlockN];  // a (kb, nb) panel of op(B), row-major: 64 KiB
    for (int p0 = 0; p0 < k; p0 += kBlockK) {
        const int kb = std::min(kBlockK, k - p0);
        for (int j0 = 0; j0 < n; j0 += kBlockN) {
            const int nb = std::min(kBlockN, n - j0);
            for (int p = 0; p < kb; ++p)
                for (int j = 0; j < nb; ++j)
                    bp[static_cast<size_t>(p) * nb + j] = tb ? b[(j0 + j) * ldb + p0 + p] : b[(p0 + p) * ldb + j0 + j];
            for (int i = 0; i < m; ++i) {
                float* ci = c + i * ldc + j0;
                for (int p = 0; p < kb; ++p) {
                    const float av = alpha * (ta ? a[(p0 + p) * lda + i] : a[i * lda + p0 + p]);
                    if (av == 0.f) continue;
                    const float* bpr = bp + static_cast<size_t>(p) * nb;
                    for (int j = 0; j < nb; ++j) ci[j] += av * bpr[j];
                }
            }
        }
    }
}
void sgemv(int m, int n, const float* a, int lda, const float* x, float* y) {
    for (int i = 0; i < m; ++i) {
        float acc = 0.f;
        for (int j = 0; j < n; ++j) acc += a[i * lda + j] * x[j];
        y[i] = acc;
    }
}
void set_threads(int) {}
const char* core_name() { return "builtin"; }
bool is_openblas() { return false; }

#endif

}  // namespace esm::blas
