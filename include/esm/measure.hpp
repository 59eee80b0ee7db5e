// The latency measurement protocol (SPEC §5): warm-up, timed runs, trimmed statistics,
// reference-model quality control and outlier handling. The timing source is injected
// (a function that runs one forward pass and returns ms), so tests can simulate devices.
// Not an executor (esm/executor.hpp) and not the dataset file (esm/dataset.hpp).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "esm/executor.hpp"

namespace esm {

struct MeasureProtocol {
    static constexpr int kMaxPasses = 1000000;  // the most warm-up or timed passes
    int warmup = 10;             // untimed forward passes first, 0 .. kMaxPasses
    int runs = 150;              // timed forward passes, 1 .. kMaxPasses
    double trim = 0.2;           // fraction dropped at each end of the sorted times
    int refs = 5;                // reference models drawn at dataset start
    double qc_threshold = 0.03;  // a reference may move this much from its first measurement
    int qc_retries = 3;          // times a failing batch is measured again
    // Seconds to wait before measuring a failing batch again, doubled for each further retry
    // (a device settling after a burst of load, a phone cooling down); not a property of the
    // measurements, so not in a dataset's header.
    double qc_wait_s = 0;
    int qc_batch = 10;           // samples between reference re-measurements
    // A sample is an outlier when its own spread (std/mean of the kept runs) exceeds
    // max(outlier_spread, outlier_factor * the lower median spread of the other samples of
    // its batch; none: outlier_spread alone); it is re-measured
    // up to outlier_retries times, then dropped (reported, never kept).
    double outlier_spread = 0.05;
    double outlier_factor = 3.0;
    int outlier_retries = 2;

    void validate() const;  // throws esm::Error naming the bad field
};

struct LatencyStats {
    double latency_ms = 0;  // mean of the middle runs
    double std_ms = 0;      // population std (ddof 0) of the same runs
    int runs = 0;           // runs kept
    double spread() const { return latency_ms > 0 ? std_ms / latency_ms : 0; }
};

// Sorts, drops floor(n * trim) times at each end, mean and std of the rest.
LatencyStats trimmed_stats(std::vector<double> times_ms, double trim);

// Runs one forward pass and returns its duration in ms.
using ForwardTimer = std::function<double()>;
// warmup passes, then runs timed passes, then trimmed_stats.
LatencyStats measure_latency(const ForwardTimer& forward, const MeasureProtocol& p);
// Times one forward pass with ex.timed_run_ms() (CPU: steady_clock around run(); CUDA:
// events on the executor's stream); the executor must outlive the timer.
ForwardTimer executor_timer(Executor& ex);

// Measures one architecture (canonical text) under the protocol: build, warm up, time.
using ArchMeasurer = std::function<LatencyStats(const std::string& arch)>;
// The CPU executor behind an ArchMeasurer: plan at (batch, res), weights from seed. res 0:
// the space's resolution, or on an elastic space each architecture's own (the only choice
// there: throws esm::Error otherwise, as the rows would carry an @R not measured).
ArchMeasurer executor_measurer(const Space& space, int batch, int res, const ExecutorOptions& options,
                               const MeasureProtocol& p);

struct SampleResult {
    std::string arch;
    LatencyStats stats;
    int measurements = 0;  // 1 + outlier re-measurements in the accepted attempt
    bool dropped = false;  // still an outlier after the retries: not to be kept
};

struct RefResult {
    std::string arch;
    LatencyStats stats;
    double drift = 0;  // relative change from the baseline
};

struct BatchReport {
    std::vector<SampleResult> samples;  // of the last attempt
    std::vector<RefResult> refs;        // of the last attempt
    int attempts = 0;
    bool passed = false;  // false: every attempt had a reference outside the threshold
    std::string message;  // which reference moved how much, when it failed
};

// Reference-model quality control over batches of samples.
class QualityControl {
public:
    QualityControl(const MeasureProtocol& p, ArchMeasurer measure);
    // Measures the references for the first time; their results are the baselines: three
    // interleaved passes over the references, each reference's median measurement (a spread
    // above outlier_spread is re-measured, the steadiest measurement kept). `taken`: the
    // passes a killed run already made durable (a reference's first k passes are not
    // measured again); `on_pass` is called with each new pass's measurement as soon as it
    // is taken, to make it durable.
    using PassObserver = std::function<void(const std::string& arch, const LatencyStats&)>;
    std::vector<RefResult> measure_baselines(const std::vector<std::string>& refs,
                                             const std::map<std::string, std::vector<LatencyStats>>& taken = {},
                                             const PassObserver& on_pass = nullptr);
    static constexpr size_t kBaselinePasses = 3;
    // Resume: a reference's first measurement, read back from the dataset (a reference that
    // has a baseline keeps it).
    void set_baseline(const std::string& arch, double latency_ms);
    bool has_baseline(const std::string& arch) const;
    const std::vector<std::pair<std::string, double>>& baselines() const { return baselines_; }

    // Measures the samples (outliers re-measured or dropped), then re-measures every
    // reference; when one moved more than qc_threshold from its baseline the whole batch
    // is measured again, up to qc_retries times, after qc_wait_s, 2 qc_wait_s, ... With no
    // references every batch passes.
    BatchReport measure_batch(const std::vector<std::string>& archs);
    // Called with every sample's first measurement as soon as it is taken, before the
    // batch's references confirm it, so a caller can make it durable at once.
    void set_observer(std::function<void(const std::string& arch, const LatencyStats&)> observer) {
        observer_ = std::move(observer);
    }
    // Called after each attempt of a batch that failed (a reference out of the threshold)
    // with that attempt's samples, before any retry: what the observer made durable from it
    // must not be kept (a rerun after a kill or a failed batch measures them again).
    void set_rejected_observer(std::function<void(const std::vector<SampleResult>&)> observer) {
        rejected_ = std::move(observer);
    }
    // How measure_batch waits qc_wait_s (default: the calling thread sleeps); for tests.
    void set_sleeper(std::function<void(double seconds)> sleeper) { sleep_ = std::move(sleeper); }

private:
    std::vector<SampleResult> measure_samples(const std::vector<std::string>& archs);
    MeasureProtocol p_;
    ArchMeasurer measure_;
    std::vector<std::pair<std::string, double>> baselines_;
    std::function<void(const std::string&, const LatencyStats&)> observer_;
    std::function<void(const std::vector<SampleResult>&)> rejected_;
    std::function<void(double)> sleep_;
};

}  // namespace esm
