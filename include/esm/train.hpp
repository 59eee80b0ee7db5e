// Training a predictor from a latency CSV: read (libesm datasets or plain CSVs with an
// `arch` column), split, encode, train the MLP, evaluate. Used by the tools and the loop;
// not the measurement side (datasets are written elsewhere).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "esm/arch.hpp"
#include "esm/dataset.hpp"
#include "esm/encode.hpp"
#include "esm/metrics.hpp"
#include "esm/mlp.hpp"
#include "esm/predictor.hpp"
#include "esm/space.hpp"
#include "esm/table.hpp"

namespace esm {

struct LatencyData {
    std::vector<Arch> archs;
    std::vector<double> latency;  // the target column, > 0
    std::vector<std::pair<std::string, std::string>> meta;  // the file's '#' header
    std::string target;  // column name
    std::string source;  // path
    DriftRange drift;  // the drift correction applied when read (esm::drift_factors)

    size_t size() const { return archs.size(); }
    std::vector<int> depths() const;
    LatencyData subset(const std::vector<size_t>& rows) const;
};

// Columns whose every row is a finite number.
std::vector<std::string> numeric_columns(const Table& t);

// Reads `path`: column `arch` parsed in `space` (errors name file and line), target column
// `target`; "" = latency_ms, and if absent an error listing the numeric columns. With
// drift_correction, a libesm dataset's samples are divided by their esm::drift_factors
// (their latency at the run's median device speed; no change without reference rows).
LatencyData read_latency_data(const std::string& path, const Space& space, const std::string& target = "",
                              bool drift_correction = false);
// The same from a table already read; rows whose `kind` column (libesm datasets) is not
// "sample" (reference re-measurements) are skipped.
LatencyData latency_data_from_table(const Table& t, const Space& space, const std::string& target = "",
                                    bool drift_correction = false);

// Seeded split: n_test rows to *test, the rest to *train (order of the permutation).
void split_data(const LatencyData& all, size_t n_test, uint64_t seed, LatencyData* train, LatencyData* test);

struct TrainConfig {
    Encoding encoding = Encoding::FCC;
    ResEncoding res = ResEncoding::Scalar;  // Area / AreaDepth also split each unit's first block on fixed-resolution spaces
    MlpOptions mlp;
    int n_bins = 5;
    // When not empty: train once per weight decay in the list and keep the network with the
    // lowest validation loss (the same seeded validation split for all; needs val_frac > 0).
    std::vector<double> weight_decay_grid;
};

// Encodes, trains and returns a predictor carrying the dataset's header and a training line.
Predictor train_predictor(const Space& space, const LatencyData& train, const TrainConfig& cfg,
                          TrainReport* report = nullptr);

// Transfer to a new device from few samples (HELP's setting): a predictor that gives
// a * base(arch) + b, with (a, b) the least-squares fit of the rows' latencies on the base
// predictor's, each squared error relative (weighted by 1 / latency^2). Latency across
// devices is close to proportional, so a predictor of another device ranks and scales the
// new one's from 10-20 rows (docs/tools_learning.md). The result is a plain predictor (the
// base's network, its output constants scaled), carrying `train`'s header and target.
// Throws esm::Error when fewer than 2 rows, when their base predictions are all equal, when
// the base regresses log latency (a * exp(.) + b is not a network of the same kind), or when
// the fitted slope is not > 0 (the rows do not rise with the base's predictions).
Predictor calibrate_predictor(const Predictor& base, const LatencyData& train, double* a = nullptr, double* b = nullptr);

// Trains `start`'s network further on `train` (MlpOptions::init: start's standardisation and
// network shape are kept, a linear correction is added to its skip when the rows outnumber
// the features, its weights are where the training starts), with opt's
// learning rate, steps, batch, validation split, relative loss and seed (the network's shape,
// skip and target kind are start's: opt.hidden, opt.linear_skip, opt.log_target are not
// used). Transfer with more rows
// than calibration needs: start = calibrate_predictor(another device's, train). Calibration
// alone keeps what the base knows and learns two numbers; training from scratch learns
// everything from the rows; fine-tuning the calibrated base sits between and, on HELP's GPUs,
// is the best of the three or close to it from 20 to 500 rows (docs/performance.md). The early stopping counts
// `start` as it is as a candidate (epoch -1), so with a validation split the result is never
// worse than `start` there. The result carries train's header and target.
Predictor fine_tune_predictor(const Predictor& start, const LatencyData& train, MlpOptions opt,
                              TrainReport* report = nullptr);

// opt with the fine-tuning defaults: learning rate 3e-4 and 3,000 optimiser steps
// (min_steps 3000, epochs 1). On HELP's GPUs (5 columns x 20 ... 500 rows) within 0.1 points
// of the best of lr {1e-4, 3e-4, 1e-3} x {1,000, 3,000, 10,000} steps in 22 of 25 cases,
// 0.25-0.54 below it in 3 (docs/performance.md); training from scratch's 0.01 and 20,000
// steps would move the base's weights far from what it knows.
MlpOptions fine_tune_options(MlpOptions opt = MlpOptions());

// Of several base predictors (other devices, same space), the one whose calibration predicts
// `rows` best in leave-one-out: each row predicted by the calibration fitted on the other rows;
// *loo_error gets that mean relative error (0.02 = 2 %). Latency ratios between devices vary
// by architecture more for some pairs than others (docs/performance.md: on HELP's GPUs the
// best base for a device is often the same GPU at another batch size). Needs >= 3 rows;
// bases that cannot be calibrated on them are passed over; throws esm::Error when none can.
size_t pick_base(const std::vector<const Predictor*>& bases, const LatencyData& rows, double* loo_error = nullptr);

// Predictions for every row of `data`.
std::vector<double> predict_all(const Predictor& p, const LatencyData& data);
MetricsReport evaluate_predictor(const Predictor& p, const LatencyData& data, int n_bins);

}  // namespace esm
