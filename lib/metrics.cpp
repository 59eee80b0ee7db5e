// SPEC §7 metrics, Kendall's tau-b by Knight's merge-sort algorithm, JSON and table output.
// Shares are inclusive with a 1e-12 slack so that exactly 5 % / 10 % counts as within.
#include "esm/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>

#include "decimal.hpp"
#include "esm/common.hpp"

namespace esm {

namespace {

// Number of tied pairs among runs of equal values of a sorted sequence.
template <class Eq>
double tied_pairs(size_t n, Eq eq) {
    double pairs = 0, run = 1;
    for (size_t i = 1; i < n; ++i) {
        if (eq(i - 1, i)) {
            run += 1;
        } else {
            pairs += run * (run - 1) / 2;
            run = 1;
        }
    }
    return pairs + run * (run - 1) / 2;
}

// Sorts v (values) ascending by merge sort and returns the number of inversions (swaps).
double merge_count(std::vector<double>& v, std::vector<double>& tmp, size_t lo, size_t hi) {
    if (hi - lo < 2) return 0;
    const size_t mid = (lo + hi) / 2;
    double swaps = merge_count(v, tmp, lo, mid) + merge_count(v, tmp, mid, hi);
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) {
        if (v[j] < v[i]) {
            swaps += static_cast<double>(mid - i);
            tmp[k++] = v[j++];
        } else {
            tmp[k++] = v[i++];
        }
    }
    while (i < mid) tmp[k++] = v[i++];
    while (j < hi) tmp[k++] = v[j++];
    std::copy(tmp.begin() + static_cast<long>(lo), tmp.begin() + static_cast<long>(hi), v.begin() + static_cast<long>(lo));
    return swaps;
}

// A finite figure printed in full: %f of a huge one (an accuracy of -7.5e301 from a wild
// prediction) is over 300 characters, and a fixed buffer cut it to another number.
std::string num(double v, const char* fmt = "%.6g") {
    if (!std::isfinite(v)) return "null";
    detail::CNumbers c;
    std::string buf(static_cast<size_t>(std::snprintf(nullptr, 0, fmt, v)) + 1, '\0');
    std::snprintf(&buf[0], buf.size(), fmt, v);
    buf.pop_back();
    return buf;
}

}  // namespace

double kendall_tau_b(const double* x, const double* y, size_t n) {
    if (n < 2) return NAN;
    for (size_t i = 0; i < n; ++i)  // a NaN breaks the sort's order: any figure would be noise
        if (!std::isfinite(x[i]) || !std::isfinite(y[i])) return NAN;
    std::vector<size_t> idx(n);
    std::iota(idx.begin(), idx.end(), size_t{0});
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b] || (x[a] == x[b] && y[a] < y[b]); });
    const double n1 = tied_pairs(n, [&](size_t a, size_t b) { return x[idx[a]] == x[idx[b]]; });
    const double n3 = tied_pairs(n, [&](size_t a, size_t b) { return x[idx[a]] == x[idx[b]] && y[idx[a]] == y[idx[b]]; });
    std::vector<double> ys(n), tmp(n);
    for (size_t i = 0; i < n; ++i) ys[i] = y[idx[i]];
    const double swaps = merge_count(ys, tmp, 0, n);  // discordant pairs
    const double n2 = tied_pairs(n, [&](size_t a, size_t b) { return ys[a] == ys[b]; });
    const double n0 = static_cast<double>(n) * static_cast<double>(n - 1) / 2;
    const double denom = std::sqrt((n0 - n1) * (n0 - n2));
    if (!(denom > 0)) return NAN;
    return (n0 - n1 - n2 + n3 - 2 * swaps) / denom;
}

Metrics compute_metrics(const double* y, const double* yhat, size_t n) {
    Metrics m;
    m.n = n;
    if (n == 0) {
        m.accuracy = m.within5 = m.within10 = m.rmse = m.tau = NAN;
        return m;
    }
    bool broken = false;  // a non-finite prediction: no figure (a NaN gave tau 1.0 through the sort)
    for (size_t i = 0; i < n; ++i) {
        if (!(y[i] > 0) || !std::isfinite(y[i]))
            throw Error(ErrorKind::InvalidArgument, "metrics: measured latency of sample " + std::to_string(i) +
                                                        " is " + std::to_string(y[i]) + " (must be finite and > 0)");
        broken = broken || !std::isfinite(yhat[i]);
    }
    if (broken) {
        m.accuracy = m.within5 = m.within10 = m.rmse = m.tau = NAN;
        return m;
    }
    double ape = 0, sq = 0, w5 = 0, w10 = 0;
    for (size_t i = 0; i < n; ++i) {
        const double e = std::fabs(yhat[i] - y[i]) / y[i];
        ape += e;
        sq += (yhat[i] - y[i]) * (yhat[i] - y[i]);
        w5 += e <= 0.05 + 1e-12;
        w10 += e <= 0.10 + 1e-12;
    }
    const double dn = static_cast<double>(n);
    m.accuracy = 100.0 * (1.0 - ape / dn);
    m.within5 = 100.0 * w5 / dn;
    m.within10 = 100.0 * w10 / dn;
    m.rmse = std::sqrt(sq / dn);
    m.tau = kendall_tau_b(y, yhat, n);
    return m;
}

bool MetricsReport::all_bins_at_least(double th) const {
    for (const auto& b : bins)
        if (b.n > 0 && !(b.accuracy >= th)) return false;
    return true;
}

double MetricsReport::worst_bin_accuracy() const {
    double worst = NAN;
    bool any = false;
    for (const auto& b : bins) {
        if (!b.n) continue;
        if (std::isnan(b.accuracy)) return NAN;  // a bin with no figure is no better than any
        if (!any || b.accuracy < worst) worst = b.accuracy;
        any = true;
    }
    return worst;
}

MetricsReport evaluate(const Space& space, const std::vector<int>& depth, const std::vector<double>& y,
                       const std::vector<double>& yhat, int n_bins) {
    if (depth.size() != y.size() || y.size() != yhat.size())
        throw Error(ErrorKind::InvalidArgument, "metrics: depth, measured and predicted sizes differ (" +
                                                    std::to_string(depth.size()) + ", " + std::to_string(y.size()) +
                                                    ", " + std::to_string(yhat.size()) + ")");
    // The bin count first: a negative one reached the vectors below as a huge size ("cannot
    // create std::vector larger than max_size()"), and 0 with no samples gave a report of no
    // bins, whose bin-wise criterion holds vacuously.
    (void)space.bin_lo(0, n_bins);
    MetricsReport r;
    r.overall = compute_metrics(y.data(), yhat.data(), y.size());
    r.n_bins = n_bins;
    std::vector<std::vector<double>> by(static_cast<size_t>(n_bins)), bp(static_cast<size_t>(n_bins));
    for (size_t i = 0; i < y.size(); ++i) {
        if (depth[i] < space.min_depth() || depth[i] > space.max_depth())
            throw Error(ErrorKind::InvalidArgument, "metrics: depth of sample " + std::to_string(i) + " is " +
                                                        std::to_string(depth[i]) + ", outside the space's range " +
                                                        std::to_string(space.min_depth()) + ".." +
                                                        std::to_string(space.max_depth()));
        const size_t b = static_cast<size_t>(space.bin_of(depth[i], n_bins));
        by[b].push_back(y[i]);
        bp[b].push_back(yhat[i]);
    }
    for (int b = 0; b < n_bins; ++b) {
        r.bin_lo.push_back(space.bin_lo(b, n_bins));
        r.bin_hi.push_back(space.bin_hi(b, n_bins));
        r.bins.push_back(compute_metrics(by[static_cast<size_t>(b)].data(), bp[static_cast<size_t>(b)].data(),
                                         by[static_cast<size_t>(b)].size()));
    }
    return r;
}

std::string metrics_json(const Metrics& m) {
    return "{\"n\": " + std::to_string(m.n) + ", \"accuracy\": " + num(m.accuracy, "%.6f") +
           ", \"within5\": " + num(m.within5, "%.4f") + ", \"within10\": " + num(m.within10, "%.4f") +
           ", \"rmse_ms\": " + num(m.rmse, "%.6g") + ", \"kendall_tau\": " + num(m.tau, "%.6f") + "}";
}

std::string metrics_json(const MetricsReport& r) {
    std::string s = "{\"overall\": " + metrics_json(r.overall) + ", \"n_bins\": " + std::to_string(r.n_bins) +
                    ", \"bins\": [";
    for (size_t b = 0; b < r.bins.size(); ++b) {
        std::string inner = metrics_json(r.bins[b]);
        s += (b ? ", " : "") + std::string("{\"bin\": ") + std::to_string(b) + ", \"depth_lo\": " +
             std::to_string(r.bin_lo[b]) + ", \"depth_hi\": " + std::to_string(r.bin_hi[b]) + ", " + inner.substr(1);
    }
    return s + "]}";
}

std::string metrics_table(const MetricsReport& r) {
    std::string s = "set       depths        n   accuracy%     ±5%    ±10%    RMSE(ms)  Kendall-tau\n";
    auto row = [&](const std::string& name, const std::string& depths, const Metrics& m) {
        char line[128];  // the fixed-width columns; a figure wider than its column follows in full
        const std::string acc = num(m.accuracy, "%.3f"),
                          rmse = num(m.rmse, m.rmse >= 1e-3 || m.rmse == 0 ? "%.5f" : "%.3g");
        std::snprintf(line, sizeof line, "%-9s %-9s %6zu ", name.c_str(), depths.c_str(), m.n);
        s += line;
        s += std::string(acc.size() < 10 ? 10 - acc.size() : 0, ' ') + acc;
        std::snprintf(line, sizeof line, " %7s %7s ", num(m.within5, "%.1f").c_str(), num(m.within10, "%.1f").c_str());
        s += line;
        s += std::string(rmse.size() < 11 ? 11 - rmse.size() : 0, ' ') + rmse;
        std::snprintf(line, sizeof line, " %12s\n", num(m.tau, "%.4f").c_str());
        s += line;
    };
    row("overall", "all", r.overall);
    for (size_t b = 0; b < r.bins.size(); ++b)
        row("bin " + std::to_string(b), std::to_string(r.bin_lo[b]) + "-" + std::to_string(r.bin_hi[b]), r.bins[b]);
    return s;
}

std::string format_accuracy(double accuracy, double threshold) {
    char b[40];
    for (int digits = 6; digits <= 17; ++digits) {
        detail::CNumbers c;
        std::snprintf(b, sizeof b, "%.*g", digits, accuracy);
        if ((detail::strtod_c(b, nullptr) >= threshold) == (accuracy >= threshold)) break;
    }
    return b;
}

}  // namespace esm
