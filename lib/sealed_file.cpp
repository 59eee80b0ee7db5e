// Versioned, checksummed text files and their line reader (lib/sealed_file.hpp).
#include "sealed_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "decimal.hpp"
#include "esm/common.hpp"
#include "esm/predictor.hpp"

namespace esm::detail {

namespace {
const char* kChecksumKey = "checksum fnv1a64 ";

std::string hex_sum(const char* data, size_t n) {
    char sum[32];
    std::snprintf(sum, sizeof sum, "%016" PRIx64, fnv1a64(data, n));
    return sum;
}
}  // namespace

std::string seal(const std::string& magic, int version, const std::string& body) {
    std::string s = magic + " " + std::to_string(version) + "\n" + body;
    return s + kChecksumKey + hex_sum(s.data(), s.size()) + "\n";
}

size_t unseal(const std::string& text, const std::string& where, const std::string& magic, int oldest, int newest,
              const std::string& what, int* version) {
    const size_t nl = text.find('\n');
    const std::string first = quoted_bytes(text.substr(0, std::min(nl, size_t{61})), 60);
    const std::string head = magic + " ";
    if (text.compare(0, head.size(), head) != 0)
        throw Error(ErrorKind::Format, where + ": not a libesm " + what + " file (line 1 is '" + first + "')");
    if (nl == std::string::npos)
        throw Error(ErrorKind::Format, where + ": truncated: the file (" + std::to_string(text.size()) +
                                           " bytes) ends inside its first line");
    if (nl > 0 && text[nl - 1] == '\r')
        throw Error(ErrorKind::Format, where + ": its lines end in CR LF (converted to Windows line endings in a "
                                               "copy or a checkout?); the " + what + " file must be copied byte for byte");
    const std::string v = text.substr(head.size(), nl - head.size());
    int found = 0;
    for (int k = oldest; k <= newest; ++k)
        if (v == std::to_string(k)) found = k;
    if (!found)
        throw Error(ErrorKind::Format, where + ": unsupported " + what + " format version '" + quoted_bytes(v, 40) +
                                           "' (this library, " +
                                           esm::version() + ", reads version " +
                                           (oldest == newest ? std::to_string(newest)
                                                             : std::to_string(oldest) + " to " + std::to_string(newest)) +
                                           ")");
    if (version) *version = found;
    const std::string key = std::string("\n") + kChecksumKey;
    const size_t at = text.rfind(key);
    if (at == std::string::npos || text.size() != at + key.size() + 16 + 1 || text.back() != '\n')
        throw Error(ErrorKind::Format, where + ": truncated or damaged: the file (" + std::to_string(text.size()) +
                                           " bytes) does not end with its checksum line");
    const size_t payload = at + 1;
    const std::string sum = hex_sum(text.data(), payload), stored = text.substr(at + key.size(), 16);
    if (stored != sum)
        throw Error(ErrorKind::Format, where + ": checksum mismatch over bytes 0.." + std::to_string(payload) +
                                           " (stored " + stored + ", computed " + sum + "): the file is corrupted");
    return payload;
}

std::string quoted_bytes(const std::string& s, size_t max) {
    std::string o;
    for (size_t i = 0; i < s.size() && i < max; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) {
            o += static_cast<char>(c);
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            o += hex;
        }
    }
    if (s.size() > max) o += "...";
    return o;
}

void refuse_directory(const std::string& path, const std::string& what) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        throw Error(ErrorKind::Io, "cannot read " + what + " '" + path + "': it is a directory");
}

std::string read_whole_file(const std::string& path, const std::string& what, const std::string& magic) {
    refuse_directory(path, what + " file");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(ErrorKind::Io, "cannot open " + what + " file '" + path + "': " + std::strerror(errno));
    // Not `ss << f.rdbuf()`: that catches an allocation failure and returns the bytes so far,
    // and a good file then reads as "truncated or damaged".
    std::string text;
    char buf[1 << 16];
    while (f.read(buf, sizeof buf) || f.gcount()) {
        text.append(buf, static_cast<size_t>(f.gcount()));
        if (text.compare(0, magic.size(), magic, 0, std::min(magic.size(), text.size())) != 0) break;
    }
    if (f.bad()) throw Error(ErrorKind::Io, "cannot read " + what + " file '" + path + "'");
    return text;
}

std::string read_appended_file(const std::string& path, const std::string& what) {
    std::string text = read_whole_file(path, what);
    const size_t last = text.find_last_not_of('\0');
    text.resize(last == std::string::npos ? 0 : last + 1);
    return text;
}

std::string resolved_path(const std::string& path) {
    char* real = path.empty() ? nullptr : ::realpath(path.c_str(), nullptr);
    std::string out = real ? real : path;
    std::free(real);
    return out;
}

void sync_parent_directory(const std::string& path) {
    const int dfd = ::open(parent_directory(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

void check_one_line(const std::string& owner, const std::string& what, const std::string& v) {
    if (v.find_first_of("\t\r\n") != std::string::npos)
        throw Error(ErrorKind::InvalidArgument, owner + ": " + what + " '" + v + "' contains a tab or newline");
}

void LineReader::fail(const std::string& msg) const {
    throw Error(ErrorKind::Format, where_ + ": line " + std::to_string(line_) + ": " + msg);
}

std::string LineReader::line() {
    if (pos_ >= end_) fail("unexpected end of data");
    const size_t nl = t_.find('\n', pos_);
    if (nl == std::string::npos || nl >= end_) fail("unterminated line");
    std::string l = t_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    ++line_;
    return l;
}

std::string LineReader::field(const std::string& key) {
    const std::string l = line();
    if (l.compare(0, key.size() + 1, key + " ") != 0) fail("expected field '" + key + "', found '" + l.substr(0, 40) + "'");
    return l.substr(key.size() + 1);
}

const std::string& LineReader::one_line(const std::string& what, const std::string& v) const {
    if (v.find_first_of("\t\r\n") != std::string::npos) fail(what + " '" + v.substr(0, 40) + "' contains a tab or line break");
    return v;
}

long LineReader::integer(const std::string& key, const std::string& v, long lo, long hi) const {
    char* e = nullptr;
    errno = 0;
    const long x = std::strtol(v.c_str(), &e, 10);
    if (v.empty() || *e || errno || x < lo || x > hi)
        fail("field '" + key + "' expects an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", found '" +
             v + "'");
    return x;
}

double LineReader::real(const std::string& key, const std::string& v) const {
    char* e = nullptr;
    const double x = detail::strtod_c(v.c_str(), &e);
    if (v.empty() || *e || !std::isfinite(x)) fail("field '" + key + "' has a bad number '" + v + "'");
    return x;
}

std::string LineReader::blob(const std::string& key) {
    const long n = integer(key, 0, 1L << 30);
    if (pos_ + static_cast<size_t>(n) + 1 > end_) fail("'" + key + "' runs past the end of the data");
    std::string b = t_.substr(pos_, static_cast<size_t>(n));
    if (t_[pos_ + static_cast<size_t>(n)] != '\n') fail("'" + key + "' is not followed by a newline");
    for (char c : b) line_ += c == '\n';
    ++line_;
    pos_ += static_cast<size_t>(n) + 1;
    return b;
}

std::vector<float> LineReader::floats(const std::string& key, size_t expect_count, bool or_none) {
    const long n = integer(key, 0, 1L << 28);
    if (static_cast<size_t>(n) != expect_count && !(or_none && n == 0))
        fail("'" + key + "' has " + std::to_string(n) + " values, expected " + std::to_string(expect_count));
    std::vector<float> v;
    v.reserve(static_cast<size_t>(n));
    while (v.size() < static_cast<size_t>(n)) {
        const std::string l = line();
        const char* p = l.c_str();
        while (*p) {
            char* e = nullptr;
            const float x = detail::strtof_c(p, &e);
            if (e == p || !std::isfinite(x) || (*e && *e != ' ')) fail("bad number in '" + key + "': '" + l.substr(0, 40) + "'");
            v.push_back(x);
            p = *e ? e + 1 : e;
        }
        if (v.size() > static_cast<size_t>(n)) fail("'" + key + "' has more values than announced");
    }
    return v;
}

}  // namespace esm::detail
