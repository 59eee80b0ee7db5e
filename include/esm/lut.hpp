// The lookup-table baseline (SPEC §9, docs/lut.md): every distinct segment of the plan
// (stem, block or dense layer, transition, head) profiled in isolation at its real input
// shape; a prediction is the sum over an arch's segments, optionally bias-corrected by
// y ≈ a·sum + b. Versioned, checksummed text file. Not the MLP predictor (esm/predictor.hpp).
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "esm/arch.hpp"
#include "esm/executor.hpp"
#include "esm/measure.hpp"
#include "esm/plan.hpp"
#include "esm/space.hpp"

namespace esm {

struct LatencyData;
class DurableLog;
class LutJournal;

constexpr int kLutFormatVersion = 1;

// Latency of one standalone segment plan (extract_segment). Injected so tests can use a
// synthetic cost; executor_segment_timer is the real one.
using SegmentTimer = std::function<LatencyStats(const Plan& segment_plan)>;
// Builds an executor for the segment plan (weights from options.seed), fills its input
// deterministically and measures it under `p` (warm-up, timed runs, trimmed stats).
SegmentTimer executor_segment_timer(const ExecutorOptions& options, const MeasureProtocol& p);

struct LutEntry {
    double latency_ms = 0;  // trimmed mean
    double std_ms = 0;
    int runs = 0;           // runs kept
};

// Synthetic architectures that together contain every segment key of a ResNet- or
// MobileNetV3-family space at resolution `res` (0: every resolution of the space; in an
// elastic space one of its values, else esm::Error, and the archs carry it as @res; in a
// fixed one they carry the space's, for a table built at `res`): one
// arch per (resolution, choice combination), every block using that combination, each
// unit at depth max(2, min) (capped at its max): its first and its rest block. A block's
// input shape depends only on the resolution and the unit widths, so this is exhaustive.
// Throws for DenseNet-family spaces (their keys depend on earlier units' depths).
std::vector<Arch> lut_cover_archs(const Space& space, int res = 0);

class LookupTable {
public:
    // The instance: plans are built at (batch, res); res 0 = each arch's own resolution.
    LookupTable(const Space& space, int batch = 1, int res = 0);

    const Space& space() const { return space_; }
    int batch() const { return batch_; }
    int res() const { return res_; }

    // Recorded with the table (what it was measured with); informational.
    MeasureProtocol protocol;
    int threads = 1;
    std::vector<std::pair<std::string, std::string>> meta;  // device header (cpu_dataset_meta)
    std::string fit_info;  // one line: what the bias was fitted on ("" = not fitted)
    std::string library_version;  // of the library that wrote it (set on save)

    // Bias correction: predict = a * sum + b. Identity until fit_bias.
    double bias_a = 1.0, bias_b = 0.0;

    const std::map<std::string, LutEntry>& entries() const { return entries_; }
    size_t size() const { return entries_.size(); }
    // Adds or replaces one entry (latency > 0, finite; key without whitespace).
    void set_entry(const std::string& key, const LutEntry& e);

    // The plan of `arch` at this table's instance, and its segment keys in order.
    Plan plan_of(const Arch& arch) const;
    std::vector<std::string> keys_of(const Arch& arch) const;
    // Keys of `arch` the table lacks (each once).
    std::vector<std::string> missing_keys(const Arch& arch) const;

    // Profiles, with `timer`, every segment of `archs` whose key is not in the table yet
    // (each distinct computation once: DenseNet keys that differ only in the layer index
    // share one timing, and a missing key whose computation the table holds gets its entry
    // untimed; with an empty `timer`, only those are added). Returns how many segments were
    // timed. `progress`, when given, is called after each timed key with (key, done,
    // total). With a `journal` (opened on this table), each timed entry is on disk before
    // the next key is timed.
    size_t profile(const std::vector<Arch>& archs, const SegmentTimer& timer,
                   const std::function<void(const std::string&, size_t, size_t)>& progress = nullptr,
                   LutJournal* journal = nullptr);

    // Sum of the arch's segment latencies (no bias correction). Throws esm::Error naming
    // the first missing key.
    double sum(const Arch& arch) const;
    // bias_a * sum + bias_b.
    double predict(const Arch& arch) const;
    double predict(const std::string& arch_text) const;

    // Least-squares fit of y ≈ a·sum + b over `train` (its archs must be covered); sets
    // bias_a, bias_b and fit_info. Throws (changing nothing) when fewer than 2 rows, all sums
    // are equal, or the fitted slope is not > 0.
    void fit_bias(const LatencyData& train);

    // The first of the settings a table's entries were measured with (batch, resolution,
    // threads, warm-up, runs, trim, the space description, the device header but its
    // volatile keys: what a journal binds, LutJournal) in which this table and `other`
    // differ, as "'runs 2' where OTHER_NAME has 'runs 3'" (a device-header key only one of
    // them has: "no meta KEY where OTHER_NAME has 'meta KEY VALUE'", or the other way round);
    // "" when the entries of one may stand beside the other's.
    std::string settings_difference(const LookupTable& other, const std::string& other_name = "the other") const;

    // Versioned text file with an FNV-1a 64 checksum, written atomically. Throws esm::Error
    // (InvalidArgument), writing nothing, when bias_a is not positive or a bias is not finite
    // (load refuses such a file).
    void save(const std::string& path) const;
    std::string serialize() const;
    // Throws esm::Error (Io or Format) naming the file, the line and what is wrong.
    static LookupTable load(const std::string& path);
    static LookupTable parse(const std::string& text, const std::string& where);

private:
    Space space_;
    int batch_ = 1, res_ = 0;
    std::map<std::string, LutEntry> entries_;
};

// Whether a device-header key (esm::executor_dataset_meta) is among what a table's entries
// were profiled with: not the dataset's format and space line, nor quality control's
// settings, which profiling does not apply. A table's meta and a journal's header hold
// only those that are.
bool lut_meta_applies(const std::string& key);

// The journal of a profiling run (docs/lut.md, "Resuming"): profiling can take hours, so
// every entry profile() times is appended to the journal and fsync'd before the next key;
// a killed run rerun with the same settings loads them and profiles only what it lacks.
// The journal's header binds it to the table's batch, resolution, threads, protocol, space
// and device header (without its volatile keys, nor those lut_meta_applies leaves out): a
// journal of other settings, or another machine's, is refused and left as it is. Delete it
// with finish() once the table is saved.
class LutJournal {
public:
    // Opens or creates `path` and takes its writer's lock (a second run on it is refused),
    // then loads the entries a killed run left into `table` (replacing those it has).
    // `device`: the header of the machine and executor that profile (esm::executor_dataset_meta;
    // default: the table's own meta, as when building it). Throws esm::Error naming the
    // file, the line and what is wrong or differs.
    LutJournal(LookupTable& table, const std::string& path);
    LutJournal(LookupTable& table, const std::string& path,
               const std::vector<std::pair<std::string, std::string>>& device);
    ~LutJournal();
    LutJournal(const LutJournal&) = delete;
    LutJournal& operator=(const LutJournal&) = delete;

    const std::string& path() const { return path_; }
    const LookupTable& table() const { return *table_; }  // the table it was opened on
    size_t resumed() const { return resumed_; }  // entries loaded from the file
    void record(const std::string& key, const LutEntry& e);  // appends one entry, fsync'd
    void finish();  // deletes the file (the table holding its entries is saved)

private:
    const LookupTable* table_;
    std::string path_;
    std::unique_ptr<DurableLog> log_;
    size_t resumed_ = 0;
};

// Builds a table: for ResNet/MobileNetV3-family spaces every key (lut_cover_archs at the
// table's res, plus `archs`); for DenseNet-family spaces the keys `archs` need (throws
// when `archs` is empty there).
LookupTable build_lookup_table(const Space& space, int batch, int res, const std::vector<Arch>& archs,
                               const SegmentTimer& timer);

}  // namespace esm
