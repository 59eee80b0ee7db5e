// The lookup table's file (docs/lut.md): versioned text, one entry a line, %.17g numbers
// (exact round trip), FNV-1a 64 checksum last, written atomically with the predictor's
// conventions and helpers (esm/predictor.hpp). Not the profiling (lut.cpp).
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "esm/common.hpp"
#include "esm/lut.hpp"
#include "esm/predictor.hpp"

namespace esm {

namespace {

const char* kMagic = "esm-lut ";
const char* kChecksumKey = "checksum fnv1a64 ";

// Shortest of %.15g / %.17g that reads back exactly.
std::string num(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.15g", v);
    if (std::strtod(b, nullptr) != v) std::snprintf(b, sizeof b, "%.17g", v);
    return b;
}

void check_one_line(const std::string& what, const std::string& v) {
    if (v.find_first_of("\t\r\n") != std::string::npos)
        throw Error(ErrorKind::InvalidArgument, "lookup table: " + what + " '" + v + "' contains a tab or newline");
}

// Cursor over the payload with line numbers for messages.
class Reader {
public:
    Reader(const std::string& t, size_t end, const std::string& where) : t_(t), end_(end), where_(where) {}
    [[noreturn]] void fail(const std::string& msg) const {
        throw Error(ErrorKind::Format, where_ + ": line " + std::to_string(line_) + ": " + msg);
    }
    std::string line() {
        if (pos_ >= end_) fail("unexpected end of data");
        const size_t nl = t_.find('\n', pos_);
        if (nl == std::string::npos || nl >= end_) fail("unterminated line");
        std::string l = t_.substr(pos_, nl - pos_);
        pos_ = nl + 1;
        ++line_;
        return l;
    }
    std::string field(const std::string& key) {
        const std::string l = line();
        if (l.compare(0, key.size() + 1, key + " ") != 0)
            fail("expected field '" + key + "', found '" + l.substr(0, 40) + "'");
        return l.substr(key.size() + 1);
    }
    long integer(const std::string& key, const std::string& v, long lo, long hi) const {
        char* e = nullptr;
        errno = 0;
        const long x = std::strtol(v.c_str(), &e, 10);
        if (v.empty() || *e || errno || x < lo || x > hi)
            fail("'" + key + "' expects an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                 ", found '" + v + "'");
        return x;
    }
    long integer(const std::string& key, long lo, long hi) { return integer(key, field(key), lo, hi); }
    double real(const std::string& key, const std::string& v) const {
        char* e = nullptr;
        const double x = std::strtod(v.c_str(), &e);
        if (v.empty() || *e || !std::isfinite(x)) fail("'" + key + "' has a bad number '" + v + "'");
        return x;
    }
    double real(const std::string& key) { return real(key, field(key)); }
    std::string blob(const std::string& key) {
        const long n = integer(key, 0, 1L << 24);
        if (pos_ + static_cast<size_t>(n) + 1 > end_) fail("'" + key + "' runs past the end of the data");
        std::string b = t_.substr(pos_, static_cast<size_t>(n));
        if (t_[pos_ + static_cast<size_t>(n)] != '\n') fail("'" + key + "' is not followed by a newline");
        for (char c : b) line_ += c == '\n';
        ++line_;
        pos_ += static_cast<size_t>(n) + 1;
        return b;
    }
    bool at_end() const { return pos_ == end_; }

private:
    const std::string& t_;
    size_t end_, pos_ = 0;
    int line_ = 0;
    std::string where_;
};

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

}  // namespace

std::string LookupTable::serialize() const {
    check_one_line("fit info", fit_info);
    std::string s = std::string(kMagic) + std::to_string(kLutFormatVersion) + "\n";
    s += "library " + std::string(version()) + "\n";
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
    for (const auto& [k, e] : entries_)
        s += k + "\t" + num(e.latency_ms) + "\t" + num(e.std_ms) + "\t" + std::to_string(e.runs) + "\n";
    char sum[32];
    std::snprintf(sum, sizeof sum, "%016" PRIx64, fnv1a64(s.data(), s.size()));
    return s + kChecksumKey + sum + "\n";
}

LookupTable LookupTable::parse(const std::string& text, const std::string& where) {
    const size_t nl = text.find('\n');
    const std::string first = text.substr(0, std::min(nl, size_t{60}));
    if (text.compare(0, std::strlen(kMagic), kMagic) != 0)
        throw Error(ErrorKind::Format, where + ": not a libesm lookup-table file (line 1 is '" + first + "')");
    const std::string v = nl == std::string::npos ? "" : text.substr(std::strlen(kMagic), nl - std::strlen(kMagic));
    if (v != std::to_string(kLutFormatVersion))
        throw Error(ErrorKind::Format, where + ": unsupported lookup-table format version '" + v +
                                           "' (this library, " + version() + ", reads version " +
                                           std::to_string(kLutFormatVersion) + ")");
    const std::string key = std::string("\n") + kChecksumKey;
    const size_t at = text.rfind(key);
    if (at == std::string::npos || text.size() != at + key.size() + 16 + 1 || text.back() != '\n')
        throw Error(ErrorKind::Format, where + ": truncated or damaged: the file (" + std::to_string(text.size()) +
                                           " bytes) does not end with its checksum line");
    const size_t payload = at + 1;
    char sum[32];
    std::snprintf(sum, sizeof sum, "%016" PRIx64, fnv1a64(text.data(), payload));
    const std::string stored = text.substr(at + key.size(), 16);
    if (stored != sum)
        throw Error(ErrorKind::Format, where + ": checksum mismatch over bytes 0.." + std::to_string(payload) +
                                           " (stored " + stored + ", computed " + sum + "): the file is corrupted");
    Reader r(text, payload, where);
    r.line();
    const std::string lib = r.field("library");
    const int batch = static_cast<int>(r.integer("batch", 1, 4096));
    const int res = static_cast<int>(r.integer("res", 0, 4096));
    const int threads = static_cast<int>(r.integer("threads", 1, 1024));
    MeasureProtocol p;
    p.warmup = static_cast<int>(r.integer("warmup", 0, 1L << 30));
    p.runs = static_cast<int>(r.integer("runs", 1, 1L << 30));
    p.trim = r.real("trim");
    const double a = r.real("bias_a"), b = r.real("bias_b");
    const std::string fit = r.field("fit");
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
        meta.emplace_back(l.substr(0, tab), l.substr(tab + 1));
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
        for (long i = 0; i < ne; ++i) {
            const std::vector<std::string> f = split_tabs(r.line());
            if (f.size() != 4) r.fail("an entry needs 4 tab-separated fields (key, latency_ms, std_ms, runs)");
            if (t.entries_.count(f[0])) r.fail("duplicate key '" + f[0] + "'");
            const LutEntry e{r.real("latency_ms", f[1]), r.real("std_ms", f[2]),
                             static_cast<int>(r.integer("runs", f[3], 0, 1L << 30))};
            try {
                t.set_entry(f[0], e);
            } catch (const Error& err) {
                r.fail(err.what());
            }
        }
        if (!r.at_end()) r.fail("unexpected data before the checksum line");
        return t;
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::Format) throw;
        throw Error(ErrorKind::Format, where + ": " + e.what());
    }
}

LookupTable LookupTable::load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(ErrorKind::Io, "cannot open lookup-table file '" + path + "': " + std::strerror(errno));
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw Error(ErrorKind::Io, "cannot read lookup-table file '" + path + "'");
    return parse(ss.str(), path);
}

void LookupTable::save(const std::string& path) const { write_file_atomic(path, serialize()); }

}  // namespace esm
