// The measurement protocol: trimmed statistics on hand-worked data, warm-up handling,
// quality control against a simulated device that slows down by 10 %, outliers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "esm/common.hpp"
#include "esm/executor.hpp"
#include "esm/measure.hpp"

using namespace esm;

TEST(Measure, TrimmedStatsHandWorked) {
    // 1..10 shuffled: drop 2 at each end -> 3..8, mean 5.5, var (2.5^2+1.5^2+0.5^2)*2/6.
    LatencyStats s = trimmed_stats({7, 1, 10, 3, 9, 2, 8, 4, 6, 5}, 0.2);
    EXPECT_EQ(s.runs, 6);
    EXPECT_DOUBLE_EQ(s.latency_ms, 5.5);
    EXPECT_NEAR(s.std_ms, std::sqrt(17.5 / 6.0), 1e-12);
    // 150 runs: 30 dropped each end, so the two wild values do not count.
    std::vector<double> t(150, 2.0);
    t[0] = 1000;
    t[1] = 0.001;
    for (int i = 2; i < 150; i += 2) t[i] = 4.0;  // 74 fours, 74 twos + the two extremes
    LatencyStats u = trimmed_stats(t, 0.2);
    EXPECT_EQ(u.runs, 90);
    // Sorted: 0.001, 74 x 2, 74 x 4, 1000; kept indices 30..119: 45 twos, 45 fours.
    EXPECT_DOUBLE_EQ(u.latency_ms, 3.0);
    EXPECT_DOUBLE_EQ(u.std_ms, 1.0);
    EXPECT_EQ(trimmed_stats({4.0}, 0.2).runs, 1);
    EXPECT_DOUBLE_EQ(trimmed_stats({4.0, 8.0}, 0.2).latency_ms, 6.0);
}

TEST(Measure, WarmupRunsAreNotTimed) {
    int calls = 0;
    MeasureProtocol p;
    p.warmup = 3;
    p.runs = 10;
    // The first three calls (warm-up) are slow and must not show in the result.
    LatencyStats s = measure_latency([&] { return ++calls <= 3 ? 100.0 : 1.0 + 0.01 * (calls % 5); }, p);
    EXPECT_EQ(calls, 13);
    EXPECT_LT(s.latency_ms, 1.1);
    EXPECT_EQ(s.runs, 6);
}

// A backend that records an error returns NaN from its timed run (the CUDA executor): the
// measurement ends with the backend's reason, not with a NaN in the sorted timings (undefined
// behaviour for std::sort) and a NaN latency passed on as a result.
TEST(Measure, FailedTimedRunIsAnErrorWithTheBackendsReason) {
    struct Failing : Executor {
        int runs = 0;
        void run() override {}
        TensorView input() override { return {}; }
        TensorView output() override { return {}; }
        size_t activation_bytes() const override { return 0; }
        size_t unshared_activation_bytes() const override { return 0; }
        size_t weight_bytes() const override { return 0; }
        Backend backend() const override { return Backend::Cuda; }
        int threads() const override { return 1; }
        double timed_run_ms() override { return ++runs < 5 ? 1.0 : std::nan(""); }
        std::string last_error() const override { return runs < 5 ? "" : "conv1: cudnnConvolutionForward failed"; }
    } ex;
    MeasureProtocol p;
    p.warmup = 2;
    p.runs = 10;
    try {
        measure_latency(executor_timer(ex), p);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "the forward pass failed: conv1: cudnnConvolutionForward failed");
    }
    int calls = 0;  // any timer: a NaN or a negative time is an error too
    EXPECT_THROW(measure_latency([&] { return ++calls == 7 ? -1.0 : 1.0; }, p), Error);
    calls = 0;
    EXPECT_THROW(measure_latency([&] { return ++calls == 7 ? std::nan("") : 1.0; }, p), Error);
}

namespace {

// A simulated device: each arch has a base latency; `factor` scales every forward pass
// (a device that throttles); the timer adds a small deterministic jitter.
struct FakeDevice {
    std::map<std::string, double> base{{"a", 10}, {"b", 20}, {"c", 30}, {"r1", 5}, {"r2", 8}, {"r3", 3}};
    double factor = 1.0;
    int measured = 0;
    std::map<std::string, int> per_arch;
    std::function<void(int)> on_measure;  // called with the count before each measurement
    MeasureProtocol p;

    ArchMeasurer measurer() {
        return [this](const std::string& a) {
            if (on_measure) on_measure(measured);
            ++measured;
            ++per_arch[a];
            int i = 0;
            return measure_latency([&] { return base.at(a) * factor * (1.0 + 0.001 * (i++ % 7)); }, p);
        };
    }
};

MeasureProtocol small_protocol() {
    MeasureProtocol p;
    p.warmup = 1;
    p.runs = 10;
    return p;
}

}  // namespace

TEST(Measure, QualityControlRemeasuresBatchWhenDeviceSlowsDown) {
    FakeDevice dev;
    dev.p = small_protocol();
    QualityControl qc(dev.p, dev.measurer());
    auto base = qc.measure_baselines({"r1", "r2"});
    ASSERT_EQ(base.size(), 2u);
    EXPECT_NEAR(base[0].stats.latency_ms, 5.0, 0.05);
    EXPECT_EQ(dev.measured, 6);  // baselines: three passes over the two references
    // The device slows down by 10 % while the first attempt of the batch runs (from its
    // second sample on) and recovers after the references caught it.
    dev.on_measure = [&](int n) {
        if (n == 7) dev.factor = 1.1;   // b (second sample) onwards
        if (n == 11) dev.factor = 1.0;  // the second attempt runs on a recovered device
    };
    BatchReport r = qc.measure_batch({"a", "b", "c"});
    EXPECT_TRUE(r.passed) << r.message;
    EXPECT_EQ(r.attempts, 2);
    ASSERT_EQ(r.samples.size(), 3u);
    EXPECT_NEAR(r.samples[1].stats.latency_ms, 20.0, 0.1);  // the slowed value was not kept
    EXPECT_EQ(dev.per_arch["b"], 2);
    for (const auto& ref : r.refs) EXPECT_LT(std::fabs(ref.drift), 0.03);
}

TEST(Measure, BaselineIsTheMedianOfThreePasses) {
    // The device runs 30 % fast during the first pass over the references and 20 % slow
    // during the third: each baseline is the second pass's, and a batch on the device at its
    // normal speed passes a 10 % threshold (against the first measurement it would not).
    FakeDevice dev;
    dev.p = small_protocol();
    MeasureProtocol p = dev.p;
    p.qc_threshold = 0.1;
    QualityControl qc(p, dev.measurer());
    dev.on_measure = [&](int n) { dev.factor = n < 2 ? 0.7 : n < 4 ? 1.0 : 1.2; };
    auto base = qc.measure_baselines({"r1", "r2"});
    dev.on_measure = nullptr;
    dev.factor = 1.0;
    ASSERT_EQ(base.size(), 2u);
    EXPECT_NEAR(base[0].stats.latency_ms, 5.0, 0.05);
    EXPECT_NEAR(base[1].stats.latency_ms, 8.0, 0.05);
    ASSERT_EQ(qc.baselines().size(), 2u);
    EXPECT_NEAR(qc.baselines()[1].second, 8.0, 0.05);
    EXPECT_EQ(dev.per_arch["r1"], 3);
    BatchReport r = qc.measure_batch({"a"});
    EXPECT_TRUE(r.passed) << r.message;
    EXPECT_EQ(r.attempts, 1);
}

// A run killed during the baselines resumes them: the passes it made durable are not
// measured again, each new pass is handed out as it is taken, and each baseline is still
// the median of its three passes.
TEST(Measure, BaselinesResumeFromTheDurablePasses) {
    FakeDevice dev;
    dev.p = small_protocol();
    QualityControl qc(dev.p, dev.measurer());
    std::map<std::string, std::vector<LatencyStats>> taken;
    taken["r1"] = {{4.0, 0, 1}, {6.0, 0, 1}};  // two passes on disk (r1 measures 5 ms)
    taken["r2"] = {{8.8, 0, 1}};               // one (r2 measures 8 ms)
    std::vector<std::string> handed;
    auto base = qc.measure_baselines({"r1", "r2", "r3"}, taken,
                                     [&](const std::string& a, const LatencyStats&) { handed.push_back(a); });
    EXPECT_EQ(dev.per_arch["r1"], 1);
    EXPECT_EQ(dev.per_arch["r2"], 2);
    EXPECT_EQ(dev.per_arch["r3"], 3);
    // interleaved by pass: r3 (pass 1); r2, r3 (pass 2); r1, r2, r3 (pass 3)
    EXPECT_EQ(handed, (std::vector<std::string>{"r3", "r2", "r3", "r1", "r2", "r3"}));
    ASSERT_EQ(base.size(), 3u);
    EXPECT_NEAR(base[0].stats.latency_ms, 5.0, 0.05);  // median of 4, 6, 5
    EXPECT_NEAR(base[1].stats.latency_ms, 8.0, 0.05);  // median of 8.8, 8, 8
}

TEST(Measure, FailingBatchWaitsBeforeItsRetries) {
    // The device runs 20 % slow for 2.5 s of (simulated) time after the baselines: without a
    // wait every retry fails at once; with qc_wait_s 1 the retries wait 1 s, then 2 s (the
    // clock at 3 s: recovered) and the third attempt passes.
    for (double wait : {0.0, 1.0}) {
        FakeDevice dev;
        dev.p = small_protocol();
        MeasureProtocol p = dev.p;
        p.qc_wait_s = wait;
        QualityControl qc(p, dev.measurer());
        double clock = 0;
        std::vector<double> waits;
        qc.set_sleeper([&](double s) {
            waits.push_back(s);
            clock += s;
        });
        qc.measure_baselines({"r1"});
        dev.on_measure = [&](int) { dev.factor = clock < 2.5 ? 1.2 : 1.0; };
        BatchReport r = qc.measure_batch({"a"});
        if (wait == 0) {
            EXPECT_FALSE(r.passed);
            EXPECT_EQ(r.attempts, 4);
            EXPECT_TRUE(waits.empty());
        } else {
            EXPECT_TRUE(r.passed) << r.message;
            EXPECT_EQ(r.attempts, 3);
            EXPECT_EQ(waits, (std::vector<double>{1.0, 2.0}));
            EXPECT_NEAR(r.samples[0].stats.latency_ms, 10.0, 0.1);
        }
    }
    MeasureProtocol bad = small_protocol();
    bad.qc_wait_s = -1;
    EXPECT_THROW(bad.validate(), Error);
}

TEST(Measure, QualityControlFailsAfterRetriesOnPermanentDrift) {
    FakeDevice dev;
    dev.p = small_protocol();
    MeasureProtocol p = dev.p;
    p.qc_retries = 2;
    QualityControl qc(p, dev.measurer());
    qc.measure_baselines({"r1"});
    dev.factor = 1.1;
    BatchReport r = qc.measure_batch({"a"});
    EXPECT_FALSE(r.passed);
    EXPECT_EQ(r.attempts, 3);
    EXPECT_EQ(dev.per_arch["a"], 3);
    EXPECT_NE(r.message.find("r1"), std::string::npos);
    // Within the threshold (2 %) passes at once.
    dev.factor = 1.02;
    EXPECT_TRUE(qc.measure_batch({"a"}).passed);
}

// SPEC §5: a batch passes when every reference stays within 3 % of its first measurement, and
// a reading exactly 3 % off is within (10 -> 10.3 ms and 20 -> 19.4 ms, figures a runner
// prints, are 3.0000000000000027 % off in binary: they were rejected as "moved 3.000000%").
TEST(Measure, AReferenceExactlyAtTheThresholdPasses) {
    MeasureProtocol p = small_protocol();
    p.qc_threshold = 0.03;
    p.qc_retries = 0;
    std::map<std::string, double> now = {{"r1", 10.0}, {"r2", 20.0}, {"a", 5.0}};
    ArchMeasurer m = [&](const std::string& a) { return LatencyStats{now[a], 0.0, 1}; };
    QualityControl qc(p, m);
    qc.measure_baselines({"r1", "r2"});
    now["r1"] = 10.3;
    now["r2"] = 19.4;
    BatchReport at = qc.measure_batch({"a"});
    EXPECT_TRUE(at.passed) << at.message;
    now["r1"] = 10.30001;  // beyond it, however little
    BatchReport beyond = qc.measure_batch({"a"});
    EXPECT_FALSE(beyond.passed);
    EXPECT_NE(beyond.message.find("reference r1 moved"), std::string::npos) << beyond.message;
    EXPECT_EQ(beyond.message.find("r2"), std::string::npos) << beyond.message;
}

TEST(Measure, OutlierSpreadIsRemeasuredOrDropped) {
    MeasureProtocol p = small_protocol();
    p.outlier_retries = 2;
    std::map<std::string, int> calls;
    // "noisy" has a 50 % spread on its first measurement only; "awful" always.
    ArchMeasurer m = [&](const std::string& a) {
        const int n = calls[a]++;
        const bool noisy = ((a == "noisy" || a == "lonely") && n == 0) || a == "awful";
        int i = 0;
        return measure_latency([&] { return 10.0 * (noisy ? (i++ % 2 ? 1.5 : 0.5) : 1.0 + 0.001 * (i++ % 3)); }, p);
    };
    QualityControl qc(p, m);
    // An outlier relative to its batch: the calm majority sets the median spread.
    BatchReport r = qc.measure_batch({"calm", "noisy", "awful", "calm2", "calm3"});
    ASSERT_TRUE(r.passed);
    EXPECT_FALSE(r.samples[0].dropped);
    EXPECT_EQ(r.samples[0].measurements, 1);
    EXPECT_FALSE(r.samples[1].dropped);
    EXPECT_EQ(r.samples[1].measurements, 2);
    EXPECT_TRUE(r.samples[2].dropped);
    EXPECT_EQ(r.samples[2].measurements, 3);
    // A batch of one cannot be its own yardstick: the absolute floor applies.
    BatchReport one = qc.measure_batch({"lonely"});
    EXPECT_EQ(one.samples[0].measurements, 2);
    EXPECT_FALSE(one.samples[0].dropped);
}

TEST(Measure, ProtocolValidation) {
    MeasureProtocol p;
    EXPECT_NO_THROW(p.validate());
    p.trim = 0.5;
    EXPECT_THROW(p.validate(), Error);
    p = MeasureProtocol{};
    p.runs = 0;
    EXPECT_THROW(p.validate(), Error);
}

// Each sample's outlier limit is max(outlier_spread, outlier_factor x the lower median of
// the other samples' spreads), whatever the batch size, with ties: checked against the
// naive definition (the others sorted apart for every sample) on batches of 1 to 1,000.
TEST(Measure, OutlierLimitIsTheLowerMedianOfTheOthersOnAnyBatch) {
    MeasureProtocol p;
    p.refs = 0;
    p.outlier_spread = 0.002;
    p.outlier_factor = 1.0;  // the median itself: a neighbour of it in the sorted spreads would judge otherwise
    p.outlier_retries = 1;
    uint64_t state = 12345;
    for (size_t m : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{5}, size_t{6}, size_t{101}, size_t{1000}}) {
        // Spreads of 40 distinct values (ties in the larger batches); each arch's measurement
        // is the same every time, so a re-measurement does not change it.
        std::map<std::string, double> spread;
        std::vector<std::string> names;
        for (size_t i = 0; i < m; ++i) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const unsigned r = static_cast<unsigned>(state >> 33);
            names.push_back("a" + std::to_string(i));
            spread[names.back()] = 0.001 * (1 + r % 40);
        }
        QualityControl qc(p, [&](const std::string& a) {
            LatencyStats st;
            st.latency_ms = 10;
            st.std_ms = 10 * spread.at(a);
            st.runs = 5;
            return st;
        });
        const BatchReport rep = qc.measure_batch(names);
        ASSERT_TRUE(rep.passed);
        ASSERT_EQ(rep.samples.size(), m);
        size_t dropped = 0;
        for (size_t i = 0; i < m; ++i) {
            std::vector<double> others;
            for (size_t j = 0; j < m; ++j)
                if (j != i) others.push_back(rep.samples[j].stats.spread());
            std::sort(others.begin(), others.end());
            const double median = others.empty() ? 0 : others[(others.size() - 1) / 2];
            const double limit = std::max(p.outlier_spread, p.outlier_factor * median);
            const bool out = rep.samples[i].stats.spread() > limit;
            EXPECT_EQ(rep.samples[i].dropped, out) << "batch of " << m << ", sample " << i;
            EXPECT_EQ(rep.samples[i].measurements, out ? 2 : 1) << "batch of " << m << ", sample " << i;
            dropped += out;
        }
        if (m >= 101) {
            EXPECT_GT(dropped, 0u) << "batch of " << m << ": the test judges no outlier";
            EXPECT_LT(dropped, m) << "batch of " << m;
        }
    }
}
