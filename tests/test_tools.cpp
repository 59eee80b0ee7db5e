// End-to-end tests of the foundation tools (esm-space, esm-sample, esm-info): Unix
// habits (--help, data on stdout, errors on stderr with a non-zero exit) and content.
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include <map>
#include <sstream>

#include "esm/arch.hpp"
#include "esm/executor.hpp"
#include "tool_run.hpp"

TEST(Tools, HelpGoesToStdoutAndSucceeds) {
    for (const char* t : {"esm-space", "esm-sample", "esm-info"}) {
        ToolResult r = run_tool(t, "--help");
        EXPECT_EQ(r.status, 0) << t;
        EXPECT_NE(r.out.find("usage:"), std::string::npos) << t;
        EXPECT_TRUE(r.err.empty()) << t;
    }
}

TEST(Tools, SpaceDescribesPresetsAndFiles) {
    ToolResult r = run_tool("esm-space", "resnet");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("838301012866567940657654241"), std::string::npos);
    EXPECT_NE(r.out.find("[4..8] [9..13] [14..18] [19..23] [24..28]"), std::string::npos);
    EXPECT_NE(r.out.find("  0     256    1       1..7   relu    no\n"), std::string::npos) << r.out;
    // DenseNet's widths follow from stem and growth: no width or stride of its own (was 0, 1)
    const ToolResult dense = run_tool("esm-space", "densenet");
    EXPECT_NE(dense.out.find("  0     -      -       1..20  relu    no\n"), std::string::npos) << dense.out;
    ToolResult list = run_tool("esm-space", "--list");
    for (const char* p : {"resnet", "mobilenetv3", "densenet", "ofa-mbv3"}) EXPECT_NE(list.out.find(p), std::string::npos);
    // --print writes a description that esm-space reads back.
    ToolResult printed = run_tool("esm-space", "ofa-mbv3 --print");
    ASSERT_EQ(printed.status, 0);
    const std::string path = std::string(ESM_BINARY_DIR) + "/test_ofa_copy.space";
    std::ofstream(path) << printed.out;
    ToolResult again = run_tool("esm-space", path);
    EXPECT_EQ(again.status, 0) << again.err;
    EXPECT_NE(again.out.find("elastic, 25 values 128..224"), std::string::npos) << again.out;
    std::remove(path.c_str());
}

TEST(Tools, SampleWritesCanonicalLines) {
    ToolResult r = run_tool("esm-sample", "--space densenet -n 50 --strategy balanced --bins 4 --seed 3");
    ASSERT_EQ(r.status, 0) << r.err;
    std::istringstream is(r.out);
    std::string line;
    int n = 0;
    esm::Space s = esm::preset("densenet");
    while (std::getline(is, line)) {
        EXPECT_EQ(esm::format_arch(s, esm::parse_arch(s, line)), line);
        ++n;
    }
    EXPECT_EQ(n, 50);
    EXPECT_EQ(run_tool("esm-sample", "--space densenet -n 50 --strategy balanced --bins 4 --seed 3").out, r.out);
}

TEST(Tools, InfoShowsParamsMacsAndPlan) {
    ToolResult r = run_tool("esm-info", "mobilenetv3:k3e50/k3e50/k3e50/k3e50");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("params      2446016"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("u1.b0.se se 48x28x28 -> 48x28x28 r16"), std::string::npos) << r.out;
}

// The line esm-build prints to use the predictor pastes into a shell, also when the output
// directory's path holds a space.
TEST(Tools, BuildSaysHowToUseThePredictorAsAPastableCommand) {
    const std::string dir = std::string(ESM_BINARY_DIR) + "/tools build out";
    std::system(("rm -rf '" + dir + "'").c_str());
    const ToolResult r = run_tool("esm-build", "--space mobilenetv3 --runner 'echo 1.5' --refs 0 --initial 6 --step 5 "
                                               "--test-size 5 --max-iterations 1 --epochs 5 --min-steps 0 -o '" + dir + "'");
    ASSERT_NE(r.status, 1) << r.err;
    EXPECT_NE(r.out.find("esm-predict '" + dir + "/predictor.esm' ARCH..."), std::string::npos) << r.out;
}

// Pasted, the line runs also when the output directory's name begins with '-' (-o -out),
// which esm-predict would take for an option: the shell runs what was printed.
TEST(Tools, BuildsPastableCommandRunsWithADashLeadingDirectory) {
    const std::string dir = std::string(ESM_BINARY_DIR) + "/dash_cwd";
    std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
    const std::string cmd = "cd '" + dir + "' && " + tool_path("esm-build") +
                            " --space mobilenetv3 --runner 'echo 1.5' --refs 0 --initial 6 --step 5 --test-size 5"
                            " --max-iterations 1 --epochs 5 --min-steps 0 -o -out 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    const int st = ::pclose(p);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 1) << out;
    const std::string tag = "use it:    ", tail = " ARCH...";
    const size_t at = out.find(tag), end = out.find(tail, at);
    ASSERT_NE(end, std::string::npos) << out;
    const std::string pasted = out.substr(at + tag.size(), end - at - tag.size());
    EXPECT_NE(pasted.find(" ./-out/predictor.esm"), std::string::npos) << pasted;
    const int rc = std::system(("cd '" + dir + "' && " + pasted + " mobilenetv3:k3e50/k3e50/k3e50/k3e50 > /dev/null").c_str());
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << pasted;
    std::system(("rm -rf '" + dir + "'").c_str());
}

// Output lost to a full disk is a failure (1) whatever the tool would have said: also
// esm-build's 3 (stopped by its budget), and --help.
TEST(Tools, LostOutputIsAFailureAlsoAfterABudgetStopAndForHelp) {
    if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
    const std::string dir = std::string(ESM_BINARY_DIR) + "/full_out";
    std::system(("rm -rf '" + dir + "'").c_str());
    const std::string build = tool_path("esm-build") +
                              " --space mobilenetv3 --runner 'echo ${#1}' --refs 0 --initial 6 --step 5 --test-size 5"
                              " --max-iterations 1 --epochs 5 --min-steps 0 --acc 100 -o " + dir;
    int rc = std::system((build + " > /dev/null 2>&1").c_str());
    ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 3) << "expected a budget stop";  // 1 iteration, Acc_TH 100
    rc = std::system((build + " > /dev/full 2>/dev/null").c_str());  // resumed: stops there again
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << rc;
    for (const char* t : {"esm-build", "esm-sample", "esm-space"}) {
        // and said on stderr, as for any other output (an exit 1 without a word was all)
        FILE* p = ::popen((tool_path(t) + " --help 2>&1 >/dev/full").c_str(), "r");
        ASSERT_NE(p, nullptr);
        std::string err;
        char buf[512];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) err.append(buf, n);
        rc = ::pclose(p);
        EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << t;
        EXPECT_NE(err.find(std::string(t) + ": cannot write the usage to stdout: No space left on device"),
                  std::string::npos) << t << ": " << err;
    }
    std::system(("rm -rf '" + dir + "'").c_str());
}

// A usage error leaves no --dump-dir behind (it was made before the arguments were checked).
TEST(Tools, RunUsageErrorMakesNoDumpDirectory) {
    const std::string dir = std::string(ESM_BINARY_DIR) + "/dump_not_made";
    std::system(("rm -rf '" + dir + "'").c_str());
    const ToolResult r = run_tool("esm-run", "resnet:k3e50/k3e50/k3e50/k3e50 --threads 0 --dump-dir " + dir);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(::access(dir.c_str(), F_OK), 0) << "made " << dir;
}

// --threads above what an executor takes on this machine (esm::max_cpu_threads) is a usage
// error before any output: it was an exit 1 at the first measurement, after esm-build had
// made its directory, esm-measure its file and esm-run its --dump-dir.
TEST(Tools, ThreadsAboveTheMachinesCapAreAUsageErrorBeforeAnyOutput) {
    const int cap = esm::max_cpu_threads();
    if (cap >= 1024) GTEST_SKIP() << "the cap is the option's own bound here";
    const std::string over = " --threads " + std::to_string(cap + 1), out = std::string(ESM_BINARY_DIR) + "/threads_cap";
    const std::string want = "option '--threads' expects at most 4 per hardware thread of this machine";
    struct Case {
        const char* tool;
        std::string args;
    };
    for (const Case& c : {Case{"esm-build", "--space mobilenetv3 --res 32 -o " + out + over},
                          Case{"esm-measure", "--space mobilenetv3 --res 32 --archs /dev/null -o " + out + over},
                          Case{"esm-run", "resnet:k3e50/k3e50/k3e50/k3e50 --res 32 --dump-dir " + out + over},
                          Case{"esm-lut", "build --space mobilenetv3 --res 32 -o " + out + over}}) {
        std::system(("rm -rf '" + out + "'").c_str());
        const ToolResult r = run_tool(c.tool, c.args);
        EXPECT_EQ(r.status, 2) << c.tool << ": " << r.err;
        EXPECT_NE(r.err.find(want), std::string::npos) << c.tool << ": " << r.err;
        EXPECT_NE(::access(out.c_str(), F_OK), 0) << c.tool << " made " << out;
    }
    EXPECT_EQ(run_tool("esm-run", "resnet:k3e50/k3e50/k3e50/k3e50 --res 32 --threads " + std::to_string(cap)).status, 0);
}

// esm-build --pool passes --drift-correction to the pool: off replays the readings (it
// replayed them corrected whatever the option, and report.json said drift_correction false).
TEST(Tools, BuildReplaysAPoolAsItsDriftCorrectionSays) {
    const std::string dir = std::string(ESM_BINARY_DIR) + "/pool_drift_tool", pool = dir + "_pool.csv";
    const std::string a = "resnet:k3e50/k3e50/k3e50/k3e50";
    const char* samples[] = {"resnet:k5e50/k3e50/k3e50/k3e50", "resnet:k7e50/k3e50/k3e50/k3e50",
                             "resnet:k3e100/k3e50/k3e50/k3e50", "resnet:k5e100/k3e50/k3e50/k3e50"};
    // One batch read at speed 1 between references 1 and 1.21, the other at 1.331 (1.21..1.4641).
    std::ofstream(pool) << "arch,latency_ms,kind\n" << a << ",1,ref\n" << samples[0] << ",2,sample\n" << samples[1]
                        << ",3,sample\n" << a << ",1.21,ref\n" << samples[2] << ",4,sample\n" << samples[3]
                        << ",5,sample\n" << a << ",1.4641,ref\n";
    std::map<std::string, double> raw = {{samples[0], 2}, {samples[1], 3}, {samples[2], 4}, {samples[3], 5}};
    for (const char* dc : {"off", "on"}) {
        std::system(("rm -rf '" + dir + "'").c_str());
        const ToolResult r = run_tool("esm-build", "--space resnet --pool " + pool + " --target latency_ms --bins 1 --test-size 1"
                                      " --initial 3 --max-iterations 1 --epochs 5 --min-steps 0 --drift-correction " +
                                      std::string(dc) + " -o " + dir);
        ASSERT_NE(r.status, 1) << r.err;
        std::istringstream in(slurp(dir + "/dataset.csv"));
        int rows = 0, equal = 0;
        for (std::string line; std::getline(in, line);) {
            if (line.empty() || line[0] == '#' || line.rfind("arch,", 0) == 0) continue;
            const std::string arch = line.substr(0, line.find(','));
            const size_t c1 = line.find(',', arch.size() + 1);
            const double v = std::stod(line.substr(c1 + 1));
            ++rows;
            equal += v == raw.at(arch);
        }
        EXPECT_EQ(rows, 4) << dc;
        if (std::string(dc) == "off")
            EXPECT_EQ(equal, 4) << "off: the readings";
        else
            EXPECT_EQ(equal, 0) << "on: every sample corrected (factors 1.1 and 1.331, divided by their median)";
        EXPECT_EQ(slurp(dir + "/dataset.csv").find("# pool_drift_correction: off") != std::string::npos,
                  std::string(dc) == "off");
    }
    std::system(("rm -rf '" + dir + "' '" + pool + "'").c_str());
}

// A network no machine can hold (the limits of a valid space file, all at once): a message
// that says so, not "std::bad_alloc".
TEST(Tools, OutOfMemoryIsSaidPlainly) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer aborts on an allocation this size instead of throwing std::bad_alloc";
#endif
    // Activations beyond a 64-bit address space (over 128 TiB: no overcommit setting lets
    // them be allocated) from 9 M weights (weights beyond the memory are refused before, by
    // size: Executor.WeightsBeyondTheMachinesMemoryAreRefusedUpFront).
    const std::string path = std::string(ESM_BINARY_DIR) + "/tools_big.space";
    std::ofstream(path) << "name = big\nfamily = resnet\nunits = 1\nwidth = 16384\nstride = 1\ndepth = 1\n"
                           "choice k = 3\nchoice e = 0.015625\nresolution = 4096\n";
    const ToolResult r = run_tool("esm-run", "big:k3e0.015625 --batch 4096 --space " + path);
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("esm-run: out of memory (too large a request for this machine: a network, batch, resolution or count?)"),
              std::string::npos)
        << r.err;
}

TEST(Tools, ErrorsGoToStderrWithNonZeroExit) {
    struct Case {
        const char* tool;
        const char* args;
        int status;
        const char* message;
    } cases[] = {
        {"esm-space", "nosuch", 1, "'nosuch' is neither a preset space"},
        {"esm-space", "--bogus", 2, "unknown option '--bogus'"},
        {"esm-sample", "--space resnet", 2, "-n is required"},
        {"esm-sample", "--space resnet -n 5 --strategy weird", 2, "option '--strategy': unknown sampling strategy 'weird'"},
        {"esm-sample", "--space resnet -n 5 --bins 99", 2, "'--bins' expects an integer in 1..25"},
        {"esm-sample", "--space resnet -n x", 2, "option '-n' expects an integer"},
        // strtol clamps an overflow to LONG_MAX, which is in range: the same stream as 2^63 - 1.
        {"esm-sample", "--space resnet -n 1 --seed 99999999999999999999", 2, "option '--seed' expects an integer in 0.."},
        {"esm-info", "resnet:k3e50/k3e50", 1, "column 19"},
        {"esm-info", "k3e50", 2, "no space"},
        {"esm-info", "'densenet:d1k1/d1k1/d1k1/d1k1/d1k1' --res 32", 2,
         "--res: space 'densenet': resolution 32 leaves a 0x0 feature map before the head (the smallest resolution that fits is 61)"},
        {"esm-measure", "--space densenet --res 60 -o small.csv", 2, "(the smallest resolution that fits is 61)"},
        // The measurement-protocol options, shared by esm-measure and esm-build.
        {"esm-measure", "--space resnet -o x.csv --trim 0.5", 2, "'--trim' expects a number in 0..0.49"},
        {"esm-build", "--space resnet -o d --outlier-retries -1", 2, "'--outlier-retries' expects an integer in 0..1000"},
        {"esm-build", "--space resnet -o d --refs 1001", 2, "'--refs' expects an integer in 0..1000"},
        {"esm-build", "--space resnet -o d --linear-skip maybe", 2, "option '--linear-skip' expects on or off, got 'maybe'"},
        {"esm-build", "--space resnet -o d --relative-loss 1", 2, "option '--relative-loss' expects on or off, got '1'"},
        {"esm-build", "--space resnet -o d --encoding bogus", 2, "option '--encoding': unknown encoding 'bogus'"},
        {"esm-build", "--space resnet -o d --device tpu", 2, "option '--device': "},
        {"esm-build", "--space resnet -o d --target lat", 2, "--target goes with --pool (replay)"},
        {"esm-measure", "--space ofa-mbv3 --res 64 -o elastic.csv", 2,
         "--res: space 'ofa-mbv3' has an elastic resolution; each architecture runs at its own (@R)"},
        {"esm-info", "'ofa-mbv3:k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3@160' --res 128", 2,
         "--res: space 'ofa-mbv3' has an elastic resolution; each architecture runs at its own (@R)"},
        {"esm-run", "'ofa-mbv3:k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3@160' --res 128", 2,
         "--res: space 'ofa-mbv3' has an elastic resolution"},
        {"esm-build", "--space resnet -o d --runner 'echo 1' --res 64", 2, "--res sets the executor's measurement; with --runner"},
        {"esm-build", "--space resnet -o d --pool p.csv --target t --refs 0", 2, "--refs does not apply to a replay (--pool)"},
        {"esm-build", "--space resnet -o d --runner-timeout 5", 2, "--runner-timeout goes with --runner CMD"},
        // An option given twice would drop one; an option's name is no value.
        {"esm-sample", "--space resnet -n 5 -n 6", 2, "option '-n' is given twice"},
        {"esm-sample", "--space resnet -n=5", 2, "option '-n' takes its value as the next argument ('-n 5')"},
        {"esm-sample", "--space resnet -n 5 --bins 3", 2, "--bins goes with --strategy balanced"},
        {"esm-space", "--list resnet", 2, "--list takes no space, --bins or --print"},
        {"esm-space", "resnet --print --bins 3", 2, "--bins does not apply to --print"},
        {"esm-build", "--space resnet -o d --strategy random --w1 3", 2, "--w1 weighs the balanced extension"},
        {"esm-measure", "--space resnet -o /nonexistent_dir/x.csv --archs /dev/null", 1,
         "-o: cannot open '/nonexistent_dir/x.csv': No such file or directory"},
        {"esm-train", "x.csv --epochs -o p.esmp", 2, "option '--epochs' needs a value, got the option '-o'"},
        {"esm-train", "x.csv -o --json=r.json", 2, "option '-o' needs a value, got the option '--json=r.json'"},
        // --help and -h are option names as well: no predictor file named --help, no space '-h'.
        {"esm-train", "x.csv -o --help", 2, "option '-o' needs a value, got the option '--help'"},
        {"esm-sample", "--space -h -n 3", 2, "option '--space' needs a value, got the option '-h'"},
        // An empty value is no file, directory, command or column (it reached the library
        // as a path, "cannot create directory ''", or --target '' meant latency_ms).
        {"esm-build", "--space resnet -o ''", 2, "option '-o' needs a value, got ''"},
        {"esm-build", "--space resnet -o d --runner ''", 2, "option '--runner' needs a value, got ''"},
        {"esm-build", "--space resnet -o d --pool p.csv --target ''", 2, "option '--target' needs a value, got ''"},
        {"esm-measure", "--space resnet -o ''", 2, "option '-o' needs a value, got ''"},
        {"esm-measure", "--space resnet -o x.csv --archs ''", 2, "option '--archs' needs a value, got ''"},
        {"esm-train", "x.csv --target '' -o p.esm", 2, "option '--target' needs a value, got ''"},
        {"esm-eval", "p.esm x.csv --target=", 2, "option '--target' needs a value, got ''"},
        {"esm-lut", "eval t.lut x.csv --target ''", 2, "option '--target' needs a value, got ''"},
        {"esm-run", "resnet:k3e50/k3e50/k3e50/k3e50 --dump-dir ''", 2, "option '--dump-dir' needs a value, got ''"},
    };
    for (const auto& c : cases) {
        ToolResult r = run_tool(c.tool, c.args);
        EXPECT_EQ(r.status, c.status) << c.tool << " " << c.args << "\n" << r.err;
        EXPECT_TRUE(r.out.empty()) << c.tool << " " << c.args << " printed to stdout: " << r.out;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << c.tool << " " << c.args << "\nstderr: " << r.err;
    }
}

// A space name may begin with '-' (SPEC: a-z 0-9 - _): its architectures ("-a:k3e1") read as
// options, refused as unknown; `--` ends the options, and the refusal says so.
TEST(Tools, DoubleDashEndsTheOptions) {
    const std::string path = std::string(ESM_BINARY_DIR) + "/tools_dash.space";
    std::ofstream(path) << "name = -a\nfamily = resnet\nunits = 1\nwidth = 16\nstride = 1\ndepth = 1\n"
                           "choice k = 3\nchoice e = 1\nresolution = 32\n";
    const ToolResult refused = run_tool("esm-info", "--space " + path + " -a:k3e1");
    EXPECT_EQ(refused.status, 2);
    EXPECT_NE(refused.err.find("unknown option '-a:k3e1' (an architecture of a space whose name begins with '-': put "
                               "'--' before it)"),
              std::string::npos) << refused.err;
    const ToolResult ok = run_tool("esm-info", "--space " + path + " -- -a:k3e1");
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_NE(ok.out.find("arch        -a:k3e1\n"), std::string::npos) << ok.out;
    // After `--` an option's name is positional too: not taken as --space (two positionals).
    const ToolResult after = run_tool("esm-info", "-- --space " + path);
    EXPECT_EQ(after.status, 2);
    EXPECT_NE(after.err.find("expected one architecture"), std::string::npos) << after.err;
    std::remove(path.c_str());
}
