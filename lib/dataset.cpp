// Durable latency dataset files (esm/dataset.hpp): header, append-with-fsync, resume,
// torn-tail repair, refusal of incompatible files. Not a reader for training (that is
// esm::read_table on the same file) and not the protocol.
#include "esm/dataset.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "blas.hpp"
#include "cpu_features.hpp"
#include "cpu_threads.hpp"
#include "decimal.hpp"
#include "durable_log.hpp"
#include "esm/common.hpp"
#include "esm/cuda.hpp"
#include "esm/table.hpp"
#include "sealed_file.hpp"

namespace esm {

// The most timed runs a dataset row may record: what the writer accepts and a resume reads.
constexpr int kMaxRuns = 1 << 30;

const std::vector<std::string>& dataset_columns() {
    static const std::vector<std::string> c = {"arch", "depth", "latency_ms", "std_ms", "runs", "kind", "timestamp"};
    return c;
}

std::string dataset_column_row() {
    std::string row;
    for (const auto& c : dataset_columns()) row += (row.empty() ? "" : ",") + c;
    return row;
}

bool known_row_kind(const std::string& k) {
    return k == "sample" || k == "ref" || k == "pending" || k == "dropped" || k == "baseline" || k == "rejected";
}

bool dataset_meta_volatile(const std::string& key) { return key == "created" || key == "library_version"; }

std::string cpu_model_name() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) {
            auto c = line.find(':');
            if (c == std::string::npos) break;
            std::string v = line.substr(c + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    return "unknown";
}

std::string utc_timestamp() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

DriftFactors drift_factors(const std::vector<DatasetRow>& rows) {
    DriftFactors out;
    out.factor.assign(rows.size(), 1.0);
    // Mean log(reading / baseline) of each maximal run of "ref" rows, and for every row
    // the number of such runs that ended before it.
    std::unordered_map<std::string, double> baseline;
    std::vector<double> log_speed;
    std::vector<int> runs_before(rows.size(), 0);
    int in_run = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        const DatasetRow& r = rows[i];
        const bool ref = r.kind == "ref" && r.stats.latency_ms > 0;
        if (ref) {
            const double base = baseline.emplace(r.arch, r.stats.latency_ms).first->second;
            if (in_run == 0) log_speed.push_back(0);
            log_speed.back() += (std::log(r.stats.latency_ms / base) - log_speed.back()) / ++in_run;
        } else {
            in_run = 0;
        }
        runs_before[i] = static_cast<int>(log_speed.size()) - (ref ? 1 : 0);
    }
    out.range.remeasurements = static_cast<int>(log_speed.size());
    if (log_speed.empty()) return out;
    std::vector<size_t> samples;
    std::vector<double> logs;
    for (size_t i = 0; i < rows.size(); ++i) {
        if (rows[i].kind != "sample") continue;
        const int before = runs_before[i] - 1, after = runs_before[i];  // after: none when it is the count
        double l = 0;
        if (before >= 0 && after < out.range.remeasurements) l = 0.5 * (log_speed[before] + log_speed[after]);
        else if (before >= 0) l = log_speed[before];
        else if (after < out.range.remeasurements) l = log_speed[after];
        samples.push_back(i);
        logs.push_back(l);
    }
    if (samples.empty()) return out;
    std::vector<double> sorted = logs;
    std::sort(sorted.begin(), sorted.end());
    const size_t m = sorted.size();
    const double median = m % 2 ? sorted[m / 2] : 0.5 * (sorted[m / 2 - 1] + sorted[m / 2]);
    out.range.lo = std::exp(sorted.front() - median);
    out.range.hi = std::exp(sorted.back() - median);
    for (size_t k = 0; k < samples.size(); ++k) out.factor[samples[k]] = std::exp(logs[k] - median);
    return out;
}

constexpr auto num = detail::header_number;

// A row's std as append() writes it and a resume reads it back (a std near DBL_MAX would be
// written rounded up to 1.797693135e+308, which reads back as infinity).
static bool std_in_range(double ms) { return ms >= 0 && ms <= kMaxLatencyMs; }

static std::string trim(const std::string& s) {
    const auto a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
    return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

DatasetMeta space_meta(const Space& space) {
    DatasetMeta m = {{"space", space.name}};
    std::istringstream text(format_space(space));
    text.exceptions(std::ios::badbit);  // an allocation failure throws, not cuts the header
    for (std::string line; std::getline(text, line);)
        if (!trim(line).empty()) m.push_back({"space_line", trim(line)});
    return m;
}

bool header_space(const DatasetMeta& meta, const std::string& where, Space* out) {
    std::string text;
    for (const auto& kv : meta)
        if (kv.first == "space_line") text += kv.second + "\n";
    if (text.empty()) return false;
    *out = parse_space(text, where + " (its header's space description)");
    return true;
}

DatasetMeta cpu_dataset_meta(const Space& space, int res, int batch, int threads, uint64_t seed,
                             const MeasureProtocol& p) {
    DatasetMeta m;
    m.push_back({"format", kDatasetFormat});
    m.push_back({"created", utc_timestamp()});
    m.push_back({"library_version", version()});
    m.push_back({"device", cpu_model_name()});
    m.push_back({"cores", std::to_string(std::thread::hardware_concurrency())});
    m.push_back({"backend", "cpu"});
    m.push_back({"threads", std::to_string(threads)});
    m.push_back({"openblas_core", blas::core_name()});
    // Only under a cap (a header without it is of the CPU's own kernels, as every file
    // written before).
    if (const char* isa = cpu_isa_capped()) m.push_back({"cpu_isa", isa});
    for (auto& kv : space_meta(space)) m.push_back(std::move(kv));
    m.push_back({"resolution", std::to_string(res)});
    m.push_back({"batch", std::to_string(batch)});
    m.push_back({"seed", std::to_string(seed)});
    m.push_back({"warmup", std::to_string(p.warmup)});
    m.push_back({"runs", std::to_string(p.runs)});
    m.push_back({"trim", num(p.trim)});
    m.push_back({"refs", std::to_string(p.refs)});
    m.push_back({"qc_threshold", num(p.qc_threshold)});
    m.push_back({"qc_retries", std::to_string(p.qc_retries)});
    m.push_back({"qc_batch", std::to_string(p.qc_batch)});
    m.push_back({"outlier_spread", num(p.outlier_spread)});
    m.push_back({"outlier_factor", num(p.outlier_factor)});
    m.push_back({"outlier_retries", std::to_string(p.outlier_retries)});
    return m;
}

DatasetMeta executor_dataset_meta(const Space& space, int res, int batch, const ExecutorOptions& options, uint64_t seed,
                                  const MeasureProtocol& p) {
    // A missing GPU fails here: a header naming none would bind a dataset (a journal, an
    // output directory) to a device that is not there.
    if (options.backend == Backend::Cuda) cuda::require_device(options.device);
    if (options.backend == Backend::Cpu) detail::check_cpu_threads(options.threads);
    // The threads the executor runs on (1 without OpenMP; 1 on CUDA, where one host thread
    // enqueues), not the ones asked for: a file measured single-threaded must not say 4, nor
    // resume one measured at 4, nor refuse to resume under another --threads that changes nothing.
    const int threads = options.backend == Backend::Cpu ? detail::cpu_threads_run(options.threads) : 1;
    DatasetMeta meta = cpu_dataset_meta(space, res, batch, threads, seed, p);
    if (options.backend == Backend::Cuda) {  // the GPU, its libraries and TF32 instead of the CPU
        for (auto& kv : meta) {
            if (kv.first == "backend") kv.second = "cuda";
            if (kv.first == "device") kv.second = cuda::device_header(options.device);
        }
        meta.push_back({"tf32", options.tf32 ? "on" : "off"});
    }
    return meta;
}

static DatasetMeta stable(const DatasetMeta& m) {
    DatasetMeta out;
    for (const auto& kv : m)
        if (!dataset_meta_volatile(kv.first)) out.push_back({trim(kv.first), trim(kv.second)});
    return out;
}

static void check_compatible(const std::string& path, const DatasetMeta& file, const DatasetMeta& want) {
    detail::CNumbers c_numbers;  // (std::to_string of a double below: "0,030000" under de_DE)
    // Keys added to the runner's and the replay's headers later: a file written before has
    // none of them and still resumes.
    auto has = [&](const char* key) {
        for (const auto& kv : file)
            if (kv.first == key) return true;
        return false;
    };
    DatasetMeta wanted;
    for (const auto& kv : want)
        if ((kv.first != "format" || has("format")) && (kv.first != "space_line" || has("space_line"))) wanted.push_back(kv);
    DatasetMeta a = stable(file);
    const DatasetMeta b = stable(wanted);
    std::string file_backend;
    for (const auto& kv : a)
        if (kv.first == "backend") file_backend = kv.second;
    for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        // CUDA datasets wrote --threads as given before they wrote the one host thread that
        // enqueues (1): such a file resumes under any --threads, which changes nothing on the
        // GPU (no run can say its old value any more).
        if (file_backend == "cuda" && i < a.size() && i < b.size() && a[i].first == "threads" &&
            b[i].first == "threads")
            a[i].second = b[i].second;
        // Runner datasets wrote qc_threshold with std::to_string's six decimals before
        // (0.030000): such a file resumes under any threshold six decimals write so (it
        // cannot tell 1e-6 from 1.4e-6). Executor datasets always wrote it exactly.
        if (file_backend == "external runner" && i < a.size() && i < b.size() && a[i].first == "qc_threshold" &&
            b[i].first == a[i].first &&
            a[i].second.size() > 7 && a[i].second[a[i].second.size() - 7] == '.' &&
            a[i].second == std::to_string(detail::strtod_c(b[i].second.c_str(), nullptr)))
            a[i].second = b[i].second;
        const std::string fk = i < a.size() ? a[i].first + ": " + a[i].second : "(nothing)";
        const std::string wk = i < b.size() ? b[i].first + ": " + b[i].second : "(nothing)";
        if (fk == wk) continue;
        // A key one side has not at all (cpu_isa, written only under a cap) is named as
        // missing, not set against the other side's next line.
        auto lacks = [](const DatasetMeta& m, const std::string& key) {
            return std::none_of(m.begin(), m.end(), [&](const auto& kv) { return kv.first == key; });
        };
        std::string says = "the file says '" + fk + "' where this run has '" + wk + "'";
        if (i < b.size() && (i >= a.size() || a[i].first != b[i].first) && lacks(a, b[i].first))
            says = "the file has no " + b[i].first + " where this run has '" + wk + "'";
        else if (i < a.size() && (i >= b.size() || a[i].first != b[i].first) && lacks(b, a[i].first))
            says = "the file says '" + fk + "' where this run has no " + a[i].first;
        throw Error(ErrorKind::Format, path + ": this dataset was measured under other settings and is left "
                                              "untouched: " + says + " (use another output file, or the same settings to resume)");
    }
}

// The first line of every header DatasetWriter writes.
static const std::string kOwnFirstLine = std::string("# format: ") + kDatasetFormat;

// A header this library began writing and a kill or power loss cut before its column row
// was complete: only comment lines, the first one libesm's, then at most a torn line.
// Nothing was measured into it yet.
static bool torn_own_header(const std::string& text) {
    bool ours = false;
    for (size_t pos = 0; pos < text.size();) {
        const size_t nl = text.find('\n', pos);
        const bool torn = nl == std::string::npos;
        const std::string line = text.substr(pos, torn ? std::string::npos : nl - pos);
        const size_t n = torn ? std::min(line.size(), kOwnFirstLine.size()) : kOwnFirstLine.size();
        if (pos == 0) ours = line.compare(0, n, kOwnFirstLine, 0, n) == 0;  // torn, only as far as it goes
        if (torn) return ours;  // the torn last line
        if (!ours || line.empty() || line[0] != '#') return false;  // not ours, or a complete column row
        pos = nl + 1;
    }
    return ours;  // complete comment lines only (or nothing)
}

DatasetWriter::DatasetWriter(const std::string& path, const DatasetMeta& meta, bool durable) {
    if (meta.empty() || meta.front().first != "format" || meta.front().second != kDatasetFormat)
        throw Error(ErrorKind::InvalidArgument, path + ": a dataset header starts with format: " + kDatasetFormat);
    for (const auto& [k, v] : meta) {  // each a line of the header, read back as it was written
        detail::check_one_line(path + ": dataset header", "key", k);
        detail::check_one_line(path + ": dataset header", k, v);
        if (k.size() + v.size() + 4 > kMaxLineBytes)
            throw Error(ErrorKind::InvalidArgument, path + ": dataset header: " + k + " is longer than a line may be (1 MiB)");
    }
    meta_ = meta;
    std::string head;
    for (const auto& kv : meta) head += "# " + kv.first + ": " + kv.second + "\n";
    head += dataset_column_row() + "\n";
    // The writer's lock first: what is read below cannot change under us, and a second
    // writer is refused before it reads or changes anything.
    log_ = std::make_unique<DurableLog>(path, DurableLog::LockOnly{}, durable);
    // Read as far as its tail of NUL bytes (a power loss); on disk they go with the torn
    // line in prepare(), once the file is known to be one this run resumes.
    const std::string text = detail::read_appended_file(path, "dataset");
    if (!text.empty() && torn_own_header(text)) {
        log_->replace(head);
        return;
    }
    if (!text.empty()) {
        bool torn = false;
        Table t = parse_table(text, path, true, &torn);
        if (t.columns != dataset_columns()) {
            std::string cols;
            for (const auto& c : t.columns) cols += (cols.empty() ? "" : ",") + c;
            throw Error(ErrorKind::Format, path + ": not a latency dataset of this format (columns '" + cols +
                                               "'); left untouched");
        }
        if (t.rows.empty() && t.has_meta("format")) {
            // libesm's header without a single row: a run that failed before its first
            // measurement (a wrong option, no device). Nothing measured is lost by writing it
            // afresh, with this run's settings.
            log_->replace(head);
            return;
        }
        check_compatible(path, t.meta, meta);
        meta_ = t.meta;
        // Every row is held to what append() writes and the readers accept: a damaged row (a
        // flipped byte, a hand edit) is refused here, the file left as it was, instead of a run
        // measuring on into a file esm-train then refuses (a damaged kind or arch would also
        // have its architecture measured a second time). The header's space was just found
        // equal to this run's (files without one: the arch is not checked).
        Space described;
        const bool has_space = header_space(t.meta, path, &described);
        for (size_t i = 0; i < t.rows.size(); ++i) {
            const auto damaged = [&](const std::string& column, const std::string& value, const std::string& why) {
                throw Error(ErrorKind::Format, path + ":" + std::to_string(t.row_lines[i]) + ": column '" + column +
                                                   "' holds '" + value.substr(0, 200) + "', " + why +
                                                   " (a damaged row: the file is left untouched; fix or remove the row, "
                                                   "then rerun to resume)");
            };
            DatasetRow r;
            r.arch = t.rows[i][0];
            r.depth = static_cast<int>(t.integer(i, 1, 0, 1 << 20));
            r.stats.latency_ms = t.number(i, 2);
            r.stats.std_ms = t.number(i, 3);
            r.stats.runs = static_cast<int>(t.integer(i, 4, 0, kMaxRuns));
            r.kind = t.rows[i][5];
            r.timestamp = t.rows[i][6];
            if (!known_row_kind(r.kind)) damaged("kind", r.kind, std::string("none of ") + kRowKindsText);
            if (!latency_in_range(r.stats.latency_ms))
                damaged("latency_ms", t.rows[i][2], std::string("outside ") + kLatencyRangeText);
            if (!std_in_range(r.stats.std_ms)) damaged("std_ms", t.rows[i][3], "outside 0 .. 1e12 ms");
            if (has_space) {
                Arch a;
                std::string err;
                if (!try_parse_arch(described, r.arch, &a, &err)) damaged("arch", r.arch, err);  // (strict: canonical)
            }
            if (r.kind == "sample") samples_.insert(r.arch);
            existing_.push_back(r);
        }
        resumed_ = true;
    }
    // A torn last line (killed mid-write) is cut: that row is measured again.
    log_->prepare(head);
    truncated_ = log_->cut_torn_line();
}

DatasetWriter::~DatasetWriter() = default;

DatasetRow DatasetWriter::append(const DatasetRow& r) {
    if (r.arch.find_first_of(",\n\"#") != std::string::npos || r.timestamp.find_first_of(",\n\r") != std::string::npos)
        throw Error(ErrorKind::InvalidArgument, "dataset row with a field that needs quoting: " + r.arch + " " + r.timestamp);
    if (r.depth < 0) throw Error(ErrorKind::InvalidArgument, "dataset row of " + r.arch + " with a negative depth");
    // What the readers accept (read_latency_data), so that nothing written is refused later.
    if (!known_row_kind(r.kind))
        throw Error(ErrorKind::InvalidArgument, "dataset row kind '" + r.kind + "' is none of " + kRowKindsText);
    // (runs past kMaxRuns is refused by a resume.)
    if (!latency_in_range(r.stats.latency_ms) || !std_in_range(r.stats.std_ms) ||
        r.stats.runs < 1 || r.stats.runs > kMaxRuns)
        throw Error(ErrorKind::InvalidArgument, "dataset row of " + r.arch + ": latency must be " + kLatencyRangeText + ", std "
                                                "0 .. 1e12 ms, runs 1 .. " + std::to_string(kMaxRuns) + " (got " +
                                                num(r.stats.latency_ms) + ", " + num(r.stats.std_ms) + ", " +
                                                std::to_string(r.stats.runs) + ")");
    DatasetRow written = r;
    const std::string latency = num(r.stats.latency_ms), std_ms = num(r.stats.std_ms);
    if (written.timestamp.empty()) written.timestamp = utc_timestamp();
    const std::string line = r.arch + "," + std::to_string(r.depth) + "," + latency + "," + std_ms + "," +
                             std::to_string(r.stats.runs) + "," + r.kind + "," + written.timestamp + "\n";
    log_->append(line);
    if (r.kind == "sample") samples_.insert(r.arch);
    written.stats.latency_ms = detail::strtod_c(latency.c_str(), nullptr);
    written.stats.std_ms = detail::strtod_c(std_ms.c_str(), nullptr);
    return written;
}

}  // namespace esm
