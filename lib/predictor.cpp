// The predictor: batched prediction and the versioned text file with hex floats (exact
// round trip) and an FNV-1a 64 checksum. Format: docs/predictor_format.md.
#include "esm/predictor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cstring>
#include <sstream>

#include "decimal.hpp"
#include "esm/common.hpp"
#include "flush_denormals.hpp"
#include "linalg.hpp"
#include "mlp_fused.hpp"
#include "sealed_file.hpp"

namespace esm {

uint64_t fnv1a64(const void* data, size_t n) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

Predictor::Predictor(const Space& space, Encoding encoding, MlpModel model, ResEncoding res)
    : encoder_(space, encoding, res), model_(std::move(model)) {
    if (model_.inputs() != encoder_.length())
        throw Error(ErrorKind::InvalidArgument, "predictor: the network has " + std::to_string(model_.inputs()) +
                                                    " inputs but the " + encoding_name(encoding) + " encoding of " +
                                                    space.name + " has " + std::to_string(encoder_.length()));
    if (model_.x_mean.size() != static_cast<size_t>(model_.inputs()) ||
        model_.x_inv_std.size() != static_cast<size_t>(model_.inputs()))
        throw Error(ErrorKind::InvalidArgument, "predictor: normalisation constants do not match the inputs");
    // What Predictor::parse refuses is refused here too: save() would write a file that no
    // load reads back.
    const auto g = detail::short_number;
    for (size_t i = 0; i < model_.x_inv_std.size(); ++i)
        if (!(model_.x_inv_std[i] > 0) || !std::isfinite(model_.x_inv_std[i]))
            throw Error(ErrorKind::InvalidArgument, "predictor: x_inv_std[" + std::to_string(i) + "] is " +
                                                        g(model_.x_inv_std[i]) + " (must be finite and > 0)");
    if (!(model_.y_std > 0) || !std::isfinite(model_.y_std))
        throw Error(ErrorKind::InvalidArgument, "predictor: y_std is " + g(model_.y_std) + " (must be finite and > 0)");
    Mlp folded = model_.net;
    const size_t in = static_cast<size_t>(folded.sizes()[0]), out = static_cast<size_t>(folded.sizes()[1]);
    float* w = folded.params().data() + folded.weight_offset(0);
    float* b = folded.params().data() + folded.bias_offset(0);
    for (size_t j = 0; j < out; ++j) {
        double acc = b[j];
        for (size_t i = 0; i < in; ++i) {
            const float wf = w[j * in + i] * model_.x_inv_std[i];
            w[j * in + i] = wf;
            acc -= static_cast<double>(wf) * model_.x_mean[i];
        }
        b[j] = static_cast<float>(acc);
    }
    fused_ = std::make_shared<const detail::FusedMlp>(folded);
    if (!model_.skip.empty()) {
        if (model_.skip.size() != in)
            throw Error(ErrorKind::InvalidArgument, "predictor: the linear skip has " + std::to_string(model_.skip.size()) +
                                                        " weights for " + std::to_string(in) + " inputs");
        skip_raw_.resize(in);
        for (size_t i = 0; i < in; ++i) {
            skip_raw_[i] = model_.skip[i] * model_.x_inv_std[i];
            skip_c_ -= static_cast<double>(skip_raw_[i]) * model_.x_mean[i];
        }
    }
}

double Predictor::predict(const Arch& arch) const {
    validate_arch(space(), arch);  // one arch: the check costs little next to its prediction
    float y = 0;
    predict_batch(&arch, 1, &y);
    return y;
}

double Predictor::predict(const std::string& text) const { return predict(parse_arch(space(), text)); }

namespace {

// Encodes arch i into its row with `encode(i, row)` and predicts, a chunk of rows at a time.
template <class Encode>
void predict_in_chunks(const Predictor& p, size_t n, float* out, const Encode& encode) {
    constexpr size_t kChunk = 256;
    const size_t L = static_cast<size_t>(p.encoder().length());
    // Per-thread buffer: no allocation per call once warm (thread-safe, any predictor).
    thread_local std::vector<float> x;
    if (x.size() < std::min(n, kChunk) * L) x.resize(std::min(n, kChunk) * L);
    for (size_t s = 0; s < n; s += kChunk) {
        const size_t m = std::min(kChunk, n - s);
        for (size_t i = 0; i < m; ++i) encode(s + i, x.data() + i * L);
        p.predict_encoded(x.data(), m, out + s);
    }
}

}  // namespace

void Predictor::predict_batch(const Arch* archs, size_t n, float* out) const {
    predict_in_chunks(*this, n, out, [&](size_t i, float* row) { encoder_.encode(archs[i], row); });
}

void Predictor::predict_batch(const Arch* const* archs, size_t n, float* out) const {
    predict_in_chunks(*this, n, out, [&](size_t i, float* row) { encoder_.encode(*archs[i], row); });
}

void Predictor::predict_encoded(const float* x, size_t n, float* out) const {
    const detail::FlushDenormals ftz;
    fused_->forward(x, n, out);
    if (skip_raw_.empty()) return model_.to_latency(out, n);
    constexpr size_t kChunk = 256;
    const size_t L = static_cast<size_t>(encoder_.length());
    float lin[kChunk];
    for (size_t s = 0; s < n; s += kChunk) {
        const size_t m = std::min(kChunk, n - s);
        detail::matvec(x + s * L, m, L, skip_raw_.data(), lin);
        for (size_t i = 0; i < m; ++i) lin[i] = static_cast<float>(lin[i] + skip_c_);
        model_.to_latency(out + s, m, lin);
    }
}

namespace {

std::string hexf(double v) {
    detail::CNumbers c;  // (a decimal-comma locale wrote 0x1,8p+3: a file nothing reads back)
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", v);
    return buf;
}

void put_floats(std::string& s, const char* key, const std::vector<float>& v) {
    s += std::string(key) + " " + std::to_string(v.size()) + "\n";
    for (size_t i = 0; i < v.size(); ++i) {
        s += hexf(v[i]);
        s += (i % 8 == 7 || i + 1 == v.size()) ? '\n' : ' ';
    }
}

void put_blob(std::string& s, const char* key, const std::string& blob) {
    s += std::string(key) + " " + std::to_string(blob.size()) + "\n" + blob + "\n";
}

void check_one_line(const std::string& what, const std::string& v) { detail::check_one_line("predictor", what, v); }

using Reader = detail::LineReader;

const char* kMagic = "esm-predictor";

}  // namespace

std::string Predictor::serialize() const {
    check_one_line("target", target);
    check_one_line("training", training);
    std::string s = "library " + std::string(version()) + "\n";
    s += "encoding " + std::string(encoding_name(encoding())) + "\n";
    s += "resolution " + std::string(res_encoding_name(encoder_.res_encoding())) + "\n";
    s += "target " + target + "\n";
    s += "bins " + std::to_string(n_bins) + "\n";
    s += "log_target " + std::string(model_.log_target ? "1" : "0") + "\n";
    put_blob(s, "space", format_space(space()));
    s += "dataset_meta " + std::to_string(dataset_meta.size()) + "\n";
    for (const auto& [k, v] : dataset_meta) {
        check_one_line("dataset meta key", k);
        check_one_line("dataset meta value", v);
        s += k + "\t" + v + "\n";
    }
    put_blob(s, "metrics", metrics_json);
    put_blob(s, "training", training);
    s += "layers";
    for (int w : model_.net.sizes()) s += " " + std::to_string(w);
    s += "\n";
    put_floats(s, "x_mean", model_.x_mean);
    put_floats(s, "x_inv_std", model_.x_inv_std);
    s += "y_mean " + hexf(model_.y_mean) + "\n";
    s += "y_std " + hexf(model_.y_std) + "\n";
    put_floats(s, "skip", model_.skip);
    put_floats(s, "params", model_.net.params());
    return detail::seal(kMagic, kPredictorFormatVersion, s);
}

Predictor Predictor::parse(const std::string& text, const std::string& where) {
    int version = 0;
    const size_t payload = detail::unseal(text, where, kMagic, 1, kPredictorFormatVersion, "predictor", &version);
    Reader r(text, payload, where);
    r.line();
    const std::string lib = r.one_line("library", r.field("library"));
    Encoding enc;
    try {
        enc = parse_encoding(r.field("encoding"));
    } catch (const Error& e) {
        r.fail(e.what());
    }
    ResEncoding res_enc;
    try {
        res_enc = parse_res_encoding(r.field("resolution"));
    } catch (const Error& e) {
        r.fail(e.what());
    }
    const std::string target = r.one_line("target", r.field("target"));
    const int bins = static_cast<int>(r.integer("bins", 1, 1000));
    const bool log_target = r.integer("log_target", 0, 1) == 1;
    Space space;
    {
        const std::string st = r.blob("space");
        space = parse_space(st, where + " (space section)");
    }
    std::vector<std::pair<std::string, std::string>> meta;
    const long nm = r.integer("dataset_meta", 0, 100000);
    for (long i = 0; i < nm; ++i) {
        const std::string l = r.line();
        const size_t tab = l.find('\t');
        if (tab == std::string::npos) r.fail("dataset meta line without a tab: '" + l.substr(0, 40) + "'");
        meta.emplace_back(r.one_line("dataset meta key", l.substr(0, tab)),
                          r.one_line("dataset meta value", l.substr(tab + 1)));
    }
    const std::string metrics = r.blob("metrics");
    const std::string training = r.one_line("training", r.blob("training"));
    std::vector<int> sizes;
    {
        std::istringstream ls(r.field("layers"));
        int w;
        while (ls >> w) sizes.push_back(w);
        if (!ls.eof() || sizes.size() < 2) r.fail("bad 'layers' line");
    }
    for (int w : sizes)
        if (w < 1 || w > 1 << 20) r.fail("layer width " + std::to_string(w) + " out of range");
    MlpModel m;
    m.log_target = log_target;
    m.x_mean = r.floats("x_mean", static_cast<size_t>(sizes[0]));
    m.x_inv_std = r.floats("x_inv_std", static_cast<size_t>(sizes[0]));
    for (float v : m.x_inv_std)  // training writes 1/std or 1 (a constant input): > 0
        if (!(v > 0) || !std::isfinite(v)) r.fail("x_inv_std holds " + std::to_string(v) + " (must be finite and > 0)");
    m.y_mean = r.real("y_mean");
    m.y_std = r.real("y_std");
    if (!(m.y_std > 0)) r.fail("y_std must be > 0 (it scales every prediction), got " + std::to_string(m.y_std));
    if (version >= 2) m.skip = r.floats("skip", static_cast<size_t>(sizes[0]), true);
    size_t count = 0;
    for (size_t l = 0; l + 1 < sizes.size(); ++l)
        count += static_cast<size_t>(sizes[l]) * static_cast<size_t>(sizes[l + 1]) + static_cast<size_t>(sizes[l + 1]);
    std::vector<float> params = r.floats("params", count);
    if (!r.at_end()) r.fail("unexpected data before the checksum line");
    try {
        m.net = Mlp(sizes, std::move(params));
        Predictor p(space, enc, std::move(m), res_enc);
        p.target = target;
        p.n_bins = bins;
        p.dataset_meta = std::move(meta);
        p.metrics_json = metrics;
        p.training = training;
        p.library_version = lib;
        return p;
    } catch (const Error& e) {
        throw Error(ErrorKind::Format, where + ": " + e.what());
    }
}

Predictor Predictor::load(const std::string& path) {
    return parse(detail::read_whole_file(path, "predictor", std::string(kMagic) + " "), path);
}

Predictor Predictor::load(const std::string& path, const Space& expected) {
    Predictor p = load(path);
    if (p.space() != expected)
        throw Error(ErrorKind::InvalidArgument, path + ": the predictor was trained for " + space_difference(p.space(), expected));
    return p;
}

namespace {

// Temporaries of `path` (exactly "NAME.tmp.PID.N") that a save killed between writing and
// renaming left: its process is gone from this host and the file is over an hour old (a
// save from another host sharing the directory cannot be seen; none takes an hour).
void remove_stale_temporaries(const std::string& path) {
    const std::string dir = parent_directory(path);
    const std::string prefix = path.substr(path.rfind('/') + 1) + ".tmp.";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    auto digits = [](const char* s, const char** end) {
        const char* p = s;
        while (*p >= '0' && *p <= '9') ++p;
        *end = p;
        return p > s && p - s <= 18;
    };
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name.compare(0, prefix.size(), prefix) != 0) continue;
        const char *pid_end = nullptr, *n_end = nullptr;
        const char* pid_at = name.c_str() + prefix.size();
        if (!digits(pid_at, &pid_end) || *pid_end != '.' || !digits(pid_end + 1, &n_end) || *n_end != '\0') continue;
        const long long pid = std::strtoll(pid_at, nullptr, 10);
        const std::string file = dir + "/" + name;
        struct stat st{};
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH && ::lstat(file.c_str(), &st) == 0 &&
            S_ISREG(st.st_mode) && std::time(nullptr) - st.st_mtime > 3600)
            ::unlink(file.c_str());
    }
    ::closedir(d);
}

}  // namespace

void write_file_atomic(const std::string& link_or_path, const std::string& bytes) {
    // A symbolic link's target is what gets replaced (as an editor saving through a link
    // does), not the link.
    std::string path = link_or_path, named = "'" + link_or_path + "'";  // in messages: as the caller gave it
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        path = detail::resolved_path(path);  // a dangling link is replaced by the file
        if (path != link_or_path) named += " (a link to '" + path + "')";
    }
    // The rename below replaces whatever the path names: a device, FIFO or socket there
    // (/dev/null as a way to discard, when run as root) would be swapped for a regular file.
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        throw Error(ErrorKind::Io, "cannot write " + named + ": it is not a regular file (a device, FIFO or socket), "
                                   "and saving replaces the file whole");
    remove_stale_temporaries(path);
    // Unique per call: two threads (or processes) saving to one path each write their own
    // temporary, and the last rename wins whole.
    static std::atomic<unsigned> calls{0};
    const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(calls++);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(ErrorKind::Io, "cannot write " + named + " (creating its temporary '" + tmp + "'): " + std::strerror(errno));
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            const std::string err = std::strerror(errno);
            ::close(fd);
            ::unlink(tmp.c_str());
            throw Error(ErrorKind::Io, "cannot write '" + tmp + "': " + err);
        }
        done += static_cast<size_t>(w);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        const std::string err = std::strerror(errno);
        ::unlink(tmp.c_str());
        throw Error(ErrorKind::Io, "cannot flush '" + tmp + "': " + err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string err = std::strerror(errno);
        ::unlink(tmp.c_str());
        throw Error(ErrorKind::Io, "cannot rename '" + tmp + "' to " + named + ": " + err);
    }
    detail::sync_parent_directory(path);
}

std::string parent_directory(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

void make_directories(const std::string& path) {
    std::string cur = !path.empty() && path[0] == '/' ? "/" : "";
    for (size_t from = 0; from < path.size();) {
        size_t slash = path.find('/', from);
        if (slash == std::string::npos) slash = path.size();
        if (slash > from) {
            cur += path.substr(from, slash - from) + "/";
            if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
                throw Error(ErrorKind::Io, "cannot create directory '" + cur + "': " + std::strerror(errno));
        }
        from = slash + 1;
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw Error(ErrorKind::Io, "cannot create directory '" + path + "': a file of that name is in the way");
}

void Predictor::save(const std::string& path) const { write_file_atomic(path, serialize()); }

}  // namespace esm
