// The lookup-table baseline (esm/lut.hpp): covering archs, segment profiling through an
// injected timer, sum prediction, the bias fit. The file format lives in lut_file.cpp.
// Not an executor: the real timer only drives Executor through the measurement protocol.
#include "esm/lut.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "decimal.hpp"
#include "esm/common.hpp"
#include "esm/train.hpp"
#include "sealed_file.hpp"

namespace esm {

SegmentTimer executor_segment_timer(const ExecutorOptions& options, const MeasureProtocol& p) {
    p.validate();
    return [options, p](const Plan& plan) {
        auto ex = Executor::create(plan, options);
        // The input may be a channel prefix of a wider buffer: fill through the view.
        TensorView in = ex->input();
        for (int b = 0; b < in.n; ++b)
            for (int c = 0; c < in.c; ++c) {
                float* x = in.channel(b, c);
                for (int64_t i = 0; i < in.plane(); ++i) x[i] = float(std::sin(0.37 * double(i) + 0.11 * c + b));
            }
        return measure_latency(executor_timer(*ex), p);
    };
}

std::vector<Arch> lut_cover_archs(const Space& space, int res) {
    if (space.family == Family::DenseNet)
        throw Error(ErrorKind::InvalidArgument,
                    "lut_cover_archs: space '" + space.name +
                        "' is of the densenet family, whose layer keys depend on earlier units' depths; "
                        "profile the keys of given architectures instead");
    // A fixed-resolution space's archs carry its one resolution (the table's res builds their
    // plans at `res`); an elastic space's archs carry their own, so they must be at `res`.
    std::vector<int> resolutions = space.resolutions;
    if (res != 0 && space.elastic_resolution()) {
        if (std::find(resolutions.begin(), resolutions.end(), res) == resolutions.end())
            throw Error(ErrorKind::InvalidArgument,
                        "lut_cover_archs: resolution " + std::to_string(res) + " is not one of space '" + space.name +
                            "' (" + std::to_string(resolutions.front()) + ".." +
                            std::to_string(resolutions.back()) + ", " + std::to_string(resolutions.size()) +
                            " values)");
        resolutions = {res};
    } else if (res != 0) {
        resolutions = {space.default_resolution()};
    }
    const int combos = space.combinations();
    std::vector<Arch> out;
    for (int r : resolutions)
        for (int c = 0; c < combos; ++c) {
            BlockChoice bc{};
            int rest = c;
            for (size_t i = 0; i < space.choices.size(); ++i) {
                const int n = static_cast<int>(space.choices[i].values.size());
                bc[i] = static_cast<uint8_t>(rest % n);
                rest /= n;
            }
            Arch a;
            a.res = r;
            for (const UnitSpec& u : space.units) {
                const int d = std::min(u.max_depth, std::max(2, u.min_depth));
                a.units.push_back(std::vector<BlockChoice>(static_cast<size_t>(d), bc));
            }
            out.push_back(std::move(a));
        }
    return out;
}

LookupTable::LookupTable(const Space& space, int batch, int res) : space_(space), batch_(batch), res_(res) {
    space_.validate();
    if (batch < 1 || batch > 4096)
        throw Error(ErrorKind::InvalidArgument, "lookup table: batch must be 1..4096, got " + std::to_string(batch));
    if (res != 0 && (res < 8 || res > 4096))
        throw Error(ErrorKind::InvalidArgument,
                    "lookup table: resolution must be 0 (the arch's) or 8..4096, got " + std::to_string(res));
    if (res != 0 && space_.elastic_resolution())
        throw Error(ErrorKind::InvalidArgument, "lookup table: space '" + space_.name + "' has an elastic resolution; "
                                                "its archs are profiled at their own (@R), so the table's is 0, not " +
                                                    std::to_string(res));
}

void LookupTable::set_entry(const std::string& key, const LutEntry& e) {
    if (key.empty() || key.find_first_of(" \t\r\n") != std::string::npos)
        throw Error(ErrorKind::InvalidArgument, "lookup table: bad key '" + key + "' (empty or with whitespace)");
    if (!(e.latency_ms > 0) || !std::isfinite(e.latency_ms) || !(e.std_ms >= 0) || !std::isfinite(e.std_ms))
        throw Error(ErrorKind::InvalidArgument, "lookup table: key '" + key + "' has latency " +
                                                    std::to_string(e.latency_ms) + " ms, std " +
                                                    std::to_string(e.std_ms) + " (need latency > 0, std >= 0)");
    entries_[key] = e;
}

Plan LookupTable::plan_of(const Arch& arch) const { return build_plan(space_, arch, batch_, res_); }

std::vector<std::string> LookupTable::keys_of(const Arch& arch) const {
    const Plan p = plan_of(arch);
    std::vector<std::string> keys;
    keys.reserve(p.segments.size());
    for (const Segment& s : p.segments) keys.push_back(s.key);
    return keys;
}

std::vector<std::string> LookupTable::missing_keys(const Arch& arch) const {
    std::vector<std::string> out;
    for (const std::string& k : keys_of(arch))
        if (!entries_.count(k) && std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
    return out;
}

namespace {

// A DenseNet layer's key names its index in the unit (SPEC §9) beside its input shape, but
// the computation is the same at any index: "u2.l7.k5.416x14x14" and "u2.l3.k5.416x14x14"
// differ only in where their unit's width came from. The key without the ".lN": layers of
// one computation share it. Other families' keys are their own computation.
std::string computation_of(const Space& space, const std::string& key) {
    if (space.family != Family::DenseNet || key.size() < 2 || key[0] != 'u') return key;
    size_t i = 1;
    while (i < key.size() && std::isdigit(static_cast<unsigned char>(key[i]))) ++i;
    if (i == 1 || key.compare(i, 2, ".l") != 0) return key;
    size_t j = i + 2;
    while (j < key.size() && std::isdigit(static_cast<unsigned char>(key[j]))) ++j;
    if (j == i + 2 || j == key.size() || key[j] != '.') return key;
    return key.substr(0, i) + key.substr(j);
}

}  // namespace

size_t LookupTable::profile(const std::vector<Arch>& archs, const SegmentTimer& timer,
                            const std::function<void(const std::string&, size_t, size_t)>& progress,
                            LutJournal* journal) {
    if (journal && &journal->table() != this)
        throw Error(ErrorKind::InvalidArgument, "lookup table: the journal '" + journal->path() +
                                                    "' was opened on another table");
    // First collect the distinct missing computations (a plan per arch is cheap), then time
    // each once from the first plan that holds it. A missing key whose computation the table
    // already has, or one timed here, gets that entry untimed (and unjournaled: a resumed run
    // copies it again).
    std::map<std::string, std::string> known;  // computation -> a key of it in the table
    for (const auto& kv : entries_) known.emplace(computation_of(space_, kv.first), kv.first);
    std::vector<std::pair<size_t, int>> todo;  // (arch index, segment index) to time
    std::map<std::string, std::vector<std::string>> twins;  // computation -> its other missing keys
    std::set<std::string> seen;
    for (size_t i = 0; i < archs.size(); ++i) {
        const Plan p = plan_of(archs[i]);
        for (size_t s = 0; s < p.segments.size(); ++s) {
            const std::string& k = p.segments[s].key;
            if (entries_.count(k) || !seen.insert(k).second) continue;
            const std::string c = computation_of(space_, k);
            const auto it = known.find(c);
            if (it != known.end()) {
                set_entry(k, entries_.at(it->second));
            } else if (twins.count(c)) {
                twins[c].push_back(k);
            } else {
                twins[c];
                todo.push_back({i, static_cast<int>(s)});
            }
        }
    }
    size_t done = 0;
    if (!timer) return done;  // only the untimed entries
    for (size_t t = 0; t < todo.size();) {
        // Segments of the same arch share one plan build.
        const size_t arch = todo[t].first;
        const Plan p = plan_of(archs[arch]);
        for (; t < todo.size() && todo[t].first == arch; ++t) {
            const Segment& seg = p.segments[static_cast<size_t>(todo[t].second)];
            const LatencyStats st = timer(extract_segment(p, todo[t].second));
            const LutEntry e{st.latency_ms, st.std_ms, st.runs};
            set_entry(seg.key, e);
            if (journal) journal->record(seg.key, e);
            for (const std::string& k : twins[computation_of(space_, seg.key)]) set_entry(k, e);
            ++done;
            if (progress) progress(seg.key, done, todo.size());
        }
    }
    return done;
}

double LookupTable::sum(const Arch& arch) const {
    double s = 0;
    for (const std::string& k : keys_of(arch)) {
        auto it = entries_.find(k);
        if (it == entries_.end())
            throw Error(ErrorKind::InvalidArgument, "lookup table: no entry for segment '" + k + "' of " +
                                                        format_arch(space_, arch) +
                                                        " (profile it first: the table has " +
                                                        std::to_string(entries_.size()) + " keys)");
        s += it->second.latency_ms;
    }
    return s;
}

double LookupTable::predict(const Arch& arch) const { return bias_a * sum(arch) + bias_b; }

double LookupTable::predict(const std::string& text) const { return predict(parse_arch(space_, text)); }

void LookupTable::fit_bias(const LatencyData& train) {
    const size_t n = train.size();
    if (n < 2)
        throw Error(ErrorKind::InvalidArgument, "lookup table: the bias fit needs at least 2 rows, got " +
                                                    std::to_string(n));
    std::vector<double> x(n);
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; ++i) {
        x[i] = sum(train.archs[i]);
        mx += x[i];
        my += train.latency[i];
    }
    mx /= double(n);
    my /= double(n);
    double sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; ++i) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (train.latency[i] - my);
    }
    if (!(sxx > 1e-12 * std::max(1.0, mx * mx)))
        throw Error(ErrorKind::InvalidArgument,
                    "lookup table: the bias fit needs architectures with different table sums (all " +
                        std::to_string(n) + " rows sum to " + std::to_string(mx) + " ms)");
    const double a = sxy / sxx;
    if (!(a > 0))  // it would predict less for more work, and below zero for large networks
        throw Error(ErrorKind::InvalidArgument,
                    "lookup table: the bias fit's slope is " + std::to_string(a) + " over " + std::to_string(n) +
                        " rows: the measured latencies do not rise with the table sums (another device, or a "
                        "table profiled at other settings?)");
    bias_a = a;
    bias_b = my - a * mx;
    fit_info = "rows=" + std::to_string(n) + " target=" + train.target +
               (train.source.empty() ? "" : " source=" + detail::resolved_path(train.source));
    if (train.drift.remeasurements > 0) {  // the latencies were drift-corrected when read
        char range[64];
        detail::CNumbers c;
        std::snprintf(range, sizeof range, " drift_corrected=%.4g..%.4g", train.drift.lo, train.drift.hi);
        fit_info += range;
    }
    for (char& c : fit_info)
        if (c == '\n' || c == '\t' || c == '\r') c = ' ';
}

LookupTable build_lookup_table(const Space& space, int batch, int res, const std::vector<Arch>& archs,
                               const SegmentTimer& timer) {
    LookupTable t(space, batch, res);
    std::vector<Arch> all;
    if (space.family != Family::DenseNet) {
        all = lut_cover_archs(space, res);
    } else if (archs.empty()) {
        throw Error(ErrorKind::InvalidArgument,
                    "lookup table: space '" + space.name +
                        "' is of the densenet family: give the architectures whose keys to profile");
    }
    all.insert(all.end(), archs.begin(), archs.end());
    t.profile(all, timer);
    return t;
}

}  // namespace esm
