// End-to-end tests of esm-lut: a tiny real build (small resolution, 3 runs), eval on a
// dataset made here, on-demand DenseNet profiling, errors. Checks exit status and the
// shape of the output, never timing values.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "esm/lut.hpp"
#include "esm/sample.hpp"
#include "tool_run.hpp"

using namespace esm;

namespace {

std::string tmp_path(const std::string& name) {
    return std::string(ESM_BINARY_DIR) + "/test_lut_tool_" + std::to_string(::getpid()) + "_" + name;
}

// A CSV of `n` random archs of `space` whose latency is a made-up function of the depth.
std::string write_dataset(const Space& space, int n, uint64_t seed, const std::string& name) {
    Sampler s(space, seed);
    const std::string path = tmp_path(name);
    std::ofstream f(path);
    f << "# device: test\narch,depth,latency_ms\n";
    for (const Arch& a : s.sample(Strategy::Random, n, 5))
        f << format_arch(space, a) << "," << a.depth() << "," << 1.0 + 0.25 * a.depth() << "\n";
    return path;
}

// `esm-lut eval` of a copy of `table` changed by `change` (saved as NAME in the test folder),
// on `data`; the copy is removed.
template <class Change>
ToolResult eval_changed(const std::string& table, const std::string& data, const std::string& name, Change change) {
    LookupTable t = LookupTable::load(table);
    change(t);
    const std::string path = tmp_path(name);
    t.save(path);
    ToolResult r = run_tool("esm-lut", "eval " + path + " " + data);
    std::remove(path.c_str());
    return r;
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST(LutTool, BuildsEvaluatesAndFits) {
    ToolResult help = run_tool("esm-lut", "--help");
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("usage: esm-lut build"), std::string::npos);
    EXPECT_NE(help.out.find("on demand"), std::string::npos);

    const Space space = preset("mobilenetv3");
    const std::string table = tmp_path("m.lut"), data = write_dataset(space, 12, 4, "m.csv");
    ToolResult b = run_tool("esm-lut", "build --space mobilenetv3 --res 32 --runs 3 --warmup 1 -o " + table);
    ASSERT_EQ(b.status, 0) << b.err;
    EXPECT_NE(b.out.find("profiled 74 segments"), std::string::npos) << b.out;
    EXPECT_NE(b.out.find("(74 keys)"), std::string::npos) << b.out;
    const LookupTable t = LookupTable::load(table);
    EXPECT_EQ(t.size(), 74u);
    EXPECT_EQ(t.res(), 32);
    EXPECT_EQ(t.protocol.runs, 3);
    for (const auto& kv : t.entries()) EXPECT_GT(kv.second.latency_ms, 0) << kv.first;

    const std::string json = tmp_path("m.json");
    ToolResult e = run_tool("esm-lut", "eval " + table + " " + data + " --bins 3 --json " + json);
    ASSERT_EQ(e.status, 0) << e.err;
    EXPECT_NE(e.out.find("no bias correction"), std::string::npos) << e.out;
    EXPECT_EQ(count(e.out, "\noverall "), 1u) << e.out;
    EXPECT_EQ(count(e.out, "\nbin "), 3u) << e.out;
    EXPECT_NE(slurp(json).find("\"overall\""), std::string::npos);
    {  // a correction set without a fit line (through the API) is still named: eval applies it
        const ToolResult s = eval_changed(table, data, "scaled.lut", [](LookupTable& t) { t.bias_a = 2; });
        ASSERT_EQ(s.status, 0) << s.err;
        EXPECT_NE(s.out.find("bias-corrected"), std::string::npos) << s.out;
        EXPECT_NE(s.out.find("latency = 2 * sum + 0 ms"), std::string::npos) << s.out;
    }

    const std::string fitted = tmp_path("mf.lut");
    ToolResult f = run_tool("esm-lut", "build --space mobilenetv3 --res 32 --runs 3 --warmup 1 --fit " + data +
                                           " -o " + fitted);
    ASSERT_EQ(f.status, 0) << f.err;
    EXPECT_NE(f.out.find("bias correction on 12 rows"), std::string::npos) << f.out;
    EXPECT_FALSE(LookupTable::load(fitted).fit_info.empty());
    ToolResult ef = run_tool("esm-lut", "eval " + fitted + " " + data + " --json -");
    ASSERT_EQ(ef.status, 0) << ef.err;
    // Its correction was fitted on these rows, and the rows say another device than the table.
    EXPECT_NE(ef.err.find("bias correction was fitted on rows of this dataset"), std::string::npos) << ef.err;
    EXPECT_NE(ef.err.find("warning: the table was profiled with device '"), std::string::npos) << ef.err;
    EXPECT_NE(ef.err.find(data + " has 'test'"), std::string::npos) << ef.err;
    EXPECT_EQ(e.err.find("bias correction was fitted"), std::string::npos) << e.err;  // the plain table: no fit
    EXPECT_EQ(ef.out.rfind("{\"overall\"", 0), 0u) << ef.out;
    for (const std::string& p : {table, data, json, fitted}) std::remove(p.c_str());
}

TEST(LutTool, DenseNetProfilesMissingKeysOnDemandUnlessTold) {
    const Space space = preset("densenet");
    const std::string archs = tmp_path("d.txt"), table = tmp_path("d.lut");
    std::ofstream(archs) << "# two archs\ndensenet:d1k3/d2k5/d1k1/d1k7/d1k9\n\ndensenet:d2k3/d1k5/d1k1/d1k7/d2k9\n";
    ToolResult b = run_tool("esm-lut", "build --space densenet --res 64 --runs 2 --warmup 0 --archs " + archs +
                                           " -o " + table);
    ASSERT_EQ(b.status, 0) << b.err;
    const std::string data = tmp_path("d.csv");
    std::ofstream(data) << "arch,latency_ms\ndensenet:d1k3/d2k5/d1k1/d1k7/d1k9,2.0\n"
                           "densenet:d3k3/d1k5/d1k1/d1k7/d2k9,2.5\ndensenet:d2k3/d1k5/d1k1/d1k7/d2k9,2.2\n";
    ToolResult refused = run_tool("esm-lut", "eval " + table + " " + data + " --no-profile");
    EXPECT_EQ(refused.status, 1);
    // Which arch of which file lacks which key of which table.
    EXPECT_NE(refused.err.find("1 of 3 archs of " + data + " have segments missing from " + table + " (e.g. 'u0.l2.k3."),
              std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("' of densenet:d3k3/d1k5/d1k1/d1k7/d2k9); drop --no-profile"), std::string::npos)
        << refused.err;
    if (4 * std::thread::hardware_concurrency() < 1024) {  // table threads this machine does not run: named
        const ToolResult r = eval_changed(table, data, "many_threads.lut", [](LookupTable& t) { t.threads = 1024; });
        EXPECT_EQ(r.status, 1) << r.err;
        EXPECT_NE(r.err.find(tmp_path("many_threads.lut") + ": cannot profile its missing segments here (table threads 1024)"),
                  std::string::npos)
            << r.err;
    }
    ToolResult e = run_tool("esm-lut", "eval " + table + " " + data + " --update");
    ASSERT_EQ(e.status, 0) << e.err;
    EXPECT_NE(e.err.find("on demand"), std::string::npos) << e.err;
    EXPECT_EQ(run_tool("esm-lut", "eval " + table + " " + data + " --no-profile").status, 0);

    ToolResult no_archs = run_tool("esm-lut", "build --space densenet -o " + table);
    EXPECT_EQ(no_archs.status, 2);
    EXPECT_NE(no_archs.err.find("--archs"), std::string::npos);
    std::ofstream(archs) << "densenet:d1k3/d2k5/d1k1/d1k7/d1k4\n";
    ToolResult bad = run_tool("esm-lut", "build --space densenet --archs " + archs + " -o " + table);
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.err.find(archs + ":1:"), std::string::npos) << bad.err;
    // A directory as --archs is said to be one (an ifstream reads it as an empty file: the
    // "give --archs FILE" above, for the --archs it was given).
    ToolResult dir = run_tool("esm-lut", "build --space densenet --res 64 --archs " + std::string(ESM_BINARY_DIR) + " -o " + table);
    EXPECT_EQ(dir.status, 1);
    EXPECT_NE(dir.err.find("cannot read architecture file '" + std::string(ESM_BINARY_DIR) + "': it is a directory"),
              std::string::npos) << dir.err;
    // An empty -o is refused before profiling, not at the rename after it.
    ToolResult empty = run_tool("esm-lut", "build --space mobilenetv3 --res 32 --runs 1 --warmup 0 -o ''");
    EXPECT_EQ(empty.status, 2);
    EXPECT_NE(empty.err.find("option '-o' needs a value, got ''"), std::string::npos) << empty.err;
    EXPECT_EQ(empty.out.find("profiled"), std::string::npos) << empty.out;
    EXPECT_EQ(run_tool("esm-lut", "frobnicate").status, 2);
    ToolResult mixed = run_tool("esm-lut", "eval " + table + " " + data + " --runs 3");
    EXPECT_EQ(mixed.status, 2);
    EXPECT_NE(mixed.err.find("'--runs' does not apply to 'eval'"), std::string::npos) << mixed.err;
    ToolResult missing = run_tool("esm-lut", "eval " + tmp_path("none.lut") + " " + data);
    EXPECT_EQ(missing.status, 1);
    EXPECT_NE(missing.err.find("cannot open lookup-table file"), std::string::npos) << missing.err;
    // An elastic space's archs carry their resolution; build-only fit options need --fit;
    // the space file is an input like the others.
    ToolResult elastic = run_tool("esm-lut", "build --space ofa-mbv3 --res 128 -o " + table);
    EXPECT_EQ(elastic.status, 2);
    EXPECT_NE(elastic.err.find("--res: space 'ofa-mbv3' has an elastic resolution"), std::string::npos) << elastic.err;
    ToolResult drift = run_tool("esm-lut", "build --space mobilenetv3 --drift-correction off -o " + table);
    EXPECT_EQ(drift.status, 2);
    EXPECT_NE(drift.err.find("--drift-correction needs --fit DATASET.csv"), std::string::npos) << drift.err;
    const std::string space_file = tmp_path("lut.space");
    std::ofstream(space_file) << esm::format_space(esm::preset("mobilenetv3"));
    const std::string space_text = slurp(space_file);
    ToolResult clobber = run_tool("esm-lut", "build --space " + space_file + " --res 32 -o " + space_file);
    EXPECT_EQ(clobber.status, 1);
    EXPECT_NE(clobber.err.find("is the input"), std::string::npos) << clobber.err;
    EXPECT_EQ(slurp(space_file), space_text);
    for (const std::string& p : {archs, table, data, space_file}) std::remove(p.c_str());
}

// On-demand profiling happens only on the machine that profiled the table: a table copied
// to another (here: its header says so) was silently grown with this machine's latencies,
// summed with the others as one device's, under a header still naming the first.
TEST(LutTool, EvalDoesNotProfileOnAnotherMachine) {
    const std::string archs = tmp_path("o.txt"), table = tmp_path("o.lut"), data = tmp_path("o.csv");
    std::ofstream(archs) << "densenet:d1k3/d2k5/d1k1/d1k7/d1k9\n";
    ToolResult b = run_tool("esm-lut", "build --space densenet --res 64 --runs 2 --warmup 0 --archs " + archs +
                                           " -o " + table);
    ASSERT_EQ(b.status, 0) << b.err;
    std::ofstream(data) << "arch,latency_ms\ndensenet:d1k3/d2k5/d1k1/d1k7/d1k9,2.0\n"
                           "densenet:d3k3/d1k5/d1k1/d1k7/d2k9,2.5\n";
    LookupTable t = LookupTable::load(table);
    const size_t keys = t.size();
    bool found = false;
    for (auto& [k, v] : t.meta)
        if (k == "device") {
            v = "Another CPU";
            found = true;
        }
    ASSERT_TRUE(found);
    t.save(table);
    const std::string before = slurp(table);
    for (const char* extra : {"", " --update"}) {
        ToolResult e = run_tool("esm-lut", "eval " + table + " " + data + extra);
        EXPECT_EQ(e.status, 1) << extra << e.out;
        EXPECT_NE(e.err.find(table + ": its segments were profiled with device 'Another CPU', this machine has '"),
                  std::string::npos) << e.err;
        EXPECT_NE(e.err.find("profiling the 1 archs' missing segments here"), std::string::npos) << e.err;
        EXPECT_EQ(e.err.find("profiled"), e.err.find("profiled with")) << e.err;  // nothing was
        EXPECT_EQ(slurp(table), before);
        EXPECT_FALSE(std::ifstream(table + ".journal").good());
    }
    EXPECT_EQ(LookupTable::load(table).size(), keys);
    // What the table covers it still evaluates, anywhere.
    std::ofstream(data) << "arch,latency_ms\ndensenet:d1k3/d2k5/d1k1/d1k7/d1k9,2.0\n";
    ToolResult ok = run_tool("esm-lut", "eval " + table + " " + data + " --json -");
    EXPECT_EQ(ok.status, 0) << ok.err;
    for (const std::string& p : {archs, table, data}) std::remove(p.c_str());
}

// A dense layer whose computation the table holds at another layer index needs no timing:
// here d1/../d1/d2's u4.l1 is d1/d1/d1/d3/d1's u4.l0 (unit 4's input is 32 channels wider
// there), so the table evaluates the arch on another machine, and --no-profile does too.
TEST(LutTool, EvalTakesADenseLayersTwinUntimed) {
    const std::string archs = tmp_path("tw.txt"), table = tmp_path("tw.lut"), data = tmp_path("tw.csv");
    std::ofstream(archs) << "densenet:d1k3/d1k3/d1k3/d1k3/d1k3\ndensenet:d1k3/d1k3/d1k3/d3k3/d1k3\n";
    ToolResult b = run_tool("esm-lut", "build --space densenet --res 64 --runs 2 --warmup 0 --archs " + archs +
                                           " -o " + table);
    ASSERT_EQ(b.status, 0) << b.err;
    LookupTable t = LookupTable::load(table);
    const std::string twin = "densenet:d1k3/d1k3/d1k3/d1k3/d2k3";
    const std::vector<std::string> missing = t.missing_keys(parse_arch(t.space(), twin));
    ASSERT_EQ(missing.size(), 1u);
    EXPECT_EQ(missing[0].rfind("u4.l1.k3.", 0), 0u) << missing[0];
    for (auto& [k, v] : t.meta)
        if (k == "device") v = "Another CPU";
    t.save(table);
    std::ofstream(data) << "arch,latency_ms\n" << twin << ",2.0\ndensenet:d1k3/d1k3/d1k3/d1k3/d1k3,1.5\n";
    for (const char* extra : {"", " --no-profile"}) {
        ToolResult e = run_tool("esm-lut", "eval " + table + " " + data + extra);
        EXPECT_EQ(e.status, 0) << extra << e.err;
        EXPECT_EQ(e.err.find("profiled"), std::string::npos) << e.err;
        EXPECT_NE(e.out.find("2 rows"), std::string::npos) << e.out;
    }
    for (const std::string& p : {archs, table, data}) std::remove(p.c_str());
}

// Profiling an elastic space takes a while (1,226 segments here; hours at the default
// protocol on a slow device): killed with SIGKILL mid-way and rerun, the build profiles
// only what the killed one had not, and ends with every key once; the journal is gone.
TEST(LutTool, KilledBuildResumesFromItsJournal) {
    const std::string table = tmp_path("k.lut"), journal = table + ".journal";
    const std::string args = "build --space ofa-mbv3 --runs 3 --warmup 0 -o " + table;
    auto entries = [&] {
        std::ifstream f(journal);
        std::string line;
        size_t n = 0;
        while (std::getline(f, line)) n += count(line, "\t") == 3;
        return n;
    };
    const pid_t pid = spawn_tool("esm-lut", args);
    const auto t0 = std::chrono::steady_clock::now();
    while (entries() < 40 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60))
        std::this_thread::sleep_for(std::chrono::microseconds(300));
    kill(pid, SIGKILL);
    ASSERT_TRUE(WIFSIGNALED(wait_status(pid))) << "esm-lut finished before it could be killed";
    const size_t kept = entries();
    EXPECT_GE(kept, 40u);
    EXPECT_FALSE(std::ifstream(table).good());

    ToolResult again = run_tool("esm-lut", args);
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_NE(again.err.find("resuming: " + std::to_string(kept) + " segments already profiled in " + journal),
              std::string::npos)
        << again.err;
    EXPECT_NE(again.out.find("profiled " + std::to_string(1226 - kept) + " segments"), std::string::npos) << again.out;
    EXPECT_EQ(LookupTable::load(table).size(), 1226u);
    EXPECT_FALSE(std::ifstream(journal).good());
    std::remove(table.c_str());
}

// A table already at -o holds measured latencies: a build of its settings starts from it (a
// finished build rerun, or one whose bias fit failed rerun with another --fit, profiles
// nothing again); one of other settings, or a file that is no table, is refused and the file
// left as it is. Both were replaced after profiling everything anew.
TEST(LutTool, ExistingTableIsExtendedNeverReplaced) {
    const Space space = preset("mobilenetv3");
    const std::string table = tmp_path("x.lut"), journal = table + ".journal";
    const std::string args = "build --space mobilenetv3 --res 32 --runs 2 --warmup 0";
    ToolResult first = run_tool("esm-lut", args + " -o " + table);
    ASSERT_EQ(first.status, 0) << first.err;
    const std::map<std::string, LutEntry> measured = LookupTable::load(table).entries();
    ASSERT_EQ(measured.size(), 74u);
    auto same_entries = [&](const LookupTable& t) {
        if (t.size() != measured.size()) return false;
        for (const auto& [k, e] : measured) {
            const auto it = t.entries().find(k);
            if (it == t.entries().end() || it->second.latency_ms != e.latency_ms || it->second.std_ms != e.std_ms ||
                it->second.runs != e.runs)
                return false;
        }
        return true;
    };

    ToolResult again = run_tool("esm-lut", args + " -o " + table);
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_NE(again.err.find("reusing the 74 segments of " + table), std::string::npos) << again.err;
    EXPECT_NE(again.out.find("profiled 0 segments"), std::string::npos) << again.out;
    EXPECT_TRUE(same_entries(LookupTable::load(table)));

    const std::string before = slurp(table);
    struct Case {
        std::string args, says;
    };
    for (const Case& c : {Case{"build --space mobilenetv3 --res 32 --runs 3 --warmup 0", "'runs 2' where this build has 'runs 3'"},
                          Case{"build --space mobilenetv3 --res 40 --runs 2 --warmup 0", "'res 32' where this build has 'res 40'"},
                          Case{"build --space mobilenetv3 --res 32 --runs 2 --warmup 0 --seed 7",
                               "'meta seed 1' where this build has 'meta seed 7'"},
                          Case{"build --space resnet --res 32 --runs 2 --warmup 0",
                               "'space mobilenetv3 fnv1a64 "}}) {
        ToolResult r = run_tool("esm-lut", c.args + " -o " + table);
        EXPECT_EQ(r.status, 1) << c.args;
        EXPECT_NE(r.err.find("-o '" + table + "' is a lookup table profiled with " + c.says), std::string::npos)
            << c.args << ": " << r.err;
        EXPECT_NE(r.err.find("its 74 measured entries would be replaced"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("profiled "), r.err.find("profiled with ")) << r.err;  // nothing was timed
        EXPECT_EQ(slurp(table), before) << c.args;
        EXPECT_FALSE(std::ifstream(journal).good()) << c.args;
    }

    // A bias fit that fails still writes the profiled table; a rerun with another --fit fits
    // on it without profiling it again.
    const std::string falling = tmp_path("x_falling.csv"), rising = write_dataset(space, 20, 9, "x_rising.csv");
    {
        Sampler s(space, 9);
        std::ofstream f(falling);
        f << "arch,latency_ms\n";
        for (const Arch& a : s.sample(Strategy::Random, 20, 5)) f << format_arch(space, a) << "," << 40.0 - a.depth() << "\n";
    }
    ToolResult bad_fit = run_tool("esm-lut", args + " --fit " + falling + " -o " + table);
    EXPECT_EQ(bad_fit.status, 1) << bad_fit.err;
    EXPECT_NE(bad_fit.err.find("written without a bias correction"), std::string::npos) << bad_fit.err;
    ToolResult fit = run_tool("esm-lut", args + " --fit " + rising + " -o " + table);
    ASSERT_EQ(fit.status, 0) << fit.err;
    EXPECT_NE(fit.out.find("profiled 0 segments"), std::string::npos) << fit.out;
    const LookupTable fitted = LookupTable::load(table);
    EXPECT_TRUE(same_entries(fitted));
    EXPECT_FALSE(fitted.fit_info.empty());
    // A rerun without --fit keeps that correction (it was dropped), and a failed fit then
    // leaves it as it was.
    ToolResult plain = run_tool("esm-lut", args + " -o " + table);
    ASSERT_EQ(plain.status, 0) << plain.err;
    EXPECT_NE(plain.err.find("and its bias correction, unless --fit replaces it"), std::string::npos) << plain.err;
    const LookupTable kept = LookupTable::load(table);
    EXPECT_EQ(kept.bias_a, fitted.bias_a);
    EXPECT_EQ(kept.bias_b, fitted.bias_b);
    EXPECT_EQ(kept.fit_info, fitted.fit_info);
    ToolResult bad_again = run_tool("esm-lut", args + " --fit " + falling + " -o " + table);
    EXPECT_EQ(bad_again.status, 1) << bad_again.err;
    EXPECT_NE(bad_again.err.find("written with the bias correction it had"), std::string::npos) << bad_again.err;
    EXPECT_EQ(LookupTable::load(table).bias_a, fitted.bias_a);

    // Not a table: refused, left as it is.
    const std::string other = tmp_path("x_notes.txt");
    std::ofstream(other) << "my notes\n";
    ToolResult notes = run_tool("esm-lut", args + " -o " + other);
    EXPECT_EQ(notes.status, 1);
    EXPECT_NE(notes.err.find("-o '" + other + "' exists and is not a lookup table this build can continue ("),
              std::string::npos) << notes.err;
    EXPECT_EQ(slurp(other), "my notes\n");
    for (const std::string& p : {table, falling, rising, other}) std::remove(p.c_str());
}

// cpu_isa is in a header only under an ESM_CPU_ISA cap (its absence: the CPU's own kernels).
// eval --update compared only the keys the table has, so a table profiled under a cap took
// segments timed on the CPU's own kernels (and the other way round), its header still naming
// the cap: two kernels' latencies summed as one. Refused now, the table left as it is.
TEST(LutTool, EvalUpdateUnderAnotherCpuIsaCapIsRefused) {
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) GTEST_SKIP() << "the cap changes nothing here";
    const std::string archs = tmp_path("isa.txt"), table = tmp_path("isa.lut"), data = tmp_path("isa.csv");
    std::ofstream(archs) << "densenet:d1k3/d1k5/d1k1/d1k7/d2k9\n";
    std::ofstream(data) << "arch,latency_ms\ndensenet:d1k3/d1k5/d1k1/d1k7/d2k9,2.0\n"
                           "densenet:d3k3/d1k5/d1k1/d1k7/d2k9,2.5\n";
    auto run = [](const std::string& isa, const std::string& args) {  // ("none" caps nothing)
        const std::string out = tmp_path("isa_run.err");
        const int raw = std::system(("ESM_CPU_ISA=" + isa + " " + tool_path("esm-lut") + " " + args + " > /dev/null 2> " +
                                     out + " < /dev/null").c_str());
        ToolResult r;
        r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
        r.err = slurp(out);
        std::remove(out.c_str());
        return r;
    };
    struct Case {
        std::string built, evaluated, says;
    };
    for (const Case& c : {Case{"baseline", "none", "cpu_isa 'baseline', this run has cpu_isa none (the CPU's own kernels)"},
                          Case{"none", "baseline", "cpu_isa none (the CPU's own kernels), this run has cpu_isa 'baseline'"}}) {
        std::remove(table.c_str());
        const ToolResult b = run(c.built, "build --space densenet --res 64 --runs 2 --warmup 0 --archs " + archs + " -o " + table);
        ASSERT_EQ(b.status, 0) << b.err;
        const std::string before = slurp(table);
        const ToolResult e = run(c.evaluated, "eval " + table + " " + data + " --update");
        EXPECT_EQ(e.status, 1) << c.built << " -> " << c.evaluated;
        EXPECT_NE(e.err.find(table + ": its segments were profiled with " + c.says), std::string::npos) << e.err;
        EXPECT_EQ(slurp(table), before);
        EXPECT_FALSE(std::ifstream(table + ".journal").good());
        // Under the table's own cap the missing segments are profiled.
        EXPECT_EQ(run(c.built, "eval " + table + " " + data + " --update").status, 0);
        EXPECT_EQ(LookupTable::load(table).size(), 24u);
    }
    for (const std::string& p : {archs, table, data}) std::remove(p.c_str());
}
