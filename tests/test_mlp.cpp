// MLP and Adam: analytic gradients against central differences of an independent double
// precision forward pass, Adam against hand-computed steps, training fits a known function.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "esm/common.hpp"
#include "esm/mlp.hpp"
#include "esm/rng.hpp"
#include "flush_denormals.hpp"
#include "mlp_fused.hpp"

namespace {

// Plain-loop double forward + MSE (each row's squared error times w[r] when w is not
// empty): the oracle, sharing nothing with the sgemm path.
double ref_loss(const std::vector<int>& sizes, const std::vector<double>& p, const std::vector<float>& x,
                const std::vector<float>& t, size_t n, const std::vector<float>& w = {}) {
    double loss = 0;
    for (size_t r = 0; r < n; ++r) {
        std::vector<double> a(x.begin() + static_cast<long>(r * sizes[0]), x.begin() + static_cast<long>((r + 1) * sizes[0]));
        size_t off = 0;
        for (size_t l = 0; l + 1 < sizes.size(); ++l) {
            const int in = sizes[l], out = sizes[l + 1];
            std::vector<double> z(static_cast<size_t>(out));
            for (int j = 0; j < out; ++j) {
                double s = p[off + static_cast<size_t>(in * out + j)];
                for (int i = 0; i < in; ++i) s += p[off + static_cast<size_t>(j * in + i)] * a[static_cast<size_t>(i)];
                z[static_cast<size_t>(j)] = (l + 2 < sizes.size()) ? std::max(0.0, s) : s;
            }
            off += static_cast<size_t>(in * out + out);
            a = z;
        }
        loss += (w.empty() ? 1.0 : w[r]) * (a[0] - t[r]) * (a[0] - t[r]);
    }
    return loss / static_cast<double>(n);
}

TEST(Mlp, GradientMatchesCentralDifferences) {
    esm::Mlp net(5, {7, 6}, 42);
    const size_t n = 9;
    esm::Rng rng(3);
    std::vector<float> x(n * 5), t(n);
    for (auto& v : x) v = static_cast<float>(rng.normal());
    for (auto& v : t) v = static_cast<float>(rng.normal());
    // Unweighted, then with per-row weights (the relative loss).
    std::vector<float> w(n);
    for (auto& v : w) v = static_cast<float>(0.1 + 3 * rng.uniform());
    for (const std::vector<float>& wr : {std::vector<float>{}, w}) {
        std::vector<float> g(net.param_count());
        esm::Mlp::Workspace ws;
        const double loss = net.loss_grad(x.data(), t.data(), n, g.data(), ws, wr.empty() ? nullptr : wr.data());
        std::vector<double> p(net.params().begin(), net.params().end());
        EXPECT_NEAR(loss, ref_loss(net.sizes(), p, x, t, n, wr), 1e-5);
        const double h = 1e-5;
        for (size_t i = 0; i < p.size(); ++i) {
            auto pp = p, pm = p;
            pp[i] += h;
            pm[i] -= h;
            const double fd = (ref_loss(net.sizes(), pp, x, t, n, wr) - ref_loss(net.sizes(), pm, x, t, n, wr)) / (2 * h);
            ASSERT_NEAR(g[i], fd, 1e-4 + 1e-3 * std::fabs(fd)) << "parameter " << i << (wr.empty() ? "" : ", weighted");
        }
    }
}

TEST(Mlp, ForwardMatchesReference) {
    esm::Mlp net(4, {64, 64, 64}, 7);
    esm::Rng rng(5);
    const size_t n = 37;
    std::vector<float> x(n * 4), y(n, NAN), zero(1, 0.f);
    for (auto& v : x) v = static_cast<float>(rng.normal());
    esm::Mlp::Workspace ws;
    net.forward(x.data(), n, y.data(), ws);
    std::vector<double> p(net.params().begin(), net.params().end());
    for (size_t r = 0; r < n; ++r) {
        std::vector<float> xr(x.begin() + static_cast<long>(r * 4), x.begin() + static_cast<long>(r * 4 + 4));
        // loss against target 0 is yhat^2
        const double want = std::sqrt(ref_loss(net.sizes(), p, xr, zero, 1));
        ASSERT_NEAR(std::fabs(y[r]), want, 1e-5 + 1e-5 * want) << "row " << r;
    }
}

// The fused inference kernels (every instruction set this CPU has) against the double oracle on
// widths that are not whole vectors, more than one column chunk, and every row-tile tail; a
// row's result must not depend on the rows around it (nor on the sparse or dense first layer) in the vector kernels (OpenBLAS, under
// the generic path, blocks by batch size and may round differently).
TEST(FusedMlp, MatchesReferenceOnEveryIsaAndTail) {
    using esm::detail::FusedMlp;
    using esm::detail::MlpIsa;
    int tested = 0;
    for (MlpIsa isa : {MlpIsa::Generic, MlpIsa::Avx2, MlpIsa::Avx512}) {
        for (const auto& shape : std::vector<std::pair<int, std::vector<int>>>{{46, {64, 64, 64}}, {5, {7, 100, 20}}, {3, {9}}}) {
            const esm::Mlp net(shape.first, shape.second, 11);
            const FusedMlp f(net, isa);
            if (f.isa() != isa) continue;  // this CPU lacks it
            ++tested;
            const std::vector<double> p(net.params().begin(), net.params().end());
            esm::Rng rng(6);
            const size_t d = static_cast<size_t>(shape.first);
            for (size_t n : {1, 2, 3, 4, 5, 6, 7, 11, 13, 37}) {
                std::vector<float> x(n * d), y(n, NAN), zero(1, 0.f);
                // rows from dense to mostly zero (encodings are counts and one-hots), so tiles
                // take the dense and the sparse first layer, and mixes of both
                for (size_t r = 0; r < n; ++r)
                    for (size_t k = 0; k < d; ++k)
                        x[r * d + k] = rng.uniform() < 0.2 * static_cast<double>(r % 5) ? 0.f : static_cast<float>(rng.normal());
                f.forward(x.data(), n, y.data());
                for (size_t r = 0; r < n; ++r) {
                    const std::vector<float> xr(x.begin() + static_cast<long>(r * d), x.begin() + static_cast<long>((r + 1) * d));
                    const double want = std::sqrt(ref_loss(net.sizes(), p, xr, zero, 1));
                    ASSERT_NEAR(std::fabs(y[r]), want, 1e-5 + 1e-5 * want) << "isa " << static_cast<int>(isa) << " n " << n << " row " << r;
                    float one = NAN;
                    f.forward(xr.data(), 1, &one);
                    if (isa != MlpIsa::Generic) {
                        ASSERT_EQ(one, y[r]) << "isa " << static_cast<int>(isa) << " n " << n << " row " << r;
                    }
                }
            }
        }
    }
    EXPECT_GE(tested, 3);  // the generic path at least
    EXPECT_EQ(FusedMlp(esm::Mlp(4, {8}, 1)).isa(), FusedMlp::best_isa());
}

// The training GEMM and transpose (every vector ISA this CPU has) against plain double loops:
// odd shapes (column tails, row-tile remainders, K = 1), A read row-major, transposed and
// broadcast (strides 0), each epilogue, with and without bias; c is prefilled with NaN and
// its padding columns (ldc > cols) must stay untouched. The vector kernels add the K products
// of an element in the same order, so AVX2 and AVX-512 agree bit for bit.
TEST(SmallGemm, MatchesNaiveOnEveryIsaAndAgreesAcrossIsas) {
    using esm::detail::GemmArgs;
    using esm::detail::GemmEpilogue;
    using esm::detail::MlpIsa;
    EXPECT_FALSE(esm::detail::small_gemm(MlpIsa::Generic, GemmArgs{}));
    esm::Rng rng(9);
    int compared = 0, tested = 0;
    for (int rows : {1, 2, 5, 6, 7, 13, 64})
        for (int cols : {1, 5, 16, 17, 46, 64, 100})
            for (int K : {1, 7, 64})
                for (int layout = 0; layout < 3; ++layout)  // A row-major, transposed, broadcast
                    for (GemmEpilogue e : {GemmEpilogue::None, GemmEpilogue::Relu, GemmEpilogue::KeepPositive}) {
                        const bool bias = (rows + cols + K) % 2 == 0;
                        std::vector<float> a(static_cast<size_t>(rows * K)), b(static_cast<size_t>(K * cols)),
                            bv(static_cast<size_t>(cols)), m(static_cast<size_t>(rows * cols));
                        for (auto* v : {&a, &b, &bv, &m})
                            for (auto& x : *v) x = static_cast<float>(rng.normal());
                        GemmArgs g;
                        g.epilogue = e, g.rows = rows, g.cols = cols, g.K = K;
                        g.a = a.data();
                        g.ars = layout == 0 ? static_cast<size_t>(K) : layout == 1 ? 1 : 0;
                        g.aks = layout == 0 ? 1 : layout == 1 ? static_cast<size_t>(rows) : 0;
                        g.b = b.data(), g.ldb = static_cast<size_t>(cols), g.bias = bias ? bv.data() : nullptr;
                        g.m = m.data(), g.ldm = static_cast<size_t>(cols);
                        const size_t ldc = static_cast<size_t>(cols) + 3;
                        g.ldc = ldc;
                        std::vector<float> first;
                        for (MlpIsa isa : {MlpIsa::Avx2, MlpIsa::Avx512}) {
                            std::vector<float> c(static_cast<size_t>(rows) * ldc, NAN);
                            g.c = c.data();
                            if (!esm::detail::small_gemm(isa, g)) continue;  // this CPU lacks it
                            ++tested;
                            for (int r = 0; r < rows; ++r)
                                for (size_t j = 0; j < ldc; ++j) {
                                    const float got = c[static_cast<size_t>(r) * ldc + j];
                                    if (j >= static_cast<size_t>(cols)) {
                                        ASSERT_TRUE(std::isnan(got)) << "padding written at " << r << "," << j;
                                        continue;
                                    }
                                    double want = bias ? bv[j] : 0;
                                    for (int k = 0; k < K; ++k)
                                        want += static_cast<double>(a[static_cast<size_t>(r) * g.ars + static_cast<size_t>(k) * g.aks]) *
                                                b[static_cast<size_t>(k * cols) + j];
                                    if (e == GemmEpilogue::Relu) want = std::max(0.0, want);
                                    if (e == GemmEpilogue::KeepPositive && !(m[static_cast<size_t>(r * cols) + j] > 0)) want = 0;
                                    ASSERT_NEAR(got, want, 1e-5 * (1 + K))
                                        << "isa " << static_cast<int>(isa) << " rows " << rows << " cols " << cols << " K " << K
                                        << " layout " << layout << " epilogue " << static_cast<int>(e) << " at " << r << "," << j;
                                }
                            if (first.empty()) {
                                first = c;
                            } else {
                                ++compared;
                                ASSERT_EQ(0, std::memcmp(first.data(), c.data(), c.size() * sizeof(float)))
                                    << "AVX2 and AVX-512 differ: rows " << rows << " cols " << cols << " K " << K;
                            }
                        }
                    }
    if (esm::detail::FusedMlp::best_isa() != MlpIsa::Generic) {
        EXPECT_GT(tested, 0);
    }
    if (esm::detail::FusedMlp::best_isa() == MlpIsa::Avx512) {
        EXPECT_GT(compared, 0);
    }
}

TEST(SmallGemm, TransposeIsExact) {
    using esm::detail::MlpIsa;
    for (MlpIsa isa : {MlpIsa::Generic, MlpIsa::Avx2, MlpIsa::Avx512})
        for (int rows : {1, 7, 16, 17, 64})
            for (int cols : {1, 3, 46, 64}) {
                std::vector<float> src(static_cast<size_t>(rows * cols)), dst(static_cast<size_t>(rows * cols) + 5, NAN);
                for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.5f;
                if (!esm::detail::transpose(isa, src.data(), rows, cols, dst.data())) continue;
                for (int r = 0; r < rows; ++r)
                    for (int c = 0; c < cols; ++c)
                        ASSERT_EQ(dst[static_cast<size_t>(c * rows + r)], src[static_cast<size_t>(r * cols + c)])
                            << "isa " << static_cast<int>(isa) << " " << rows << "x" << cols;
                for (size_t i = src.size(); i < dst.size(); ++i) ASSERT_TRUE(std::isnan(dst[i])) << "wrote past the end";
            }
}

TEST(Adam, HandComputedSteps) {
    // beta1 0.9, beta2 0.999, eps 1e-8, lr 0.1; gradients 0.5, -1, 0.25 from p = 1:
    // t=1: m=.05 v=.00025 -> p = 1 - .1*.5/.5 = 0.9
    // t=2: m=-.055 v=.00124975, mhat=-.2894737 vhat=.6251876 -> p = 0.93661035
    // t=3: m=-.0245 v=.00131100, mhat=-.0904059 vhat=.4374375 -> p = 0.95027942
    esm::Adam adam(1, 0.1);
    float p = 1.f;
    const float grads[3] = {0.5f, -1.f, 0.25f};
    const double want[3] = {0.9, 0.93661035, 0.95027942};
    for (int i = 0; i < 3; ++i) {
        adam.step(&p, &grads[i]);
        EXPECT_NEAR(p, want[i], 2e-6) << "step " << i + 1;
    }
    // L2 weight decay enters the gradient: p = 2, g = 0, wd 0.1 -> g' = 0.2 -> p = 1.9,
    // then g' = 0.19: m = .0371, v = 7.6e-5 ... -> p = 1.8001665
    esm::Adam wd(1, 0.1, 0.1);
    float q = 2.f, zero = 0.f;
    wd.step(&q, &zero);
    EXPECT_NEAR(q, 1.9, 1e-6);
    wd.step(&q, &zero);
    EXPECT_NEAR(q, 1.8001665, 2e-6);
}

// The vectorised update (AVX / SSE paths) equals the one-parameter scalar update bit for bit.
TEST(Adam, VectorPathsMatchScalar) {
    const size_t n = 37;
    esm::Rng rng(8);
    std::vector<float> p(n), q;
    for (auto& v : p) v = static_cast<float>(rng.normal());
    q = p;
    esm::Adam all(n, 0.01, 1e-2);
    std::vector<esm::Adam> one(n, esm::Adam(1, 0.01, 1e-2));
    for (int step = 0; step < 5; ++step) {
        std::vector<float> g(n);
        for (auto& v : g) v = static_cast<float>(rng.normal());
        all.step(p.data(), g.data());
        for (size_t i = 0; i < n; ++i) one[i].step(&q[i], &g[i]);
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(p[i], q[i]) << "step " << step << " index " << i;
    }
}

// y = 5 + x0 + 2 x1^2 + x2*x3 (positive), inputs uniform in [0, 1].
void make_data(size_t n, uint64_t seed, std::vector<float>& x, std::vector<float>& y) {
    esm::Rng rng(seed);
    x.resize(n * 4);
    y.resize(n);
    for (size_t i = 0; i < n; ++i) {
        float* r = &x[i * 4];
        for (int j = 0; j < 4; ++j) r[j] = static_cast<float>(rng.uniform());
        y[i] = 5 + r[0] + 2 * r[1] * r[1] + r[2] * r[3];
    }
}

TEST(Mlp, FitsKnownFunctionAndIsDeterministic) {
    std::vector<float> x, y, xt, yt;
    make_data(1500, 1, x, y);
    make_data(300, 2, xt, yt);
    esm::MlpOptions opt;
    opt.epochs = 60;
    opt.min_steps = 0;
    opt.seed = 11;
    esm::TrainReport rep;
    esm::MlpModel m = esm::train_mlp(x.data(), y.data(), 1500, 4, opt, &rep);
    std::vector<float> p(300);
    m.predict(xt.data(), 300, p.data());
    double mape = 0;
    for (size_t i = 0; i < 300; ++i) mape += std::fabs(p[i] - yt[i]) / yt[i];
    EXPECT_LT(mape / 300, 0.01);
    EXPECT_EQ(rep.epochs_run, 60);
    ASSERT_EQ(rep.val_loss.size(), 60u);
    EXPECT_DOUBLE_EQ(rep.best_val_loss, rep.val_loss[static_cast<size_t>(rep.best_epoch)]);
    // Same seed, same data: identical weights.
    esm::MlpModel m2 = esm::train_mlp(x.data(), y.data(), 1500, 4, opt);
    EXPECT_EQ(m.net.params(), m2.net.params());
    // log target works too
    opt.log_target = true;
    esm::MlpModel m3 = esm::train_mlp(x.data(), y.data(), 1500, 4, opt);
    m3.predict(xt.data(), 300, p.data());
    mape = 0;
    for (size_t i = 0; i < 300; ++i) mape += std::fabs(p[i] - yt[i]) / yt[i];
    EXPECT_LT(mape / 300, 0.01);
}

// The linear skip is a ridge fit of the target on the standardised inputs before the
// network trains. Oracle: the generating function. y = 3 + 2 x0 - x1 + 0.5 x2 exactly (x3
// constant): the smallest ridge wins on validation, the skip's weights in raw units
// (skip * inv_std) are the coefficients, and one epoch of the network leaves predictions
// exact to float precision. On targets that are noise independent of 40 inputs, with few
// rows, the largest ridge wins.
TEST(Mlp, LinearSkipFitsTheLinearPartFirst) {
    auto data = [](size_t n, size_t d, uint64_t seed, bool linear, std::vector<float>& x, std::vector<float>& y) {
        esm::Rng rng(seed);
        x.resize(n * d);
        y.resize(n);
        for (size_t i = 0; i < n; ++i) {
            for (size_t j = 0; j < d; ++j) x[i * d + j] = static_cast<float>(10 * rng.uniform());
            x[i * d + 3] = 1.f;
            y[i] = linear ? 3 + 2 * x[i * d] - x[i * d + 1] + 0.5f * x[i * d + 2] : static_cast<float>(5 + rng.uniform());
        }
    };
    std::vector<float> x, y, xt, yt;
    data(400, 4, 1, true, x, y);
    data(100, 4, 2, true, xt, yt);
    esm::MlpOptions opt;
    opt.linear_skip = true;
    opt.epochs = 1;
    opt.min_steps = 0;
    esm::TrainReport rep;
    const esm::MlpModel m = esm::train_mlp(x.data(), y.data(), 400, 4, opt, &rep);
    EXPECT_EQ(rep.skip_ridge, 1e-5);
    ASSERT_EQ(m.skip.size(), 4u);
    const double coef[4] = {2, -1, 0.5, 0};
    for (size_t j = 0; j < 4; ++j) EXPECT_NEAR(m.skip[j] * m.x_inv_std[j], coef[j], 1e-3) << j;
    std::vector<float> p(100);
    m.predict(xt.data(), 100, p.data());
    double worst = 0;
    for (size_t i = 0; i < 100; ++i) worst = std::max(worst, static_cast<double>(std::fabs(p[i] - yt[i]) / std::fabs(yt[i])));
    EXPECT_LT(worst, 1e-3);
    // Without the skip one epoch is far from it.
    opt.linear_skip = false;
    const esm::MlpModel plain = esm::train_mlp(x.data(), y.data(), 400, 4, opt);
    EXPECT_TRUE(plain.skip.empty());
    plain.predict(xt.data(), 100, p.data());
    double plain_worst = 0;
    for (size_t i = 0; i < 100; ++i) plain_worst = std::max(plain_worst, static_cast<double>(std::fabs(p[i] - yt[i]) / std::fabs(yt[i])));
    EXPECT_GT(plain_worst, 10 * worst);
    // Noise: the strongest ridge.
    opt.linear_skip = true;
    data(80, 40, 3, false, x, y);
    esm::train_mlp(x.data(), y.data(), 80, 40, opt, &rep);
    EXPECT_EQ(rep.skip_ridge, 1.0);
}

// A trained predictor does not depend on the BLAS's thread count: the skip's product
// used OpenBLAS's sgemv, whose threaded split rounds differently (500 rows of an OFA
// encoding trained 90.5 % accurate on one thread, 89.2 % on two).
// Where the own training kernels do not run (no AVX2: ESM_CPU_ISA=baseline, other
// architectures) the network's products go through OpenBLAS's sgemm, whose threads also sum
// in their own order: there only one BLAS thread (the tools' default) trains bit-identically.
TEST(Mlp, SkipTrainingIsTheSameOnAnyBlasThreadCount) {
    if (esm::detail::FusedMlp::best_isa() == esm::detail::MlpIsa::Generic)
        GTEST_SKIP() << "no own training kernels on this CPU / ESM_CPU_ISA: training runs through OpenBLAS";
    const size_t n = 600, d = 150;
    esm::Rng rng(5);
    std::vector<float> x(n * d), y(n);
    for (size_t i = 0; i < n; ++i) {
        double s = 1;
        for (size_t j = 0; j < d; ++j) {
            x[i * d + j] = static_cast<float>(rng.uniform());
            s += (1 + 0.01 * static_cast<double>(j)) * x[i * d + j];
        }
        y[i] = static_cast<float>(s * (1 + 0.1 * rng.uniform()));
    }
    esm::MlpOptions opt;
    opt.linear_skip = true;
    opt.epochs = 2;
    opt.min_steps = 0;
    std::vector<float> p[2];
    esm::MlpModel m[2];
    for (int k = 0; k < 2; ++k) {
        esm::set_blas_threads(k == 0 ? 4 : 1);
        m[k] = esm::train_mlp(x.data(), y.data(), n, static_cast<int>(d), opt);
        p[k].resize(n);
        m[k].predict(x.data(), n, p[k].data());
    }
    EXPECT_EQ(m[0].skip, m[1].skip);
    EXPECT_EQ(m[0].y_mean, m[1].y_mean);
    EXPECT_EQ(m[0].y_std, m[1].y_std);
    EXPECT_EQ(m[0].net.params(), m[1].net.params());
    EXPECT_EQ(p[0], p[1]);
}

// The guard flushes subnormal results and inputs to zero in its scope and restores the
// caller's mode after it (x86-64; elsewhere it is a no-op and the test checks nothing).
// The relative loss minimises the squared relative error. Two latencies, 1 and 3 ms, of
// the same architecture (constant features): the best constant is 2 under the MSE and
// sum(1/y) / sum(1/y^2) = (4/3) / (10/9) = 1.2 under the relative loss. And where the
// latency is linear in the features, the weighted skip (its own intercept) is exact.
TEST(Mlp, RelativeLossMinimisesTheRelativeError) {
    const size_t n = 200;
    std::vector<float> x(n, 0.5f), y(n);
    for (size_t i = 0; i < n; ++i) y[i] = i % 2 ? 3.f : 1.f;
    esm::MlpOptions opt;
    opt.hidden = {8};
    opt.min_steps = 2000;
    opt.val_frac = 0;  // all 200 rows train, in one batch: exactly half of them 1 ms
    opt.batch_size = 200;
    for (bool skip : {false, true}) {
        opt.linear_skip = skip;
        opt.relative_loss = false;
        const float at = 0.5f;
        EXPECT_NEAR(esm::train_mlp(x.data(), y.data(), n, 1, opt).predict_one(&at), 2.0, 0.02) << "skip " << skip;
        opt.relative_loss = true;
        EXPECT_NEAR(esm::train_mlp(x.data(), y.data(), n, 1, opt).predict_one(&at), 1.2, 0.02) << "skip " << skip;
    }
    esm::Rng rng(5);
    std::vector<float> xl(400 * 3), yl(400);
    for (size_t i = 0; i < 400; ++i) {
        for (size_t j = 0; j < 3; ++j) xl[i * 3 + j] = static_cast<float>(10 * rng.uniform());
        yl[i] = 12 + 2 * xl[i * 3] - xl[i * 3 + 1] + 0.5f * xl[i * 3 + 2];
    }
    opt.hidden = {64, 64, 64};
    opt.epochs = 1;
    opt.min_steps = 0;
    const esm::MlpModel m = esm::train_mlp(xl.data(), yl.data(), 300, 3, opt);
    std::vector<float> p(100);
    m.predict(xl.data() + 300 * 3, 100, p.data());
    for (size_t i = 0; i < 100; ++i) ASSERT_NEAR(p[i], yl[300 + i], 1e-3 * yl[300 + i]) << i;
}

TEST(FlushDenormals, FlushesInScopeAndRestores) {
#if defined(ESM_HAVE_MXCSR)
    volatile float tiny = 1e-30f, small = 1e-10f, sub = 1e-40f;  // sub: subnormal
    const unsigned before = _mm_getcsr();
    EXPECT_EQ(std::fpclassify(tiny * small), FP_SUBNORMAL);
    {
        const esm::detail::FlushDenormals ftz;
        EXPECT_EQ(tiny * small, 0.0f);    // flush to zero
        EXPECT_EQ(sub * 1e30f, 0.0f);     // subnormal input read as zero
    }
    EXPECT_EQ(_mm_getcsr() & ~0x3Fu, before & ~0x3Fu);  // control bits; 0-5 are sticky flags
    EXPECT_EQ(std::fpclassify(tiny * small), FP_SUBNORMAL);
    EXPECT_GT(sub * 1e30f, 0.0f);
#endif
}

// An input that is always zero only gets weight decay; its first-layer weights and their
// Adam moments decay towards zero and, without flushing, through the subnormal range
// (20-40x slower training and prediction on Intel cores). Trained weights hold none.
TEST(Mlp, TrainedWeightsHoldNoSubnormals) {
    // 4 live inputs and 60 always zero (like the unused entries of an FCC encoding).
    std::vector<float> x4, y, x;
    make_data(256, 3, x4, y);
    x.assign(256 * 64, 0.0f);
    for (size_t i = 0; i < 256; ++i)
        for (size_t j = 0; j < 4; ++j) x[i * 64 + j] = x4[i * 4 + j];
    esm::MlpOptions opt;  // the defaults: 3 x 64, lr 0.01, weight decay 1e-4
    opt.epochs = 1;
    opt.min_steps = 5000;
    const esm::MlpModel m = esm::train_mlp(x.data(), y.data(), 256, 64, opt);
    size_t subnormal = 0;
    for (float v : m.net.params()) subnormal += std::fpclassify(v) == FP_SUBNORMAL;
    EXPECT_EQ(subnormal, 0u);
}

// Without a validation split the early stopping scores the training rows; the weights it
// keeps must be the ones it scored. One full batch a step with a learning rate that
// diverges (constant 0.3): the start's loss is the lowest there is, and the weights after
// the first step are far worse. best_val_loss must be the MSE of the returned model on the
// training rows (in standardised units, recomputed here in double from its predictions):
// it was the loss of the weights before the epoch's step (1.0) for a model whose loss was
// some 8e4. With a converging learning rate the same identity holds.
TEST(Mlp, WithoutValidationTheKeptWeightsAreTheScoredOnes) {
    // (9,000 rows: scored in chunks of 4,096, the last one partial.)
    for (const size_t n : {size_t(200), size_t(9000)})
    for (double lr : {0.3, 0.01}) {
        std::vector<float> x, y;
        make_data(static_cast<int>(n), 3, x, y);
        esm::MlpOptions opt;
        opt.val_frac = 0;
        opt.batch_size = static_cast<int>(std::min<size_t>(n, 1000));
        opt.epochs = 6;
        opt.min_steps = 0;
        opt.lr = lr;
        opt.schedule = esm::LrSchedule::Constant;
        esm::TrainReport rep;
        const esm::MlpModel m = esm::train_mlp(x.data(), y.data(), n, 4, opt, &rep);
        std::vector<float> p(n);
        m.predict(x.data(), n, p.data());
        double mse = 0;
        for (size_t i = 0; i < n; ++i) {
            const double r = (static_cast<double>(p[i]) - y[i]) / m.y_std;
            mse += r * r / static_cast<double>(n);
        }
        EXPECT_NEAR(rep.best_val_loss, mse, 1e-4 * mse + 1e-6) << "lr " << lr << ", best epoch " << rep.best_epoch;
        EXPECT_TRUE(rep.val_loss.empty());
    }
}

TEST(Mlp, EarlyStoppingRestoresBest) {
    std::vector<float> x, y;
    make_data(200, 3, x, y);
    esm::MlpOptions opt;
    opt.epochs = 300;
    opt.min_steps = 0;
    opt.patience = 5;
    opt.lr = 0.05;
    esm::TrainReport rep;
    esm::MlpModel m = esm::train_mlp(x.data(), y.data(), 200, 4, opt, &rep);
    EXPECT_LT(rep.epochs_run, 300);
    EXPECT_EQ(rep.epochs_run, rep.best_epoch + 1 + 5);
}

// Fine-tuning (MlpOptions::init) starts from the given model. Base: trained on
// f = 5 + x0 + 2 x1^2 + x2 x3 (with a skip). New target g = f + 3 x0 x1: the base's mean
// relative error on g is 9 %. (1) A learning rate of 1e-12 on 6 rows (too few for the
// linear correction) leaves the base's predictions: a fresh network would be far off.
// (2) Fine-tuned on 150 rows of g it more than halves the base's error on new rows
// (9.3 % -> 0.5 % when written) and keeps the base's standardisation and shape. (3) With more
// training rows than inputs a linear correction comes first: on h = f + 0.5 + 0.3 x0 - 0.2 x2,
// a difference linear in the inputs, the frozen network (lr 1e-12) plus the correction cut
// the base's error by 10x. (4) A learning rate that blows the network up never beats the
// model as given on validation: its network comes back bit for bit (epoch -1). (5) Other
// inputs or another target kind are refused.
TEST(Mlp, FineTuningStartsFromTheGivenModel) {
    std::vector<float> x, y, xt, yt;
    make_data(1500, 1, x, y);
    make_data(300, 2, xt, yt);
    esm::MlpOptions opt;
    opt.linear_skip = true;
    opt.epochs = 60;
    opt.min_steps = 0;
    const auto base = std::make_shared<const esm::MlpModel>(esm::train_mlp(x.data(), y.data(), 1500, 4, opt));
    auto g = [](const std::vector<float>& xs, size_t n, bool linear) {
        std::vector<float> out(n);
        for (size_t i = 0; i < n; ++i) {
            const float* r = &xs[i * 4];
            out[i] = 5 + r[0] + 2 * r[1] * r[1] + r[2] * r[3] + (linear ? 0.5f + 0.3f * r[0] - 0.2f * r[2] : 3 * r[0] * r[1]);
        }
        return out;
    };
    const std::vector<float> gx = g(x, 150, false), gt = g(xt, 300, false), hx = g(x, 150, true), ht = g(xt, 300, true);
    auto mape = [&](const esm::MlpModel& m, const std::vector<float>& want) {
        std::vector<float> p(300);
        m.predict(xt.data(), 300, p.data());
        double e = 0;
        for (size_t i = 0; i < 300; ++i) e += std::fabs(p[i] / want[i] - 1);
        return e / 300;
    };
    const double base_err = mape(*base, gt);
    ASSERT_GT(base_err, 0.03);
    esm::MlpOptions ft;
    ft.init = base;
    ft.epochs = 1;
    ft.min_steps = 1000;
    ft.lr = 1e-12;
    esm::TrainReport rep;
    const esm::MlpModel still = esm::train_mlp(x.data(), gx.data(), 6, 4, ft, &rep);
    EXPECT_EQ(rep.skip_ridge, 0);  // no correction
    std::vector<float> p0(300), p1(300);
    base->predict(xt.data(), 300, p0.data());
    still.predict(xt.data(), 300, p1.data());
    for (size_t i = 0; i < 300; ++i) ASSERT_NEAR(p1[i], p0[i], 1e-4 * p0[i]) << i;

    const double base_err_h = mape(*base, ht);
    const esm::MlpModel corrected = esm::train_mlp(x.data(), hx.data(), 150, 4, ft, &rep);
    EXPECT_LT(mape(corrected, ht), base_err_h / 10) << base_err_h;
    EXPECT_GT(rep.skip_ridge, 0);

    ft.lr = 1e-3;
    const esm::MlpModel tuned = esm::train_mlp(x.data(), gx.data(), 150, 4, ft, &rep);
    EXPECT_LT(mape(tuned, gt), base_err / 2) << base_err;
    EXPECT_GE(rep.best_epoch, 0);
    EXPECT_EQ(tuned.x_mean, base->x_mean);
    EXPECT_EQ(tuned.x_inv_std, base->x_inv_std);
    EXPECT_EQ(tuned.y_std, base->y_std);
    EXPECT_EQ(tuned.net.sizes(), base->net.sizes());

    ft.lr = 1e4;
    ft.min_steps = 50;
    const esm::MlpModel blown = esm::train_mlp(x.data(), gx.data(), 150, 4, ft, &rep);
    EXPECT_EQ(rep.best_epoch, -1);
    EXPECT_EQ(blown.net.params(), base->net.params());

    std::vector<float> x5(150 * 5, 1.f);
    EXPECT_THROW(esm::train_mlp(x5.data(), gx.data(), 150, 5, ft), esm::Error);
    ft.log_target = true;
    EXPECT_THROW(esm::train_mlp(x.data(), gx.data(), 150, 4, ft), esm::Error);
}

// Fine-tuning's linear correction (rows outnumber the features): the ridge chosen by exact
// leave-one-out from one factorisation per ridge, against the oracle that refits without
// each row in turn (plain Gaussian elimination), and the correction it adds.
TEST(Mlp, FineTuningCorrectionMatchesBruteForceLeaveOneOut) {
    std::vector<float> x, y, xt, yt;
    make_data(1500, 1, x, y);
    make_data(200, 2, xt, yt);
    esm::MlpOptions opt;
    opt.linear_skip = true;
    opt.epochs = 40;
    opt.min_steps = 0;
    const auto base = std::make_shared<const esm::MlpModel>(esm::train_mlp(x.data(), y.data(), 1500, 4, opt));
    const size_t n = 40, D = 4, P = D + 1;
    std::vector<float> h(n), pb(n);
    base->predict(x.data(), n, pb.data());
    for (size_t i = 0; i < n; ++i) {
        const float* r = &x[i * D];
        h[i] = pb[i] + 0.5f + 0.3f * r[0] - 0.2f * r[2] + 0.4f * static_cast<float>(std::sin(7.3 * static_cast<double>(i)));
    }
    // The oracle: rows z (standardised as the model does), e = h - base.
    std::vector<std::vector<double>> Z(n, std::vector<double>(P, 1.0));
    std::vector<double> e(n);
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < D; ++j) Z[i][j + 1] = (x[i * D + j] - base->x_mean[j]) * base->x_inv_std[j];
        e[i] = static_cast<double>(h[i]) - pb[i];
    }
    auto fit = [&](double lambda, size_t skip) {  // ridge without row `skip`, intercept free
        std::vector<std::vector<double>> M(P, std::vector<double>(P + 1, 0.0));
        for (size_t i = 0; i < n; ++i) {
            if (i == skip) continue;
            for (size_t a = 0; a < P; ++a) {
                for (size_t b = 0; b < P; ++b) M[a][b] += Z[i][a] * Z[i][b];
                M[a][P] += Z[i][a] * e[i];
            }
        }
        for (size_t a = 1; a < P; ++a) M[a][a] += lambda * static_cast<double>(n);
        for (size_t c = 0; c < P; ++c) {
            size_t piv = c;
            for (size_t r = c + 1; r < P; ++r)
                if (std::fabs(M[r][c]) > std::fabs(M[piv][c])) piv = r;
            std::swap(M[c], M[piv]);
            for (size_t r = 0; r < P; ++r) {
                if (r == c) continue;
                const double f = M[r][c] / M[c][c];
                for (size_t k = c; k <= P; ++k) M[r][k] -= f * M[c][k];
            }
        }
        std::vector<double> beta(P);
        for (size_t a = 0; a < P; ++a) beta[a] = M[a][P] / M[a][a];
        return beta;
    };
    double best = 0, chosen = 0;
    for (size_t i = 0; i < n; ++i) best += e[i] * e[i];
    for (double lambda : {1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0}) {
        double loo = 0;
        for (size_t r = 0; r < n; ++r) {
            const std::vector<double> beta = fit(lambda, r);
            double f = 0;
            for (size_t a = 0; a < P; ++a) f += beta[a] * Z[r][a];
            loo += (e[r] - f) * (e[r] - f);
        }
        if (loo < best) best = loo, chosen = lambda;
    }
    ASSERT_GT(chosen, 0);  // the rows call for a correction
    esm::MlpOptions ft;
    ft.init = base;
    ft.val_frac = 0;  // every row fits the correction
    ft.epochs = 1;
    ft.min_steps = 1;
    ft.lr = 1e-12;  // the network stays where it was
    esm::TrainReport rep;
    const esm::MlpModel m = esm::train_mlp(x.data(), h.data(), n, static_cast<int>(D), ft, &rep);
    EXPECT_EQ(rep.skip_ridge, chosen);
    const std::vector<double> beta = fit(chosen, n);
    std::vector<float> p0(200), p1(200);
    base->predict(xt.data(), 200, p0.data());
    m.predict(xt.data(), 200, p1.data());
    for (size_t i = 0; i < 200; ++i) {
        double want = p0[i] + beta[0];
        for (size_t j = 0; j < D; ++j) want += beta[j + 1] * (xt[i * D + j] - base->x_mean[j]) * base->x_inv_std[j];
        ASSERT_NEAR(p1[i], want, 1e-4 * std::fabs(want) + 1e-5) << i;
    }
}

TEST(Mlp, MinStepsRaisesTheEpochsOfSmallSets) {
    std::vector<float> x, y;
    make_data(100, 4, x, y);
    esm::MlpOptions opt;
    opt.epochs = 3;
    opt.batch_size = 16;
    opt.min_steps = 50;  // 90 training rows (10 validate) = 6 batches of 16: ceil(50 / 6) = 9 epochs
    esm::TrainReport rep;
    esm::train_mlp(x.data(), y.data(), 100, 4, opt, &rep);
    EXPECT_EQ(rep.epochs_run, 9);
    opt.min_steps = 12;  // 2 epochs would do: `epochs` is the floor
    esm::train_mlp(x.data(), y.data(), 100, 4, opt, &rep);
    EXPECT_EQ(rep.epochs_run, 3);
}

TEST(Mlp, RejectsBadArguments) {
    std::vector<float> x(8, 1.f), y = {1, 2, 3, -1};
    esm::MlpOptions opt;
    opt.log_target = true;
    EXPECT_THROW(esm::train_mlp(x.data(), y.data(), 4, 2, opt), esm::Error);
    opt.log_target = false;
    opt.epochs = 0;
    opt.min_steps = 0;
    EXPECT_THROW(esm::train_mlp(x.data(), y.data(), 4, 2, opt), esm::Error);
    opt.epochs = 1;
    opt.min_steps = -1;
    EXPECT_THROW(esm::train_mlp(x.data(), y.data(), 4, 2, opt), esm::Error);
    EXPECT_THROW(esm::Mlp({3, 4, 1}, std::vector<float>(5)), esm::Error);
    opt.relative_loss = true;  // a latency of -1
    EXPECT_THROW(esm::train_mlp(x.data(), y.data(), 4, 2, opt), esm::Error);
    y[3] = 4;
    opt.log_target = true;  // both relative
    EXPECT_THROW(esm::train_mlp(x.data(), y.data(), 4, 2, opt), esm::Error);
    // No epoch with a finite loss: the random start is returned as a model no more (an lr
    // that throws the weights beyond float's range on the first step).
    {
        std::vector<float> xs(40), ys(20);
        for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i % 7);
        for (size_t i = 0; i < ys.size(); ++i) ys[i] = 1.f + static_cast<float>(i % 5);
        esm::MlpOptions o;
        o.lr = 1e30;
        o.hidden = {4};
        o.epochs = 3;
        o.min_steps = 0;
        try {
            esm::train_mlp(xs.data(), ys.data(), 20, 2, o);
            FAIL() << "trained on an overflowing loss";
        } catch (const esm::Error& e) {
            EXPECT_NE(std::string(e.what()).find("no epoch gave a finite loss"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("(lr 1e+30)"), std::string::npos) << e.what();  // not 31 digits
        }
    }
    // More parameters than a predictor file holds (2^28) are refused before the allocation
    // (65536 x 65536 asked for 16 GiB): 16385 x 16384 + 16384 + 16385 x 1 = 268,468,225.
    try {
        esm::Mlp(16384, {16384}, 1);
        FAIL();
    } catch (const esm::Error& e) {
        EXPECT_NE(std::string(e.what()).find("would have 268468225 parameters; a predictor file holds at most 268435456"),
                  std::string::npos) << e.what();
    }
}

// Every check fails for NaN too: a NaN validation share used to become a row count near 2^63
// (heap corruption, abort), a NaN or infinite learning rate or weight decay and a NaN
// feature used to train without an error into a network that ignores its inputs.
TEST(Mlp, RejectsNonFiniteOptionsAndFeatures) {
    std::vector<float> x(40), y(20);
    for (size_t i = 0; i < 20; ++i) {
        x[2 * i] = static_cast<float>(i % 7);
        x[2 * i + 1] = static_cast<float>(i % 3);
        y[i] = 1.f + 0.1f * static_cast<float>(i);
    }
    esm::MlpOptions good;
    good.hidden = {4};
    good.epochs = 2;
    good.min_steps = 0;
    EXPECT_NO_THROW(esm::train_mlp(x.data(), y.data(), 20, 2, good));
    const double nan = std::nan(""), inf = INFINITY;
    auto expect_error = [&](const esm::MlpOptions& o, const std::vector<float>& xs, const char* what, const char* mention) {
        try {
            esm::train_mlp(xs.data(), y.data(), 20, 2, o);
            ADD_FAILURE() << what << ": trained without an error";
        } catch (const esm::Error& e) {
            EXPECT_EQ(e.kind(), esm::ErrorKind::InvalidArgument) << what;
            EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << what << ": " << e.what();
        }
    };
    for (double v : {nan, -inf, inf}) {
        esm::MlpOptions o = good;
        o.val_frac = v;
        expect_error(o, x, "validation share", "validation share");
        o = good;
        o.weight_decay = v;
        expect_error(o, x, "weight decay", "weight decay");
        o = good;
        o.lr = v;
        expect_error(o, x, "lr", "lr");
    }
    for (float v : {std::nanf(""), INFINITY, -INFINITY}) {
        std::vector<float> xb = x;
        xb[2 * 13 + 1] = v;
        expect_error(good, xb, "feature", "feature 1 of row 13");
    }
}

}  // namespace
