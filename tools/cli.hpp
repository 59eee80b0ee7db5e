// Tiny command-line helper shared by the tools: options, --help, errors on stderr with
// exit status 2 for usage and 1 for failures. Tools only; the library never exits.
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "esm/dataset.hpp"    // kDatasetFormat
#include "esm/predictor.hpp"  // parent_directory

namespace esm_cli {

struct Option {
    std::string name;  // "--space"
    bool takes_value;
};

class Args {
public:
    Args(int argc, char** argv, const std::string& usage, const std::vector<Option>& options)
        : tool_(argc > 0 ? argv[0] : "esm"), usage_(usage) {
        auto slash = tool_.rfind('/');
        if (slash != std::string::npos) tool_ = tool_.substr(slash + 1);
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "--help" || a == "-h") {
                std::fputs(usage_.c_str(), stdout);
                errno = 0;
                if (std::fflush(stdout) == 0 && !std::ferror(stdout)) std::exit(0);
                const int e = errno;  // a full disk: not 0, and said as run_tool says it
                std::fprintf(stderr, "%s: cannot write the usage to stdout%s%s\n", tool_.c_str(), e ? ": " : "",
                             e ? std::strerror(e) : "");
                std::exit(1);
            }
            if (a == "--") {  // the end of the options: an arch of a space named "-a" ("-a:k3e50/...")
                for (++i; i < argc; ++i) positional_.push_back(argv[i]);
                break;
            }
            if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1]))))) {
                std::string value;
                bool has_inline = false;
                auto eq = a.find('=');
                if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
                    value = a.substr(eq + 1);
                    a = a.substr(0, eq);
                    has_inline = true;
                }
                auto known = [&](const std::string& name) -> const Option* {
                    for (const auto& o : options)
                        if (o.name == name) return &o;
                    return nullptr;
                };
                const Option* opt = known(a);
                if (const size_t at = a.find('='); !opt && at != std::string::npos && known(a.substr(0, at)))  // -n=3
                    usage_error("option '" + a.substr(0, at) + "' takes its value as the next argument ('" +
                                a.substr(0, at) + " " + a.substr(at + 1) + "'); '=' joins --long options only");
                if (!opt)
                    usage_error("unknown option '" + a + "'" +
                                (a.find(':') != std::string::npos
                                     ? " (an architecture of a space whose name begins with '-': put '--' before it)"
                                     : ""));
                // Given twice, one would be dropped without a word (--base a --base b).
                if (values_.count(a)) usage_error("option '" + a + "' is given twice");
                if (opt->takes_value) {
                    if (!has_inline) {
                        if (i + 1 >= argc) usage_error("option '" + a + "' needs a value");
                        value = argv[++i];
                        // `--epochs -o x` would read "-o" as the epochs, `-o --json` write a
                        // file named --json: an option's name is no value.
                        // --help and -h are option names too (`-o --help` wrote a file named --help).
                        const std::string next = value.substr(0, value.find('='));
                        if (known(next) || next == "--help" || next == "-h")
                            usage_error("option '" + a + "' needs a value, got the option '" + value + "'");
                    }
                    // An empty value is no file, directory, command, column or number (it
                    // reached the library as a path, "cannot read : ...", or --target ''
                    // silently meant the default column): refused for every option here.
                    if (value.empty()) usage_error("option '" + a + "' needs a value, got ''");
                    values_[a] = value;
                } else {
                    if (has_inline) usage_error("option '" + a + "' takes no value");
                    values_[a] = "1";
                }
            } else {
                positional_.push_back(a);
            }
        }
    }

    const std::vector<std::string>& positional() const { return positional_; }
    bool has(const std::string& name) const { return values_.count(name) != 0; }
    std::string get(const std::string& name, const std::string& dflt = "") const {
        auto it = values_.find(name);
        return it == values_.end() ? dflt : it->second;
    }
    long get_int(const std::string& name, long dflt, long lo, long hi) const {
        if (!has(name)) return dflt;
        const std::string v = get(name);
        char* end = nullptr;
        errno = 0;  // strtol clamps an overflow (ERANGE) to LONG_MAX, which may be in range
        long x = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || errno == ERANGE || x < lo || x > hi)
            usage_error("option '" + name + "' expects an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                        ", got '" + v + "'");
        return x;
    }
    double get_double(const std::string& name, double dflt, double lo, double hi) const {
        if (!has(name)) return dflt;
        const std::string v = get(name);
        char* end = nullptr;
        double x = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !(x >= lo && x <= hi))
            usage_error("option '" + name + "' expects a number in " + number(lo) + ".." + number(hi) +
                        ", got '" + v + "'");
        return x;
    }

    // "on" or "off" (dflt when absent).
    bool get_on_off(const std::string& name, bool dflt) const {
        if (!has(name)) return dflt;
        const std::string v = get(name);
        if (v != "on" && v != "off") usage_error("option '" + name + "' expects on or off, got '" + v + "'");
        return v == "on";
    }

    // A comma-separated list ("a.esm,b.esm"); empty when absent, an empty item is an error.
    std::vector<std::string> get_list(const std::string& name) const {
        std::vector<std::string> out;
        if (!has(name)) return out;
        const std::string g = get(name);
        for (size_t start = 0;;) {
            const size_t comma = g.find(',', start);
            out.push_back(g.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
            if (out.back().empty()) usage_error("option '" + name + "' has an empty item in '" + g + "'");
            if (comma == std::string::npos) return out;
            start = comma + 1;
        }
    }

    // A comma-separated list of numbers in [lo, hi] ("1e-3,1e-2"); empty when absent.
    std::vector<double> get_double_list(const std::string& name, double lo, double hi) const {
        std::vector<double> out;
        for (const std::string& w : get_list(name)) {
            char* e = nullptr;
            const double v = std::strtod(w.c_str(), &e);
            if (*e || !(v >= lo && v <= hi))
                usage_error("option '" + name + "' expects numbers in " + number(lo) + ".." + number(hi) +
                            " separated by commas, got '" + get(name) + "'");
            out.push_back(v);
        }
        return out;
    }

    // Option `name` (dflt when absent) read by a library parser (esm::parse_strategy, ...):
    // a value it refuses is a usage error (exit 2, with its message).
    template <class F>
    auto parse(const std::string& name, const std::string& dflt, F parser) const -> decltype(parser(std::string())) {
        try {
            return parser(get(name, dflt));
        } catch (const std::exception& e) {
            usage_error(std::string("option '") + name + "': " + e.what());
        }
    }

    // The file option `name` names, after checking that its directory exists and is writable,
    // that it is not a directory and not one of the `inputs` (a dataset overwritten by the
    // predictor trained on it), so that a long job (training, profiling) fails at the start.
    std::string output_path(const std::string& name, const std::vector<std::string>& inputs = {}) const {
        const std::string path = get(name), dir = esm::parent_directory(path);
        if (::access(dir.c_str(), W_OK) != 0)
            fail("cannot write " + name + " '" + path + "': directory '" + dir + "': " + std::strerror(errno));
        struct stat st;
        if (::stat(path.c_str(), &st) == 0) {
            if (S_ISDIR(st.st_mode)) fail("cannot write " + name + " '" + path + "': it is a directory");
            for (const std::string& i : inputs)
                if (same_file(i, path)) fail(name + " '" + path + "' is the input '" + i + "': it would be overwritten");
            // Measured data is never an output's to replace (a typo'd -o costs hours of device
            // time): a libesm dataset begins with its format line or, written before there was
            // one, has the dataset's columns as its first line after the '#' header.
            const std::string columns = esm::dataset_column_row();
            std::ifstream f(path, std::ios::binary);
            std::string line;
            for (int n = 0; n < 1000 && std::getline(f, line); ++n) {
                if (n == 0 && line == std::string("# format: ") + esm::kDatasetFormat) line = columns;
                if (!line.empty() && line[0] == '#') continue;
                if (line == columns) fail(name + " '" + path + "' is a measured latency dataset: it would be overwritten");
                break;
            }
        }
        return path;
    }

    // Whether the two paths name one existing file (links and relative paths included).
    static bool same_file(const std::string& a, const std::string& b) {
        struct stat x{}, y{};
        return !a.empty() && !b.empty() && ::stat(a.c_str(), &x) == 0 && ::stat(b.c_str(), &y) == 0 &&
               x.st_dev == y.st_dev && x.st_ino == y.st_ino;
    }

    // Whether two output paths name the same file, existing or not: their directories
    // resolved (links, relative paths), then the names.
    static bool same_output(const std::string& a, const std::string& b) {
        if (same_file(a, b)) return true;
        auto resolved = [](const std::string& p) {
            char buf[PATH_MAX];
            const std::string dir = esm::parent_directory(p), base = p.substr(p.rfind('/') + 1);
            return ::realpath(dir.c_str(), buf) ? std::string(buf) + "/" + base : p;
        };
        return resolved(a) == resolved(b);
    }

    // A bound as a user writes it: 0.95, 1e+06, 65536 (not std::to_string's 0.950000).
    static std::string number(double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", v);
        return buf;
    }

    [[noreturn]] void usage_error(const std::string& msg) const {
        std::fprintf(stderr, "%s: %s\n(see '%s --help')\n", tool_.c_str(), msg.c_str(), tool_.c_str());
        std::exit(2);
    }
    [[noreturn]] void fail(const std::string& msg) const {
        std::fprintf(stderr, "%s: %s\n", tool_.c_str(), msg.c_str());
        std::exit(1);
    }
    const std::string& tool() const { return tool_; }

private:
    std::string tool_, usage_;
    std::vector<std::string> positional_;
    std::map<std::string, std::string> values_;
};

// A --base predictor that regresses log latency is refused naming its file (the library
// names bases by their index only): calibration maps a base's latency linearly.
inline void refuse_log_target_base(const Args& args, const std::string& path, bool log_target) {
    if (log_target)
        args.fail("--base " + path + " regresses log latency; calibration needs a predictor of latency "
                  "(train the base without --log-target)");
}

// The value of `key` in a dataset (or table, or predictor) header; "" when it has none.
inline std::string meta_value(const esm::DatasetMeta& meta, const std::string& key) {
    for (const auto& [k, v] : meta)
        if (k == key) return v;
    return "";
}

// --threads of an executor on `backend` (default 1): on the CPU, above esm::max_cpu_threads()
// a usage error here, before an output is made, not at the first measurement (exit 1,
// esm-build's directory made).
inline int read_threads(const Args& args, esm::Backend backend = esm::Backend::Cpu) {
    const long t = args.get_int("--threads", 1, 1, 1024);
    if (backend == esm::Backend::Cpu && t > esm::max_cpu_threads())
        args.usage_error("option '--threads' expects at most 4 per hardware thread of this machine (" +
                         std::to_string(std::thread::hardware_concurrency()) + "): 1.." +
                         std::to_string(esm::max_cpu_threads()) + ", got '" + args.get("--threads") + "'");
    return static_cast<int>(t);
}

// `s` as one shell word, for a command line printed to be pasted: as it is when it holds
// only characters the shell takes literally, else in single quotes.
inline std::string shell_word(const std::string& s) {
    if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-+=:,@%") ==
                          std::string::npos)
        return s;
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Runs a tool body, turning any exception into a message on stderr and exit status 1.
// Output that did not reach stdout (a full disk, a closed descriptor) is a failure too:
// the data a tool prints is its result, and exit status 0 would say it is all there.
inline int run_tool(const char* tool, const std::function<int()>& body) {
    int status = 1;
    try {
        status = body();
    } catch (const std::bad_alloc&) {  // what() says only "std::bad_alloc"
        std::fprintf(stderr, "%s: out of memory (too large a request for this machine: a network, batch, "
                             "resolution or count?)\n", tool);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", tool, e.what());
    }
    errno = 0;
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        const int e = errno;
        std::fprintf(stderr, "%s: cannot write the output to stdout%s%s\n", tool, e ? ": " : "", e ? std::strerror(e) : "");
        status = 1;  // also after esm-build's 3 (stopped by its budget): its summary is lost
    }
    return status;
}

}  // namespace esm_cli
