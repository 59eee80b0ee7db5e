// Dataset files: header and rows round-trip through read_table, resume keeps rows, a torn
// last line is cut away, a file of other settings is refused and left byte-identical.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "esm/common.hpp"
#include "esm/dataset.hpp"
#include "esm/table.hpp"

using namespace esm;

namespace {

std::string temp_path(const std::string& name) {
    std::string p = testing::TempDir() + "esm_dataset_" + name + ".csv";
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
}
