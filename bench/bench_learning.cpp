// Learning benchmark: encoders x MLP against an additive least-squares model on HELP's
// OFA MobileNetV3 latencies (batch-32/64 columns), a learning curve, and throughput.
// Prints figures only; the data path is argv[1], $ESM_DATA, or ../shared/data beside the repo.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_data.hpp"
#include "esm/common.hpp"
#include "esm/encode.hpp"
#include "esm/metrics.hpp"
#include "esm/mlp.hpp"
#include "esm/predictor.hpp"
#include "esm/sample.hpp"
#include "esm/train.hpp"
#include "linalg.hpp"

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Least squares from its normal equations: A (p x p, lower triangle filled) w = b, with a
// tiny ridge (a relative 1e-9 of the trace) against rank deficiency.
std::vector<double> solve_normal(std::vector<double> A, std::vector<double> b, int p) {
    double tr = 0;
    for (int j = 0; j < p; ++j) tr += A[static_cast<size_t>(j * p + j)];
    for (int j = 0; j < p; ++j) A[static_cast<size_t>(j * p + j)] += 1e-9 * tr / p + 1e-12;
    return esm::detail::cholesky_solve(std::move(A), std::move(b), static_cast<size_t>(p));
}

// Additive least-squares models, each block's cost a function of the resolution, the
// network's latency their sum (normal equations, Cholesky):
// - Quad: per-unit (k, e) combination counts (fcc) times {1, r, r^2} plus {1, r, r^2},
//   r = res/max_res: each block's cost quadratic in the resolution.
// - PerRes: one table per resolution: counts x one-hot(res) + one-hot(res), the lookup-table
//   idea with plain counts (fitted as one block-diagonal system; a unit's first block is not
//   told apart from the others, as a real table's keys would).
// - Area: the `area` encoding's features (first block and the others per unit, times the
//   unit's feature-map area ratio), the same counts unscaled, and {1, r, r^2}: each block's
//   cost a + b * (its output area), with the plan's rounding of the sizes.
enum class AddKind { Quad, PerRes, Area };
const char* add_name(AddKind k) { return k == AddKind::Quad ? "add-quad" : k == AddKind::PerRes ? "add-perres" : "add-area"; }

struct Additive {
    esm::Encoder enc;
    AddKind kind;
    int max_res = 0;
    std::vector<double> w;
    Additive(const esm::Space& s, AddKind k)
        : enc(s, esm::Encoding::FCC, k == AddKind::Area ? esm::ResEncoding::Area : esm::ResEncoding::Scalar),
          kind(k), max_res(*std::max_element(s.resolutions.begin(), s.resolutions.end())) {}
    int units_len() const { return enc.length() - (kind == AddKind::Area ? 1 + static_cast<int>(enc.space().resolutions.size()) : 1); }
    int nfeat() const {
        switch (kind) {
            case AddKind::Quad: return units_len() * 3 + 3;
            case AddKind::PerRes: return enc.length() * static_cast<int>(enc.space().resolutions.size());
            case AddKind::Area: return units_len() * 2 + 3;
        }
        return 0;
    }
    void features(const esm::Arch& a, double* f) const {
        std::vector<float> e = enc.encode(a);
        const size_t n = static_cast<size_t>(units_len());
        const double r = e[n];
        if (kind == AddKind::PerRes) {
            const auto& rs = enc.space().resolutions;
            const size_t ri = static_cast<size_t>(std::find(rs.begin(), rs.end(), a.res) - rs.begin());
            std::fill(f, f + nfeat(), 0.0);
            double* g = f + ri * e.size();
            for (size_t i = 0; i < n; ++i) g[i] = e[i];
            g[e.size() - 1] = 1;
            return;
        }
        if (kind == AddKind::Area) {
            esm::Arch top = a;  // at the largest resolution every area ratio is 1: plain counts
            top.res = max_res;
            const std::vector<float> counts = enc.encode(top);
            for (size_t i = 0; i < n; ++i) {
                f[2 * i] = e[i];
                f[2 * i + 1] = counts[i];
            }
        } else {
            for (size_t i = 0; i < n; ++i) {
                f[3 * i] = e[i];
                f[3 * i + 1] = e[i] * r;
                f[3 * i + 2] = e[i] * r * r;
            }
        }
        double* tail = f + nfeat() - 3;
        tail[0] = 1;
        tail[1] = r;
        tail[2] = r * r;
    }
    void fit(const esm::LatencyData& d) {
        const int p = nfeat();
        std::vector<double> A(static_cast<size_t>(p * p), 0), b(static_cast<size_t>(p), 0), f(static_cast<size_t>(p));
        for (size_t i = 0; i < d.size(); ++i) {
            features(d.archs[i], f.data());
            std::vector<int> nz;
            for (int j = 0; j < p; ++j)
                if (f[static_cast<size_t>(j)] != 0) nz.push_back(j);
            for (int j : nz) {
                b[static_cast<size_t>(j)] += f[static_cast<size_t>(j)] * d.latency[i];
                for (int k : nz)
                    if (k <= j) A[static_cast<size_t>(j * p + k)] += f[static_cast<size_t>(j)] * f[static_cast<size_t>(k)];
            }
        }
        w = solve_normal(A, b, p);
    }
    std::vector<double> predict(const esm::LatencyData& d) const {
        std::vector<double> out, f(static_cast<size_t>(nfeat()));
        for (const auto& a : d.archs) {
            features(a, f.data());
            double s = 0;
            for (size_t j = 0; j < f.size(); ++j) s += f[j] * w[j];
            out.push_back(s);
        }
        return out;
    }
};

// Measured / predicted latency (add-area) averaged over consecutive 500-row chunks of the
// file, i.e. in the order the rows were measured: a device whose speed drifted during the
// measurement shows chunks away from 1, which no predictor of the architecture can learn.
std::string drift_line(const std::string& col, const std::vector<double>& yhat, const esm::LatencyData& all) {
    std::string line = col + " ";
    for (size_t c = 0; c < all.size(); c += 500) {
        double s = 0;
        const size_t e = std::min(all.size(), c + 500);
        for (size_t i = c; i < e; ++i) s += all.latency[i] / yhat[i];
        char b[16];
        std::snprintf(b, sizeof b, " %.3f", s / static_cast<double>(e - c));
        line += b;
    }
    return line;
}

// Is what fcc-skip leaves on a column the architecture or the measurement? Its test
// residuals r = ln(measured / predicted) on the same 1,000 test archs in every column:
// an effect of the architecture that the predictor missed would repeat on the same arch in
// the other columns (above all the other batch size of the same GPU), measurement noise
// would not. Per column: std of r, its largest correlation with another column's r, and an
// oracle that also knows the other columns' residuals of each arch (least squares on one
// half of the test rows, scored on the other, both ways): what even that side information
// adds to the predictor's accuracy. y, yhat: per column, the test rows' latencies.
void noise_check(const std::vector<std::string>& cols, const std::vector<std::vector<double>>& y,
                 const std::vector<std::vector<double>>& yhat) {
    const size_t C = cols.size(), n = y[0].size();
    std::vector<std::vector<double>> r(C, std::vector<double>(n));
    for (size_t c = 0; c < C; ++c)
        for (size_t i = 0; i < n; ++i) r[c][i] = std::log(y[c][i] / yhat[c][i]);
    auto mean = [&](const std::vector<double>& v) { double s = 0; for (double x : v) s += x; return s / static_cast<double>(n); };
    auto cov = [&](const std::vector<double>& a, const std::vector<double>& b) {
        const double ma = mean(a), mb = mean(b);
        double s = 0;
        for (size_t i = 0; i < n; ++i) s += (a[i] - ma) * (b[i] - mb);
        return s / static_cast<double>(n);
    };
    std::printf("\nresidual check (fcc-skip, r = ln(measured/predicted) on the 1000 test archs):\n");
    std::printf("%-16s %7s %-26s %9s %9s\n", "column", "std(r)%", "largest corr(r, other r)", "acc%", "oracle%");
    for (size_t c = 0; c < C; ++c) {
        size_t best = c;
        double best_corr = 0;
        for (size_t o = 0; o < C; ++o) {
            const double k = o == c ? 0 : cov(r[c], r[o]) / std::sqrt(cov(r[c], r[c]) * cov(r[o], r[o]));
            if (o != c && (best == c || std::fabs(k) > std::fabs(best_corr))) best = o, best_corr = k;
        }
        // Oracle: r_c ~ 1 + the other columns' r, fitted on one half, applied to the other.
        const int p = static_cast<int>(C);
        std::vector<double> oracle(n);
        for (size_t half = 0; half < 2; ++half) {
            std::vector<double> A(static_cast<size_t>(p * p), 0), b(static_cast<size_t>(p), 0), f(static_cast<size_t>(p));
            auto feats = [&](size_t i) {
                f[0] = 1;
                for (size_t o = 0, j = 1; o < C; ++o)
                    if (o != c) f[j++] = r[o][i];
            };
            for (size_t i = half; i < n; i += 2) {
                feats(i);
                for (int j = 0; j < p; ++j) {
                    b[static_cast<size_t>(j)] += f[static_cast<size_t>(j)] * r[c][i];
                    for (int k = 0; k <= j; ++k) A[static_cast<size_t>(j * p + k)] += f[static_cast<size_t>(j)] * f[static_cast<size_t>(k)];
                }
            }
            const std::vector<double> w = solve_normal(A, b, p);
            for (size_t i = 1 - half; i < n; i += 2) {
                feats(i);
                double s = 0;
                for (int j = 0; j < p; ++j) s += w[static_cast<size_t>(j)] * f[static_cast<size_t>(j)];
                oracle[i] = yhat[c][i] * std::exp(s);
            }
        }
        char with[64];
        std::snprintf(with, sizeof with, "%+.3f (%s)", best_corr, best == c ? "-" : cols[best].c_str());
        std::printf("%-16s %7.2f %-26s %9.3f %9.3f\n", cols[c].c_str(), 100 * std::sqrt(cov(r[c], r[c])), with,
                    esm::compute_metrics(y[c].data(), yhat[c].data(), n).accuracy,
                    esm::compute_metrics(y[c].data(), oracle.data(), n).accuracy);
    }
}

void print_row(const char* col, const char* model, const esm::Metrics& m, double secs) {
    std::printf("%-16s %-10s %8.3f %7.1f %7.1f %9.5f %8.4f %7.2fs\n", col, model, m.accuracy, m.within5, m.within10,
                m.rmse, m.tau, secs);
}

esm::Metrics eval_mlp(const esm::Space& s, const esm::LatencyData& tr, const esm::LatencyData& te,
                      const esm::TrainConfig& cfg, double* secs, std::vector<double>* yhat_out = nullptr) {
    const double t0 = now();
    esm::Predictor p = esm::train_predictor(s, tr, cfg);
    *secs = now() - t0;
    auto yhat = esm::predict_all(p, te);
    const esm::Metrics m = esm::compute_metrics(te.latency.data(), yhat.data(), te.size());
    if (yhat_out) *yhat_out = std::move(yhat);
    return m;
}

// The tuned configuration (docs/performance.md): the area resolution encoding, weight decay
// chosen from {1e-3, 1e-2} on the validation split (never on the test set).
esm::TrainConfig tuned_config() {
    esm::TrainConfig c;
    c.res = esm::ResEncoding::Area;
    c.weight_decay_grid = {1e-3, 1e-2};
    return c;
}

// fcc-tuned with the linear skip (MlpOptions::linear_skip).
esm::TrainConfig skip_config() {
    esm::TrainConfig c = tuned_config();
    c.mlp.linear_skip = true;
    return c;
}

// fcc-skip on the area-depth encoding (each unit's depth unscaled too): esm-build's network.
esm::TrainConfig depth_config() {
    esm::TrainConfig c = skip_config();
    c.res = esm::ResEncoding::AreaDepth;
    return c;
}

// fcc-skip minimising the relative error (MlpOptions::relative_loss).
esm::TrainConfig rel_config() {
    esm::TrainConfig c = skip_config();
    c.mlp.relative_loss = true;
    return c;
}

// 8,000 seeded ofa-mbv3 archs with a smooth synthetic latency, trained twice with the
// default MLP (no validation split); the faster time is the machine's speed (noisy VMs).
// archs and data receive the architectures and the training data.
esm::Predictor timed_default_training(const esm::Space& space, std::vector<esm::Arch>* archs, esm::LatencyData* data,
                                      double* train_s) {
    esm::Sampler smp(space, 7);
    *archs = smp.sample(esm::Strategy::Random, 8000, 5);
    esm::LatencyData& d = *data;
    d.archs = *archs;
    for (const auto& a : *archs) d.latency.push_back(1.0 + 0.1 * a.depth() + a.res / 100.0);
    esm::TrainConfig cfg;
    cfg.mlp.val_frac = 0;
    double t0 = now();
    esm::Predictor p = esm::train_predictor(space, d, cfg);
    *train_s = now() - t0;
    t0 = now();
    esm::train_predictor(space, d, cfg);
    *train_s = std::min(*train_s, now() - t0);
    return p;
}

// Machine-readable throughput per batch size (read by bench/torch_mlp.py): encode + MLP
// from in-memory archs, and the MLP alone on encoded rows (Predictor::predict_encoded, as
// torch gets pre-encoded rows); then training time.
int batches() {
    esm::set_blas_threads(1);
    const esm::Space space = esm::preset("ofa-mbv3");
    std::vector<esm::Arch> archs;
    esm::LatencyData d;
    double train_s = 0;
    esm::Predictor p = timed_default_training(space, &archs, &d, &train_s);
    std::printf("esm_train_8000x200_s %.4f\n", train_s);
    double t0 = 0;
    const size_t L = static_cast<size_t>(p.encoder().length());
    std::vector<float> x(archs.size() * L), out(archs.size());
    p.encoder().encode_batch(archs.data(), archs.size(), x.data());
    for (size_t b : {size_t{1}, size_t{8}, size_t{32}, size_t{64}, size_t{256}, size_t{1024}, size_t{4096}}) {
        const size_t total = b == 1 ? 100000 : 1000000;
        double pred = 0, mlp = 0;  // best of 3
        for (int rep = 0; rep < 3; ++rep) {
            t0 = now();
            size_t done = 0;
            while (done < total) {
                const size_t s = (done / b * b) % (archs.size() - archs.size() % b);
                p.predict_batch(archs.data() + s, b, out.data());
                done += b;
            }
            pred = std::max(pred, static_cast<double>(done) / (now() - t0));
            t0 = now();
            done = 0;
            while (done < total) {
                const size_t s = (done / b * b) % (archs.size() - archs.size() % b);
                p.predict_encoded(x.data() + s * L, b, out.data());
                done += b;
            }
            mlp = std::max(mlp, static_cast<double>(done) / (now() - t0));
        }
        std::printf("esm_batch %zu predict_per_s %.0f mlp_per_s %.0f\n", b, pred, mlp);
    }
    return 0;
}

// Transfer from another device (docs/performance.md): the fcc-depth predictor (esm-build's
// network) of `base_col` (its 4,000 training rows) calibrated on the first k training rows of
// every other column (esm::calibrate_predictor), then fine-tuned on them
// (esm::fine_tune_predictor with the defaults), against fcc-depth trained from scratch on the
// same k rows; accuracy on the column's 1,000 test rows, which the base never saw.
void transfer_table(const std::string& path, const esm::Space& space, const std::vector<std::string>& cols,
                    const std::string& base_col, const std::vector<size_t>& ks) {
    esm::LatencyData all = esm::read_latency_data(path, space, base_col), tr, te;
    esm::split_data(all, 1000, 1, &tr, &te);
    const esm::Predictor base = esm::train_predictor(space, tr, depth_config());
    std::printf("\ntransfer from %s (fcc-depth, 4000 rows): accuracy %% calibrated / fine-tuned / scratch on the first k rows\n%-16s",
                base_col.c_str(), "column");
    for (size_t k : ks) std::printf(" %22s", ("k = " + std::to_string(k)).c_str());
    std::printf("\n");
    for (const auto& col : cols) {
        if (col == base_col) continue;
        esm::LatencyData a2 = esm::read_latency_data(path, space, col), tr2, te2;
        esm::split_data(a2, 1000, 1, &tr2, &te2);
        std::printf("%-16s", col.c_str());
        for (size_t k : ks) {
            std::vector<size_t> v(k);
            for (size_t i = 0; i < k; ++i) v[i] = i;
            const esm::LatencyData rows = tr2.subset(v);
            const esm::Predictor cal = esm::calibrate_predictor(base, rows);
            const esm::Predictor ft = esm::fine_tune_predictor(cal, rows, esm::fine_tune_options(depth_config().mlp));
            double secs = 0;
            std::printf("  %6.2f / %6.2f / %6.2f", esm::evaluate_predictor(cal, te2, 5).overall.accuracy,
                        esm::evaluate_predictor(ft, te2, 5).overall.accuracy, eval_mlp(space, rows, te2, depth_config(), &secs).accuracy);
            std::fflush(stdout);
        }
        std::printf("\n");
    }
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false, speed_only = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--batches")) return batches();
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        if (!std::strcmp(argv[i], "--speed")) speed_only = true;
    }
    esm::set_blas_threads(1);
    std::printf("bench_learning: one thread\n");
    print_kernels();
    const esm::Space space = esm::preset("ofa-mbv3");
    try {
        if (!speed_only) {
            const std::string path = find_bench_data(argc, argv);
            if (!bench_exists(path)) {
                std::printf("bench_learning: data %s not found; skipping accuracy (set ESM_DATA or pass the path)\n",
                            path.c_str());
            } else {
                esm::Table t = esm::read_table(path);
                std::vector<std::string> cols;
                for (const auto& c : t.columns)
                    if (c.find("_bs32_") != std::string::npos || c.find("_bs64_") != std::string::npos) cols.push_back(c);
                if (quick) cols.resize(2);
                std::printf("data %s: %zu rows; split seed 1: 4000 train, 1000 test\n", path.c_str(), t.rows.size());
                std::printf("%-16s %-10s %8s %7s %7s %9s %8s %8s\n", "column", "model", "acc%", "±5%", "±10%", "RMSE(ms)",
                            "tau", "train");
                std::vector<std::string> drift;                 // per column: drift_line
                std::vector<std::vector<double>> te_y, te_yhat;  // per column: test latencies, fcc-skip's predictions
                const std::vector<std::string> encs =
                    quick ? std::vector<std::string>{"fcc"} : esm::encoding_names();
                for (const auto& col : cols) {
                    esm::LatencyData all = esm::read_latency_data(path, space, col), tr, te;
                    esm::split_data(all, 1000, 1, &tr, &te);
                    if (tr.size() > 4000) tr = tr.subset([] { std::vector<size_t> v(4000); for (size_t i = 0; i < 4000; ++i) v[i] = i; return v; }());
                    double secs = 0;
                    for (const auto& e : encs) {
                        esm::TrainConfig cfg;
                        cfg.encoding = esm::parse_encoding(e);
                        esm::Metrics m = eval_mlp(space, tr, te, cfg, &secs);
                        print_row(col.c_str(), (e + "-mlp").c_str(), m, secs);
                    }
                    print_row(col.c_str(), "fcc-tuned", eval_mlp(space, tr, te, tuned_config(), &secs), secs);
                    te_y.push_back(te.latency);
                    te_yhat.emplace_back();
                    print_row(col.c_str(), "fcc-skip", eval_mlp(space, tr, te, skip_config(), &secs, &te_yhat.back()), secs);
                    print_row(col.c_str(), "fcc-depth", eval_mlp(space, tr, te, depth_config(), &secs), secs);
                    print_row(col.c_str(), "fcc-rel", eval_mlp(space, tr, te, rel_config(), &secs), secs);
                    for (AddKind k : {AddKind::Quad, AddKind::PerRes, AddKind::Area}) {
                        const double t0 = now();
                        Additive add(space, k);
                        add.fit(tr);
                        auto yhat = add.predict(te);
                        print_row(col.c_str(), add_name(k), esm::compute_metrics(te.latency.data(), yhat.data(), te.size()),
                                  now() - t0);
                        if (k == AddKind::Area) drift.push_back(drift_line(col, add.predict(all), all));
                    }
                    {
                        std::vector<size_t> v(500);
                        for (size_t i = 0; i < 500; ++i) v[i] = i;
                        esm::Metrics m = eval_mlp(space, tr.subset(v), te, esm::TrainConfig{}, &secs);
                        print_row(col.c_str(), "fcc-500", m, secs);
                        m = eval_mlp(space, tr.subset(v), te, tuned_config(), &secs);
                        print_row(col.c_str(), "tuned-500", m, secs);
                        m = eval_mlp(space, tr.subset(v), te, skip_config(), &secs);
                        print_row(col.c_str(), "skip-500", m, secs);
                        m = eval_mlp(space, tr.subset(v), te, depth_config(), &secs);
                        print_row(col.c_str(), "depth-500", m, secs);
                        m = eval_mlp(space, tr.subset(v), te, rel_config(), &secs);
                        print_row(col.c_str(), "rel-500", m, secs);
                    }
                }
                std::printf("\nmeasured / add-area prediction, mean per 500-row chunk in file (= measuring) order:\n");
                for (const auto& l : drift) std::printf("%s\n", l.c_str());
                noise_check(cols, te_y, te_yhat);
                // Learning curve on two columns: without and with the linear skip, and area-depth.
                std::printf("\nlearning curve (test 1000): accuracy %% / RMSE ms\n%-8s", "n_train");
                const std::vector<std::string> lc_cols = {"2080ti_bs32_ms", "v100_bs64_ms"};
                for (const auto& c : lc_cols)
                    for (const char* m : {"fcc-tuned", "fcc-skip", "fcc-depth"}) std::printf(" %22s", (c.substr(0, c.size() - 3) + " " + m).c_str());
                std::printf("\n");
                const std::vector<size_t> sizes = quick ? std::vector<size_t>{100, 500} : std::vector<size_t>{100, 250, 500, 1000, 2000, 4000};
                std::vector<esm::LatencyData> trs, tes;
                for (const auto& c : lc_cols) {
                    esm::LatencyData all = esm::read_latency_data(path, space, c), tr, te;
                    esm::split_data(all, 1000, 1, &tr, &te);
                    trs.push_back(tr);
                    tes.push_back(te);
                }
                for (size_t n : sizes) {
                    std::printf("%-8zu", n);
                    for (size_t k = 0; k < lc_cols.size(); ++k) {
                        std::vector<size_t> v(n);
                        for (size_t i = 0; i < n; ++i) v[i] = i;
                        double secs = 0;
                        for (const esm::TrainConfig& cfg : {tuned_config(), skip_config(), depth_config()}) {
                            esm::Metrics m = eval_mlp(space, trs[k].subset(v), tes[k], cfg, &secs);
                            std::printf("     %8.3f / %8.5f", m.accuracy, m.rmse);
                        }
                    }
                    std::printf("\n");
                }
                transfer_table(path, space, cols, quick ? cols[0] : "titan_rtx_bs64_ms",
                               quick ? std::vector<size_t>{20, 100} : std::vector<size_t>{20, 50, 100, 250, 500});
            }
        }
        // Throughput: in-memory archs, encode + MLP (FCC, default 3x64).
        {
            std::vector<esm::Arch> archs;
            esm::LatencyData d;
            double train_s = 0;
            esm::Predictor p = timed_default_training(space, &archs, &d, &train_s);
            esm::TrainConfig cfg;
            cfg.mlp.val_frac = 0.1;
            double t0 = now();
            esm::train_predictor(space, d, cfg);
            const double train_val_s = now() - t0;
            std::printf("\ntraining 8000 samples x 200 epochs (batch %d): %.2f s (no validation, best of 2), %.2f s (10%% validation)"
                        "  [target <= 2 s: %.2fx the target, below 1 meets it]\n",
                        cfg.mlp.batch_size, train_s, train_val_s, train_s / 2.0);
            std::vector<esm::Arch> many;
            many.reserve(1000000);
            while (many.size() < 1000000) many.insert(many.end(), archs.begin(), archs.end());
            many.resize(1000000);
            std::vector<float> out(many.size());
            p.predict_batch(many.data(), 10000, out.data());
            double pred_s = 1e30, enc_s = 1e30;
            esm::Encoder enc(space, esm::Encoding::FCC);
            std::vector<float> x(static_cast<size_t>(enc.length()) * 4096);
            for (int rep = 0; rep < 3; ++rep) {
                t0 = now();
                p.predict_batch(many.data(), many.size(), out.data());
                pred_s = std::min(pred_s, now() - t0);
                t0 = now();
                for (size_t s = 0; s < many.size(); s += 4096)
                    enc.encode_batch(many.data() + s, std::min<size_t>(4096, many.size() - s), x.data());
                enc_s = std::min(enc_s, now() - t0);
            }
            // The same network with a linear skip (weights of no importance for the speed).
            esm::MlpModel with_skip = p.model();
            with_skip.skip.assign(static_cast<size_t>(with_skip.inputs()), 0.01f);
            const esm::Predictor ps(space, esm::Encoding::FCC, with_skip);
            double skip_s = 1e30;
            for (int rep = 0; rep < 3; ++rep) {
                t0 = now();
                ps.predict_batch(many.data(), many.size(), out.data());
                skip_s = std::min(skip_s, now() - t0);
            }
            std::printf("prediction from in-memory archs (encode + MLP, best of 3): %.2f M/s  [target >= 2 M/s: %.2fx the "
                        "target, above 1 meets it], %.2f M/s with a linear skip; encode alone %.1f M/s\n",
                        many.size() / pred_s / 1e6, many.size() / pred_s / 2e6, many.size() / skip_s / 1e6,
                        many.size() / enc_s / 1e6);
            // Single-arch latency
            t0 = now();
            double acc = 0;
            for (int i = 0; i < 20000; ++i) acc += p.predict(many[static_cast<size_t>(i)]);
            std::printf("one-at-a-time predict: %.2f us per call (checksum %.3f)\n", (now() - t0) / 20000 * 1e6, acc / 20000);
        }
    } catch (const esm::Error& e) {
        std::fprintf(stderr, "bench_learning: %s\n", e.what());
        return 1;
    }
    return 0;
}
