// Accuracy metrics of a latency predictor (SPEC §7): accuracy = 100(1 - MAPE), ±5 % and
// ±10 % shares, RMSE, Kendall's tau-b; overall and per depth bin, as JSON and a table.
// Pure functions: no I/O, no model knowledge.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "esm/space.hpp"

namespace esm {

struct Metrics {
    size_t n = 0;
    double accuracy = 0;  // 100 * (1 - mean(|yhat - y| / y)), %
    double within5 = 0;   // % of samples with |yhat - y| / y <= 0.05
    double within10 = 0;  // % of samples with |yhat - y| / y <= 0.10
    double rmse = 0;      // in the latency's unit (ms)
    double tau = 0;       // Kendall's tau-b between y and yhat (NaN when undefined)
};

// y: measured (finite, > 0; else esm::Error naming the sample), yhat: predicted, both (n).
// n = 0 or a non-finite prediction gives NaN figures.
Metrics compute_metrics(const double* y, const double* yhat, size_t n);

// Kendall's tau-b with ties (Knight's O(n log n) algorithm). NaN when n < 2, when either
// input is constant or when any value is not finite.
double kendall_tau_b(const double* x, const double* y, size_t n);

struct MetricsReport {
    Metrics overall;
    int n_bins = 0;
    std::vector<int> bin_lo, bin_hi;  // depth range of each bin
    std::vector<Metrics> bins;
    // Bin-wise criterion (SPEC §7): every non-empty bin's accuracy >= threshold.
    bool all_bins_at_least(double accuracy_threshold) const;
    // The lowest accuracy among bins with test samples (NaN when none has).
    double worst_bin_accuracy() const;
};

// Overall and per bin (Space::bin_of(depth, n_bins)); depth: (n) total depth per sample.
MetricsReport evaluate(const Space& space, const std::vector<int>& depth, const std::vector<double>& y,
                       const std::vector<double>& yhat, int n_bins);

// One JSON object {"overall": {...}, "bins": [{"bin":0,"depth_lo":..,...}]}; NaN -> null.
std::string metrics_json(const MetricsReport& r);
// Human-readable table, one line overall and one per bin.
std::string metrics_table(const MetricsReport& r);

// An accuracy (%) as %g, with more digits where %g would put it on the other side of
// `threshold` (Acc_TH): 97.99996 against 98 reads "97.99996", not "98".
std::string format_accuracy(double accuracy, double threshold);
std::string metrics_json(const Metrics& m);

}  // namespace esm
