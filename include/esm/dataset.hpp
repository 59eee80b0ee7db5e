// Latency dataset files (docs/dataset_format.md): a CSV with "# key: value" header lines
// (device, backend, protocol, space), one row per measurement, each written, flushed and
// fsync'ed when measured. Reopening resumes; a torn last line is cut away; a file of
// another space/device/protocol is refused untouched. Read with esm::read_table.
// Not the measurement protocol (esm/measure.hpp).
#pragma once
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "esm/executor.hpp"
#include "esm/measure.hpp"
#include "esm/space.hpp"

namespace esm {

class DurableLog;  // internal (lib/durable_log.hpp)

using DatasetMeta = std::vector<std::pair<std::string, std::string>>;

// The columns, in file order.
const std::vector<std::string>& dataset_columns();  // arch,depth,latency_ms,std_ms,runs,kind,timestamp
std::string dataset_column_row();                   // the same joined by commas: the file's column row

struct DatasetRow {
    std::string arch;  // canonical text
    int depth = 0;
    LatencyStats stats;
    std::string kind = "sample";  // "sample" | "ref" (a reference model's measurement)
    std::string timestamp;        // UTC, ISO 8601; filled by append() when empty
};

// The value of the `format` key, the first line of every dataset header ("# format: ...").
constexpr const char* kDatasetFormat = "esm-latency-dataset 1";

// A row kind datasets hold: sample, ref, pending, dropped, baseline, rejected
// (docs/dataset_format.md).
bool known_row_kind(const std::string& kind);
constexpr const char* kRowKindsText = "sample, ref, pending, dropped, baseline, rejected";

// Header keys that may differ between a file and a resumed run (everything else must match).
bool dataset_meta_volatile(const std::string& key);

// The header this library writes for a CPU dataset: format, created, library version,
// device (CPU model, cores), backend, threads, OpenBLAS core, space (name + one
// space_line per description line), resolution, batch, seed and the protocol.
DatasetMeta cpu_dataset_meta(const Space& space, int res, int batch, int threads, uint64_t seed,
                             const MeasureProtocol& p);
// The same for this library's executor with `options`: on the CUDA backend the GPU and its
// libraries (cuda::device_header) are the device, backend `cuda`, plus `tf32`; a missing
// GPU is an esm::Error (cuda::require_device).
DatasetMeta executor_dataset_meta(const Space& space, int res, int batch, const ExecutorOptions& options, uint64_t seed,
                                  const MeasureProtocol& p);

// The header lines that describe the space: `space` (its name), then one `space_line` per
// line of its description (docs/dataset_format.md). Every dataset libesm writes has them.
DatasetMeta space_meta(const Space& space);

// The space description a libesm dataset's header carries (its `space_line` rows), parsed
// into *out (`where` names the file in errors); false when the header has none (plain CSVs;
// runner, replay and C API datasets written before the seventeenth session).
bool header_space(const DatasetMeta& meta, const std::string& where, Space* out);

std::string cpu_model_name();  // from /proc/cpuinfo, "unknown" when absent
std::string utc_timestamp();   // "2026-01-31T12:34:56Z"

// Drift correction by the reference models (docs/dataset_format.md). A device's speed
// wanders (a shared VM, a phone warming up): the references re-measured just before and
// just after a sample's batch tell by how much while that batch was measured.
struct DriftRange {
    int remeasurements = 0;  // runs of "ref" rows, the baselines' included (0: nothing to correct by)
    double lo = 1, hi = 1;   // smallest and largest factor of a sample row
};
struct DriftFactors {
    // Per row: for a "sample" row, the geometric mean of reading / baseline over the
    // reference readings right before and right after its batch (a maximal run of "ref"
    // rows is one re-measurement; a reference's first row is its baseline), divided by the
    // median of that over all sample rows (of the logarithms: for an even count, the
    // geometric mean of the two middle values); 1 for other rows, and for every row when the
    // rows hold no references. A sample's latency at the run's median speed is its
    // latency divided by its factor.
    std::vector<double> factor;
    DriftRange range;
};
// rows: a dataset's rows in file order (only kind, arch and stats.latency_ms are read).
DriftFactors drift_factors(const std::vector<DatasetRow>& rows);

class DatasetWriter {
public:
    // Creates `path` with `meta` when it does not exist or is empty; `meta` starts with
    // {"format", kDatasetFormat} (else InvalidArgument). A file holding only this library's
    // header (no rows yet, or a header cut short by a kill or power loss) is written
    // afresh. Otherwise resumes: throws esm::Error (file untouched) unless the file's
    // header equals `meta` except for volatile keys; then a torn last line (no '\n':
    // killed mid-write) is truncated. Takes the file's one-writer lock first.
    // durable = false skips the fsyncs (for replayed numbers that cost nothing to redo).
    DatasetWriter(const std::string& path, const DatasetMeta& meta, bool durable = true);
    ~DatasetWriter();
    DatasetWriter(const DatasetWriter&) = delete;
    DatasetWriter& operator=(const DatasetWriter&) = delete;

    const std::vector<DatasetRow>& existing() const { return existing_; }  // rows found on open
    const DatasetMeta& meta() const { return meta_; }  // the header in the file (a resumed one's own)
    bool resumed() const { return resumed_; }
    bool truncated_tail() const { return truncated_; }
    bool has_sample(const std::string& arch) const { return samples_.count(arch) != 0; }

    // Appends one row: write, fsync. Throws esm::Error on I/O failure (the file still ends
    // at its last complete row). Returns the row as the file holds it (latency and std at
    // the file's ten significant digits, the timestamp written): what a resume reads back,
    // for a caller that goes on with it (esm-build trains an uninterrupted run on the values
    // a resumed one reads).
    DatasetRow append(const DatasetRow& row);

private:
    std::unique_ptr<DurableLog> log_;
    std::vector<DatasetRow> existing_;
    DatasetMeta meta_;
    std::unordered_set<std::string> samples_;
    bool resumed_ = false, truncated_ = false;
};

}  // namespace esm
