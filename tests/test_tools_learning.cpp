// esm-train, esm-eval and esm-predict end to end on a small generated CSV: exit codes,
// predictor written, predictions one per line in order, error messages on bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "esm/dataset.hpp"
#include "esm/predictor.hpp"
#include "esm/sample.hpp"
#include "tool_run.hpp"

namespace {

std::string tool(const std::string& name) { return tool_path(name); }

// Runs a shell command; returns exit status, stdout+stderr in *out.
int run(const std::string& cmd, std::string* out) {
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    out->clear();
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
    const int st = ::pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct Files {
    std::string dir = std::string(ESM_BINARY_DIR) + "/test_tools_learning_" + std::to_string(::getpid());
    Files() { EXPECT_EQ(std::system(("mkdir -p " + dir).c_str()), 0); }
    ~Files() { std::system(("rm -rf " + dir).c_str()); }
};

// A smooth function of an ofa-mbv3 arch, in ms.
double smooth_latency(const esm::Arch& a) {
    double y = 0.5;
    for (const auto& u : a.units)
        for (const auto& b : u) y += 0.02 * (1 + b[0]) * (1 + b[1]);
    return y * a.res * a.res / (224.0 * 224.0);
}

// A libesm-style dataset: '#' meta lines, arch, latency_ms (smooth_latency).
std::vector<esm::Arch> write_dataset(const std::string& path, int n, uint64_t seed, bool with_latency_ms = true) {
    esm::Space s = esm::preset("ofa-mbv3");
    esm::Sampler smp(s, seed);
    auto archs = smp.sample(esm::Strategy::Random, n, 5);
    std::ofstream f(path);
    f << "# device: test\n# backend: none\narch," << (with_latency_ms ? "latency_ms" : "gpu_ms") << ",other\n";
    for (const auto& a : archs) f << esm::format_arch(s, a) << "," << smooth_latency(a) << ",1\n";
    return archs;
}

TEST(ToolsLearning, TrainEvalPredict) {
    Files fs;
    const std::string data = fs.dir + "/d.csv", pred = fs.dir + "/p.esmp";
    auto archs = write_dataset(data, 300, 1);
    std::string out;
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --space ofa-mbv3 --encoding fc --epochs 30 --bins 3 -o " + pred, &out), 0) << out;
    EXPECT_NE(out.find("overall"), std::string::npos) << out;
    EXPECT_NE(out.find("bin 2"), std::string::npos) << out;
    esm::Predictor p = esm::Predictor::load(pred);
    EXPECT_EQ(p.encoding(), esm::Encoding::FC);
    ASSERT_FALSE(p.dataset_meta.empty());
    EXPECT_EQ(p.dataset_meta[0].first, "device");

    // (stderr, merged here: the predictor was trained on rows of this file)
    ASSERT_EQ(run(tool("esm-eval") + " " + pred + " " + data + " --json -", &out), 0) << out;
    EXPECT_EQ(out.rfind("warning: " + pred + " was trained on rows of this dataset", 0), 0u) << out;
    EXPECT_NE(out.find("\n{\"overall\": {\"n\": 300"), std::string::npos) << out;
    // ... against another column than its own
    std::string cols;
    ASSERT_EQ(run(tool("esm-eval") + " " + pred + " " + data + " --target other --json -", &cols), 0) << cols;
    EXPECT_NE(cols.find("predicts column latency_ms; this evaluation reads column other"), std::string::npos) << cols;
    // ... on another device's data; and none on a dataset of its own device it never saw,
    // also when run from another directory
    const std::string other = fs.dir + "/other.csv";
    write_dataset(other, 50, 7);
    ASSERT_EQ(run("cd / && " + tool("esm-eval") + " " + pred + " " + other + " --json -", &cols), 0) << cols;
    EXPECT_EQ(cols.find("warning"), std::string::npos) << cols;
    std::string moved = slurp(other);
    moved.replace(moved.find("# device: test"), 14, "# device: gpu2");
    std::ofstream(other) << moved;
    ASSERT_EQ(run(tool("esm-eval") + " " + pred + " " + other + " --json -", &cols), 0) << cols;
    EXPECT_NE(cols.find("was trained on data with device 'test'; this dataset has 'gpu2'"), std::string::npos) << cols;

    // stdin and arguments give the same numbers, one per line, in order
    const esm::Space s = esm::preset("ofa-mbv3");
    std::ofstream(fs.dir + "/a.txt") << esm::format_arch(s, archs[0]) << "\n\n" << esm::format_arch(s, archs[1]) << "\n";
    ASSERT_EQ(run(tool("esm-predict") + " " + pred + " - < " + fs.dir + "/a.txt", &out), 0) << out;
    std::string out2;
    ASSERT_EQ(run(tool("esm-predict") + " " + pred + " " + esm::format_arch(s, archs[0]) + " " + esm::format_arch(s, archs[1]), &out2), 0);
    EXPECT_EQ(out, out2);
    std::istringstream ls(out);
    double a = 0, b = 0;
    ls >> a >> b;
    EXPECT_NEAR(a, p.predict(archs[0]), 1e-4 * a);
    EXPECT_NEAR(b, p.predict(archs[1]), 1e-4 * b);

    // predictions that are no latency (a network far past its data) are printed as they are
    // and counted on stderr: here the same network with its output shifted below zero
    esm::MlpModel shifted = p.model();
    shifted.y_mean -= 1e6;
    const std::string neg = fs.dir + "/neg.esmp";
    esm::Predictor(s, p.encoding(), shifted, p.encoder().res_encoding()).save(neg);
    ASSERT_EQ(run(tool("esm-predict") + " " + neg + " - < " + fs.dir + "/a.txt", &out), 0) << out;
    EXPECT_NE(out.find("esm-predict: warning: 2 of 2 predictions are not a latency (<= 0 or not finite; the first on "
                       "output line 1)"),
              std::string::npos)
        << out;
    EXPECT_EQ(out.front(), '-') << out;

    // --info says what the predictor was built for, from its file
    ASSERT_EQ(run(tool("esm-predict") + " " + pred + " --info", &out), 0) << out;
    for (const std::string& line : {std::string("space: ofa-mbv3\n"), std::string("encoding: fc\n"),
                                    std::string("resolution encoding: ") + esm::res_encoding_name(p.encoder().res_encoding()) + "\n",
                                    "dataset " + p.dataset_meta[0].first + ": " + p.dataset_meta[0].second + "\n",
                                    "test metrics: " + p.metrics_json + "\n"})
        EXPECT_NE(out.find(line), std::string::npos) << line << " not in\n" << out;

    // a malformed line names its line number
    std::ofstream(fs.dir + "/bad.txt") << esm::format_arch(s, archs[0]) << "\nofa-mbv3:k9e6\n";
    EXPECT_EQ(run(tool("esm-predict") + " " + pred + " < " + fs.dir + "/bad.txt", &out), 1);
    EXPECT_NE(out.find("stdin line 2"), std::string::npos) << out;

    // --relative-loss is said and recorded in the predictor's training line
    EXPECT_NE(p.training.find("relative_loss=0"), std::string::npos) << p.training;
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --space ofa-mbv3 --epochs 3 --min-steps 0 --relative-loss -o " + pred, &out), 0)
        << out;
    EXPECT_NE(out.find("each row's error weighted by 1/latency^2"), std::string::npos) << out;
    EXPECT_NE(esm::Predictor::load(pred).training.find("relative_loss=1"), std::string::npos);
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --space ofa-mbv3 --relative-loss --log-target -o " + pred, &out), 2);
    EXPECT_NE(out.find("--relative-loss and --log-target exclude each other"), std::string::npos) << out;

    // --base: another device's predictor calibrated on a few rows of this one
    const std::string cal = fs.dir + "/cal.esmp";
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --base " + pred + " --train-size 12 -o " + cal, &out), 0) << out;
    EXPECT_NE(out.find("calibrated the base predictor " + pred + " on 12 rows: latency = "), std::string::npos) << out;
    const esm::Predictor base = esm::Predictor::load(pred), c = esm::Predictor::load(cal);
    double ca = 0, cb = 0;
    ASSERT_EQ(std::sscanf(c.training.c_str(), "calibrated: latency = %lf * base + %lf", &ca, &cb), 2) << c.training;
    for (int i = 0; i < 3; ++i)
        EXPECT_NEAR(c.predict(archs[i]), ca * base.predict(archs[i]) + cb, 1e-4 * c.predict(archs[i]));
    // several bases: the pick is said (the same predictor twice: a tie goes to the first)
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --base " + pred + "," + pred + " --train-size 12 -o " + cal, &out), 0)
        << out;
    EXPECT_NE(out.find("picked base 1 of 2: leave-one-out error "), std::string::npos) << out;
    // --fine-tune: the calibrated base's network trained further; its options need it
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --base " + pred + " --fine-tune --min-steps 200 --train-size 100 -o " + cal,
                  &out), 0)
        << out;
    EXPECT_NE(out.find("calibrated the base predictor " + pred + " on 100 rows"), std::string::npos) << out;
    EXPECT_NE(out.find("fine-tuned its network on the same rows: "), std::string::npos) << out;
    const esm::Predictor ft = esm::Predictor::load(cal);
    EXPECT_EQ(ft.training.rfind("fine-tuned: n_train=100 lr=0.0003 min_steps=200 ", 0), 0u) << ft.training;
    EXPECT_NE(ft.training.find(" from: calibrated: latency = "), std::string::npos) << ft.training;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --base " + pred + " --lr 0.001 -o " + cal, &out), 2);
    EXPECT_NE(out.find("--lr does not apply with --base alone (no network is trained; add --fine-tune)"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --fine-tune -o " + cal, &out), 2);
    EXPECT_NE(out.find("--fine-tune needs --base"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --base " + pred + ", -o " + cal, &out), 2);
    EXPECT_NE(out.find("option '--base' has an empty item"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --base " + pred + " --linear-skip -o " + cal, &out), 2);
    EXPECT_NE(out.find("--linear-skip does not apply with --base"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --base " + pred + " --space resnet -o " + cal, &out), 1);
    EXPECT_NE(out.find("predicts space 'ofa-mbv3', not 'resnet'"), std::string::npos) << out;
    // The calibrated file's `bins` are those of its metrics (--bins 3), not the base's 5: the
    // file said `bins 5` over 3-bin metrics, and esm-eval then scored it in 5 bins by default.
    ASSERT_EQ(base.n_bins, 5);
    for (const char* ft_opt : {"", " --fine-tune --min-steps 50"}) {
        ASSERT_EQ(run(tool("esm-train") + " " + data + " --base " + pred + ft_opt + " --bins 3 --train-size 20 -o " + cal, &out), 0)
            << out;
        const esm::Predictor c3 = esm::Predictor::load(cal);
        EXPECT_EQ(c3.n_bins, 3) << ft_opt;
        EXPECT_NE(c3.metrics_json.find("\"n_bins\": 3,"), std::string::npos) << c3.metrics_json;
        ASSERT_EQ(run(tool("esm-eval") + " " + cal + " " + data, &out), 0) << out;
        EXPECT_NE(out.find("\nbin 2 "), std::string::npos) << out;
        EXPECT_EQ(out.find("\nbin 3 "), std::string::npos) << out;
    }
    // A log-target base among several is named (the message named none: which of them?), and
    // the file at -o is left as it was.
    const std::string logt = fs.dir + "/logt.esmp";
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --space ofa-mbv3 --log-target --epochs 2 --min-steps 0 -o " + logt, &out), 0)
        << out;
    auto slurp = [](const std::string& f) {
        std::ifstream in(f, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    const std::string before = slurp(cal);
    ASSERT_FALSE(before.empty());
    for (const std::string& list : {pred + "," + logt, logt}) {
        EXPECT_EQ(run(tool("esm-train") + " " + data + " --base " + list + " --train-size 12 -o " + cal, &out), 1) << list;
        EXPECT_NE(out.find("--base " + logt + " regresses log latency"), std::string::npos) << out;
        EXPECT_EQ(slurp(cal), before);
    }
}

TEST(ToolsLearning, SpaceFromTheHeaderJsonToStdoutAndEarlyOutputChecks) {
    Files fs;
    // A libesm dataset of a custom space (ofa-mbv3 renamed): its header describes the space,
    // so esm-train needs no --space; a --space that differs is refused, naming both.
    esm::Space mine = esm::preset("ofa-mbv3");
    mine.name = "myspace";
    const std::string data = fs.dir + "/mine.csv", pred = fs.dir + "/mine.esmp";
    {
        std::ofstream f(data);
        std::istringstream desc(esm::format_space(mine));
        for (std::string line; std::getline(desc, line);) f << "# space_line: " << line << "\n";
        f << "arch,latency_ms\n";
        esm::Sampler smp(mine, 3);
        for (const auto& a : smp.sample(esm::Strategy::Random, 120, 5)) f << esm::format_arch(mine, a) << "," << smooth_latency(a) << "\n";
    }
    std::string out;
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --epochs 20 --min-steps 0 -o " + pred, &out), 0) << out;
    const esm::Predictor p = esm::Predictor::load(pred);
    EXPECT_EQ(p.space(), mine);
    // The best epoch as printed is the one the file records.
    const size_t at = out.find("best epoch ");
    ASSERT_NE(at, std::string::npos) << out;
    const int best = std::atoi(out.c_str() + at + 11);
    EXPECT_NE(p.training.find(" best_epoch=" + std::to_string(best) + " "), std::string::npos) << out << p.training;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --space ofa-mbv3 -o " + pred, &out), 1);
    EXPECT_NE(out.find(data + ": the dataset was measured in space 'myspace', not 'ofa-mbv3' (the space in use)"),
              std::string::npos) << out;
    // --json -: the report alone on stdout.
    ASSERT_EQ(run("(" + tool("esm-train") + " " + data + " --epochs 2 --min-steps 0 --json - -o " + pred + " 2>/dev/null)", &out), 0);
    EXPECT_EQ(out.rfind("{\"overall\": {\"n\": 24", 0), 0u) << out;
    EXPECT_EQ(out.find("trained on"), std::string::npos) << out;
    std::ifstream dash(fs.dir + "/-");
    EXPECT_FALSE(dash.good());
    // An output nobody can write fails before training, naming the path.
    EXPECT_EQ(run(tool("esm-train") + " " + data + " -o " + fs.dir + "/no/such/dir/p.esmp", &out), 1);
    EXPECT_NE(out.find("cannot write -o '" + fs.dir + "/no/such/dir/p.esmp': directory '" + fs.dir + "/no/such/dir'"),
              std::string::npos) << out;
    EXPECT_EQ(out.find("trained on"), std::string::npos) << out;
    // A directory given as the predictor says so.
    EXPECT_EQ(run(tool("esm-predict") + " " + fs.dir + " myspace:x", &out), 1);
    EXPECT_NE(out.find("'" + fs.dir + "': it is a directory"), std::string::npos) << out;
}

TEST(ToolsLearning, InputsAreNotOverwrittenAndOddCsvsAreNamed) {
    Files fs;
    const std::string data = fs.dir + "/d.csv", pred = fs.dir + "/p.esmp";
    write_dataset(data, 60, 2);
    const std::string before = slurp(data);
    std::string out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --space ofa-mbv3 -o " + data, &out), 1);
    EXPECT_NE(out.find("-o '" + data + "' is the input '" + data + "': it would be overwritten"), std::string::npos) << out;
    EXPECT_EQ(slurp(data), before);
    // Nor is another measured dataset an output's to replace (a typo'd -o).
    const std::string measured = fs.dir + "/measured.csv";
    { esm::DatasetWriter w(measured, esm::cpu_dataset_meta(esm::preset("resnet"), 224, 1, 1, 1, esm::MeasureProtocol{})); }
    const std::string kept = slurp(measured);
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --space ofa-mbv3 -o " + measured, &out), 1);
    EXPECT_NE(out.find("-o '" + measured + "' is a measured latency dataset: it would be overwritten"), std::string::npos)
        << out;
    EXPECT_EQ(slurp(measured), kept);
    // --json with nothing to report fails before training
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --space ofa-mbv3 --test-frac 0 --json " + fs.dir + "/m.json -o " + pred, &out), 1);
    EXPECT_NE(out.find("--json: no test rows (--test-frac leaves none)"), std::string::npos) << out;
    // a tab in a comment of a hand-made CSV does not fail the save after training
    std::ofstream(fs.dir + "/tab.csv") << "# device: V100\t(bs64)\n" << before.substr(before.find("arch,"));
    ASSERT_EQ(run(tool("esm-train") + " " + fs.dir + "/tab.csv --space ofa-mbv3 --epochs 2 --min-steps 0 -o " + pred, &out), 0) << out;
    EXPECT_EQ(esm::Predictor::load(pred).dataset_meta[0].second, "V100 (bs64)");
    // a latency beyond float, and a row kind nobody writes, name their line
    std::string huge = before;
    const size_t row3 = huge.find('\n', huge.find('\n', huge.find("arch,")) + 1) + 1;  // the 2nd data row
    const size_t comma = huge.find(',', row3);
    huge.replace(comma + 1, huge.find(',', comma + 1) - comma - 1, "1e39");
    std::ofstream(fs.dir + "/huge.csv") << huge;
    EXPECT_EQ(run(tool("esm-train") + " " + fs.dir + "/huge.csv --space ofa-mbv3 -o " + pred, &out), 1);
    EXPECT_NE(out.find("huge.csv:5: latency 'latency_ms' is 1e39 (outside 1e-9 .. 1e12 ms)"), std::string::npos) << out;
    // A column in seconds is trained on as it is, with a warning that the figures say ms.
    std::string secs = before;
    secs.replace(secs.find(",latency_ms"), 11, ",latency_s");
    std::ofstream(fs.dir + "/secs.csv") << secs;
    EXPECT_EQ(run(tool("esm-train") + " " + fs.dir + "/secs.csv --space ofa-mbv3 --target latency_s --epochs 2 "
                  "--min-steps 0 -o " + pred, &out), 0) << out;
    EXPECT_NE(out.find("warning: column 'latency_s' looks like latencies in another unit than ms"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --space ofa-mbv3 --epochs 2 --min-steps 0 -o " + pred, &out), 0);
    EXPECT_EQ(out.find("another unit"), std::string::npos) << out;  // latency_ms: none
    // One that underflows to 0 is positive as written: outside the range, not "must be > 0".
    huge.replace(comma + 1, 4, "1e-400");
    std::ofstream(fs.dir + "/tiny.csv") << huge;
    EXPECT_EQ(run(tool("esm-train") + " " + fs.dir + "/tiny.csv --space ofa-mbv3 -o " + pred, &out), 1);
    EXPECT_NE(out.find("tiny.csv:5: latency 'latency_ms' is 1e-400 (outside 1e-9 .. 1e12 ms)"), std::string::npos) << out;
    std::ofstream(fs.dir + "/kind.csv") << "arch,latency_ms,kind\n" << esm::format_arch(esm::preset("ofa-mbv3"),
        esm::Sampler(esm::preset("ofa-mbv3"), 1).random()) << ",1.5,smaple\n";
    EXPECT_EQ(run(tool("esm-train") + " " + fs.dir + "/kind.csv --space ofa-mbv3 -o " + pred, &out), 1);
    EXPECT_NE(out.find("kind.csv:2: kind 'smaple' is none of sample, ref, pending, dropped"), std::string::npos) << out;
}

// A plain CSV that lists an architecture twice, or a --test file that holds training
// architectures: said on stderr (a random split can put one arch among the training and
// the test rows); a file without repeats says nothing.
TEST(ToolsLearning, RepeatedArchitecturesAreWarnedAbout) {
    Files fs;
    const std::string data = fs.dir + "/d.csv", other = fs.dir + "/o.csv", twice = fs.dir + "/t.csv";
    write_dataset(data, 40, 2);
    write_dataset(other, 10, 3);
    std::ifstream in(data);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t last = text.rfind('\n', text.size() - 2);
    std::ofstream(twice) << text << text.substr(last + 1) << text.substr(last + 1);  // the last row twice more
    const std::string quick = " --epochs 2 --min-steps 0 -o " + fs.dir + "/p.esmp";
    std::string out;
    ASSERT_EQ(run(tool("esm-train") + " " + data + quick, &out), 0) << out;
    EXPECT_EQ(out.find("warning"), std::string::npos) << out;
    ASSERT_EQ(run(tool("esm-train") + " " + twice + quick, &out), 0) << out;
    EXPECT_NE(out.find("warning: " + twice + ": 2 rows repeat an earlier row's architecture (40 distinct of 42)"),
              std::string::npos) << out;
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --test " + other + quick, &out), 0) << out;
    EXPECT_EQ(out.find("warning"), std::string::npos) << out;
    ASSERT_EQ(run(tool("esm-train") + " " + other + " --test " + twice + quick, &out), 0) << out;
    EXPECT_EQ(out.find("--test rows are"), std::string::npos) << out;  // (o.csv's archs are not in t.csv)
    ASSERT_EQ(run(tool("esm-train") + " " + twice + " --test " + data + quick, &out), 0) << out;
    EXPECT_NE(out.find("warning: 40 of the 40 --test rows are architectures of " + twice), std::string::npos) << out;
}

TEST(ToolsLearning, TooFewTrainingRowsNameTheFile) {
    Files fs;
    const std::string data = fs.dir + "/one.csv";
    write_dataset(data, 1, 2);
    std::string out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " -o " + fs.dir + "/p.esmp", &out), 1);
    EXPECT_NE(out.find("esm-train: " + data + ": 1 training row(s) after --test-frac's share: training needs at least 2"),
              std::string::npos) << out;
}

TEST(ToolsLearning, TargetColumnErrorsListNumericColumns) {
    Files fs;
    const std::string data = fs.dir + "/d.csv";
    write_dataset(data, 50, 2, false);
    std::string out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --epochs 2 -o " + fs.dir + "/p.esmp", &out), 1);
    EXPECT_NE(out.find("numeric columns: gpu_ms, other"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --target gpu_ms --epochs 2 --test-frac 0.2 -o " + fs.dir + "/p.esmp", &out), 0) << out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --target nope --epochs 2 -o " + fs.dir + "/p.esmp", &out), 1);
    EXPECT_NE(out.find("no column 'nope'"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-eval") + " " + fs.dir + "/missing.esmp " + data, &out), 1);
    EXPECT_NE(out.find("cannot open predictor file"), std::string::npos) << out;
}

// A libesm dataset with reference rows: two references, then batches of 10 samples each
// followed by the references' re-measurement; the device runs 30 % slower from the fourth
// batch on (most samples: factors 1/1.3 .. 1). esm-train and esm-eval say they corrected
// it (default) or not (off), and esm-eval's JSON stays pure JSON.
TEST(ToolsLearning, DriftCorrectionIsReportedAndCanBeTurnedOff) {
    Files fs;
    const std::string data = fs.dir + "/drift.csv", pred = fs.dir + "/p.esmp";
    const esm::Space s = esm::preset("ofa-mbv3");
    esm::Sampler smp(s, 3);
    const auto archs = smp.sample(esm::Strategy::Random, 120, 5);
    std::ofstream f(data);
    f << "# device: test\narch,latency_ms,kind\n";
    const std::string r1 = esm::format_arch(s, archs[0]), r2 = esm::format_arch(s, archs[1]);
    f << r1 << ",1.0,ref\n" << r2 << ",2.0,ref\n";
    for (size_t i = 2; i < archs.size(); ++i) {
        const double speed = (i - 2) / 10 >= 3 ? 1.3 : 1.0;
        f << esm::format_arch(s, archs[i]) << "," << smooth_latency(archs[i]) * speed << ",sample\n";
        if ((i - 1) % 10 == 0) f << r1 << "," << speed << ",ref\n" << r2 << "," << 2 * speed << ",ref\n";
    }
    f.close();
    std::string out;
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --epochs 5 --min-steps 0 -o " + pred, &out), 0) << out;
    EXPECT_NE(out.find("drift-corrected by 12 reference re-measurements (factors 0.769..1.000)"), std::string::npos) << out;
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --epochs 5 --min-steps 0 --drift-correction off -o " + pred, &out), 0)
        << out;
    EXPECT_EQ(out.find("drift-corrected"), std::string::npos) << out;
    ASSERT_EQ(run(tool("esm-eval") + " " + pred + " " + data, &out), 0) << out;
    EXPECT_NE(out.find("drift-corrected by 12"), std::string::npos) << out;
    ASSERT_EQ(run(tool("esm-eval") + " " + pred + " " + data + " --json -", &out), 0) << out;
    EXPECT_NE(out.find("{\"overall\": {\"n\": 118"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --drift-correction maybe -o " + pred, &out), 2) << out;
    EXPECT_NE(out.find("option '--drift-correction' expects on or off, got 'maybe'"), std::string::npos) << out;
}

}  // namespace

// Output that does not reach stdout (here /dev/full: ENOSPC) and input that cannot be read
// are failures, never exit status 0 with the data silently missing; an empty output name
// is refused before any work, not at the rename after training.
TEST(ToolsLearning, UnwritableOutputUnreadableInputAndEmptyOutputNamesFail) {
    if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
    Files fs;
    const std::string data = fs.dir + "/d.csv", pred = fs.dir + "/p.esmp", err = fs.dir + "/err.txt";
    auto archs = write_dataset(data, 60, 4);
    std::string out;
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --epochs 2 --min-steps 0 -o " + pred, &out), 0) << out;
    const std::string arch = esm::format_arch(esm::preset("ofa-mbv3"), archs[0]);
    // stdout to /dev/full, stderr to a file: status and message.
    auto to_full = [&](const std::string& cmd) {
        const int raw = std::system((cmd + " > /dev/full 2> " + err).c_str());
        return std::make_pair(WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(err));
    };
    for (const std::string& cmd : {tool("esm-predict") + " " + pred + " --info", tool("esm-predict") + " " + pred + " " + arch,
                                   tool("esm-eval") + " " + pred + " " + data + " --json -", tool("esm-eval") + " " + pred + " " + data,
                                   tool("esm-sample") + " --space ofa-mbv3 -n 5"}) {
        const auto [status, text] = to_full(cmd);
        EXPECT_EQ(status, 1) << cmd << "\n" << text;
        EXPECT_NE(text.find("cannot write the output"), std::string::npos) << cmd << "\n" << text;
    }
    // A directory as stdin: getline fails (EISDIR) as at the end of input.
    EXPECT_EQ(run(tool("esm-predict") + " " + pred + " - < " + fs.dir, &out), 1) << out;
    EXPECT_NE(out.find("cannot read stdin after line 0: Is a directory"), std::string::npos) << out;
    // -o '' / --json '': a usage error naming the option, and no training.
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --epochs 2 --min-steps 0 -o ''", &out), 2) << out;
    EXPECT_NE(out.find("option '-o' needs a value, got ''"), std::string::npos) << out;
    EXPECT_EQ(out.find("trained on"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-train") + " " + data + " --epochs 2 --min-steps 0 --json '' -o " + pred, &out), 2) << out;
    EXPECT_NE(out.find("option '--json' needs a value, got ''"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-eval") + " " + pred + " " + data + " --json ''", &out), 2) << out;
    EXPECT_NE(out.find("option '--json' needs a value, got ''"), std::string::npos) << out;
    EXPECT_EQ(out.find("overall"), std::string::npos) << out;
}

// The training line records the options as given: small learning rates and weight decays
// read "0.000000" with std::to_string's six decimals, and --patience was missing.
TEST(ToolsLearning, TrainingLineRecordsSmallRatesAndPatience) {
    Files fs;
    const std::string data = fs.dir + "/d.csv", pred = fs.dir + "/p.esmp";
    write_dataset(data, 60, 5);
    std::string out;
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --epochs 2 --min-steps 0 --lr 1e-7 --weight-decay 3e-7 "
                  "--val-frac 0.25 --patience 4 -o " + pred, &out), 0) << out;
    const std::string line = esm::Predictor::load(pred).training;
    EXPECT_NE(line.find(" lr=1e-07 weight_decay=3e-07 epochs=2 "), std::string::npos) << line;
    EXPECT_NE(line.find(" val_frac=0.25 patience=4 "), std::string::npos) << line;
}

// Small mistakes said plainly: '-' among architectures, trailing blanks on stdin lines, a
// test file that is the training file, an evaluation file without the predictor's column.
TEST(ToolsLearning, MixedStdinTrailingBlanksSelfTestAndMissingColumn) {
    Files fs;
    const std::string data = fs.dir + "/d.csv", pred = fs.dir + "/p.esmp", other = fs.dir + "/o.csv";
    const std::vector<esm::Arch> archs = write_dataset(data, 60, 5, false);  // column gpu_ms
    const std::string text = esm::format_arch(esm::preset("ofa-mbv3"), archs[0]);
    std::string out;
    ASSERT_EQ(run(tool("esm-train") + " " + data + " --target gpu_ms --test " + data +
                  " --epochs 2 --min-steps 0 -o " + pred, &out), 0) << out;
    EXPECT_NE(out.find("warning: --test " + data + " is the training dataset"), std::string::npos) << out;
    EXPECT_EQ(run(tool("esm-predict") + " " + pred + " - '" + text + "'", &out), 2);
    EXPECT_NE(out.find("'-' (read stdin) takes the place of the architecture arguments"), std::string::npos) << out;
    std::string one, blanks;
    ASSERT_EQ(run(tool("esm-predict") + " " + pred + " '" + text + "'", &one), 0) << one;
    ASSERT_EQ(run("printf '" + text + " \\t\\r\\n  \\n' | " + tool("esm-predict") + " " + pred, &blanks), 0) << blanks;
    EXPECT_EQ(blanks, one);
    std::ofstream(other) << "arch,foo\n" << text << ",1\n";  // neither gpu_ms nor latency_ms
    EXPECT_EQ(run(tool("esm-eval") + " " + pred + " " + other, &out), 1);
    EXPECT_NE(out.find(other + ": no column 'gpu_ms'"), std::string::npos) << out;
}
