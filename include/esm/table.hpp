// CSV tables as libesm reads and writes them: '#' comment lines (libesm datasets put
// "# key: value" metadata there), one header row, then rows. Readable by
// pandas.read_csv(path, comment='#'). Fields never need quoting (archs have no commas).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace esm {

struct Table {
    std::vector<std::pair<std::string, std::string>> meta;  // "# key: value" lines, in order
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;
    std::vector<int> row_lines;  // 1-based line number of each row, for messages
    std::string source;          // path, for messages

    int column(const std::string& name) const;          // -1 when absent
    int require_column(const std::string& name) const;  // throws naming the file and columns
    std::string meta_value(const std::string& key, const std::string& dflt = "") const;
    bool has_meta(const std::string& key) const;
    // Numeric field; throws naming file, line and column when it is not a finite number.
    double number(size_t row, int col) const;
    // Integer field in lo..hi (decimal digits, an optional sign); throws naming file, line
    // and column otherwise.
    long integer(size_t row, int col, long lo, long hi) const;
};

// Strict reader: every row has as many fields as the header; a quoted field, a NUL byte or
// a line over 1 MiB is rejected with file and line. A final line without '\n' in a file
// libesm writes row by row (a `format` header or a `kind` column) is a truncated write and
// is reported; with `allow_torn_tail` (a file being resumed) it is dropped and counted in
// *torn_tail; in any other CSV (a hand edit, an export) it is just the last row.
Table read_table(const std::string& path, bool allow_torn_tail = false, bool* torn_tail = nullptr);
constexpr size_t kMaxLineBytes = size_t{1} << 20;  // the longest line read_table reads
Table parse_table(const std::string& text, const std::string& source, bool allow_torn_tail = false,
                  bool* torn_tail = nullptr);

std::vector<std::string> split_csv_line(const std::string& line);

}  // namespace esm
