// Internal: the versioned, checksummed text files libesm writes (predictors, lookup
// tables): line 1 "MAGIC VERSION", the body, and a last line "checksum fnv1a64 HEX" over
// everything before it; plus a line reader with line numbers for messages.
// Not a general serialisation library.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace esm::detail {

// magic + version line, body, checksum line.
std::string seal(const std::string& magic, int version, const std::string& body);
// Checks the first line (magic and a version in oldest..newest, stored in *version when
// given) and the checksum; returns the number of bytes before the checksum line. `what`
// names the kind in messages ("predictor", "lookup-table"). Throws esm::Error (Format)
// naming `where` and what is wrong.
size_t unseal(const std::string& text, const std::string& where, const std::string& magic, int oldest, int newest,
              const std::string& what, int* version = nullptr);
// The whole file at `path`; throws esm::Error (Io) naming `what` ("predictor", ...) and the path.
// With a `magic` (a sealed file's "MAGIC "), reading stops once the bytes read cannot begin
// with it: the caller's unseal refuses what it got, and an endless source (/dev/zero, a
// pipe of something else) or a large file of another kind is not read whole first.
std::string read_whole_file(const std::string& path, const std::string& what, const std::string& magic = "");
// read_whole_file without a tail of NUL bytes: what a power loss leaves of an append on some
// file systems (its size committed, its data not). For the files libesm appends to; the
// caller checks the text is its own before DurableLog::prepare cuts the tail on disk.
std::string read_appended_file(const std::string& path, const std::string& what);
// Throws esm::Error (Io) "cannot read WHAT 'PATH': it is a directory" when it is one (an
// ifstream opens a directory and reads it as an empty file).
void refuse_directory(const std::string& path, const std::string& what);
// realpath(path): absolute, links resolved; `path` itself where that fails (it does not
// exist, or is empty).
std::string resolved_path(const std::string& path);
// fsync of the directory holding `path`: a file just created (or renamed into place) is
// then on disk by name too, not only its bytes. Best effort (some file systems refuse).
void sync_parent_directory(const std::string& path);
// At most `max` bytes of `s` for a message, bytes outside printable ASCII as \xHH (a NUL
// would end the message for a C caller, an escape sequence reach the terminal), "..." when cut.
std::string quoted_bytes(const std::string& s, size_t max = std::string::npos);
// Throws esm::Error (InvalidArgument) when a value to write holds a tab or a line break.
void check_one_line(const std::string& owner, const std::string& what, const std::string& v);

// Cursor over text[0, end) with line numbers for messages.
class LineReader {
public:
    LineReader(const std::string& text, size_t end, const std::string& where) : t_(text), end_(end), where_(where) {}
    [[noreturn]] void fail(const std::string& msg) const;
    std::string line();
    std::string field(const std::string& key);  // "key value" -> value
    long integer(const std::string& key, const std::string& v, long lo, long hi) const;
    long integer(const std::string& key, long lo, long hi) { return integer(key, field(key), lo, hi); }
    double real(const std::string& key, const std::string& v) const;
    double real(const std::string& key) { return real(key, field(key)); }
    // v, when it holds no tab, carriage return or newline (what check_one_line refuses to
    // write); else fails naming `what`, so that every file that loads can be saved again.
    const std::string& one_line(const std::string& what, const std::string& v) const;
    std::string blob(const std::string& key);  // "key N" then N bytes and a newline
    // "key N", then lines of numbers; N must be expect_count (or 0, when or_none).
    std::vector<float> floats(const std::string& key, size_t expect_count, bool or_none = false);
    bool at_end() const { return pos_ == end_; }

private:
    const std::string& t_;
    size_t end_, pos_ = 0;
    int line_ = 0;
    std::string where_;
};

}  // namespace esm::detail
