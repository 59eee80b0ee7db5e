// Latency sources for the ESM loop: a replay pool, and quality-controlled measurement
// through this library's executor or an external runner (esm/measure.hpp's QC).
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "decimal.hpp"
#include "esm/common.hpp"
#include "esm/cuda.hpp"
#include "esm/loop.hpp"

namespace esm {

namespace {

DatasetRow sample_row(const Space& space, const std::string& arch, const LatencyStats& st, const char* kind) {
    DatasetRow r;
    r.arch = arch;
    r.depth = parse_arch(space, arch).depth();
    r.stats = st;
    r.kind = kind;
    return r;
}

class PoolSource : public LatencySource {
public:
    PoolSource(const Space& space, const std::string& csv, const std::string& target, bool drift_correction)
        : space_(space), pool_(space, csv, target, drift_correction), csv_(csv), target_(target),
          drift_correction_(drift_correction) {}
    DatasetMeta header() const override {
        DatasetMeta m = {{"format", kDatasetFormat}, {"created", utc_timestamp()}, {"backend", "replay"}, {"pool", csv_},
                         {"pool_target", target_}};
        // Only when off: a replay begun before the option reached the pool resumes as it was.
        if (!drift_correction_) m.push_back({"pool_drift_correction", "off"});
        for (auto& kv : space_meta(space_)) m.push_back(std::move(kv));
        return m;
    }
    void measure(const std::vector<std::string>& archs, const std::function<void(const DatasetRow&)>& emit) override {
        for (const auto& a : archs) emit(sample_row(space_, a, {pool_.latency(a), 0.0, 1}, "sample"));
    }
    const Pool* pool() const override { return &pool_; }
    bool precious() const override { return false; }

private:
    Space space_;
    Pool pool_;
    std::string csv_, target_;
    bool drift_correction_;
};

// Measures through an ArchMeasurer under reference-model quality control: references are
// measured once at the start of a dataset (their baselines), then after every batch.
class QcSource : public LatencySource {
public:
    QcSource(const Space& space, DatasetMeta meta, const MeasureProtocol& p, uint64_t seed, ArchMeasurer m)
        : space_(space), meta_(std::move(meta)), p_(p), seed_(seed), qc_(p, std::move(m)) {
        p_.validate();
        // The references are distinct architectures of the space: a small one (a custom
        // description) may hold fewer, and the draw in measure() failed only once the dataset
        // was written, as "could not draw 5 distinct architectures", not naming the refs.
        if (p_.refs > 0 && space_.size_log10() < 18) {
            const long long held = std::stoll(space_.size_exact());
            if (held < p_.refs)
                throw Error(ErrorKind::InvalidArgument,
                            "quality control needs " + std::to_string(p_.refs) + " distinct reference models (refs) of space '" +
                                space_.name + "', which holds only " + std::to_string(held) +
                                " architecture" + (held == 1 ? "" : "s") + ": use fewer references, or 0 to measure without quality control");
        }
    }
    DatasetMeta header() const override { return meta_; }
    void resume(const std::vector<DatasetRow>& existing) override {
        std::unordered_set<std::string> rejected;  // no sample since its batch failed
        // The latest maximal run of consecutive "pending" rows: one attempt's samples (with, at
        // most, those of a killed run's batch just before it). The whole attempt is marked
        // rejected once, not again for each of its "rejected" rows unless a row since took one
        // of them out (a linear search and the marking per row made a resume O(N^2) in a
        // rejected batch of --qc-every N: 90 s for 32,000).
        std::unordered_set<std::string> attempt;
        bool attempt_marked = false;
        bool in_attempt = false;
        for (const auto& r : existing) {
            if (r.kind == "pending" && !in_attempt) attempt.clear();
            in_attempt = r.kind == "pending";
            if (in_attempt) {
                attempt.insert(r.arch);
                attempt_marked = false;
            }
            // An attempt's "rejected" rows are one append each: a kill after the first of them
            // leaves the others' samples "pending", measured while a reference was off too.
            if (r.kind == "rejected" && !attempt_marked && attempt.count(r.arch)) {
                for (const auto& a : attempt) {
                    rejected.insert(a);
                    pending_.erase(a);
                }
                attempt_marked = true;
            }
            if ((r.kind == "sample" || r.kind == "dropped") && attempt.count(r.arch)) attempt_marked = false;
            if (r.kind == "ref" && static_cast<int>(qc_.baselines().size()) < p_.refs)
                qc_.set_baseline(r.arch, r.stats.latency_ms);  // a reference's first row
            // A reference's baseline passes, durable before a kill cut the baselines short.
            if (r.kind == "baseline") passes_[r.arch].push_back(r.stats);
            // Measured before a kill but not yet confirmed by its batch's references; not after
            // a rejection (a kill during a retry): the device was known to be off then.
            if (r.kind == "pending" && !rejected.count(r.arch)) pending_[r.arch] = r.stats;
            // Its batch failed quality control: measured again, whatever the references say now.
            if (r.kind == "rejected") rejected.insert(r.arch);
            if (r.kind == "sample" || r.kind == "dropped") rejected.erase(r.arch);
            if (r.kind == "sample" || r.kind == "dropped" || r.kind == "rejected") pending_.erase(r.arch);
        }
    }
    void measure(const std::vector<std::string>& archs, const std::function<void(const DatasetRow&)>& emit) override {
        if (static_cast<int>(qc_.baselines().size()) < p_.refs) {
            // The references without a baseline yet, measured together (their passes
            // interleave), each pass on disk ("baseline") as soon as it is taken.
            // Only as many as the file lacks: a file whose references were drawn otherwise
            // (esm-measure before it measured through this source) keeps its count.
            Sampler sm(space_, seed_ * 0x2545F4914F6CDD1Dull + 17);
            std::vector<std::string> missing;
            const size_t lacking = static_cast<size_t>(p_.refs) - qc_.baselines().size();
            for (const Arch& a : sm.sample(Strategy::Random, p_.refs, 1)) {
                const std::string text = format_arch(space_, a);
                if (!qc_.has_baseline(text) && missing.size() < lacking) missing.push_back(text);
            }
            const auto pass = [&](const std::string& a, const LatencyStats& st) { emit(sample_row(space_, a, st, "baseline")); };
            for (const auto& r : qc_.measure_baselines(missing, passes_, pass)) emit(sample_row(space_, r.arch, r.stats, "ref"));
            passes_.clear();
        }
        // Samples measured before a kill are kept when the references still agree now, and
        // when their own spread is within the outlier floor (their batch, which would have
        // judged them against each other, never finished): the others are measured again.
        std::vector<std::string> todo;
        std::vector<DatasetRow> confirmed;
        for (const auto& a : archs) {
            auto it = pending_.find(a);
            if (it == pending_.end() || !(it->second.spread() <= p_.outlier_spread)) todo.push_back(a);
            else confirmed.push_back(sample_row(space_, a, it->second, "sample"));
        }
        if (!confirmed.empty()) {
            BatchReport check = qc_.measure_batch({});
            if (check.passed) {
                for (const auto& r : confirmed) emit(r);
                for (const auto& r : check.refs) emit(sample_row(space_, r.arch, r.stats, "ref"));
            } else {
                for (const auto& r : confirmed) todo.push_back(r.arch);  // measure them again
            }
            pending_.clear();
        }
        // Every sample is on disk ("pending") the moment it is measured; "sample" follows
        // when its batch passes quality control.
        // An attempt whose references moved: its samples "rejected" before the retry, so that
        // neither a kill during the retry nor a batch that fails for good leaves "pending"
        // rows a rerun would confirm (measured while the device was known to be off).
        qc_.set_observer([&](const std::string& a, const LatencyStats& st) { emit(sample_row(space_, a, st, "pending")); });
        qc_.set_rejected_observer([&](const std::vector<SampleResult>& samples) {
            for (const auto& s : samples) emit(sample_row(space_, s.arch, s.stats, "rejected"));
        });
        struct Reset {
            QualityControl& qc;
            ~Reset() {
                qc.set_observer(nullptr);
                qc.set_rejected_observer(nullptr);
            }
        } reset{qc_};
        for (size_t i = 0; i < todo.size(); i += static_cast<size_t>(p_.qc_batch)) {
            std::vector<std::string> batch(todo.begin() + static_cast<long>(i),
                                           todo.begin() + static_cast<long>(std::min(todo.size(), i + p_.qc_batch)));
            BatchReport rep = qc_.measure_batch(batch);
            if (!rep.passed)
                throw Error(ErrorKind::Io, "quality control failed after " + std::to_string(rep.attempts) +
                                               " attempts: " + rep.message +
                                               " (the device is not steady: the batches that passed are kept, this one's"
                                               " samples are marked rejected and a rerun measures them again;"
                                               " if the device itself changed since the references were first measured,"
                                               " start a new dataset)");
            // A sample still an outlier after its retries is recorded as dropped, never kept.
            for (const auto& s : rep.samples) emit(sample_row(space_, s.arch, s.stats, s.dropped ? "dropped" : "sample"));
            for (const auto& r : rep.refs) emit(sample_row(space_, r.arch, r.stats, "ref"));
        }
    }

private:
    Space space_;
    DatasetMeta meta_;
    MeasureProtocol p_;
    uint64_t seed_;
    QualityControl qc_;
    std::unordered_map<std::string, LatencyStats> pending_;
    std::map<std::string, std::vector<LatencyStats>> passes_;  // baseline passes read back on resume
};

DatasetMeta protocol_meta(const MeasureProtocol& p) {
    // qc_threshold as executor datasets write it: std::to_string's six decimals told 1e-6 from 1.4e-6 not.
    return {{"refs", std::to_string(p.refs)},
            {"qc_threshold", detail::header_number(p.qc_threshold)},
            {"qc_batch", std::to_string(p.qc_batch)},
            {"qc_retries", std::to_string(p.qc_retries)}};
}

}  // namespace

std::unique_ptr<LatencySource> make_pool_source(const Space& space, const std::string& csv, const std::string& target,
                                                bool drift_correction) {
    return std::make_unique<PoolSource>(space, csv, target, drift_correction);
}

std::unique_ptr<LatencySource> make_runner_source(const Space& space, const RunnerOptions& runner, const MeasureProtocol& p,
                                                  uint64_t seed) {
    // What the library knows; the runner owns the device, batch and resolution.
    DatasetMeta meta = {{"format", kDatasetFormat},
                        {"created", utc_timestamp()},
                        {"library_version", version()},
                        {"backend", "external runner"},
                        {"runner", runner.command}};
    for (auto& kv : space_meta(space)) meta.push_back(std::move(kv));
    for (auto& kv : protocol_meta(p)) meta.push_back(kv);
    auto r = std::make_shared<ExternalRunner>(runner);
    ArchMeasurer m = [r](const std::string& arch) { return LatencyStats{r->measure(arch), 0.0, 1}; };
    return std::make_unique<QcSource>(space, meta, p, seed, m);
}

std::unique_ptr<LatencySource> make_executor_source(const Space& space, int batch, int res, const ExecutorOptions& options,
                                                    const MeasureProtocol& p, uint64_t seed) {
    // (A missing GPU fails in executor_dataset_meta, before the loop writes its output directory.)
    return std::make_unique<QcSource>(space, executor_dataset_meta(space, res, batch, options, seed, p), p, seed,
                                      executor_measurer(space, batch, res, options, p));
}

void MeasurePace::on_row(const DatasetRow& row) {
    if ((row.kind != "pending" && row.kind != "sample" && row.kind != "dropped") || !seen_.insert(row.arch).second) return;
    if (row.kind == "pending" && !pending_source_) {
        pending_source_ = true;
        paced_ = 0;
    }
    if (row.kind != "pending" && pending_source_) return;
    const auto now = std::chrono::steady_clock::now();
    if (paced_++ == 0) pace_from_ = now;
    if (paced_ >= 2)
        eta_ = std::chrono::duration<double>(now - pace_from_).count() / static_cast<double>(paced_ - 1) *
               static_cast<double>(todo_ > seen_.size() ? todo_ - seen_.size() : 0);
}

}  // namespace esm
