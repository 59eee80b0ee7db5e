// Space description files: strict `key = value` lines (docs/space_format.md), parsed
// into a validated Space and printed back canonically. Not family semantics (plan_*.cpp).
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "decimal.hpp"
#include "esm/common.hpp"
#include "esm/space.hpp"
#include "sealed_file.hpp"

namespace esm {

namespace {

struct Line {
    int number;
    std::string value;
};

class Reader {
public:
    Reader(const std::string& where) : where_(where) {}

    // `what` quotes the file's own bytes: those outside printable ASCII as \xHH (a NUL
    // ended the message for a C caller, an escape sequence reached the terminal, a stray
    // BOM before a key read as the key itself).
    [[noreturn]] void fail(int line, const std::string& what) const {
        throw Error(ErrorKind::Format, where_ + (line > 0 ? " line " + std::to_string(line) : std::string()) +
                                           ": " + detail::quoted_bytes(what));
    }

    std::vector<std::string> words(const Line& l) const {
        std::istringstream is(l.value);
        is.exceptions(std::ios::badbit);  // an allocation failure throws, not ends the list
        std::vector<std::string> out;
        std::string w;
        while (is >> w) out.push_back(w);
        return out;
    }

    // Plain digits only: strtol alone takes a sign, leading space, and stops at a NUL.
    long integer(const std::string& w, int line, const std::string& key, long lo, long hi) const {
        errno = 0;
        char* end = nullptr;
        const bool digits = !w.empty() && w.size() <= 18 && w.find_first_not_of("0123456789") == std::string::npos;
        long v = digits ? std::strtol(w.c_str(), &end, 10) : 0;
        if (!digits || *end != '\0' || errno || v < lo || v > hi)
            fail(line, "'" + key + "' expects integers in " + std::to_string(lo) + ".." + std::to_string(hi) +
                           ", got '" + w + "'");
        return v;
    }

    // A positive number: decimal, or one fraction p/q of two decimals (not hex, inf, nan).
    double number(const std::string& w, int line, const std::string& key) const {
        auto bad = [&] { fail(line, "'" + key + "' expects positive numbers (or fractions p/q), got '" + w + "'"); };
        auto decimal = [&](const std::string& t) {
            errno = 0;
            char* end = nullptr;
            // A digit or '.' first: a sign only inside an exponent.
            if (!detail::decimal_chars(t) || !(std::isdigit(static_cast<unsigned char>(t[0])) || t[0] == '.'))
                bad();
            const double v = detail::strtod_c(t.c_str(), &end);
            if (*end != '\0' || errno || !(v >= kMinChoiceValue) || !std::isfinite(v)) bad();
            return v;
        };
        const auto slash = w.find('/');
        if (slash == std::string::npos) return decimal(w);
        if (w.find('/', slash + 1) != std::string::npos) bad();
        const double v = decimal(w.substr(0, slash)) / decimal(w.substr(slash + 1));
        if (!(v >= kMinChoiceValue) || !std::isfinite(v)) bad();  // what format_space prints reads back
        return v;
    }

private:
    std::string where_;
};

std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// Prints a value as an integer, a small fraction p/q, or full precision.
std::string number_text(double v) {
    for (int q = 1; q <= 12; ++q) {
        double p = std::round(v * q);
        if (p >= 1 && p / q == v) {
            if (q == 1) return std::to_string(static_cast<long long>(p));
            return std::to_string(static_cast<long long>(p)) + "/" + std::to_string(q);
        }
    }
    detail::CNumbers c;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

Act parse_act(const Reader& r, const std::string& w, int line) {
    if (w == "relu") return Act::ReLU;
    if (w == "hswish") return Act::HSwish;
    r.fail(line, "'act' expects relu or hswish, got '" + w + "'");
}

}  // namespace

Space parse_space(const std::string& text, const std::string& where) {
    Reader r(where);
    if (text.size() > kMaxSpaceTextBytes) r.fail(0, "larger than 64 KiB; not a space description");
    std::map<std::string, Line> kv;
    std::vector<std::pair<std::string, Line>> choice_lines;
    // A byte-order mark some editors write is not part of the first key.
    std::istringstream is(text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? text.substr(3) : text);
    is.exceptions(std::ios::badbit);  // an allocation failure throws, not ends the text
    std::string raw;
    int number = 0;
    while (std::getline(is, raw)) {
        ++number;
        std::string s = raw.substr(0, raw.find('#'));
        s = trim(s);
        if (s.empty()) continue;
        auto eq = s.find('=');
        if (eq == std::string::npos) r.fail(number, "expected 'key = value', got '" + s + "'");
        std::string key = trim(s.substr(0, eq)), value = trim(s.substr(eq + 1));
        if (value.empty()) r.fail(number, "key '" + key + "' has no value");
        if (key.rfind("choice ", 0) == 0) {
            std::string cname = trim(key.substr(7));
            for (auto& c : choice_lines)
                if (c.first == cname) r.fail(number, "choice '" + cname + "' given twice");
            choice_lines.push_back({cname, {number, value}});
            continue;
        }
        static const char* known[] = {"name",  "family", "units", "width", "stride", "depth", "act",
                                      "se",    "choices_per", "stem", "first_block", "head", "classes",
                                      "growth", "bottleneck", "resolution", "batch"};
        bool ok = false;
        for (const char* k : known) ok = ok || key == k;
        if (!ok) r.fail(number, "unknown key '" + key + "'");
        if (kv.count(key)) r.fail(number, "key '" + key + "' given twice (first on line " +
                                              std::to_string(kv[key].number) + ")");
        kv[key] = {number, value};
    }

    auto need = [&](const std::string& key) -> const Line& {
        auto it = kv.find(key);
        if (it == kv.end()) r.fail(0, "missing key '" + key + "'");
        return it->second;
    };
    auto single_int = [&](const std::string& key, long lo, long hi, int dflt) -> int {
        auto it = kv.find(key);
        if (it == kv.end()) return dflt;
        auto w = r.words(it->second);
        if (w.size() != 1) r.fail(it->second.number, "'" + key + "' takes one value");
        return static_cast<int>(r.integer(w[0], it->second.number, key, lo, hi));
    };

    Space s;
    s.name = need("name").value;
    const Line& fam = need("family");
    if (fam.value == "resnet") s.family = Family::ResNet;
    else if (fam.value == "mobilenetv3") s.family = Family::MobileNetV3;
    else if (fam.value == "densenet") s.family = Family::DenseNet;
    else r.fail(fam.number, "family must be resnet, mobilenetv3 or densenet, got '" + fam.value + "'");

    const int n_units = single_int("units", 1, 16, 0);
    if (!kv.count("units")) r.fail(0, "missing key 'units'");
    s.units.assign(n_units, UnitSpec{});

    // Per-unit lists take one value for every unit, or exactly one value per unit.
    auto per_unit = [&](const std::string& key, auto apply) {
        auto it = kv.find(key);
        if (it == kv.end()) return false;
        auto w = r.words(it->second);
        if (w.size() != 1 && w.size() != static_cast<size_t>(n_units))
            r.fail(it->second.number, "'" + key + "' needs 1 or " + std::to_string(n_units) +
                                          " values (one per unit), got " + std::to_string(w.size()));
        for (int u = 0; u < n_units; ++u) apply(s.units[u], w[w.size() == 1 ? 0 : u], it->second.number);
        return true;
    };
    const bool dense = s.family == Family::DenseNet;
    // Keys of other families are refused: they would be kept, change nothing, and not be
    // written back (DenseNet widths follow from stem, growth and bottleneck).
    auto refuse = [&](const char* key, bool applies, const char* owners) {
        if (!applies && kv.count(key))
            r.fail(kv[key].number, std::string("'") + key + "' does not apply to family " + family_name(s.family) +
                                       " (" + owners + " only)");
    };
    refuse("width", !dense, "resnet and mobilenetv3");
    refuse("stride", !dense, "resnet and mobilenetv3");
    refuse("growth", dense, "densenet");
    refuse("bottleneck", dense, "densenet");
    if (!per_unit("width", [&](UnitSpec& u, const std::string& w, int l) {
            u.width = static_cast<int>(r.integer(w, l, "width", 1, 65536));
        }) && !dense)
        r.fail(0, "missing key 'width'");
    if (!per_unit("stride", [&](UnitSpec& u, const std::string& w, int l) {
            u.stride = static_cast<int>(r.integer(w, l, "stride", 1, 2));
        }) && !dense)
        r.fail(0, "missing key 'stride'");
    if (!per_unit("depth", [&](UnitSpec& u, const std::string& w, int l) {
            auto dash = w.find('-');
            std::string a = dash == std::string::npos ? w : w.substr(0, dash);
            std::string b = dash == std::string::npos ? w : w.substr(dash + 1);
            if (a.empty() || b.find('-') != std::string::npos)
                r.fail(l, "'depth' expects N or LO-HI, integers in 1..64, got '" + w + "'");
            u.min_depth = static_cast<int>(r.integer(a, l, "depth", 1, 64));
            u.max_depth = static_cast<int>(r.integer(b, l, "depth", 1, 64));
            if (u.max_depth < u.min_depth) r.fail(l, "'depth' range '" + w + "' is empty");
        }))
        r.fail(0, "missing key 'depth'");
    per_unit("act", [&](UnitSpec& u, const std::string& w, int l) { u.act = parse_act(r, w, l); });
    per_unit("se", [&](UnitSpec& u, const std::string& w, int l) { u.se = r.integer(w, l, "se", 0, 1) != 0; });

    s.per_unit_choices = dense;
    if (kv.count("choices_per")) {
        const Line& l = kv["choices_per"];
        if (l.value != "block" && l.value != "unit") r.fail(l.number, "'choices_per' must be block or unit");
        s.per_unit_choices = l.value == "unit";
    }
    if (choice_lines.empty()) r.fail(0, "missing 'choice k = ...'");
    for (auto& [cname, line] : choice_lines) {
        Choice c;
        c.name = cname;
        for (const auto& w : r.words(line)) {
            auto colon = w.find(':');
            std::string v = colon == std::string::npos ? w : w.substr(0, colon);
            c.values.push_back(r.number(v, line.number, "choice " + cname));
            c.labels.push_back(colon == std::string::npos ? v : w.substr(colon + 1));
        }
        s.choices.push_back(c);
    }

    s.stem_width = single_int("stem", 1, 65536, s.family == Family::MobileNetV3 ? 16 : 64);
    s.first_block_width = single_int("first_block", 0, 65536, 0);
    if (kv.count("head")) {
        const Line& l = kv["head"];
        for (const auto& w : r.words(l)) s.head_widths.push_back(static_cast<int>(r.integer(w, l.number, "head", 1, 65536)));
    }
    s.num_classes = single_int("classes", 1, 1 << 20, 1000);
    s.growth = single_int("growth", 1, 4096, 32);
    s.bottleneck = single_int("bottleneck", 1, 65536, 128);
    s.default_batch = single_int("batch", 1, 4096, 1);

    if (kv.count("resolution")) {
        const Line& l = kv["resolution"];
        auto w = r.words(l);
        // "lo-hi/step" or a list of values
        if (w.size() == 1 && w[0].find('-') != std::string::npos) {
            const std::string& t = w[0];
            auto dash = t.find('-'), slash = t.find('/');
            if (slash == std::string::npos || slash < dash) r.fail(l.number, "resolution range is 'lo-hi/step', got '" + t + "'");
            long lo = r.integer(t.substr(0, dash), l.number, "resolution", 8, 4096);
            long hi = r.integer(t.substr(dash + 1, slash - dash - 1), l.number, "resolution", 8, 4096);
            long st = r.integer(t.substr(slash + 1), l.number, "resolution", 1, 4096);
            if (hi < lo || (hi - lo) % st) r.fail(l.number, "resolution range '" + t + "' must step from lo exactly to hi");
            s.resolutions.clear();
            for (long v = lo; v <= hi; v += st) s.resolutions.push_back(static_cast<int>(v));
        } else {
            s.resolutions.clear();
            for (const auto& x : w) {
                s.resolutions.push_back(static_cast<int>(r.integer(x, l.number, "resolution", 8, 4096)));
                if (s.resolutions.size() > 1 && s.resolutions.back() <= s.resolutions[s.resolutions.size() - 2])
                    r.fail(l.number, "resolutions must be strictly increasing, got '" + l.value + "'");
            }
        }
    }
    // The description's own checks, each reported on the line of the key it is about.
    s.validate([&](const std::string& key, const std::string& what) {
        int line = 0;
        for (const auto& [cname, l] : choice_lines)
            if (key == "choice " + cname) line = l.number;
        if (kv.count(key)) line = kv[key].number;
        r.fail(line, what);
    });
    return s;
}

std::string space_difference(const Space& a, const Space& b) {
    if (a.name != b.name) return "space '" + a.name + "', not '" + b.name + "'";
    std::istringstream x(format_space(a)), y(format_space(b));
    x.exceptions(std::ios::badbit);
    y.exceptions(std::ios::badbit);
    for (int line = 1;; ++line) {
        std::string la, lb;
        const bool more_a = static_cast<bool>(std::getline(x, la)), more_b = static_cast<bool>(std::getline(y, lb));
        if (!more_a && !more_b) return "space '" + a.name + "' (the same description)";
        if (la != lb)
            return "another description of space '" + a.name + "' (line " + std::to_string(line) + ": '" +
                   (more_a ? la : "(end)") + "', not '" + (more_b ? lb : "(end)") + "')";
    }
}

std::string format_space(const Space& s) {
    std::ostringstream o;
    o.imbue(std::locale::classic());  // (the host's global C++ locale could group digits)
    // A stream swallows an allocation failure (badbit) and returns the text so far: a
    // predictor saved with a cut space section, checksum and all. Throw it instead.
    o.exceptions(std::ios::badbit);
    auto list = [&](const char* key, auto get) {
        o << key << " =";
        for (const auto& u : s.units) o << ' ' << get(u);
        o << '\n';
    };
    o << "name = " << s.name << "\nfamily = " << family_name(s.family) << "\nunits = " << s.units.size() << '\n';
    if (s.family != Family::DenseNet) {
        list("width", [](const UnitSpec& u) { return std::to_string(u.width); });
        list("stride", [](const UnitSpec& u) { return std::to_string(u.stride); });
    }
    list("depth", [](const UnitSpec& u) { return std::to_string(u.min_depth) + "-" + std::to_string(u.max_depth); });
    list("act", [](const UnitSpec& u) { return std::string(act_name(u.act)); });
    list("se", [](const UnitSpec& u) { return std::string(u.se ? "1" : "0"); });
    o << "choices_per = " << (s.per_unit_choices ? "unit" : "block") << '\n';
    for (const auto& c : s.choices) {
        o << "choice " << c.name << " =";
        for (size_t i = 0; i < c.values.size(); ++i) o << ' ' << number_text(c.values[i]) << ':' << c.labels[i];
        o << '\n';
    }
    o << "stem = " << s.stem_width << '\n';
    if (s.first_block_width) o << "first_block = " << s.first_block_width << '\n';
    if (!s.head_widths.empty()) {
        o << "head =";
        for (int h : s.head_widths) o << ' ' << h;
        o << '\n';
    }
    o << "classes = " << s.num_classes << '\n';
    if (s.family == Family::DenseNet) o << "growth = " << s.growth << "\nbottleneck = " << s.bottleneck << '\n';
    o << "resolution =";
    for (int r : s.resolutions) o << ' ' << r;
    o << "\nbatch = " << s.default_batch << '\n';
    return o.str();
}

Space load_space_file(const std::string& path) {
    detail::refuse_directory(path, "space description");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(ErrorKind::Io, "cannot open space description '" + path + "': " + std::strerror(errno));
    std::string text;
    char buf[4096];
    while (f.read(buf, sizeof buf) || f.gcount()) {
        text.append(buf, static_cast<size_t>(f.gcount()));
        if (text.size() > kMaxSpaceTextBytes) throw Error(ErrorKind::Format, path + ": larger than 64 KiB; not a space description");
    }
    return parse_space(text, path);
}

Space load_space(const std::string& preset_or_path) {
    if (is_preset(preset_or_path)) return preset(preset_or_path);
    std::ifstream probe(preset_or_path);
    if (!probe)
        throw Error(ErrorKind::InvalidArgument, "'" + preset_or_path +
                                                    "' is neither a preset space (resnet, mobilenetv3, densenet, "
                                                    "ofa-mbv3) nor a readable space description file");
    return load_space_file(preset_or_path);
}

}  // namespace esm
