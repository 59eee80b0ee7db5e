// Strict CSV table reader shared by datasets, training and evaluation. It never guesses:
// a malformed line is an error naming the file and line. Writing lives in dataset.cpp.
#include "esm/table.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "decimal.hpp"
#include "esm/common.hpp"
#include "sealed_file.hpp"

namespace esm {

namespace {
[[noreturn]] void fail(const std::string& src, int line, const std::string& what) {
    throw Error(ErrorKind::Format, src + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what);
}

constexpr const char* kCrOnly =
    "a carriage return (CR) inside a line: are its lines ended by CR alone (a classic Mac export)? "
    "save it with LF or CR LF line ends";

std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}
}  // namespace

std::vector<std::string> split_csv_line(const std::string& line) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t comma = line.find(',', start);
        out.push_back(trim(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

int Table::column(const std::string& name) const {
    for (size_t i = 0; i < columns.size(); ++i)
        if (columns[i] == name) return static_cast<int>(i);
    return -1;
}

int Table::require_column(const std::string& name) const {
    int c = column(name);
    if (c < 0) {
        std::string have;
        for (const auto& col : columns) have += (have.empty() ? "" : ", ") + col;
        fail(source, 0, "no column '" + name + "' (columns: " + have + ")");
    }
    return c;
}

bool Table::has_meta(const std::string& key) const {
    for (const auto& kv : meta)
        if (kv.first == key) return true;
    return false;
}

std::string Table::meta_value(const std::string& key, const std::string& dflt) const {
    for (const auto& kv : meta)
        if (kv.first == key) return kv.second;
    return dflt;
}

double Table::number(size_t row, int col) const {
    const std::string& f = rows.at(row).at(static_cast<size_t>(col));
    char* end = nullptr;
    double v = detail::decimal_chars(f) ? detail::strtod_c(f.c_str(), &end) : NAN;  // not hex ("0x10": 16)
    if (f.empty() || !end || *end != '\0' || !std::isfinite(v))
        fail(source, row_lines[row], "column '" + columns[col] + "' holds '" + f.substr(0, 40) + "', not a finite number");
    return v;
}

long Table::integer(size_t row, int col, long lo, long hi) const {
    const std::string& f = rows.at(row).at(static_cast<size_t>(col));
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(f.c_str(), &end, 10);
    if (f.empty() || std::isspace(static_cast<unsigned char>(f[0])) || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        fail(source, row_lines[row],
             "column '" + columns[col] + "' holds '" + f.substr(0, 40) + "', not an integer in " + std::to_string(lo) +
                 ".." + std::to_string(hi));
    return v;
}

Table parse_table(const std::string& text, const std::string& source, bool allow_torn_tail, bool* torn_tail) {
    Table t;
    t.source = source;
    if (torn_tail) *torn_tail = false;
    // Where: a damaged dataset (a block of zeros in its middle) is told from a binary file.
    if (const size_t nul = text.find('\0'); nul != std::string::npos)
        fail(source, 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(nul), '\n')),
             "holds a NUL byte (at byte " + std::to_string(nul) + "); " +
                 (text.find_first_not_of('\0', nul) == std::string::npos
                      ? "NUL bytes to its end are what a power loss leaves of an append (if a libesm "
                        "measurement wrote it, rerunning it cuts them)"
                      : "not a CSV text file, or damaged there"));
    // A UTF-8 byte order mark (spreadsheet exports) would become part of the first name.
    size_t pos = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
    int line_no = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        const bool torn = nl == std::string::npos;
        std::string line = text.substr(pos, torn ? std::string::npos : nl - pos);
        pos = torn ? text.size() : nl + 1;
        ++line_no;
        // A carriage return inside a line (not just ending it, "\r\n" or "\r\r\n"): a file whose
        // lines end in CR alone (a classic Mac export) is one line here, which gave "no data
        // rows", a column named twice or "line longer than 1 MiB", never the cause.
        auto inner_cr = [&] {
            const size_t cr = line.find('\r');
            return cr != std::string::npos && line.find_first_not_of('\r', cr) != std::string::npos;
        };
        if (line.size() > kMaxLineBytes)
            fail(source, line_no, std::string("line longer than 1 MiB") + (inner_cr() ? std::string("; ") + kCrOnly : ""));
        if (!line.empty() && line.back() == '\r') line.pop_back();
        // A last line without a newline: where the caller resumes a file it appends to (and
        // in any file libesm writes row by row: a `format` header or a `kind` column), a row
        // cut off mid-write, whose number may be cut short too; in any other CSV read (a hand
        // edit, an export), just the last row.
        auto written_by_libesm = [&] {  // asked of the last line only, not of every row
            return allow_torn_tail || t.has_meta("format") ||
                   std::find(t.columns.begin(), t.columns.end(), "kind") != t.columns.end();
        };
        if (torn && !t.columns.empty() && !line.empty() && line[0] != '#' && written_by_libesm()) {
            if (!allow_torn_tail)
                fail(source, line_no, "last line has no newline: the file was cut off mid-write (its last row may be "
                                      "incomplete; a rerun of the run that writes it cuts that row off)");
            if (torn_tail) *torn_tail = true;
            break;
        }
        if (line[0] != '#' && inner_cr()) fail(source, line_no, kCrOnly);
        if (trim(line).empty()) continue;
        if (line[0] == '#') {
            std::string body = trim(line.substr(1));
            auto colon = body.find(':');
            if (colon != std::string::npos && t.columns.empty())
                t.meta.push_back({trim(body.substr(0, colon)), trim(body.substr(colon + 1))});
            continue;
        }
        if (line.find('"') != std::string::npos) fail(source, line_no, "quoted fields are not supported");
        auto fields = split_csv_line(line);
        if (t.columns.empty()) {
            for (size_t i = 0; i < fields.size(); ++i) {
                if (fields[i].empty()) fail(source, line_no, "header column " + std::to_string(i + 1) + " has no name");
                for (size_t j = 0; j < i; ++j)
                    if (fields[j] == fields[i]) fail(source, line_no, "header names column '" + fields[i] + "' twice");
            }
            t.columns = fields;
            continue;
        }
        if (fields.size() != t.columns.size())
            fail(source, line_no, "row has " + std::to_string(fields.size()) + " fields, the header has " +
                                      std::to_string(t.columns.size()));
        t.rows.push_back(std::move(fields));
        t.row_lines.push_back(line_no);
    }
    if (t.columns.empty())
        fail(source, 0, text.find('\n') == std::string::npos && text.find('\r') != std::string::npos
                            ? std::string("no header row: ") + kCrOnly
                            : "no header row (empty file?)");
    return t;
}

Table read_table(const std::string& path, bool allow_torn_tail, bool* torn_tail) {
    return parse_table(detail::read_whole_file(path, "CSV"), path, allow_torn_tail, torn_tail);
}

}  // namespace esm
