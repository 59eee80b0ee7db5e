// Fault injection (issue 8): every single-byte corruption and every truncation of a small
// predictor file is detected on load; a full disk (file-size limit) gives a clear error
// and leaves what was on disk intact; esm-measure and esm-build killed with SIGKILL at
// random points always leave a parseable dataset that a rerun completes, every sample once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>

#include "esm/common.hpp"
#include "esm/predictor.hpp"
#include "esm/rng.hpp"
#include "esm/sample.hpp"
#include "esm/table.hpp"
#include "depth_predictor.hpp"
#include "tool_run.hpp"

namespace {

std::string small_predictor_bytes() { return esm_test::depth_predictor("resnet", 100, 0.1, 3, {4}).serialize(); }

std::string dir_for(const std::string& name) {
    const std::string d = std::string(ESM_BINARY_DIR) + "/fault_" + name;
    std::system(("rm -rf '" + d + "' && mkdir -p '" + d + "'").c_str());
    return d;
}

}  // namespace

TEST(Fault, EveryByteCorruptionAndTruncationOfAPredictorIsDetected) {
    const std::string good = small_predictor_bytes();
    ASSERT_LT(good.size(), 20000u);
    ASSERT_NO_THROW(esm::Predictor::parse(good, "good"));
    size_t checked = 0;
    for (size_t i = 0; i < good.size(); ++i) {
        for (unsigned char mask : {0x01, 0x02, 0x10, 0x20, 0x80, 0xFF}) {
            std::string bad = good;
            bad[i] = static_cast<char>(bad[i] ^ mask);
            try {
                esm::Predictor::parse(bad, "corrupt");
                ADD_FAILURE() << "byte " << i << " ^ " << int(mask) << " was not detected";
            } catch (const esm::Error& e) {
                EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();  // names the file
            }
            ++checked;
        }
    }
    for (size_t n = 0; n < good.size(); ++n) EXPECT_THROW(esm::Predictor::parse(good.substr(0, n), "cut"), esm::Error) << n;
    EXPECT_EQ(checked, good.size() * 6);
}

TEST(Fault, FullDiskIsAClearErrorAndKeepsWhatWasThere) {
    // RLIMIT_FSIZE stands in for a full disk: writes past 4 KiB fail with EFBIG
    // (SIGXFSZ ignored, as a daemon would).
    const std::string d = dir_for("fulldisk");
    const std::string archs = d + "/archs.txt", data = d + "/data.csv";
    {
        std::ofstream f(archs);
        esm::Space s = esm::preset("mobilenetv3");
        esm::Sampler sm(s, 2);
        for (const auto& a : sm.sample(esm::Strategy::Random, 100, 5)) f << esm::format_arch(s, a) << "\n";
    }
    const std::string measure = tool_path("esm-measure") + " --space mobilenetv3 --archs " + archs + " -o " + data +
                                " --res 32 --runs 1 --warmup 0 --refs 0 --qc-every 1 --outlier-spread 100";
    // stderr goes through a pipe: a file would hit the same size limit.
    const std::string limited = "sh -c 'trap \"\" XFSZ; ulimit -f 8; " + measure + " 2>&1 >/dev/null; echo $? > " + d +
                                "/status' | tail -c 1000 > " + d + "/err";
    std::system(limited.c_str());
    EXPECT_EQ(slurp(d + "/status"), "1\n");
    const std::string err = slurp(d + "/err");
    EXPECT_NE(err.find("File too large"), std::string::npos) << err;
    EXPECT_NE(err.find(data), std::string::npos) << err;  // names the file
    // What reached the disk is a valid dataset ending at a complete row (the failed append
    // cut its own partial line), and a rerun without the limit finishes the job with every
    // architecture once.
    esm::Table t = esm::read_table(data);  // strict: a torn last line would throw
    const size_t before = t.rows.size();
    EXPECT_GT(before, 0u);
    EXPECT_LT(before, 100u);
    EXPECT_EQ(std::system((measure + " > /dev/null 2>&1").c_str()), 0);
    esm::Table all = esm::read_table(data);
    std::set<std::string> seen;
    for (const auto& row : all.rows) {
        if (row[5] == "sample") {
            EXPECT_TRUE(seen.insert(row[0]).second) << row[0];  // besides its "pending" row
        }
    }
    EXPECT_EQ(seen.size(), 100u);

    // A predictor save that cannot complete leaves the old file as it was.
    const std::string pred = d + "/p.esm", bytes = small_predictor_bytes();
    std::ofstream(pred) << bytes;
    esm::Predictor p = esm::Predictor::parse(bytes, "p");
    const std::string save = "sh -c 'trap \"\" XFSZ; ulimit -f 1; exec " + tool_path("esm-train") + " " + data +
                             " --space mobilenetv3 --encoding fcc --epochs 2 -o " + pred + " 2>&1 >/dev/null' | tail -c 1000 > " + d +
                             "/err2";
    std::system(save.c_str());
    EXPECT_NE(slurp(d + "/err2").find("File too large"), std::string::npos) << slurp(d + "/err2");
    EXPECT_EQ(slurp(pred), bytes);
}

// Kills a tool with SIGKILL after a random delay, `rounds` times, checking the dataset
// after each kill and finishing the job at the end.
static void kill_at_random_points(const std::string& tool, const std::string& args, const std::string& data,
                                  int rounds, uint64_t seed) {
    esm::Rng rng(seed);
    for (int i = 0; i < rounds; ++i) {
        const pid_t pid = spawn_tool(tool, args);
        ASSERT_GE(pid, 0);
        usleep(static_cast<useconds_t>(20000 + rng.below(400000)));
        kill(pid, SIGKILL);
        wait_status(pid);
        // The dataset parses (a torn last line is allowed: the next run cuts it) and holds
        // no sample twice. Killed before its column row was written (the file is created,
        // locked, then its header written), it holds nothing yet: the next run starts it over.
        std::ifstream f(data);
        std::string line;
        bool has_columns = false;
        while (!has_columns && std::getline(f, line) && !f.eof()) has_columns = line.rfind("arch,", 0) == 0;
        if (!has_columns) continue;
        esm::Table t = esm::read_table(data, true);
        std::set<std::string> seen;
        for (const auto& row : t.rows) {
            if (row[5] == "sample") {
                EXPECT_TRUE(seen.insert(row[0]).second) << "round " << i << ": " << row[0];
            }
        }
    }
    ToolResult r = run_tool(tool, args);
    EXPECT_TRUE(r.status == 0 || r.status == 3) << r.err;  // esm-build: 3 = stopped by its budget
}

TEST(Fault, EsmMeasureKilledTwentyTimes) {
    const std::string d = dir_for("kill_measure");
    const std::string archs = d + "/archs.txt", data = d + "/data.csv";
    esm::Space s = esm::preset("mobilenetv3");
    esm::Sampler sm(s, 8);
    std::set<std::string> want;
    {
        std::ofstream f(archs);
        for (const auto& a : sm.sample(esm::Strategy::Random, 60, 5)) {
            f << esm::format_arch(s, a) << "\n";
            want.insert(esm::format_arch(s, a));
        }
    }
    kill_at_random_points("esm-measure", "--space mobilenetv3 --archs " + archs + " -o " + data +
                                             " --res 32 --runs 3 --warmup 1 --refs 0 --outlier-spread 100",
                          data, 20, 11);
    esm::Table t = esm::read_table(data);
    std::set<std::string> got;
    for (const auto& row : t.rows) {
        if (row[5] == "sample") {
            EXPECT_TRUE(got.insert(row[0]).second);
        }
    }
    EXPECT_EQ(got, want);
}

TEST(Fault, EsmBuildKilledTwentyTimes) {
    const std::string d = dir_for("kill_build");
    const std::string out = d + "/out";
    kill_at_random_points("esm-build",
                          "--space mobilenetv3 --device cpu --res 32 --warmup 1 --runs 3 --refs 0 --initial 30 "
                          "--step 10 --test-size 10 --acc 100 --max-iterations 2 --epochs 5 -o " + out,
                          out + "/dataset.csv", 20, 12);
    esm::Table plans = esm::read_table(out + "/plans.csv");
    esm::Table t = esm::read_table(out + "/dataset.csv");
    std::set<std::string> planned, got;
    for (const auto& row : plans.rows) planned.insert(row[2]);
    for (const auto& row : t.rows) {
        if (row[5] == "sample" || row[5] == "dropped") {
            EXPECT_TRUE(got.insert(row[0]).second) << row[0];
        }
    }
    EXPECT_EQ(got, planned);
}
