// The lookup table's files (docs/lut.md): the table (versioned text, one entry a line,
// %.17g numbers (exact round trip), FNV-1a 64 checksum last, written atomically with the
// predictor's conventions and helpers, esm/predictor.hpp) and the journal of a profiling
// run (append-only, lib/durable_log.hpp). Not the profiling (lut.cpp).
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "decimal.hpp"
#include "durable_log.hpp"
#include "esm/common.hpp"
#include "esm/dataset.hpp"
#include "esm/lut.hpp"
#include "esm/predictor.hpp"
#include "sealed_file.hpp"

namespace esm {

namespace {

const char* kMagic = "esm-lut";

constexpr auto num = detail::exact_number;

void check_one_line(const std::string& what, const std::string& v) { detail::check_one_line("lookup table", what, v); }

using Reader = detail::LineReader;

std::vector<std::string> split_tabs(const std::string& l) {
    std::vector<std::string> f;
    size_t start = 0;
    for (;;) {
        const size_t tab = l.find('\t', start);
        f.push_back(l.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
        if (tab == std::string::npos) return f;
        start = tab + 1;
    }
}

std::string entry_line(const std::string& key, const LutEntry& e) {
    return key + "\t" + num(e.latency_ms) + "\t" + num(e.std_ms) + "\t" + std::to_string(e.runs) + "\n";
}

// One "key latency_ms std_ms runs" line of a table or journal into `t`.
void read_entry(Reader& r, const std::string& line, LookupTable& t) {
    const std::vector<std::string> f = split_tabs(line);
    if (f.size() != 4) r.fail("an entry needs 4 tab-separated fields (key, latency_ms, std_ms, runs)");
    if (t.entries().count(f[0])) r.fail("duplicate key '" + f[0] + "'");
    const LutEntry e{r.real("latency_ms", f[1]), r.real("std_ms", f[2]),
                     static_cast<int>(r.integer("runs", f[3], 1, 1L << 30))};
    try {
        t.set_entry(f[0], e);
    } catch (const Error& err) {
        r.fail(err.what());
    }
}

const char* kJournalMagic = "esm-lut-journal 1";

// What a journal's entries were measured with: the table's settings and the device header
// without the keys that change from run to run (the creation time, the library version).
std::string journal_header(const LookupTable& t, const std::vector<std::pair<std::string, std::string>>& device) {
    const std::string sp = format_space(t.space());
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016" PRIx64, fnv1a64(sp.data(), sp.size()));
    std::string s = std::string(kJournalMagic) + "\n";
    s += "batch " + std::to_string(t.batch()) + "\n";
    s += "res " + std::to_string(t.res()) + "\n";
    s += "threads " + std::to_string(t.threads) + "\n";
    s += "warmup " + std::to_string(t.protocol.warmup) + "\n";
    s += "runs " + std::to_string(t.protocol.runs) + "\n";
    s += "trim " + num(t.protocol.trim) + "\n";
    s += "space " + t.space().name + " fnv1a64 " + hash + "\n";
    for (const auto& [k, v] : device) {
        check_one_line("meta key", k);
        check_one_line("meta value", v);
        if (!dataset_meta_volatile(k) && lut_meta_applies(k)) s += "meta " + k + "\t" + v + "\n";
    }
    return s + "entries\n";
}

// A journal header's `meta KEY<TAB>VALUE` line of a key profiling does not apply: `esm-lut
// eval --update` wrote the whole device header before it wrote only those (so a killed one
// left a journal `build` could not continue); skipped on reading.
bool inapplicable_meta_line(const std::string& line) {
    return line.compare(0, 5, "meta ") == 0 && !lut_meta_applies(line.substr(5, line.find('\t') - 5));
}

}  // namespace

std::string LookupTable::serialize() const {
    check_one_line("fit info", fit_info);
    // What parse refuses is refused here, not written to a file that no longer loads (after
    // hours of profiling): a correction set through the API, not by fit_bias.
    if (!(bias_a > 0) || !std::isfinite(bias_a) || !std::isfinite(bias_b))
        throw Error(ErrorKind::InvalidArgument, "lookup table: the bias correction latency = " +
                                                    detail::short_number(bias_a) + " * sum + " +
                                                    detail::short_number(bias_b) +
                                                    " is not saved: bias_a must be positive and both finite");
    std::string s = "library " + std::string(version()) + "\n";
    s += "batch " + std::to_string(batch_) + "\n";
    s += "res " + std::to_string(res_) + "\n";
    s += "threads " + std::to_string(threads) + "\n";
    s += "warmup " + std::to_string(protocol.warmup) + "\n";
    s += "runs " + std::to_string(protocol.runs) + "\n";
    s += "trim " + num(protocol.trim) + "\n";
    s += "bias_a " + num(bias_a) + "\n";
    s += "bias_b " + num(bias_b) + "\n";
    s += "fit " + fit_info + "\n";
    const std::string sp = format_space(space_);
    s += "space " + std::to_string(sp.size()) + "\n" + sp + "\n";
    s += "meta " + std::to_string(meta.size()) + "\n";
    for (const auto& [k, v] : meta) {
        check_one_line("meta key", k);
        check_one_line("meta value", v);
        s += k + "\t" + v + "\n";
    }
    s += "entries " + std::to_string(entries_.size()) + "\n";
    for (const auto& [k, e] : entries_) s += entry_line(k, e);
    return detail::seal(kMagic, kLutFormatVersion, s);
}

LookupTable LookupTable::parse(const std::string& text, const std::string& where) {
    const size_t payload = detail::unseal(text, where, kMagic, kLutFormatVersion, kLutFormatVersion, "lookup-table");
    Reader r(text, payload, where);
    r.line();
    const std::string lib = r.one_line("library", r.field("library"));
    const int batch = static_cast<int>(r.integer("batch", 1, 4096));
    const int res = static_cast<int>(r.integer("res", 0, 4096));
    if (res != 0 && res < 8) r.fail("res must be 0 (each arch's own) or 8..4096, got " + std::to_string(res));
    const int threads = static_cast<int>(r.integer("threads", 1, 1024));
    MeasureProtocol p;
    p.warmup = static_cast<int>(r.integer("warmup", 0, 1L << 30));
    p.runs = static_cast<int>(r.integer("runs", 1, 1L << 30));
    p.trim = r.real("trim");
    try {
        p.validate();
    } catch (const Error& e) {
        r.fail(e.what());
    }
    const double a = r.real("bias_a");
    if (!(a > 0))  // fit_bias never gives one: a larger sum would predict less (named on its own line)
        r.fail("bias_a " + detail::short_number(a) + " is not positive");
    const double b = r.real("bias_b");
    const std::string fit = r.one_line("fit info", r.field("fit"));
    Space space;
    {
        const std::string st = r.blob("space");
        try {
            space = parse_space(st, where + " (space section)");
        } catch (const Error& e) {
            r.fail(e.what());
        }
    }
    std::vector<std::pair<std::string, std::string>> meta;
    const long nm = r.integer("meta", 0, 100000);
    for (long i = 0; i < nm; ++i) {
        const std::string l = r.line();
        const size_t tab = l.find('\t');
        if (tab == std::string::npos) r.fail("meta line without a tab: '" + l.substr(0, 40) + "'");
        meta.emplace_back(r.one_line("meta key", l.substr(0, tab)), r.one_line("meta value", l.substr(tab + 1)));
    }
    try {
        LookupTable t(space, batch, res);
        t.protocol = p;
        t.threads = threads;
        t.bias_a = a;
        t.bias_b = b;
        t.fit_info = fit;
        t.meta = std::move(meta);
        t.library_version = lib;
        const long ne = r.integer("entries", 0, 100000000);
        for (long i = 0; i < ne; ++i) read_entry(r, r.line(), t);
        if (!r.at_end()) r.fail("unexpected data before the checksum line");
        return t;
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::Format) throw;
        throw Error(ErrorKind::Format, where + ": " + e.what());
    }
}

LookupTable LookupTable::load(const std::string& path) {
    return parse(detail::read_whole_file(path, "lookup-table", std::string(kMagic) + " "), path);
}

void LookupTable::save(const std::string& path) const { write_file_atomic(path, serialize()); }

bool lut_meta_applies(const std::string& key) {
    for (const char* k : {"space_line", "format", "refs", "qc_threshold", "qc_retries", "qc_batch", "outlier_spread",
                          "outlier_factor", "outlier_retries"})
        if (key == k) return false;
    return true;
}

std::string LookupTable::settings_difference(const LookupTable& other, const std::string& other_name) const {
    auto lines = [](const std::string& text) {  // (each line ends in '\n')
        std::vector<std::string> v;
        for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) v.push_back(text.substr(at, nl - at));
        return v;
    };
    const std::vector<std::string> a = lines(journal_header(*this, meta)), b = lines(journal_header(other, other.meta));
    // A meta line's key ("meta cpu_isa"), "" for the other lines.
    auto key = [](const std::string& l) { return l.compare(0, 5, "meta ") == 0 ? l.substr(0, l.find('\t')) : ""; };
    auto has_key = [&](const std::vector<std::string>& v, const std::string& k) {
        return std::any_of(v.begin(), v.end(), [&](const std::string& l) { return key(l) == k; });
    };
    auto shown = [](std::string l) {
        std::replace(l.begin(), l.end(), '\t', ' ');  // (a meta line's)
        return "'" + l + "'";
    };
    for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        const std::string mine = i < a.size() ? a[i] : "", theirs = i < b.size() ? b[i] : "";
        if (mine == theirs) continue;
        // A key one of the two has not at all (cpu_isa, only under a cap): named as missing,
        // not set against the other's next line.
        const std::string km = key(mine), kt = key(theirs);
        if (!kt.empty() && kt != km && !has_key(a, kt)) return "no " + kt + " where " + other_name + " has " + shown(theirs);
        if (!km.empty() && km != kt && !has_key(b, km)) return shown(mine) + " where " + other_name + " has no " + km;
        return (mine.empty() ? "(nothing)" : shown(mine)) + " where " + other_name + " has " +
               (theirs.empty() ? "(nothing)" : shown(theirs));
    }
    return "";
}

LutJournal::LutJournal(LookupTable& table, const std::string& path) : LutJournal(table, path, table.meta) {}

LutJournal::LutJournal(LookupTable& table, const std::string& path,
                       const std::vector<std::pair<std::string, std::string>>& device)
    : table_(&table), path_(path), log_(std::make_unique<DurableLog>(path, DurableLog::LockOnly{}, true)) {
    const std::string header = journal_header(table, device);
    const std::string whole = detail::read_appended_file(path, "lookup-table journal");
    std::string text = whole;
    text.resize(text.rfind('\n') + 1);  // complete lines only (npos + 1 = 0): a torn last one is cut
    // Empty, or a header cut short (its torn last line too): start it anew. Not a file whose
    // complete lines begin the header but whose torn rest does not (say, one line of something
    // else with no newline): that is no journal of ours.
    if (header.compare(0, whole.size(), whole) == 0) {
        log_->replace(header);
        return;
    }
    Reader r(text, text.size(), path);
    size_t at = 0;  // the header line by line: name the first one that differs
    while (at < header.size()) {
        const size_t nl = header.find('\n', at);
        const bool torn = r.at_end();
        const std::string want = header.substr(at, nl - at),
                          got = torn ? whole.substr(text.size()) : r.line();  // (the torn rest)
        if (at > 0 && !torn && inapplicable_meta_line(got)) continue;
        if (got != want) {
            if (at == 0) r.fail("not a lookup-table journal (its first line is '" + got.substr(0, 40) + "', not '" +
                                want + "')");
            r.fail("the journal was written by a profiling run with '" + got + "', this one has '" + want +
                   "': rerun with the settings it was written with, or move it away to profile from scratch");
        }
        at = nl + 1;
    }
    // Entries of this journal replace the table's; a key twice in the file is corruption.
    LookupTable seen(table.space(), table.batch(), table.res());
    while (!r.at_end()) {
        read_entry(r, r.line(), seen);
        ++resumed_;
    }
    for (const auto& [k, e] : seen.entries()) table.set_entry(k, e);
    log_->prepare("");  // cuts the torn line on disk too
}

LutJournal::~LutJournal() = default;

void LutJournal::record(const std::string& key, const LutEntry& e) { log_->append(entry_line(key, e)); }

void LutJournal::finish() {
    // Removed while still locked: a run that opened it between an unlock and the removal
    // would write into a file no longer there.
    const bool removed = std::remove(path_.c_str()) == 0 || errno == ENOENT;
    const int err = errno;
    log_.reset();
    if (!removed)
        throw Error(ErrorKind::Io, "cannot delete the lookup-table journal '" + path_ + "' (its table is saved): " +
                                       std::strerror(err));
}

}  // namespace esm
