// MLP forward/backward over cblas_sgemm, Adam, and the training loop with standardisation,
// mini-batches and early stopping. Single-precision parameters, double-precision losses.
#include "blas.hpp"
#include "esm/mlp.hpp"


#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define ESM_ADAM_AVX 1
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "esm/common.hpp"
#include "esm/rng.hpp"
#include "flush_denormals.hpp"
#include "linalg.hpp"
#include "mlp_fused.hpp"

namespace esm {

void set_blas_threads(int n) { blas::set_threads(n); }

namespace {

size_t layout(const std::vector<int>& sizes, std::vector<size_t>* offsets) {
    size_t off = 0;
    offsets->clear();
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
        offsets->push_back(off);
        off += static_cast<size_t>(sizes[l]) * static_cast<size_t>(sizes[l + 1]) + static_cast<size_t>(sizes[l + 1]);
    }
    return off;
}

// The linear skip: ridge least squares of t on the standardised rows z (D columns), each row
// weighted by w (empty: all 1): the first n_tr rows train, the next n_val validate.
// With zc, tc the rows centred on their weighted training means,
// skip = (Zc' W Zc + lambda sum(w) I)^-1 Zc' W tc, lambda from {1e-5, ..., 1} chosen by the
// validation rows' weighted squared error (1e-4 without validation rows), stored in *ridge.
// *intercept receives what the fit adds to t_mean: mean_w(t) - t_mean - skip . mean_w(z)
// (0 without weights).
// t: (n_tr + n_val), in the rows' order.
std::vector<float> fit_skip(const float* z, const double* t, const std::vector<float>& w, double t_mean, size_t n_tr,
                            size_t n_val, size_t D, double* ridge, double* intercept) {
    auto wt = [&](size_t r) { return w.empty() ? 1.0 : static_cast<double>(w[r]); };
    // Without weights z is centred on the training rows already and mean(t) is t_mean.
    std::vector<double> zbar(D, 0);
    double tbar = t_mean, sw = static_cast<double>(n_tr);
    if (!w.empty()) {
        tbar = sw = 0;
        for (size_t r = 0; r < n_tr; ++r) {
            sw += wt(r);
            tbar += wt(r) * t[r];
            for (size_t j = 0; j < D; ++j) zbar[j] += wt(r) * z[r * D + j];
        }
        tbar /= sw;
        for (double& v : zbar) v /= sw;
    }
    std::vector<double> G(D * D, 0), c(D, 0), zc(D);
    for (size_t r = 0; r < n_tr; ++r) {
        const double tr = t[r] - tbar, wr = wt(r);
        for (size_t j = 0; j < D; ++j) zc[j] = z[r * D + j] - zbar[j];
        for (size_t j = 0; j < D; ++j) {
            c[j] += wr * zc[j] * tr;
            for (size_t k = 0; k <= j; ++k) G[j * D + k] += wr * zc[j] * zc[k];
        }
    }
    const std::vector<double> grid = n_val > 0 ? std::vector<double>{1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1} : std::vector<double>{1e-4};
    std::vector<double> best;
    double best_err = INFINITY;
    for (double lambda : grid) {
        std::vector<double> A = G;
        for (size_t j = 0; j < D; ++j) A[j * D + j] += lambda * sw;
        std::vector<double> v = detail::cholesky_solve(std::move(A), c, D);
        double err = 0;
        for (size_t r = n_tr; r < n_tr + n_val; ++r) {
            double e = t[r] - tbar;
            for (size_t j = 0; j < D; ++j) e -= v[j] * (z[r * D + j] - zbar[j]);
            err += wt(r) * e * e;
        }
        if (best.empty() || err < best_err) best = std::move(v), best_err = err, *ridge = lambda;
    }
    *intercept = tbar - t_mean;
    for (size_t j = 0; j < D; ++j) *intercept -= best[j] * zbar[j];
    return std::vector<float>(best.begin(), best.end());
}

// Fine-tuning's linear correction: e ~ c + d . z by weighted ridge least squares over the
// n rows z (D columns), e: (n), weights w (empty: all 1); the intercept is not penalised.
// The ridge lambda * sum(w) comes from {1e-3, ..., 1e3}, or no correction at all (d = 0,
// c = 0), whichever has the smallest weighted leave-one-out error, computed exactly from
// the hat matrix's diagonal (r_i / (1 - h_ii)): no rows are held out of the fit. Returns
// the lambda chosen (0: no correction) and fills *d (D) and *c.
double fit_correction(const float* z, const std::vector<double>& e, const std::vector<float>& w, size_t n, size_t D,
                      std::vector<double>* d, double* c) {
    auto wt = [&](size_t r) { return w.empty() ? 1.0 : static_cast<double>(w[r]); };
    const size_t P = D + 1;  // the intercept first
    double sw = 0, best = 0;
    std::vector<double> G(P * P, 0), b(P, 0), xi(P);
    for (size_t r = 0; r < n; ++r) {
        xi[0] = 1;
        for (size_t j = 0; j < D; ++j) xi[j + 1] = z[r * D + j];
        for (size_t j = 0; j < P; ++j) {
            b[j] += wt(r) * xi[j] * e[r];
            for (size_t k = 0; k <= j; ++k) G[j * P + k] += wt(r) * xi[j] * xi[k];
        }
        sw += wt(r);
        best += wt(r) * e[r] * e[r];
    }
    double chosen = 0;
    d->assign(D, 0);
    *c = 0;
    for (double lambda : {1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0}) {
        // One factorisation per lambda: a row's leverage x' A^-1 x is |L^-1 x|^2, a
        // forward solve (p^2), where solving A s = x for every row refactorised A each time
        // (p^3 a row: 130 s for 700 rows of a 600-feature encoding, 5 s to train anew).
        std::vector<double> A = G;
        for (size_t j = 1; j < P; ++j) A[j * P + j] += lambda * sw;
        detail::cholesky_factor(A, P);
        std::vector<double> beta = b;
        detail::cholesky_forward(A, beta, P);
        detail::cholesky_back(A, beta, P);
        double loo = 0;
        for (size_t r = 0; r < n && loo < best; ++r) {
            xi[0] = 1;
            for (size_t j = 0; j < D; ++j) xi[j + 1] = z[r * D + j];
            double h = 0, f = 0;
            for (size_t j = 0; j < P; ++j) f += xi[j] * beta[j];
            detail::cholesky_forward(A, xi, P);  // xi becomes L^-1 x
            for (size_t j = 0; j < P; ++j) h += xi[j] * xi[j];
            const double res = (e[r] - f) / (1 - wt(r) * h);
            loo += wt(r) * res * res;
        }
        if (loo < best) {
            best = loo;
            chosen = lambda;
            *c = beta[0];
            d->assign(beta.begin() + 1, beta.end());
        }
    }
    return chosen;
}

}  // namespace

Mlp::Mlp(int inputs, const std::vector<int>& hidden, uint64_t seed) {
    if (inputs < 1 || inputs > 1 << 20)
        throw Error(ErrorKind::InvalidArgument, "mlp: inputs must be 1..1048576, got " + std::to_string(inputs));
    sizes_.push_back(inputs);
    for (int h : hidden) {
        if (h < 1 || h > 1 << 20)  // (what a predictor file holds: Predictor::parse)
            throw Error(ErrorKind::InvalidArgument, "mlp: hidden layer widths must be 1..1048576, got " + std::to_string(h));
        sizes_.push_back(h);
    }
    sizes_.push_back(1);
    // Counted in double before allocating: --hidden 65536,65536 asked for 4e9 floats and was
    // killed for memory; a predictor file holds at most 2^28 (Predictor::parse).
    double count = 0;
    for (size_t l = 0; l + 1 < sizes_.size(); ++l) count += (double(sizes_[l]) + 1) * double(sizes_[l + 1]);
    if (count > double(1 << 28)) {
        char msg[160];
        std::snprintf(msg, sizeof msg, "mlp: the network would have %.0f parameters; a predictor file holds at most %d",
                      count, 1 << 28);
        throw Error(ErrorKind::InvalidArgument, msg);
    }
    params_.assign(layout(sizes_, &offsets_), 0.f);
    Rng rng(seed);
    for (int l = 0; l < layers(); ++l) {
        const int in = sizes_[static_cast<size_t>(l)], out = sizes_[static_cast<size_t>(l) + 1];
        const double bound = 1.0 / std::sqrt(static_cast<double>(in));
        float* p = params_.data() + offsets_[static_cast<size_t>(l)];
        for (int i = 0; i < in * out + out; ++i) p[i] = static_cast<float>((2 * rng.uniform() - 1) * bound);
    }
}

Mlp::Mlp(const std::vector<int>& sizes, std::vector<float> params) : sizes_(sizes), params_(std::move(params)) {
    if (sizes_.size() < 2 || sizes_.back() != 1)
        throw Error(ErrorKind::Format, "mlp: layer sizes must list inputs, hidden widths and a final 1");
    for (int s : sizes_)
        if (s < 1 || s > 1 << 20) throw Error(ErrorKind::Format, "mlp: layer width " + std::to_string(s) + " out of range");
    const size_t want = layout(sizes_, &offsets_);
    if (want != params_.size())
        throw Error(ErrorKind::Format, "mlp: " + std::to_string(params_.size()) + " parameters given, layer sizes need " +
                                           std::to_string(want));
}

size_t Mlp::bias_offset(int layer) const {
    const size_t l = static_cast<size_t>(layer);
    return offsets_[l] + static_cast<size_t>(sizes_[l]) * static_cast<size_t>(sizes_[l + 1]);
}

// A workspace may be shared between networks of different shapes: sizes are checked, not rows.
void Mlp::reserve(Workspace& ws, size_t rows) const {
    size_t widths = 0, widest = 0;
    for (size_t l = 1; l < sizes_.size(); ++l) {
        widths += static_cast<size_t>(sizes_[l]);
        widest = std::max(widest, static_cast<size_t>(sizes_[l]));
    }
    widest = std::max(widest, static_cast<size_t>(sizes_[0]));
    if (ws.act.size() < rows * widths) ws.act.resize(rows * widths);
    if (ws.grad.size() < 2 * rows * widest) ws.grad.resize(2 * rows * widest);
    ws.rows = std::max(ws.rows, rows);
}

// Leaves every layer's output in ws.act: layer l (1-based) at rows * sum(widths before l).
void Mlp::forward_keep(const float* x, size_t n, Workspace& ws) const {
    reserve(ws, n);
    const detail::MlpIsa isa = detail::FusedMlp::best_isa();
    const float* a = x;
    float* z = ws.act.data();
    const int nl = layers();
    for (int l = 0; l < nl; ++l) {
        const int in = sizes_[static_cast<size_t>(l)], out = sizes_[static_cast<size_t>(l) + 1];
        const float* w = params_.data() + offsets_[static_cast<size_t>(l)];
        const float* b = params_.data() + bias_offset(l);
        const size_t o = static_cast<size_t>(out), i_ = static_cast<size_t>(in);
        const bool relu = l + 1 < nl;
        if (isa != detail::MlpIsa::Generic) {
            // z: (n, out) = relu(a: (n, in) * w^T + b) in one pass, w^T: (in, out) a copy
            // (the output layer's w, one row, is its own transpose)
            const float* wt = w;
            if (out > 1) {
                if (ws.wt.size() < i_ * o) ws.wt.resize(i_ * o);
                detail::transpose(isa, w, out, in, ws.wt.data());
                wt = ws.wt.data();
            }
            detail::GemmArgs g;
            g.epilogue = relu ? detail::GemmEpilogue::Relu : detail::GemmEpilogue::None;
            g.rows = static_cast<int>(n), g.cols = out, g.K = in;
            g.a = a, g.ars = i_, g.aks = 1;
            g.b = wt, g.ldb = o, g.bias = b;
            g.c = z, g.ldc = o;
            detail::small_gemm(isa, g);
        } else {
            // z: (n, out) = bias rows + a: (n, in) * w^T, w: (out, in) (beta = 1: no zeroing
            // pass of C inside OpenBLAS); then ReLU.
            for (size_t i = 0; i < n; ++i) std::memcpy(z + i * o, b, sizeof(float) * o);
            blas::sgemm(false, true, static_cast<int>(n), out, in, 1.f, a, in, w, in, 1.f, z, out);
            if (relu)
                for (size_t i = 0; i < n * o; ++i) z[i] = z[i] > 0.f ? z[i] : 0.f;
        }
        a = z;
        z += n * o;
    }
}

void Mlp::forward(const float* x, size_t n, float* y, Workspace& ws) const {
    if (n == 0) return;
    forward_keep(x, n, ws);
    size_t off = 0;
    for (int l = 1; l < layers(); ++l) off += n * static_cast<size_t>(sizes_[static_cast<size_t>(l)]);
    std::memcpy(y, ws.act.data() + off, sizeof(float) * n);
}

double Mlp::loss_grad(const float* x, const float* t, size_t n, float* g, Workspace& ws, const float* w) const {
    if (n == 0) throw Error(ErrorKind::InvalidArgument, "mlp: empty batch");
    forward_keep(x, n, ws);
    const detail::MlpIsa isa = detail::FusedMlp::best_isa();
    const int nl = layers();
    // Layer l's output is at the sum of n * sizes_[1..l] in ws.act; a_off walks back from the last.
    size_t a_off = 0;
    for (int l = 1; l < nl; ++l) a_off += n * static_cast<size_t>(sizes_[static_cast<size_t>(l)]);
    const float* yhat = ws.act.data() + a_off;
    float* dz = ws.grad.data();
    float* da = ws.grad.data() + ws.grad.size() / 2;
    double loss = 0;
    const double inv_n = 1.0 / static_cast<double>(n);
    for (size_t i = 0; i < n; ++i) {
        const double r = static_cast<double>(yhat[i]) - t[i], wr = w ? w[i] : 1.0;
        loss += wr * r * r;
        dz[i] = static_cast<float>(2.0 * wr * r * inv_n);
    }
    for (int l = nl - 1; l >= 0; --l) {
        const int in = sizes_[static_cast<size_t>(l)], out = sizes_[static_cast<size_t>(l) + 1];
        if (l > 0) a_off -= n * static_cast<size_t>(sizes_[static_cast<size_t>(l)]);
        const float* a = l == 0 ? x : ws.act.data() + a_off;
        float* gw = g + offsets_[static_cast<size_t>(l)];
        float* gb = g + bias_offset(l);
        // gw: (out, in) = dz^T: (out, n) * a: (n, in)
        detail::GemmArgs gg;
        gg.rows = out, gg.cols = in, gg.K = static_cast<int>(n);
        gg.a = dz, gg.ars = 1, gg.aks = static_cast<size_t>(out);
        gg.b = a, gg.ldb = static_cast<size_t>(in);
        gg.c = gw, gg.ldc = static_cast<size_t>(in);
        if (!detail::small_gemm(isa, gg))
            blas::sgemm(true, false, out, in, static_cast<int>(n), 1.f, dz, out, a, in, 0.f, gw, in);
        // gb: (out) = dz's column sums, as (1, out) = ones (1, n) * dz: (n, out)
        static const float one = 1.f;
        detail::GemmArgs gs;
        gs.rows = 1, gs.cols = out, gs.K = static_cast<int>(n);
        gs.a = &one, gs.ars = 0, gs.aks = 0;
        gs.b = dz, gs.ldb = static_cast<size_t>(out);
        gs.c = gb, gs.ldc = static_cast<size_t>(out);
        if (!detail::small_gemm(isa, gs)) {
            for (int j = 0; j < out; ++j) gb[j] = 0.f;
            for (size_t i = 0; i < n; ++i) {
                const float* row = dz + i * static_cast<size_t>(out);
                for (int j = 0; j < out; ++j) gb[j] += row[j];
            }
        }
        if (l == 0) break;
        const float* w = params_.data() + offsets_[static_cast<size_t>(l)];
        // da: (n, in) = dz: (n, out) * w: (out, in), then through the ReLU of layer l-1
        // (zero where its output a is not > 0)
        detail::GemmArgs gd;
        gd.epilogue = detail::GemmEpilogue::KeepPositive;
        gd.rows = static_cast<int>(n), gd.cols = in, gd.K = out;
        gd.a = dz, gd.ars = static_cast<size_t>(out), gd.aks = 1;
        gd.b = w, gd.ldb = static_cast<size_t>(in);
        gd.m = a, gd.ldm = static_cast<size_t>(in);
        gd.c = da, gd.ldc = static_cast<size_t>(in);
        if (!detail::small_gemm(isa, gd)) {
            blas::sgemm(false, false, static_cast<int>(n), in, out, 1.f, dz, out, w, in, 0.f, da, in);
            const size_t m = n * static_cast<size_t>(in);
            for (size_t i = 0; i < m; ++i) da[i] = a[i] > 0.f ? da[i] : 0.f;
        }
        std::swap(dz, da);
    }
    return loss * inv_n;
}

namespace {

struct AdamConsts {
    float b1, b2, c1, c2, lr, wd, eps;
};

#if defined(ESM_ADAM_AVX)
// Eight at a time when the CPU has AVX (chosen at run time; the build targets baseline x86-64).
// The same IEEE operations per element as the scalar and SSE paths (no FMA), so results do not
// depend on the path taken.
__attribute__((target("avx"))) size_t adam_avx(float* p, const float* g, float* m, float* v, size_t n,
                                               const AdamConsts& k) {
    const __m256 vb1 = _mm256_set1_ps(k.b1), vb2 = _mm256_set1_ps(k.b2), va1 = _mm256_set1_ps(1.f - k.b1),
                 va2 = _mm256_set1_ps(1.f - k.b2), vc1 = _mm256_set1_ps(k.c1), vc2 = _mm256_set1_ps(k.c2),
                 vlr = _mm256_set1_ps(k.lr), vwd = _mm256_set1_ps(k.wd), veps = _mm256_set1_ps(k.eps);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 pi = _mm256_loadu_ps(p + i);
        const __m256 gi = _mm256_add_ps(_mm256_loadu_ps(g + i), _mm256_mul_ps(vwd, pi));
        const __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(va1, gi));
        const __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(va2, gi), gi));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        const __m256 num = _mm256_mul_ps(vlr, _mm256_mul_ps(mi, vc1));
        const __m256 den = _mm256_add_ps(_mm256_sqrt_ps(_mm256_mul_ps(vi, vc2)), veps);
        _mm256_storeu_ps(p + i, _mm256_sub_ps(pi, _mm256_div_ps(num, den)));
    }
    return i;
}

const bool kHaveAvx = __builtin_cpu_supports("avx");
#endif

}  // namespace

Adam::Adam(size_t n, double lr, double weight_decay, double beta1, double beta2, double eps)
    : m_(n, 0.f), v_(n, 0.f), lr_(lr), wd_(weight_decay), b1_(beta1), b2_(beta2), eps_(eps) {}

void Adam::step(float* params, const float* grad) {
    ++t_;
    const float b1 = static_cast<float>(b1_), b2 = static_cast<float>(b2_);
    const float c1 = static_cast<float>(1.0 / (1.0 - std::pow(b1_, static_cast<double>(t_))));
    const float c2 = static_cast<float>(1.0 / (1.0 - std::pow(b2_, static_cast<double>(t_))));
    const float lr = static_cast<float>(lr_), wd = static_cast<float>(wd_), eps = static_cast<float>(eps_);
    const size_t n = m_.size();
    float* __restrict m = m_.data();
    float* __restrict v = v_.data();
    float* __restrict p = params;
    const float* __restrict g = grad;
    size_t i = 0;
#if defined(ESM_ADAM_AVX)
    if (kHaveAvx) i = adam_avx(p, g, m, v, n, AdamConsts{b1, b2, c1, c2, lr, wd, eps});
#endif
#if defined(__SSE2__)
    // Same arithmetic four at a time: the scalar sqrt's errno path blocks auto-vectorisation.
    const __m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), va1 = _mm_set1_ps(1.f - b1), va2 = _mm_set1_ps(1.f - b2);
    const __m128 vc1 = _mm_set1_ps(c1), vc2 = _mm_set1_ps(c2), vlr = _mm_set1_ps(lr), vwd = _mm_set1_ps(wd),
                 veps = _mm_set1_ps(eps);
    for (; i + 4 <= n; i += 4) {  // the remainder after AVX, or everything without it
        const __m128 pi = _mm_loadu_ps(p + i);
        const __m128 gi = _mm_add_ps(_mm_loadu_ps(g + i), _mm_mul_ps(vwd, pi));
        const __m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)), _mm_mul_ps(va1, gi));
        const __m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(va2, gi), gi));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        const __m128 num = _mm_mul_ps(vlr, _mm_mul_ps(mi, vc1));
        const __m128 den = _mm_add_ps(_mm_sqrt_ps(_mm_mul_ps(vi, vc2)), veps);
        _mm_storeu_ps(p + i, _mm_sub_ps(pi, _mm_div_ps(num, den)));
    }
#endif
    for (; i < n; ++i) {
        const float gi = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1.f - b1) * gi;
        v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
        p[i] -= lr * (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
    }
}

void MlpModel::predict(const float* x, size_t n, float* latency) const {
    const detail::FlushDenormals ftz;
    constexpr size_t kChunk = 512;
    const size_t d = static_cast<size_t>(inputs());
    Mlp::Workspace ws;
    net.reserve(ws, std::min(n, kChunk));
    std::vector<float> xs(std::min(n, kChunk) * d), lin(skip.empty() ? 0 : std::min(n, kChunk));
    for (size_t s = 0; s < n; s += kChunk) {
        const size_t m = std::min(kChunk, n - s);
        const float* xi = x + s * d;
        for (size_t i = 0; i < m; ++i)
            for (size_t j = 0; j < d; ++j) xs[i * d + j] = (xi[i * d + j] - x_mean[j]) * x_inv_std[j];
        net.forward(xs.data(), m, latency + s, ws);
        if (!skip.empty()) detail::matvec(xs.data(), m, d, skip.data(), lin.data());
        to_latency(latency + s, m, skip.empty() ? nullptr : lin.data());
    }
}

void MlpModel::to_latency(float* y, size_t n, const float* lin) const {
    const float ys = static_cast<float>(y_std), ym = static_cast<float>(y_mean);
    for (size_t i = 0; i < n; ++i) y[i] = y[i] * ys + ym + (lin ? lin[i] : 0.f);
    if (log_target)
        for (size_t i = 0; i < n; ++i) y[i] = std::exp(y[i]);
}

double MlpModel::predict_one(const float* x) const {
    float y = 0;
    predict(x, 1, &y);
    return y;
}

MlpModel train_mlp(const float* x, const float* y, size_t n, int d, const MlpOptions& opt, TrainReport* report) {
    if (n < 2) throw Error(ErrorKind::InvalidArgument, "train: need at least 2 samples, got " + std::to_string(n));
    if (d < 1) throw Error(ErrorKind::InvalidArgument, "train: encoding has no features");
    // Written so that NaN fails every test: a NaN validation share became a row count near
    // 2^63 (heap corruption), a NaN or infinite lr or weight decay an untrained network.
    if (opt.epochs < 1 || opt.batch_size < 1 || !(opt.lr > 0 && std::isfinite(opt.lr)) ||
        !(opt.weight_decay >= 0 && std::isfinite(opt.weight_decay)) || !(opt.val_frac >= 0 && opt.val_frac < 1) ||
        opt.min_steps < 0) {
        char got[240];
        std::snprintf(got, sizeof got, " (got epochs %d, batch %d, lr %g, weight decay %g, validation share %g, minimum steps %ld)",
                      opt.epochs, opt.batch_size, opt.lr, opt.weight_decay, opt.val_frac, opt.min_steps);
        throw Error(ErrorKind::InvalidArgument, std::string("train: epochs, batch size and lr must be positive, minimum "
                                                            "steps and weight decay >= 0, lr and weight decay finite, the "
                                                            "validation share in [0, 1)") + got);
    }
    if (opt.relative_loss && opt.log_target)
        throw Error(ErrorKind::InvalidArgument, "train: the relative loss and the log target exclude each other (a log "
                                                "target's error is already relative)");
    const MlpModel* init = opt.init.get();
    if (init && (init->inputs() != d || init->log_target != opt.log_target || init->x_mean.size() != static_cast<size_t>(d)))
        throw Error(ErrorKind::InvalidArgument, "train: the model to fine-tune has " + std::to_string(init->inputs()) +
                                                    " inputs" + (init->log_target ? " and a log target" : "") + ", the rows " +
                                                    std::to_string(d) + (opt.log_target ? " and a log target" : "") +
                                                    " (another encoding, or another target kind)");
    const detail::FlushDenormals ftz;  // OpenBLAS runs in this thread (one BLAS thread)
    const size_t D = static_cast<size_t>(d);
    // A NaN feature made its column's mean NaN and the ReLUs (max(v, 0)) turned that into a
    // network that predicts one constant, trained without a complaint.
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < D; ++j)
            if (!std::isfinite(x[i * D + j]))
                throw Error(ErrorKind::InvalidArgument, "train: feature " + std::to_string(j) + " of row " +
                                                            std::to_string(i) + " is " + (std::isnan(x[i * D + j]) ? "nan" : "infinite") +
                                                            " (features must be finite)");
    MlpModel model;
    if (init) model = *init;
    model.log_target = opt.log_target;
    // Targets.
    std::vector<double> t(n);
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(y[i]) || ((opt.log_target || opt.relative_loss) && !(y[i] > 0)))
            throw Error(ErrorKind::InvalidArgument, "train: latency of row " + std::to_string(i) + " is " +
                                                        std::to_string(y[i]) +
                                                        (opt.log_target      ? " (log target needs > 0)"
                                                         : opt.relative_loss ? " (the relative loss needs > 0)"
                                                                             : ""));
        t[i] = opt.log_target ? std::log(static_cast<double>(y[i])) : y[i];
    }
    // Split: a seeded permutation; the first n_val rows validate.
    Rng rng(opt.seed ^ 0x5EEDull);
    std::vector<size_t> perm(n);
    for (size_t i = 0; i < n; ++i) perm[i] = i;
    for (size_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
    size_t n_val = static_cast<size_t>(std::floor(opt.val_frac * static_cast<double>(n)));
    if (opt.val_frac > 0 && n_val == 0) n_val = 1;
    if (n - n_val < 1) n_val = n - 1;
    const size_t n_tr = n - n_val;
    // Standardisation constants from the training rows only (fine-tuning keeps the model's).
    if (!init) {
        model.x_mean.assign(D, 0.f);
        model.x_inv_std.assign(D, 1.f);
        std::vector<double> s(D, 0), sq(D, 0);
        double ts = 0, tsq = 0;
        for (size_t r = n_val; r < n; ++r) {
            const float* row = x + perm[r] * D;
            for (size_t j = 0; j < D; ++j) {
                s[j] += row[j];
                sq[j] += static_cast<double>(row[j]) * row[j];
            }
            ts += t[perm[r]];
            tsq += t[perm[r]] * t[perm[r]];
        }
        const double m = static_cast<double>(n_tr);
        for (size_t j = 0; j < D; ++j) {
            const double mean = s[j] / m, var = sq[j] / m - mean * mean;
            model.x_mean[j] = static_cast<float>(mean);
            model.x_inv_std[j] = var > 1e-12 ? static_cast<float>(1.0 / std::sqrt(var)) : 1.f;
        }
        model.y_mean = ts / m;
        const double var = tsq / m - model.y_mean * model.y_mean;
        model.y_std = var > 1e-24 ? std::sqrt(var) : 1.0;
    }
    // Standardised copies in split order: training rows first, then validation; with the
    // relative loss, row weights 1 / latency^2, scaled to mean 1 over the training rows.
    std::vector<float> xs(n * D), ts(n), wv(opt.relative_loss ? n : 0);
    for (size_t r = 0; r < n; ++r) {
        const size_t dst = r < n_val ? n_tr + r : r - n_val;
        const float* row = x + perm[r] * D;
        for (size_t j = 0; j < D; ++j) xs[dst * D + j] = (row[j] - model.x_mean[j]) * model.x_inv_std[j];
        ts[dst] = static_cast<float>((t[perm[r]] - model.y_mean) / model.y_std);
        if (!wv.empty()) wv[dst] = static_cast<float>(1.0 / (t[perm[r]] * t[perm[r]]));
    }
    if (!wv.empty()) {
        const double mean = std::accumulate(wv.begin(), wv.begin() + static_cast<long>(n_tr), 0.0) / static_cast<double>(n_tr);
        for (float& v : wv) v = static_cast<float>(v / mean);
    }
    double skip_ridge = 0;
    if (init) {
        // The network learns what the given model's constant and skip leave, in its scale (a
        // residual standardised anew, with the last layer scaled to match, moved the network
        // away from what it knew: 91-97 % instead of 98.7-99.0 % on HELP's v100_bs64).
        std::vector<float> lin(n, 0.f);
        auto residuals = [&] {
            if (!model.skip.empty()) detail::matvec(xs.data(), n, D, model.skip.data(), lin.data());
            for (size_t r = 0; r < n; ++r) {
                const size_t dst = r < n_val ? n_tr + r : r - n_val;
                ts[dst] = static_cast<float>((t[perm[r]] - model.y_mean - lin[dst]) / model.y_std);
            }
        };
        residuals();
        if (n_tr > D + 1) {
            // With more training rows than features: first a linear correction of what the
            // model leaves (another device weighs the blocks differently), added to its skip;
            // fitted on the training rows only, so the validation rows still judge it.
            std::vector<float> out(n_tr);
            Mlp::Workspace w0;
            model.net.forward(xs.data(), n_tr, out.data(), w0);
            std::vector<double> e(n_tr), d;
            for (size_t i = 0; i < n_tr; ++i) e[i] = (static_cast<double>(ts[i]) - out[i]) * model.y_std;
            double c = 0;
            skip_ridge = fit_correction(xs.data(), e, wv, n_tr, D, &d, &c);
            if (skip_ridge > 0) {
                if (model.skip.empty()) model.skip.assign(D, 0.f);
                for (size_t j = 0; j < D; ++j) model.skip[j] = static_cast<float>(model.skip[j] + d[j]);
                model.y_mean += c;
                residuals();
            }
        }
    } else if (opt.linear_skip) {
        // The network learns what the linear skip leaves: residuals, standardised anew.
        std::vector<double> tt(n);
        for (size_t r = 0; r < n; ++r) tt[r < n_val ? n_tr + r : r - n_val] = t[perm[r]];
        double intercept = 0;
        model.skip = fit_skip(xs.data(), tt.data(), wv, model.y_mean, n_tr, n_val, D, &skip_ridge, &intercept);
        model.y_mean += intercept;
        std::vector<float> lin(n);
        detail::matvec(xs.data(), n, D, model.skip.data(), lin.data());
        double sq = 0;
        for (size_t i = 0; i < n; ++i) {
            tt[i] -= model.y_mean + lin[i];
            if (i < n_tr) sq += tt[i] * tt[i];
        }
        model.y_std = sq > 1e-24 * static_cast<double>(n_tr) ? std::sqrt(sq / static_cast<double>(n_tr)) : 1.0;
        for (size_t i = 0; i < n; ++i) ts[i] = static_cast<float>(tt[i] / model.y_std);
    }
    if (!init) model.net = Mlp(d, opt.hidden, opt.seed);
    Mlp& net = model.net;
    Adam adam(net.param_count(), opt.lr, opt.weight_decay);
    std::vector<float> g(net.param_count()), best = net.params();
    const size_t bs = std::min(static_cast<size_t>(opt.batch_size), n_tr);
    // Scoring forwards the validation rows (without: the training rows) in chunks, so its
    // memory does not grow with the dataset (a chunk of 4,096 rows: one pass for the usual
    // validation splits).
    constexpr size_t kScoreChunk = 4096;
    const size_t score_rows_max = std::min(n_val > 0 ? n_val : n_tr, kScoreChunk);
    Mlp::Workspace ws;
    net.reserve(ws, std::max(bs, score_rows_max));
    std::vector<float> bx(bs * D), bt(bs), bw(wv.empty() ? 0 : bs);
    std::vector<size_t> order(n_tr);
    for (size_t i = 0; i < n_tr; ++i) order[i] = i;
    TrainReport rep;
    rep.skip_ridge = skip_ridge;
    if (!init && opt.linear_skip && n_val > 0) {  // the network's target there is the skip's residual
        double l = 0;
        for (size_t i = n_tr; i < n; ++i) l += (wv.empty() ? 1.0 : wv[i]) * static_cast<double>(ts[i]) * ts[i];
        rep.skip_only_val_loss = l / static_cast<double>(n_val);
    }
    // Weighted squared error of the network on rows [from, from + count) of xs / ts.
    std::vector<float> vy(score_rows_max);
    auto score_rows = [&](size_t from, size_t count) {
        double l = 0;
        for (size_t c = from; c < from + count; c += kScoreChunk) {
            const size_t m = std::min(kScoreChunk, from + count - c);
            net.forward(xs.data() + c * D, m, vy.data(), ws);
            for (size_t i = 0; i < m; ++i) {
                const double r = static_cast<double>(vy[i]) - ts[c + i];
                l += (wv.empty() ? 1.0 : wv[c + i]) * r * r;
            }
        }
        return l / static_cast<double>(count);
    };
    double best_loss = INFINITY;
    if (init) best_loss = n_val > 0 ? score_rows(n_tr, n_val) : score_rows(0, n_tr);  // epoch -1: the model as given
    int since_best = 0;
    const size_t steps_per_epoch = (n_tr + bs - 1) / bs;
    const long min_epochs = (opt.min_steps + static_cast<long>(steps_per_epoch) - 1) / static_cast<long>(steps_per_epoch);
    // (capped so that a huge min_steps on a tiny set cannot overflow the epoch counter)
    const int epochs = static_cast<int>(std::max<long>(opt.epochs, std::min<long>(min_epochs, 1000000)));
    const double total_steps = static_cast<double>(steps_per_epoch) * epochs;
    long step = 0;
    for (int ep = 0; ep < epochs; ++ep) {
        for (size_t i = n_tr - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
        double ep_loss = 0;
        for (size_t s = 0; s < n_tr; s += bs) {
            const size_t m = std::min(bs, n_tr - s);
            for (size_t i = 0; i < m; ++i) {
                std::memcpy(bx.data() + i * D, xs.data() + order[s + i] * D, sizeof(float) * D);
                bt[i] = ts[order[s + i]];
                if (!wv.empty()) bw[i] = wv[order[s + i]];
            }
            if (opt.schedule == LrSchedule::Cosine)
                adam.set_lr(opt.lr * 0.5 * (1 + std::cos(3.14159265358979323846 * static_cast<double>(step) / total_steps)));
            ep_loss += net.loss_grad(bx.data(), bt.data(), m, g.data(), ws, wv.empty() ? nullptr : bw.data()) * static_cast<double>(m);
            adam.step(net.params().data(), g.data());
            ++step;
        }
        rep.train_loss.push_back(ep_loss / static_cast<double>(n_tr));
        // The score is of the weights this epoch ends with, which are what `best` keeps: the
        // validation rows', else the training rows' loss under them. (The running loss of
        // the epoch's batches was taken before each step: with a full batch it was the
        // previous epoch's weights', so a step that diverged was kept as the best epoch
        // with the loss of the weights before it.)
        double score;
        if (n_val > 0) {
            score = score_rows(n_tr, n_val);
            rep.val_loss.push_back(score);
        } else {
            score = score_rows(0, n_tr);
        }
        rep.epochs_run = ep + 1;
        if (score < best_loss) {
            best_loss = score;
            best = net.params();
            rep.best_epoch = ep;
            since_best = 0;
        } else if (opt.patience > 0 && ++since_best >= opt.patience) {
            break;
        }
    }
    // A fresh network no epoch improved on infinity: every loss was NaN or infinite (targets
    // beyond float, a diverging lr); its random start is no model.
    if (!init && rep.best_epoch < 0) {
        // %g: std::to_string wrote lr 1e30 as 31 digits and six decimals (and 1e-7 as 0.000000)
        char msg[200];
        std::snprintf(msg, sizeof msg, "train: no epoch gave a finite loss (last training loss %g): latencies beyond "
                      "float's range, or a learning rate that diverges (lr %g)", rep.train_loss.back(), opt.lr);
        throw Error(ErrorKind::InvalidArgument, msg);
    }
    net.params() = best;
    rep.best_val_loss = best_loss;
    if (report) *report = std::move(rep);
    return model;
}

}  // namespace esm
