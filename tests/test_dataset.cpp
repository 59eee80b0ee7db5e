// Dataset files: header and rows round-trip through read_table, resume keeps rows, a torn
// last line is cut away, a file of other settings is refused and left byte-identical; drift
// factors from the reference rows, and implausible ones refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "comma_locale.hpp"
#include "esm/common.hpp"
#include "esm/dataset.hpp"
#include "esm/executor.hpp"
#include "esm/table.hpp"
#include "esm/train.hpp"

using namespace esm;

namespace {

std::string temp_path(const std::string& name) {
    std::string p = std::string(ESM_BINARY_DIR) + "/esm_dataset_" + name + ".csv";  // per build tree
    std::remove(p.c_str());
    return p;
}

std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

DatasetRow row(const std::string& arch, double ms, const std::string& kind = "sample") {
    DatasetRow r;
    r.arch = arch;
    r.depth = 4;
    r.stats = {ms, 0.1, 90};
    r.kind = kind;
    return r;
}

DatasetMeta meta(int threads = 1) {
    MeasureProtocol p;
    return cpu_dataset_meta(preset("resnet"), 224, 1, threads, 1, p);
}

}  // namespace

TEST(Dataset, WritesHeaderAndRowsReadableByReadTable) {
    const std::string path = temp_path("rt");
    {
        DatasetWriter w(path, meta());
        EXPECT_FALSE(w.resumed());
        w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 12.5, "ref"));
        w.append(row("resnet:k5e50/k3e50/k3e50/k3e50", 13.25));
    }
    Table t = read_table(path);
    EXPECT_EQ(t.columns, dataset_columns());
    ASSERT_EQ(t.rows.size(), 2u);
    EXPECT_EQ(t.rows[1][t.require_column("arch")], "resnet:k5e50/k3e50/k3e50/k3e50");
    EXPECT_DOUBLE_EQ(t.number(1, t.require_column("latency_ms")), 13.25);
    EXPECT_EQ(t.meta_value("backend"), "cpu");
    EXPECT_EQ(t.meta_value("runs"), "150");
    EXPECT_EQ(t.meta_value("space"), "resnet");
    EXPECT_TRUE(t.has_meta("openblas_core"));
    EXPECT_TRUE(t.has_meta("device"));
    EXPECT_EQ(t.meta_value("library_version"), version());
    // The space description is in the file, one line each, and parses back to the space.
    std::string desc;
    for (const auto& kv : t.meta)
        if (kv.first == "space_line") desc += kv.second + "\n";
    EXPECT_EQ(parse_space(desc, "header"), preset("resnet"));
}

TEST(Dataset, ResumeKeepsRowsAndCutsTornTail) {
    const std::string path = temp_path("torn");
    {
        DatasetWriter w(path, meta());
        w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 1));
        w.append(row("resnet:k5e50/k3e50/k3e50/k3e50", 2));
    }
    {  // killed mid-write: half a row without its newline
        std::FILE* f = std::fopen(path.c_str(), "ab");
        std::fputs("resnet:k7e50/k3e50/k3e50/k3e50,4,3.1", f);
        std::fclose(f);
    }
    {
        DatasetWriter w(path, meta());
        EXPECT_TRUE(w.resumed());
        EXPECT_TRUE(w.truncated_tail());
        EXPECT_EQ(w.existing().size(), 2u);
        EXPECT_TRUE(w.has_sample("resnet:k5e50/k3e50/k3e50/k3e50"));
        EXPECT_FALSE(w.has_sample("resnet:k7e50/k3e50/k3e50/k3e50"));
        w.append(row("resnet:k7e50/k3e50/k3e50/k3e50", 3));
    }
    Table t = read_table(path);  // strict: no torn line left
    ASSERT_EQ(t.rows.size(), 3u);
    EXPECT_EQ(t.rows[2][0], "resnet:k7e50/k3e50/k3e50/k3e50");
    EXPECT_EQ(t.rows[2][2], "3");
    // A power loss on some file systems leaves an append's blocks as NUL bytes (the size
    // committed, the data not), after a torn row or a whole one: cut like a torn line.
    const std::string whole = slurp(path);
    for (const std::string& tail : {std::string("resnet:k3e67/k3"), std::string()}) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << whole << tail << std::string(5000, '\0');
        DatasetWriter w(path, meta());
        EXPECT_TRUE(w.truncated_tail());
        EXPECT_EQ(w.existing().size(), 3u);
        EXPECT_EQ(slurp(path), whole);
    }
    // ... but only in a file this run resumes: another's file, or this library's dataset of
    // other settings, is refused byte for byte untouched, NULs and all.
    const std::string nuls(5000, '\0');
    for (const std::string& bytes : {std::string("x,y\n1,2\n") + nuls, whole + nuls}) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
        EXPECT_THROW(DatasetWriter(path, meta(7)), Error);
        EXPECT_EQ(slurp(path), bytes);
    }
}

// Runner datasets wrote qc_threshold with std::to_string's six decimals (0.030000) before
// they wrote it as executor datasets do (0.03): such a file resumes under the threshold it
// reads as, and is refused under another, untouched. Executor datasets always wrote it
// exactly: one saying 0.030000 (by hand) is not read so.
TEST(Dataset, SixDecimalQcThresholdOfOlderRunnerFilesResumes) {
    const std::string path = temp_path("qc6");
    auto with_qc = [](const std::string& v, const char* backend = "external runner") {
        DatasetMeta m = meta();
        for (auto& kv : m) {
            if (kv.first == "qc_threshold") kv.second = v;
            if (kv.first == "backend") kv.second = backend;
        }
        return m;
    };
    {
        DatasetWriter w(path, with_qc("0.030000"));
        w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 12.5));
    }
    const std::string before = slurp(path);
    {
        DatasetWriter w(path, with_qc("0.03"));
        EXPECT_TRUE(w.resumed());
        EXPECT_EQ(w.existing().size(), 1u);
    }
    for (const char* other : {"0.04", "0.3", "0.029"}) {
        EXPECT_THROW(DatasetWriter(path, with_qc(other)), Error) << other;
        EXPECT_EQ(slurp(path), before);
    }
    const std::string cpu = temp_path("qc6cpu");
    {
        DatasetWriter w(cpu, with_qc("0.030000", "cpu"));
        w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 12.5));
    }
    EXPECT_THROW(DatasetWriter(cpu, with_qc("0.03", "cpu")), Error);
}

// CUDA datasets wrote --threads as given (threads: 4) before they wrote the one host thread
// that enqueues (1): such a file resumes, where no run can write its value any more; a CPU
// file measured at 4 threads is still refused at 1, untouched.
TEST(Dataset, OlderCudaFilesWithOtherThreadsResume) {
    const std::string path = temp_path("cuda_threads");
    auto cuda = [](int threads) {
        DatasetMeta m = meta(threads);
        for (auto& kv : m)
            if (kv.first == "backend") kv.second = "cuda";
        return m;
    };
    {
        DatasetWriter w(path, cuda(4));
        w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 12.5));
    }
    {
        DatasetWriter w(path, cuda(1));
        EXPECT_TRUE(w.resumed());
        EXPECT_EQ(w.existing().size(), 1u);
    }
    std::remove(path.c_str());
    {
        DatasetWriter w(path, meta(4));
        w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 12.5));
    }
    const std::string before = slurp(path);
    try {
        DatasetWriter w(path, meta(1));
        ADD_FAILURE() << "a CPU dataset measured at 4 threads resumed at 1";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'threads: 4' where this run has 'threads: 1'"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(slurp(path), before);
    std::remove(path.c_str());
}

TEST(Dataset, RefusesOtherSettingsAndLeavesFileUntouched) {
    const std::string path = temp_path("refuse");
    {
        DatasetWriter w(path, meta(1));
        w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 1));
    }
    {  // and a torn tail, which must not be repaired by a refused open either
        std::FILE* f = std::fopen(path.c_str(), "ab");
        std::fputs("resnet:k7e5", f);
        std::fclose(f);
    }
    const std::string before = slurp(path);
    try {
        DatasetWriter w(path, meta(2));
        FAIL() << "expected a refusal";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("threads: 1"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("untouched"), std::string::npos) << e.what();
    }
    MeasureProtocol p;
    p.runs = 100;
    EXPECT_THROW(DatasetWriter(path, cpu_dataset_meta(preset("resnet"), 224, 1, 1, 1, p)), Error);
    EXPECT_THROW(DatasetWriter(path, cpu_dataset_meta(preset("mobilenetv3"), 224, 1, 1, 1, MeasureProtocol{})), Error);
    EXPECT_EQ(before, slurp(path));
    // A header without rows (a run that failed before measuring) gives way to other settings.
    const std::string empty = temp_path("header_only");
    { DatasetWriter w(empty, meta(1)); }
    {
        DatasetWriter w(empty, meta(2));
        EXPECT_FALSE(w.resumed());
        w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 1));
    }
    EXPECT_NE(slurp(empty).find("# threads: 2\n"), std::string::npos) << slurp(empty);
    EXPECT_THROW(DatasetWriter(empty, meta(1)), Error);  // now it holds a measurement
    // A directory where a file is expected says so (an ifstream would read it as empty).
    const std::string dir = path.substr(0, path.rfind('/'));
    for (const auto& read : std::vector<std::function<void()>>{[&] { read_table(dir); },
                                                                [&] { DatasetWriter(dir, meta(1)); },
                                                                [&] { load_space_file(dir); }}) {
        try {
            read();
            ADD_FAILURE() << "read a directory";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("'" + dir + "'"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("s a directory"), std::string::npos) << e.what();
        }
    }
}

// Hand-worked: references A (baseline 1.0) and B (2.0). u = ln 1.1. Re-measurement 1 reads
// A 1.21 (x1.1^2), B 2.0 (x1): geometric mean 1.1, log u; re-measurement 2 reads A 1.331
// (x1.1^3), B 2.2 (x1.1): log 2u. Samples s1, s2 lie between the baselines (log 0) and
// re-measurement 1: (0 + u) / 2; s3 between 1 and 2: 1.5u; s4 after 2 with none after it
// (a run killed before its batch's references): 2u. The median of {u/2, u/2, 1.5u, 2u} is
// u, so the factors are 1.1^-0.5, 1.1^-0.5, 1.1^0.5 and 1.1; pending and dropped rows get 1.
TEST(Dataset, DriftFactorsFromReferenceRemeasurements) {
    auto row = [](const char* kind, const char* arch, double ms) {
        DatasetRow r;
        r.kind = kind;
        r.arch = arch;
        r.stats.latency_ms = ms;
        return r;
    };
    const std::vector<DatasetRow> rows = {
        row("ref", "A", 1.0),      row("ref", "B", 2.0),         row("sample", "s1", 5), row("sample", "s2", 6),
        row("ref", "A", 1.21),     row("ref", "B", 2.0),         row("pending", "s3", 7), row("sample", "s3", 7),
        row("ref", "A", 1.331),    row("ref", "B", 2.2),         row("sample", "s4", 8), row("dropped", "s5", 9)};
    const DriftFactors d = drift_factors(rows);
    ASSERT_EQ(d.factor.size(), rows.size());
    EXPECT_EQ(d.range.remeasurements, 3);
    const double r = std::sqrt(1.1);
    const std::vector<double> want = {1, 1, 1 / r, 1 / r, 1, 1, 1, r, 1, 1, 1.1, 1};
    for (size_t i = 0; i < rows.size(); ++i) EXPECT_NEAR(d.factor[i], want[i], 1e-12) << "row " << i;
    EXPECT_NEAR(d.range.lo, 1 / r, 1e-12);
    EXPECT_NEAR(d.range.hi, 1.1, 1e-12);

    // Without references nothing changes.
    const DriftFactors none = drift_factors({row("sample", "s1", 5), row("pending", "s2", 6), row("sample", "s2", 6)});
    EXPECT_EQ(none.range.remeasurements, 0);
    EXPECT_EQ(none.factor, std::vector<double>(3, 1.0));
    EXPECT_EQ(none.range.lo, 1.0);
    EXPECT_EQ(none.range.hi, 1.0);
}

TEST(Dataset, ImplausibleReferenceReadingsAreRefusedNotTurnedIntoLatencies) {
    // Found by fuzz_table: references read 1e-300 ms, then 1e300 ms: their ratio overflows,
    // and the "corrected" latencies would be NaN or 0. A reading outside the range of a
    // latency (docs/dataset_format.md: readers name its line) is refused at its own row, as a
    // sample's is; one of 0 or below was skipped instead, splitting its re-measurement.
    const Space space = preset("resnet");
    auto table = [](const std::string& first, const std::string& second, const std::string& last = "1.8") {
        return parse_table("# space: resnet\n"
                           "arch,depth,latency_ms,std_ms,runs,kind,timestamp\n"
                           "resnet:k3e50/k3e50/k3e50/k5e50,4," + first + ",0.01,90,ref,x\n"
                           "resnet:k3e50/k3e50/k3e50/k3e50,4,1.5,0.01,90,sample,x\n"
                           "resnet:k3e50/k3e50/k3e50/k5e50,4," + second + ",0.01,90,ref,x\n"
                           "resnet:k5e50/k3e50/k3e50/k3e50,4," + last + ",0.01,90,sample,x\n",
                           "d.csv", false, nullptr);
    };
    auto refused = [&](const Table& t, const std::string& want) {
        try {
            latency_data_from_table(t, space, "", /*drift_correction=*/true);
            ADD_FAILURE() << "no error, want " << want;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("'ref' rows"), std::string::npos) << e.what();
        }
        // Without the correction the references are not read: the samples as measured.
        EXPECT_EQ(latency_data_from_table(t, space, "", /*drift_correction=*/false).latency[0], 1.5);
    };
    refused(table("1e-300", "1e300"), "d.csv:3: reference latency 'latency_ms' is 1e-300 (outside 1e-9 .. 1e12 ms");
    refused(table("1.0", "1e300"), "d.csv:5: reference latency 'latency_ms' is 1e300 (outside");
    refused(table("1.0", "0"), "d.csv:5: reference latency 'latency_ms' is 0 (outside");
    refused(table("-2", "1.0"), "d.csv:3: reference latency 'latency_ms' is -2 (outside");
    // Readings in range whose ratio puts a sample out of it: refused at the sample, with the
    // latency it would get in a readable form. Factors: s1 sqrt(1e21), s2 1e21, divided by
    // their median sqrt(1e21 * 1e21^0.5) = 1e15.75; s2: 1e-8 / 1e5.25 = 5.62341e-14 ms.
    refused(table("1e-9", "1e12", "1e-8"),
            "d.csv:6: drift correction by the reference rows gives latency 5.62341e-14 (");
}

// Two writers of one dataset at once (two runs on one output) would measure everything
// twice: the second is refused while the first holds it, and welcome after.
TEST(Dataset, OneWriterAtATime) {
    const std::string path = temp_path("locked");
    {
        DatasetWriter first(path, meta(1));
        try {
            DatasetWriter second(path, meta(1));
            ADD_FAILURE() << "two writers at once";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("is being written by another process"), std::string::npos) << e.what();
        }
        first.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 1));
    }
    DatasetWriter again(path, meta(1));
    EXPECT_EQ(again.existing().size(), 1u);
    // A header cut anywhere (a kill or power loss while writing it) is written afresh, with
    // this run's settings: nothing was measured into it.
    const std::string cut = temp_path("header_cut");
    { DatasetWriter w(cut, meta(1)); }
    const std::string header = slurp(cut);
    for (size_t len = 1; len <= header.size(); ++len) {
        std::ofstream(cut, std::ios::binary | std::ios::trunc) << header.substr(0, len);
        {
            DatasetWriter w(cut, meta(2));
            EXPECT_FALSE(w.resumed()) << len;
            w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 1));
        }
        EXPECT_NE(slurp(cut).find("# threads: 2\n"), std::string::npos) << len;
        EXPECT_EQ(DatasetWriter(cut, meta(2)).existing().size(), 1u) << len;
    }
    // Someone else's file of comments and columns only is not libesm's to rewrite.
    std::string columns;
    for (const auto& c : dataset_columns()) columns += (columns.empty() ? "" : ",") + c;
    for (const std::string& theirs : std::vector<std::string>{"# my notes\n", "# my notes\n" + columns + "\n", "x"}) {
        std::ofstream(cut, std::ios::binary | std::ios::trunc) << theirs;
        EXPECT_THROW(DatasetWriter(cut, meta(1)), Error) << theirs;
        EXPECT_EQ(slurp(cut), theirs);
    }
    // A header line the reader could not read back (over 1 MiB) is refused before any file.
    DatasetMeta huge = meta(1);
    huge.push_back({"note", std::string(size_t{2} << 20, 'x')});
    const std::string never = temp_path("huge_header");
    EXPECT_THROW(DatasetWriter(never, huge), Error);
    EXPECT_NE(access(never.c_str(), F_OK), 0);
}

// Spreadsheet exports: a UTF-8 byte order mark is not part of the first column's name, and
// a plain CSV's last row needs no newline; a libesm dataset's does (a row cut mid-write).
TEST(Dataset, ExportedCsvsReadAsWritten) {
    const Table bom = parse_table("\xEF\xBB\xBF" "arch,lat\nx,1\n", "bom.csv", false, nullptr);
    EXPECT_EQ(bom.columns, (std::vector<std::string>{"arch", "lat"}));
    const Table last = parse_table("arch,lat\nx,1\ny,2", "plain.csv", false, nullptr);
    ASSERT_EQ(last.rows.size(), 2u);
    EXPECT_EQ(last.rows[1][1], "2");
    try {
        parse_table("# format: esm-latency-dataset 1\narch,lat\nx,1\ny,2", "ours.csv", false, nullptr);
        ADD_FAILURE() << "read a libesm dataset's torn row";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("ours.csv:4: last line has no newline: the file was cut off mid-write"),
                  std::string::npos) << e.what();
    }
    EXPECT_EQ(parse_table("arch,kind\nx,sample\ny,sam", "k.csv", true, nullptr).rows.size(), 1u);  // resume: cut
}

// Integer fields (a dataset's depth and runs, a plan's iteration) are read strictly: a
// corrupted one is an error naming file, line and column, never a float cast out of range.
TEST(Dataset, IntegerFieldsAreReadStrictly) {
    const Table t = parse_table("a,b\n4,-3\n4.5,1e3\n0x10,99999999999999999999\n,7\n", "t.csv", false, nullptr);
    EXPECT_EQ(t.integer(0, 0, 0, 10), 4);
    EXPECT_EQ(t.integer(0, 1, -5, 10), -3);
    auto refused = [&](size_t row, int col, long lo, long hi, const std::string& what) {
        try {
            t.integer(row, col, lo, hi);
            ADD_FAILURE() << "accepted row " << row << " column " << col;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    refused(0, 1, 0, 10, "t.csv:2: column 'b' holds '-3', not an integer in 0..10");
    refused(1, 0, 0, 10, "t.csv:3: column 'a' holds '4.5'");
    refused(1, 1, 0, 10000, "t.csv:3: column 'b' holds '1e3'");
    refused(2, 0, 0, 100, "t.csv:4: column 'a' holds '0x10'");
    refused(2, 1, 0, 1L << 40, "t.csv:4: column 'b' holds '99999999999999999999'");
    refused(3, 0, 0, 10, "t.csv:5: column 'a' holds ''");

    // A dataset whose depth was corrupted is refused on resume, and left as it was.
    const std::string p = temp_path("intfield");
    { DatasetWriter w(p, meta()); w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 1.5)); }
    std::string text = slurp(p);
    const size_t at = text.find(",4,1.5,");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, 3, ",4e30,");
    std::ofstream(p, std::ios::binary) << text;
    try {
        DatasetWriter w(p, meta());
        FAIL() << "resumed a corrupted dataset";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("column 'depth' holds '4e30', not an integer"), std::string::npos) << e.what();
    }
    EXPECT_EQ(slurp(p), text);
    std::remove(p.c_str());
}

// A damaged row (a flipped byte in its kind, arch or latency, a hand edit) is refused when the
// file is resumed, naming the line and column, and the file is left as it was: the resume
// once took such rows and measured on (a damaged kind or arch also measured that
// architecture a second time), and the finished file was one esm-train refuses. Where the
// readers look at the row (a sample's kind, arch and latency) they refuse it too.
TEST(Dataset, DamagedRowsAreRefusedOnResumeLeftUntouched) {
    const std::string p = temp_path("damaged_row");
    const std::string a3 = "resnet:k3e50/k3e50/k3e50/k3e50", a5 = "resnet:k3e50/k3e50/k3e50/k5e50";
    {
        DatasetWriter w(p, meta());
        w.append(row(a3, 2.5, "ref"));
        w.append(row(a5, 3.5, "sample"));
        w.append(row("resnet:k3e50/k3e50/k3e50/k7e50", 4.5, "pending"));
    }
    const std::string good = slurp(p);
    { DatasetWriter w(p, meta()); EXPECT_EQ(w.existing().size(), 3u); }  // intact: resumes
    EXPECT_EQ(slurp(p), good);
    const size_t at = good.find(a5 + ",");
    ASSERT_NE(at, std::string::npos);
    const int line = 1 + static_cast<int>(std::count(good.begin(), good.begin() + static_cast<long>(at), '\n'));
    const size_t end = good.find('\n', at);
    const std::string whole = good.substr(at, end - at);  // resnet:...k5e50,4,3.5,0.1,90,sample,<time>
    struct Case {
        std::string from, to, column;
        bool readers_refuse;
    };
    const Case cases[] = {
        {",sample,", ",sbmple,", "kind", true},
        {a5 + ",", "resnet:k3e50/k3e50/k3e50/k5e5x,", "arch", true},        // not an architecture
        {a5 + ",", "mobilenetv3:k3e50/k3e50/k3e50/k5e50,", "arch", true},   // of another space
        {",3.5,", ",0,", "latency_ms", true},
        {",3.5,", ",-3.5,", "latency_ms", true},
        {",0.1,", ",-0.1,", "std_ms", false},
    };
    for (const Case& c : cases) {
        std::string line_text = whole;
        const size_t k = line_text.find(c.from);
        ASSERT_NE(k, std::string::npos) << c.from;
        line_text.replace(k, c.from.size(), c.to);
        const std::string text = good.substr(0, at) + line_text + good.substr(end);
        std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
        const std::string where = p + ":" + std::to_string(line) + ": column '" + c.column + "'";
        try {
            DatasetWriter w(p, meta());
            ADD_FAILURE() << "resumed a dataset with the damaged row " << line_text;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
        }
        EXPECT_EQ(slurp(p), text) << line_text;
        if (c.readers_refuse) {
            EXPECT_THROW(read_latency_data(p, preset("resnet")), Error) << line_text;
        }
    }
    std::remove(p.c_str());
}

// A block of NUL bytes inside a dataset (a damaged disk, a bad copy; a power loss leaves them
// only at the end, where they are cut) is refused naming the line and byte where it is, by the
// resuming writer (the file left as it was) and by the readers: the message once said "not a
// CSV text file" and nothing else, of a file that was the user's dataset.
TEST(Dataset, ANulBlockInsideTheFileIsNamedByLine) {
    const std::string p = temp_path("nul_inside");
    {
        DatasetWriter w(p, meta());
        for (int k : {3, 5, 7}) w.append(row("resnet:k3e50/k3e50/k3e50/k" + std::to_string(k) + "e50", k));
    }
    std::string text = slurp(p);
    const size_t row2 = text.find("resnet:k3e50/k3e50/k3e50/k5e50");
    ASSERT_NE(row2, std::string::npos);
    const int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(row2), '\n'));
    text.replace(row2 + 8, 4, std::string(4, '\0'));
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    const std::string where = p + ":" + std::to_string(line) + ": holds a NUL byte (at byte " + std::to_string(row2 + 8) + ")";
    try {
        DatasetWriter w(p, meta());
        ADD_FAILURE() << "resumed a dataset with NUL bytes inside";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    }
    EXPECT_EQ(slurp(p), text);
    try {
        read_table(p);
        ADD_FAILURE() << "read a dataset with NUL bytes inside";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("power loss"), std::string::npos) << e.what();  // inside: no hint
    }
    // NUL bytes to the end (a power loss during an append): a reader says how they go.
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text.substr(0, row2) << std::string(64, '\0');
    try {
        read_table(p);
        ADD_FAILURE() << "read a dataset with a NUL tail";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("a power loss leaves of an append (if a libesm measurement wrote it, "
                                             "rerunning it cuts them)"),
                  std::string::npos)
            << e.what();
    }
    std::remove(p.c_str());
}

// Numbers as written in decimal: strtod alone reads hex ("0x10" as 16 ms) and nan/inf.
TEST(Dataset, NumberFieldsAreDecimal) {
    const Table t = parse_table("a\n12.5\n1e-3\n0x10\n0x1p3\ninf\n", "n.csv", false, nullptr);
    EXPECT_EQ(t.number(0, 0), 12.5);
    EXPECT_EQ(t.number(1, 0), 1e-3);
    for (size_t row : {2, 3, 4}) {
        try {
            t.number(row, 0);
            ADD_FAILURE() << "accepted row " << row;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("not a finite number"), std::string::npos) << e.what();
        }
    }
}

// An executor header records the threads the executor runs on. A build without OpenMP
// (ESM_OPENMP=OFF) accepts --threads 4 and runs one thread (docs/install.md): its header said
// `threads: 4`, so its single-threaded latencies resumed (and were taken for) a file measured
// at four threads by an OpenMP build.
TEST(Dataset, ExecutorHeaderRecordsTheThreadsTheExecutorRuns) {
#ifdef _OPENMP
    const int runs_on = 4;
#else
    const int runs_on = 1;
#endif
    ExecutorOptions o;
    o.threads = 4;
    const DatasetMeta m = executor_dataset_meta(preset("resnet"), 224, 1, o, 1, MeasureProtocol{});
    const auto it = std::find_if(m.begin(), m.end(), [](const auto& kv) { return kv.first == "threads"; });
    ASSERT_NE(it, m.end());
    EXPECT_EQ(it->second, std::to_string(runs_on));
    // A file measured at four threads (an OpenMP build) is resumed only by a run on four.
    const std::string path = temp_path("threads_run");
    {
        DatasetWriter w(path, meta(4));
        w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 1));
    }
    if (runs_on == 4)
        EXPECT_NO_THROW(DatasetWriter(path, m));
    else
        EXPECT_THROW(DatasetWriter(path, m), Error);
}

// A header key only one side has (cpu_isa: written only under an ESM_CPU_ISA cap) is named as
// missing: it was set against the other side's next line ("the file says 'space: resnet'
// where this run has 'cpu_isa: avx2'"). The file is left as it was either way.
TEST(Dataset, AKeyOnlyOneSideHasIsNamedAsMissing) {
    const std::string path = temp_path("isa_key");
    auto capped = [] {
        DatasetMeta m = meta(1);
        m.insert(m.begin() + 1, {"cpu_isa", "avx2"});
        return m;
    };
    struct Case {
        DatasetMeta file, run;
        std::string says;
    };
    for (const Case& c : {Case{meta(1), capped(), "untouched: the file has no cpu_isa where this run has 'cpu_isa: avx2' ("},
                          Case{capped(), meta(1), "untouched: the file says 'cpu_isa: avx2' where this run has no cpu_isa ("}}) {
        std::remove(path.c_str());
        {
            DatasetWriter w(path, c.file);
            w.append(row("resnet:k3e50/k3e50/k3e50/k3e50", 12.5));
        }
        const std::string before = slurp(path);
        try {
            DatasetWriter w(path, c.run);
            ADD_FAILURE() << "resumed";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
        }
        EXPECT_EQ(slurp(path), before);
    }
    std::remove(path.c_str());
}

// A host program that set a decimal-comma locale (setlocale(LC_ALL, "") under de_DE, as a
// GUI program does): numbers are still read and written with '.'. Before, every CSV read
// "12.5" as "not a finite number" and a dataset row was written as "...,12,5,0,1,90,...",
// two more fields, which the resume then refused. Needs such a locale installed (skipped
// otherwise; `localedef -i de_DE -f UTF-8 DIR/de_DE.UTF-8` and LOCPATH=DIR make one).
TEST(Dataset, NumbersIgnoreTheHostsLocale) {
    CommaLocale::Restore restore;
    const std::string comma = CommaLocale::set();
    if (comma.empty()) GTEST_SKIP() << "no decimal-comma locale installed, and localedef could not make one";
    ASSERT_EQ(std::strtod("12.5", nullptr), 12.0);  // the locale is in force: strtod stops at '.'
    const Table t = parse_table("arch,lat\nx,12.5\ny,1e-3\n", "plain.csv", false, nullptr);
    const double a = t.number(0, 1), b = t.number(1, 1);
    const std::string path = temp_path("locale");
    {
        DatasetWriter w(path, meta());
        w.append(row("resnet:k5e50/k3e50/k3e50/k3e50", 13.25));
    }
    const std::string written = slurp(path);
    bool resumed = false;
    try {
        DatasetWriter w(path, meta());
        resumed = w.resumed();
    } catch (const Error& e) {
        ADD_FAILURE() << e.what();
    }
    setlocale(LC_ALL, "C");
    EXPECT_EQ(a, 12.5) << comma;
    EXPECT_EQ(b, 1e-3) << comma;
    EXPECT_NE(written.find("resnet:k5e50/k3e50/k3e50/k3e50,4,13.25,0.1,90,sample,"), std::string::npos) << written;
    EXPECT_TRUE(resumed);
    const Table back = read_table(path);  // in the "C" locale: what another program reads
    ASSERT_EQ(back.rows.size(), 1u);
    EXPECT_EQ(back.number(0, back.require_column("latency_ms")), 13.25);
    EXPECT_EQ(back.meta_value("qc_threshold"), "0.03");
    std::remove(path.c_str());
}

// Line ends: LF, CR LF and CR CR LF (Python's csv module in text mode on Windows) read alike;
// CR alone (classic Mac exports) is refused as what it is. It made the file one line: "no
// data rows", a number taken for a column named twice, or "line longer than 1 MiB".
TEST(Dataset, CarriageReturnLineEndsNamed) {
    for (const std::string eol : {"\n", "\r\n", "\r\r\n"}) {
        const Table t = parse_table("# k: v" + eol + "arch,lat" + eol + "x,1.5" + eol + "y,2" + eol, "e.csv", false, nullptr);
        ASSERT_EQ(t.rows.size(), 2u);
        EXPECT_EQ(t.columns, (std::vector<std::string>{"arch", "lat"}));
        EXPECT_EQ(t.meta_value("k"), "v");
        EXPECT_EQ(t.number(0, 1), 1.5);
        EXPECT_EQ(t.number(1, 1), 2);
        EXPECT_EQ(t.row_lines[1], 4);
    }
    auto refused = [](const std::string& text, const std::string& where) {
        try {
            parse_table(text, "mac.csv", false, nullptr);
            ADD_FAILURE() << "read " << text.size() << " bytes";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).rfind(where + "a carriage return (CR) inside a line", 0), 0u) << e.what();
        }
    };
    refused("arch,lat\rx,1\ry,2\r", "mac.csv:1: ");
    refused("arch,lat\rx,1\rx,1\r", "mac.csv:1: ");  // was: "header names column '1' twice"
    refused("# k: v\rarch,lat\rx,1\r", "mac.csv: no header row: ");
    refused("arch,lat\nx,1\ry,2\n", "mac.csv:2: ");
    std::string big = "arch,lat\r";
    while (big.size() <= kMaxLineBytes) big += "x,1\r";
    refused(big, "mac.csv:1: line longer than 1 MiB; ");
}

// append returns the row as the file holds it: what a resume reads back. esm-build goes on
// with that row, so an uninterrupted run trains on the latencies its resume reads (with the
// measured full-precision values, a float's last bit flipped now and then, and a fresh run
// and its resume ended with other accuracies and predictors: 2 of 4 seeds).
TEST(Dataset, AppendReturnsTheRowAsTheFileHoldsIt) {
    const std::string path = temp_path("as_written");
    DatasetRow measured = row("resnet:k5e50/k3e50/k3e50/k3e50", 12.345678901234567);
    measured.stats.std_ms = 0.12345678901234567;
    DatasetRow written;
    {
        DatasetWriter w(path, meta());
        written = w.append(measured);
    }
    EXPECT_EQ(written.stats.latency_ms, 12.3456789);  // ten significant digits, as in the file
    EXPECT_EQ(written.stats.std_ms, 0.123456789);
    EXPECT_NE(written.stats.latency_ms, measured.stats.latency_ms);
    EXPECT_FALSE(written.timestamp.empty());
    DatasetWriter again(path, meta());
    ASSERT_EQ(again.existing().size(), 1u);
    const DatasetRow& back = again.existing()[0];
    EXPECT_EQ(back.stats.latency_ms, written.stats.latency_ms);
    EXPECT_EQ(back.stats.std_ms, written.stats.std_ms);
    EXPECT_EQ(back.stats.runs, written.stats.runs);
    EXPECT_EQ(back.timestamp, written.timestamp);
    EXPECT_EQ(back.kind, written.kind);
}
