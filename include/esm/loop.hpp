// The ESM loop (paper Fig. 5, Algorithm 1; SPEC §8): sample, measure, train, evaluate,
// extend until the accuracy criterion or the budget is met. Durable and resumable: every
// measured sample and every planned sample list is on disk before the next step.
// Not a measurement protocol (sources below bring their own) and not the trainer.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "esm/arch.hpp"
#include "esm/dataset.hpp"
#include "esm/encode.hpp"
#include "esm/executor.hpp"
#include "esm/measure.hpp"
#include "esm/metrics.hpp"
#include "esm/mlp.hpp"
#include "esm/pool.hpp"
#include "esm/predictor.hpp"
#include "esm/runner.hpp"
#include "esm/sample.hpp"
#include "esm/space.hpp"

namespace esm {

// Where latencies come from: the CPU executor, an external runner, a replay pool.
class LatencySource {
public:
    virtual ~LatencySource() = default;
    // Device, backend and protocol, recorded in the dataset header; a resumed run must
    // see the same values.
    virtual DatasetMeta header() const = 0;
    // Rows already in the dataset (a resumed run): reference baselines come back from them.
    virtual void resume(const std::vector<DatasetRow>& existing) { (void)existing; }
    // Measures archs (canonical text), calling emit(row) at once for every measurement:
    // "pending" when a sample is measured, then "sample" (or "dropped" when quality
    // control rejected it) when its batch is confirmed, and "ref" for references. The
    // loop persists every row there and trains on "sample" rows only.
    virtual void measure(const std::vector<std::string>& archs, const std::function<void(const DatasetRow&)>& emit) = 0;
    // Replay sources draw samples from their pool instead of the space.
    virtual const Pool* pool() const { return nullptr; }
    // Whether each sample must be fsync'ed as it is measured (not for replayed numbers,
    // which cost nothing to redo).
    virtual bool precious() const { return true; }
};

// The time left of measuring `todo` samples, from the pace of the samples' own
// measurements timed from the first one (the references' baselines come before it): fed
// every row a LatencySource emits. A source that writes "pending" rows is paced by them
// alone (its "sample" rows before the first pending one are samples a killed run measured,
// confirmed now at no cost; paced by confirmations, the first ETA of a run was 20-30 times
// too long, as samples are confirmed a batch at a time). eta_s() is -1 until two samples.
class MeasurePace {
public:
    explicit MeasurePace(size_t todo) : todo_(todo) {}
    void on_row(const DatasetRow& row);
    double eta_s() const { return eta_; }

private:
    size_t todo_, paced_ = 0;
    std::unordered_set<std::string> seen_;  // samples with a row so far
    bool pending_source_ = false;
    std::chrono::steady_clock::time_point pace_from_;
    double eta_ = -1;
};

// A libesm dataset's samples come drift-corrected by its reference rows unless
// `drift_correction` is false (esm::Pool; LoopOptions::drift_correction, as esm-build passes it).
std::unique_ptr<LatencySource> make_pool_source(const Space& space, const std::string& csv, const std::string& target,
                                                bool drift_correction = true);
// Both below apply reference-model quality control (esm/measure.hpp) with p.refs
// references drawn from the space with `seed`. The runner's number is one measurement:
// p.warmup and p.runs do not apply to it.
std::unique_ptr<LatencySource> make_runner_source(const Space& space, const RunnerOptions& runner,
                                                  const MeasureProtocol& p = {}, uint64_t seed = 1);
// This library's executor (CPU, or CUDA when built in and present) at (batch, res).
std::unique_ptr<LatencySource> make_executor_source(const Space& space, int batch, int res,
                                                    const ExecutorOptions& options, const MeasureProtocol& p,
                                                    uint64_t seed = 1);

struct LoopOptions {
    Strategy strategy = Strategy::Balanced;
    int n_initial = 300;  // N_I
    int n_step = 100;     // N_step
    double w1 = 2.0;      // weight of bins below Acc_TH
    double w2 = 1.0;      // weight of bins at or above
    Encoding encoding = Encoding::FCC;
    ResEncoding res_encoding = ResEncoding::AreaDepth;  // docs/encodings.md
    std::vector<double> wd_grid;  // when set, the weight decay is picked on the validation split
    bool binwise = true;  // evaluation: every bin >= Acc_TH (else overall >= Acc_TH)
    int n_bins = 5;
    double acc_th = 98.0;  // %
    int test_size = 200;   // held-out test set, stratified: the same count in every bin (bin-wise: >= n_bins)
    // The network's options; the loop adds the linear skip by default (MlpOptions::linear_skip,
    // docs/performance.md: far more accurate from a few hundred samples on).
    MlpOptions mlp = [] {
        MlpOptions m;
        m.linear_skip = true;
        return m;
    }();
    // Train and evaluate on each sample's latency divided by its esm::drift_factors (the
    // device's speed from the reference re-measurements around its batch); dataset.csv
    // keeps the readings. No effect without references (a replay, --refs 0).
    bool drift_correction = true;
    // Transfer from other devices (HELP's setting): predictors of the same space. Each
    // iteration first calibrates one to the measured training rows (esm::calibrate_predictor:
    // latency = a * base + b; of several, the one esm::pick_base finds best on those rows);
    // when that meets the criterion the loop keeps it and trains no network; else it
    // fine-tunes the calibrated base's network on the rows (esm::fine_tune_predictor, its
    // defaults, with mlp's batch, validation split, relative loss and seed), and when that
    // misses too, trains its own network; it keeps whichever is most accurate on the test
    // set (worst bin, or overall). With bases, N_I and N_step of 10-50 let the loop stop after tens of
    // samples on a device close to proportional to one of them. Not with a base regressing
    // log latency.
    std::vector<std::shared_ptr<const Predictor>> bases;
    // Budget: 0 = unlimited. Checked after each iteration's training: the run stops after the
    // first iteration that reaches one, so the time budget can be overrun by one iteration;
    // it counts this process's time (a resumed run gets it afresh).
    int max_samples = 5000;  // training + test samples measured
    int max_iterations = 50;
    double max_seconds = 0;
    uint64_t seed = 1;
    std::string out_dir = "esm-out";  // also gets space.txt, the space description used
};

struct IterationReport {
    int iteration = 0;
    int train_samples = 0, test_samples = 0;
    int dropped = 0;  // planned samples (up to this iteration) quality control dropped as outliers
    MetricsReport metrics;
    bool passed = false;
    double measure_seconds = 0, train_seconds = 0;
    // After this iteration: the extension Algorithm 1 asks for per bin (balanced; empty for
    // random), and the samples planned for the next iteration per bin (fewer than asked
    // where the space, the pool or the sample budget ran out; empty when none follows).
    std::vector<int> asked_per_bin, added_per_bin;
    DriftRange drift;  // the drift factors applied (lo = hi = 1: none)
    // The predictor kept: "network", "calibrated base: latency = A * base + B" (with
    // several bases "calibrated base K of N: ...", K counted from 1), or "fine-tuned" and
    // the same.
    std::string model = "network";
};

struct LoopResult {
    bool converged = false;
    std::string stop_reason;
    std::vector<IterationReport> iterations;
    std::string predictor_path, dataset_path, report_path;
    std::vector<std::string> plot_paths;
};

struct LoopProgress {
    std::string phase;  // "measure", "train", "evaluated", "done"; "note": a message to show
    int iteration = 0;
    int done = 0, total = 0;  // within the phase
    double elapsed_s = 0, eta_s = -1;  // eta_s < 0: not known yet
    std::string message;
};

// Runs the loop for `space` with samples measured by `source`. Rerunning with the same
// out_dir resumes: planned samples come back from plans.csv, measured ones from
// dataset.csv; a directory made with other settings is refused (except a raised acc_th and
// other budgets: docs/build_loop.md, "Resuming").
LoopResult run_esm_loop(const Space& space, const LoopOptions& opt, LatencySource& source,
                        const std::function<void(const LoopProgress&)>& progress = nullptr);

}  // namespace esm
