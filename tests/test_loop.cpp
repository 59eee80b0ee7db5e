// Tests of the ESM loop: replay convergence on a synthetic additive device, Algorithm 1
// extension as planned, resume after a crash with every sample exactly once, and
// refusal to mix settings, training on drift-corrected latencies.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <regex>
#include <set>
#include <sstream>

#include "esm/common.hpp"
#include "esm/cuda.hpp"
#include "esm/extend.hpp"
#include "esm/loop.hpp"
#include "esm/predictor.hpp"
#include "esm/table.hpp"
#include "esm/train.hpp"
#include "tool_run.hpp"

using namespace esm;

namespace {

std::string tmp_dir(const std::string& name) {
    const std::string d = std::string(ESM_BINARY_DIR) + "/loop_" + name;
    std::system(("rm -rf '" + d + "'").c_str());
    return d;
}

// A device whose latency is a sum of per-block costs: an FCC-encoded MLP can learn it.
double synthetic_latency(const Space& s, const Arch& a) {
    double t = 1.0;
    for (size_t u = 0; u < a.units.size(); ++u)
        for (const auto& b : a.units[u]) t += (0.2 + 0.1 * u) * choice_value(s, b, 0) * (0.5 + choice_value(s, b, 1));
    return t;
}

std::string write_pool(const Space& s, int n, const std::string& dir) {
    std::system(("mkdir -p '" + dir + "'").c_str());
    const std::string path = dir + "/pool.csv";
    std::ofstream f(path);
    f << "arch,lat\n";
    Sampler sm(s, 99);
    for (const Arch& a : sm.sample(Strategy::Random, n, 5)) f << format_arch(s, a) << ',' << synthetic_latency(s, a) << '\n';
    return path;
}

LoopOptions small_options(const std::string& out) {
    LoopOptions o;
    o.n_initial = 60;
    o.n_step = 40;
    o.test_size = 40;
    o.acc_th = 97;
    o.max_iterations = 8;
    o.mlp.epochs = 150;
    o.out_dir = out;
    return o;
}

// A replay on the resnet preset of a synthetic pool of `rows` architectures: the space, the
// output directory, the pool file, a source drawing from it and small options writing to the
// directory (the replay tests' common start: `auto& [s, out, pool, src, o] = replay;`).
struct Replay {
    Space s = preset("resnet");
    std::string out, pool;
    std::unique_ptr<LatencySource> src;
    LoopOptions o;
    Replay(const std::string& name, int rows)
        : out(tmp_dir(name)),
          pool(write_pool(s, rows, out + "_pool")),
          src(make_pool_source(s, pool, "lat")),
          o(small_options(out)) {}
};

std::vector<std::string> column(const std::string& path, const std::string& name) {
    Table t = read_table(path);
    std::vector<std::string> v;
    for (const auto& r : t.rows) v.push_back(r[t.require_column(name)]);
    return v;
}

// The archs of a dataset's rows of one kind ("sample", "ref", "pending", "dropped").
std::vector<std::string> rows_of_kind(const std::string& path, const std::string& kind) {
    Table t = read_table(path);
    std::vector<std::string> v;
    for (const auto& r : t.rows)
        if (r[t.require_column("kind")] == kind) v.push_back(r[t.require_column("arch")]);
    return v;
}

// Samples plans.csv holds for `iteration`, per bin of 5.
std::vector<int> planned_per_bin(const Space& s, const std::string& out, int iteration) {
    std::vector<int> n(5, 0);
    for (const auto& row : read_table(out + "/plans.csv").rows)
        if (row[0] == std::to_string(iteration)) n[static_cast<size_t>(s.bin_of(parse_arch(s, row[2]).depth(), 5))]++;
    return n;
}

// A device that slows by `rate` (relative) with every call, its latency proportional to the
// architecture text's length: a runner counting its calls in OUT_count. Three references,
// batches of 5, a quality-control threshold loose enough to let the drift through.
std::unique_ptr<LatencySource> drifting_runner(const Space& s, const std::string& out, double rate) {
    MeasureProtocol p;
    p.refs = 3;
    p.qc_batch = 5;
    p.qc_threshold = 0.9;
    p.qc_retries = 0;
    const std::string counter = out + "_count";
    std::ofstream(counter) << 0;
    const std::string runner = "n=$(cat " + counter + "); echo $((n+1)) > " + counter +
                               "; awk -v n=$n -v l=${#1} 'BEGIN { printf \"%.6f\\n\", l * exp(" + std::to_string(rate) +
                               " * n) / 10 }'";
    return make_runner_source(s, {runner, out + "/space.txt", 10}, p);
}

// The files of an output directory, by name (the plots aside).
std::map<std::string, std::string> directory_files(const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const char* name : {"settings.txt", "space.txt", "dataset.csv", "plans.csv", "report.json", "predictor.esm"})
        if (access((dir + "/" + name).c_str(), F_OK) == 0) files[name] = slurp(dir + "/" + name);
    return files;
}

// A run that fails with a message containing `message`.
void expect_error(const Space& s, const LoopOptions& o, LatencySource& src, const std::string& message) {
    try {
        run_esm_loop(s, o, src);
        ADD_FAILURE() << "no error; expected one containing: " << message;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
}

// A refused run names the problem and leaves every file of the directory as it was.
void expect_refused(const Space& s, const LoopOptions& o, LatencySource& src, const std::string& message) {
    const auto before = directory_files(o.out_dir);
    expect_error(s, o, src, message);
    EXPECT_TRUE(directory_files(o.out_dir) == before) << "a refused run changed " << o.out_dir;
}

}  // namespace

// A device on which quality control drops every architecture of depth >= 24 as an outlier
// (a bin's test set is small: a few drops empty it), in its first `dropping_calls` measuring
// calls (one per iteration): the synthetic latency otherwise, confirmed at once.
class DropsDeepSource : public LatencySource {
public:
    explicit DropsDeepSource(const Space& s, int dropping_calls = 1 << 30) : s_(s), dropping_calls_(dropping_calls) {}
    DatasetMeta header() const override {
        return {{"format", kDatasetFormat}, {"backend", "test-drops-deep"}, {"space", s_.name}};
    }
    void measure(const std::vector<std::string>& archs, const std::function<void(const DatasetRow&)>& emit) override {
        for (const auto& text : archs) {
            const Arch a = parse_arch(s_, text);
            DatasetRow row;
            row.arch = text;
            row.depth = a.depth();
            row.stats.latency_ms = synthetic_latency(s_, a);
            row.stats.runs = 1;
            row.kind = a.depth() >= 24 && calls_ < dropping_calls_ ? "dropped" : "sample";
            emit(row);
        }
        ++calls_;
    }

private:
    const Space& s_;
    int dropping_calls_, calls_ = 0;
};

// A bin whose planned test samples were all dropped has no accuracy: "every bin >= Acc_TH"
// must not be claimed for it (it was, the empty bin being skipped as a pool's bin without
// architectures is), and the progress line names it. The next iteration tests as many new
// architectures there (dropped again here).
TEST(Loop, BinWhoseTestSamplesWereAllDroppedDoesNotPass) {
    const Space s = preset("resnet");
    ASSERT_EQ(s.bin_lo(4, 5), 24);  // the dropped depths are exactly bin 4
    DropsDeepSource src(s);
    LoopOptions o = small_options(tmp_dir("untested_bin"));
    o.test_size = 20;
    o.acc_th = 90;
    o.max_iterations = 3;
    std::vector<std::string> lines;
    const LoopResult r = run_esm_loop(s, o, src, [&](const LoopProgress& p) {
        if (p.phase == "evaluated") lines.push_back(p.message);
    });
    // Bin 4's 4 planned test architectures were all dropped; the other bins are far above 90 %.
    const auto& last = r.iterations.back();
    EXPECT_EQ(last.metrics.bins[4].n, 0);
    EXPECT_EQ(last.test_samples, 16);
    EXPECT_TRUE(last.metrics.all_bins_at_least(o.acc_th)) << "the judged bins must pass, or this tests nothing";
    EXPECT_FALSE(r.converged) << r.stop_reason;
    for (const auto& it : r.iterations) EXPECT_FALSE(it.passed) << "iteration " << it.iteration;
    EXPECT_NE(r.stop_reason.find("budget: 3 iterations"), std::string::npos) << r.stop_reason;
    ASSERT_EQ(lines.size(), 3u);
    for (const auto& line : lines)
        EXPECT_NE(line.find("bin 4 (depth 24..28) has no test sample left"), std::string::npos) << line;
    for (int i = 0; i < 2; ++i)
        EXPECT_NE(lines[i].find("(4 new test architectures planned)"), std::string::npos) << lines[i];
    EXPECT_EQ(lines[2].find("planned)"), std::string::npos) << lines[2];  // the budget ends the run: none
    std::vector<int> retests(3, 0);  // per iteration: plans.csv's new test rows, all of depth 24..28
    std::ifstream plans(o.out_dir + "/plans.csv");
    for (std::string line; std::getline(plans, line);) {
        const size_t c1 = line.find(','), c2 = line.find(',', c1 + 1);
        if (line.empty() || line[0] == '#' || c2 == std::string::npos || line.compare(c1, c2 - c1, ",test") != 0) continue;
        const int it = std::stoi(line.substr(0, c1));
        if (it == 0) continue;
        ++retests.at(static_cast<size_t>(it));
        EXPECT_GE(parse_arch(s, line.substr(c2 + 1)).depth(), 24) << line;
    }
    EXPECT_EQ(retests, (std::vector<int>{0, 4, 4}));
    // The overall criterion judges the test set as a whole: it passes as before.
    LoopOptions overall = small_options(tmp_dir("untested_bin_overall"));
    overall.test_size = 20;
    overall.acc_th = 90;
    overall.binwise = false;
    const LoopResult ro = run_esm_loop(s, overall, src);
    EXPECT_TRUE(ro.converged) << ro.stop_reason;
}

// When the bin's new test architectures are measured, the bin is judged and the run converges.
TEST(Loop, BinWhoseTestSamplesWereDroppedIsTestedAnew) {
    const Space s = preset("resnet");
    DropsDeepSource src(s, 1);  // iteration 0's deep architectures only
    LoopOptions o = small_options(tmp_dir("retested_bin"));
    o.test_size = 20;
    o.acc_th = 90;
    o.max_iterations = 4;
    const LoopResult r = run_esm_loop(s, o, src);
    ASSERT_EQ(r.iterations.size(), 2u) << r.stop_reason;
    EXPECT_FALSE(r.iterations[0].passed);
    EXPECT_EQ(r.iterations[0].metrics.bins[4].n, 0);
    EXPECT_TRUE(r.converged) << r.stop_reason;
    EXPECT_EQ(r.iterations[1].metrics.bins[4].n, 4);
    EXPECT_EQ(r.iterations[1].test_samples, 20);
}

// The overall criterion judges the test set as a whole, so a bin whose test samples were all
// dropped does not stop it from passing: no new test architectures are planned for it (they
// were, silently, each iteration: measured, by quality control too, and dropped again here,
// for a criterion that does not need them; the progress line names them only bin-wise).
TEST(Loop, OverallCriterionPlansNoNewTestArchitectures) {
    const Space s = preset("resnet");
    DropsDeepSource src(s);
    LoopOptions o = small_options(tmp_dir("untested_bin_overall_budget"));
    o.test_size = 20;
    o.acc_th = 99.99;  // not reached: the run goes on to its budget
    o.binwise = false;
    o.max_iterations = 3;
    std::vector<std::string> lines;
    const LoopResult r = run_esm_loop(s, o, src, [&](const LoopProgress& p) {
        if (p.phase == "evaluated") lines.push_back(p.message);
    });
    ASSERT_EQ(r.iterations.size(), 3u) << r.stop_reason;
    for (const auto& line : lines) EXPECT_EQ(line.find("no test sample"), std::string::npos) << line;
    std::vector<int> tests(3, 0);  // plans.csv's test rows per iteration
    std::ifstream plans(o.out_dir + "/plans.csv");
    for (std::string line; std::getline(plans, line);) {
        const size_t c1 = line.find(','), c2 = line.find(',', c1 + 1);
        if (line.empty() || line[0] == '#' || c2 == std::string::npos || line.compare(c1, c2 - c1, ",test") != 0) continue;
        ++tests.at(static_cast<size_t>(std::stoi(line.substr(0, c1))));
    }
    EXPECT_EQ(tests, (std::vector<int>{20, 0, 0}));
    for (const auto& it : r.iterations) EXPECT_EQ(it.test_samples, 16) << "iteration " << it.iteration;
}

TEST(Loop, ReplayConvergesOnAnAdditiveDevice) {
    Replay replay("replay", 3000);
    auto& [s, out, pool, src, o] = replay;
    LoopResult r = run_esm_loop(s, o, *src);
    EXPECT_TRUE(r.converged) << r.stop_reason;
    const auto& last = r.iterations.back();
    EXPECT_TRUE(last.passed);
    EXPECT_GE(last.metrics.overall.accuracy, 97.0);
    // The predictor on disk is the one evaluated, and it predicts the device well.
    Predictor p = Predictor::load(r.predictor_path, s);
    Sampler sm(s, 5);
    double err = 0;
    auto probe = sm.sample(Strategy::Balanced, 200, 5);
    for (const Arch& a : probe) err += std::fabs(p.predict(a) / synthetic_latency(s, a) - 1);
    EXPECT_LT(err / probe.size(), 0.05);
    // Every planned sample is in the dataset exactly once, with the pool's latency.
    auto archs = column(r.dataset_path, "arch");
    std::set<std::string> uniq(archs.begin(), archs.end());
    EXPECT_EQ(uniq.size(), archs.size());
    EXPECT_EQ(column(out + "/plans.csv", "arch").size(), archs.size());
    // The test set is balanced over the bins in counts: 40 archs, 8 in each of the 5.
    std::map<int, int> test_bins;
    const auto sets = column(out + "/plans.csv", "set"), planned = column(out + "/plans.csv", "arch");
    for (size_t i = 0; i < planned.size(); ++i)
        if (sets[i] == "test") test_bins[s.bin_of(parse_arch(s, planned[i]).depth(), 5)]++;
    EXPECT_EQ(test_bins, (std::map<int, int>{{0, 8}, {1, 8}, {2, 8}, {3, 8}, {4, 8}}));
    // A plan line torn by a kill is cut on the rerun, which then goes on as before.
    std::ofstream(out + "/plans.csv", std::ios::app) << "2,tr";
    EXPECT_NO_THROW(run_esm_loop(s, small_options(out), *src));
    EXPECT_EQ(column(out + "/plans.csv", "arch"), planned);
    for (const char* f : {"/report.json", "/plots/scatter.svg", "/plots/bins.svg", "/plots/curve.svg", "/space.txt"}) {
        std::ifstream in(out + f);
        EXPECT_TRUE(in.good()) << f;
    }
}

TEST(Loop, BalancedExtensionFollowsAlgorithm1) {
    Replay replay("extend", 3000);
    auto& [s, out, pool, src, o] = replay;
    o.acc_th = 100.5;  // never met: the loop must extend until the iteration budget
    o.max_iterations = 3;
    o.mlp.epochs = 20;
    o.mlp.min_steps = 0;
    LoopResult r = run_esm_loop(s, o, *src);
    EXPECT_FALSE(r.converged);
    ASSERT_EQ(r.iterations.size(), 3u);
    // Iteration 1's training samples per bin are exactly what Algorithm 1 gave after iteration 0.
    std::vector<double> acc;
    for (const auto& b : r.iterations[0].metrics.bins) acc.push_back(b.accuracy);
    const auto expect = extension_per_bin(acc, o.acc_th, o.n_step, o.w1, o.w2);
    EXPECT_EQ(r.iterations[0].asked_per_bin, expect);
    const std::vector<int> got = planned_per_bin(s, out, 1);
    EXPECT_EQ(got, expect);
    EXPECT_EQ(r.iterations[0].added_per_bin, got);
    EXPECT_EQ(r.iterations[1].train_samples, r.iterations[0].train_samples + std::accumulate(expect.begin(), expect.end(), 0));
}

// A sample budget that cannot hold a whole extension is shared over the bins in proportion
// to what Algorithm 1 asks of each (esm::fit_extension). It was taken in bin order: with
// every bin below Acc_TH and asking 8, room for 17 planned 8, 8, 1, 0, 0, the last bins none.
TEST(Loop, BudgetCutExtensionIsSharedOverTheBins) {
    Replay replay("budget_share", 3000);
    auto& [s, out, pool, src, o] = replay;
    o.acc_th = 100.5;  // every bin below: Algorithm 1 asks 40 * 2 / (2 * 5) = 8 of each
    o.max_samples = o.test_size + o.n_initial + 17;
    o.mlp.epochs = 5;
    o.mlp.min_steps = 0;
    const LoopResult r = run_esm_loop(s, o, *src);
    ASSERT_EQ(r.iterations.size(), 2u) << r.stop_reason;
    EXPECT_NE(r.stop_reason.find("budget: 117 samples"), std::string::npos) << r.stop_reason;
    EXPECT_EQ(r.iterations[0].asked_per_bin, (std::vector<int>{8, 8, 8, 8, 8}));
    // 17 of 40: 3 each (17 * 8 / 40 = 3.4) and the two left over to the lowest bins.
    EXPECT_EQ(planned_per_bin(s, out, 1), (std::vector<int>{4, 4, 3, 3, 3}));
    EXPECT_EQ(r.iterations[0].added_per_bin, planned_per_bin(s, out, 1));
    EXPECT_EQ(r.iterations[1].train_samples, o.n_initial + 17);
    // A bin the pool runs out of passes the rest of its share on: the budget is still used.
    Replay sparse("budget_share_sparse", 600);  // random depths: few in bins 0 and 4
    sparse.o.acc_th = 100.5;
    sparse.o.max_samples = sparse.o.test_size + sparse.o.n_initial + 17;
    sparse.o.mlp.epochs = 5;
    sparse.o.mlp.min_steps = 0;
    const LoopResult q = run_esm_loop(sparse.s, sparse.o, *sparse.src);
    ASSERT_EQ(q.iterations.size(), 2u) << q.stop_reason;
    const std::vector<int> got = planned_per_bin(sparse.s, sparse.out, 1);
    ASSERT_LT(got[0] + got[4], 6) << "bins 0 and 4 did not run out: the test shows nothing";
    EXPECT_EQ(std::accumulate(got.begin(), got.end(), 0), 17);
    for (int b = 1; b < 4; ++b) EXPECT_GE(got[b], 4) << b;
}

// settings.txt keeps w1, w2 and Acc_TH exactly (`numbers: exact`): a rerun that differs in the
// seventh digit is refused with both numbers as given (99.99999 was written "100", so
// 99.99996 resumed as if equal and a lower threshold passed unseen). A file of before, at %g,
// resumes under the values it reads as.
TEST(Loop, SettingsKeepNumbersExactly) {
    Replay replay("exact_settings", 600);
    auto& [s, out, pool, src, o] = replay;
    o.mlp.epochs = 2;
    o.mlp.min_steps = 0;
    o.max_iterations = 1;
    o.acc_th = 99.99999;
    o.w1 = 2.0000001;
    run_esm_loop(s, o, *src);
    const std::string settings = slurp(out + "/settings.txt");
    EXPECT_NE(settings.find("# w1: 2.0000001\n"), std::string::npos) << settings;
    EXPECT_NE(settings.find("# acc_th: 99.99999\n"), std::string::npos) << settings;
    EXPECT_NE(settings.find("# numbers: exact\n"), std::string::npos) << settings;
    LoopOptions lower = o;
    lower.acc_th = 99.99996;
    expect_refused(s, lower, *src, "holds a run with acc_th = 99.99999, this run asks 99.99996: a rerun may raise");
    LoopOptions w = o;
    w.w1 = 2.0000004;
    expect_refused(s, w, *src, "holds a run with w1 = 2.0000001, this run asks w1 = 2.0000004");
    EXPECT_EQ(slurp(out + "/settings.txt"), settings);
    EXPECT_NO_THROW(run_esm_loop(s, o, *src));
    // Written before: %g, no `numbers` line.
    std::string old = settings;
    old.replace(old.find("# numbers: exact\n"), 17, "");
    old.replace(old.find("# w1: 2.0000001\n"), 16, "# w1: 2\n");
    old.replace(old.find("# acc_th: 99.99999\n"), 19, "# acc_th: 100\n");
    std::ofstream(out + "/settings.txt", std::ios::trunc) << old;
    EXPECT_NO_THROW(run_esm_loop(s, o, *src));
    EXPECT_EQ(slurp(out + "/settings.txt"), old);
}

// A finished run pushed to a higher Acc_TH: the rerun replays the iterations as they were,
// then goes on under the new threshold; a lower one (a forgotten --acc) is refused.
TEST(Loop, RaisedThresholdContinuesAFinishedRun) {
    Replay replay("raise_acc", 1500);
    auto& [s, out, pool, src, o] = replay;
    o.mlp.epochs = 30;
    o.mlp.min_steps = 0;
    o.acc_th = 90;
    const LoopResult first = run_esm_loop(s, o, *src);
    ASSERT_TRUE(first.converged) << first.stop_reason;
    const std::string plans_before = slurp(out + "/plans.csv");
    LoopOptions higher = o;
    higher.acc_th = 100;  // never met: up to the iteration budget
    higher.max_iterations = static_cast<int>(first.iterations.size()) + 2;
    std::vector<std::string> notes;
    const LoopResult more = run_esm_loop(s, higher, *src, [&](const LoopProgress& p) {
        if (p.phase == "note") notes.push_back(p.message);
    });
    ASSERT_EQ(more.iterations.size(), first.iterations.size() + 2);
    for (size_t i = 0; i < first.iterations.size(); ++i)
        EXPECT_EQ(more.iterations[i].metrics.overall.accuracy, first.iterations[i].metrics.overall.accuracy) << i;
    EXPECT_EQ(slurp(out + "/plans.csv").rfind(plans_before, 0), 0u) << "earlier plans changed";
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("Acc_TH raised from 90 % to 100 %"), std::string::npos) << notes[0];
    EXPECT_NE(slurp(out + "/settings.txt").find("# acc_th: 100\n"), std::string::npos);
    expect_refused(s, o, *src, "holds a run with acc_th = 100, this run asks 90: a rerun may raise Acc_TH, not lower it");
    // A raise refused by a later check (a damaged plans.csv) leaves settings.txt as it was.
    const std::string plans = slurp(out + "/plans.csv");
    std::ofstream(out + "/plans.csv", std::ios::app) << "9,train,resnet:bogus\n";
    higher.acc_th = 100.5;
    expect_refused(s, higher, *src, "plans.csv:");
    std::ofstream(out + "/plans.csv", std::ios::trunc) << plans;
}

// An iteration's plan cut short in plans.csv (a SIGKILL between two pages of its append, or a
// power loss leaving NUL bytes where its end was) is planned again whole: the resumed run
// plans and reports what an uninterrupted one does. Before, the rows that reached the disk
// were taken for the whole plan: a shorter iteration, or, cut within the test rows, a
// directory that failed every rerun with "too few measured samples to train".
TEST(Loop, APlanCutShortIsPlannedAgainWhole) {
    Replay replay("plan_cut", 1500);
    auto& [s, out, pool, src, o] = replay;
    o.acc_th = 100;  // never met: three iterations
    o.max_iterations = 3;
    o.mlp.epochs = 5;
    o.mlp.min_steps = 0;
    const LoopResult clean = run_esm_loop(s, o, *src);
    ASSERT_EQ(clean.iterations.size(), 3u) << clean.stop_reason;
    const std::string plans = slurp(out + "/plans.csv");
    // The byte offsets just after line `n` of the clean plans.csv, and where iteration 1 begins.
    auto after_line = [&](int n) {
        size_t pos = 0;
        for (int i = 0; i < n; ++i) pos = plans.find('\n', pos) + 1;
        return pos;
    };
    const size_t it1 = plans.find("\n1,train,") + 1;
    ASSERT_NE(it1, 0u);
    struct Cut {
        const char* name;
        size_t keep;
        std::string tail;
    };
    const std::vector<Cut> cuts = {
        {"in_test_rows", after_line(2 + 10), std::string(300, '\0')},         // 10 of iteration 0's 40 test rows
        {"in_train_rows", after_line(2 + 40 + 5), "0,train,resnet:k3e"},     // all test rows, 5 training ones, torn
        {"in_iteration_1", it1 + (plans.find('\n', it1) - it1) + 1, std::string(4096, '\0')},  // one row of it
    };
    for (const Cut& c : cuts) {
        LoopOptions again = o;
        again.out_dir = tmp_dir(std::string("plan_cut_") + c.name);
        std::system(("mkdir -p '" + again.out_dir + "' && cp '" + out + "/settings.txt' '" + out + "/space.txt' '" +
                     again.out_dir + "/'").c_str());
        std::ofstream(again.out_dir + "/plans.csv", std::ios::binary) << plans.substr(0, c.keep) << c.tail;
        std::vector<std::string> notes;
        const LoopResult r = run_esm_loop(s, again, *src, [&](const LoopProgress& p) {
            if (p.phase == "note") notes.push_back(p.message);
        });
        EXPECT_EQ(slurp(again.out_dir + "/plans.csv"), plans) << c.name;
        ASSERT_EQ(r.iterations.size(), clean.iterations.size()) << c.name << ": " << r.stop_reason;
        for (size_t i = 0; i < r.iterations.size(); ++i) {
            EXPECT_EQ(r.iterations[i].train_samples, clean.iterations[i].train_samples) << c.name << " " << i;
            EXPECT_EQ(r.iterations[i].test_samples, clean.iterations[i].test_samples) << c.name << " " << i;
            EXPECT_EQ(r.iterations[i].metrics.overall.accuracy, clean.iterations[i].metrics.overall.accuracy) << c.name;
        }
        ASSERT_EQ(notes.size(), 1u) << c.name;
        EXPECT_NE(notes[0].find("plan was cut short"), std::string::npos) << notes[0];
    }
    // A plans.csv written before the end lines (another first line, no end lines) is taken whole.
    std::string old = plans;
    old.replace(0, old.find('\n') + 1, "# samples planned per iteration\n");
    for (size_t at; (at = old.find("# end of iteration ")) != std::string::npos;) old.erase(at, old.find('\n', at) + 1 - at);
    LoopOptions legacy = o;
    legacy.out_dir = tmp_dir("plan_cut_legacy");
    std::system(("mkdir -p '" + legacy.out_dir + "' && cp '" + out + "/settings.txt' '" + out + "/space.txt' '" +
                 legacy.out_dir + "/'").c_str());
    std::ofstream(legacy.out_dir + "/plans.csv", std::ios::binary) << old;
    const LoopResult r = run_esm_loop(s, legacy, *src);
    ASSERT_EQ(r.iterations.size(), clean.iterations.size());
    EXPECT_EQ(r.iterations.back().metrics.overall.accuracy, clean.iterations.back().metrics.overall.accuracy);
    EXPECT_EQ(slurp(legacy.out_dir + "/plans.csv"), old) << "a finished legacy plans.csv is left as it was";
    // A legacy file that a run of this version went on with (iteration 0 without an end line,
    // the later ones with): a plan cut short after its last end line is planned again too.
    const std::string mixed = old.substr(0, old.find("\n1,train,") + 1) + plans.substr(it1);
    const size_t it2 = mixed.find("\n2,train,") + 1;
    ASSERT_NE(it2, 0u);
    LoopOptions resumed = o;
    resumed.out_dir = tmp_dir("plan_cut_mixed");
    std::system(("mkdir -p '" + resumed.out_dir + "' && cp '" + out + "/settings.txt' '" + out + "/space.txt' '" +
                 resumed.out_dir + "/'").c_str());
    std::ofstream(resumed.out_dir + "/plans.csv", std::ios::binary)
        << mixed.substr(0, mixed.find('\n', it2) + 1) << std::string(512, '\0');
    int cut_notes = 0;
    const LoopResult m = run_esm_loop(s, resumed, *src, [&](const LoopProgress& p) {
        cut_notes += p.phase == "note" && p.message.find("plan was cut short") != std::string::npos;
    });
    EXPECT_EQ(cut_notes, 1);
    EXPECT_EQ(slurp(resumed.out_dir + "/plans.csv"), mixed);
    ASSERT_EQ(m.iterations.size(), clean.iterations.size());
    EXPECT_EQ(m.iterations.back().train_samples, clean.iterations.back().train_samples);
}

// A run stopped by its sample budget, or by a pool it used up, reruns to the same end: the
// resumed run's plans.csv already holds every iteration, and the budget counts only those
// planned so far (it once counted them all and stopped the rerun after iteration 0,
// rewriting the report and the predictor from it).
TEST(Loop, RerunOfABudgetStoppedRunReplaysEveryIteration) {
    Space s = preset("resnet");
    const std::string pool = write_pool(s, 400, tmp_dir("budget_rerun_pool"));
    auto src = make_pool_source(s, pool, "lat");
    for (const bool by_pool : {false, true}) {
        LoopOptions o = small_options(tmp_dir(by_pool ? "pool_rerun" : "budget_rerun"));
        o.acc_th = 100;
        o.max_iterations = 20;
        o.max_samples = by_pool ? 0 : 220;
        o.mlp.epochs = 5;
        o.mlp.min_steps = 0;
        const LoopResult first = run_esm_loop(s, o, *src);
        ASSERT_GE(first.iterations.size(), 3u) << first.stop_reason;
        EXPECT_NE(first.stop_reason.find(by_pool ? "pool is used up" : "budget: 220 samples"), std::string::npos)
            << first.stop_reason;
        const std::string report = slurp(o.out_dir + "/report.json");
        const LoopResult again = run_esm_loop(s, o, *src);
        ASSERT_EQ(again.iterations.size(), first.iterations.size()) << again.stop_reason;
        EXPECT_EQ(again.stop_reason, first.stop_reason);
        EXPECT_EQ(again.iterations.back().train_samples, first.iterations.back().train_samples);
        EXPECT_EQ(again.iterations.back().metrics.overall.accuracy, first.iterations.back().metrics.overall.accuracy);
        // A lower budget on a rerun stops new planning only: every iteration planned before
        // replays, and the predictor is the last one's, not iteration 1's.
        o.max_iterations = 2;
        o.max_samples = by_pool ? 0 : 150;
        const LoopResult lower = run_esm_loop(s, o, *src);
        ASSERT_EQ(lower.iterations.size(), first.iterations.size()) << lower.stop_reason;
        EXPECT_EQ(lower.iterations.back().train_samples, first.iterations.back().train_samples);
        EXPECT_EQ(lower.iterations.back().metrics.overall.accuracy, first.iterations.back().metrics.overall.accuracy);
        EXPECT_NE(lower.stop_reason.find("budget: 2 iterations (" + std::to_string(first.iterations.size()) +
                                         " planned by an earlier run, replayed)"),
                  std::string::npos)
            << lower.stop_reason;
    }
}

// A bin the replay pool runs out of gets fewer samples than Algorithm 1 asks: the report
// says how many were planned, not how many were asked for.
TEST(Loop, ReportSaysWhatWasPlannedWhereABinRunsOut) {
    Replay replay("short_bin", 600);  // random depths: few in bin 0
    auto& [s, out, pool, src, o] = replay;
    o.acc_th = 100;
    o.n_step = 200;
    o.max_iterations = 3;
    o.mlp.epochs = 5;
    o.mlp.min_steps = 0;
    LoopResult r = run_esm_loop(s, o, *src);
    bool short_seen = false;
    for (size_t i = 0; i + 1 < r.iterations.size(); ++i) {
        const std::vector<int> got = planned_per_bin(s, out, static_cast<int>(i + 1));
        EXPECT_EQ(r.iterations[i].added_per_bin, got) << i;
        for (int b = 0; b < 5; ++b) short_seen = short_seen || got[b] < r.iterations[i].asked_per_bin[b];
    }
    EXPECT_TRUE(short_seen) << "no bin ran out: the test shows nothing";
}

TEST(Loop, ResumesAfterACrashWithEverySampleOnce) {
    Space s = preset("densenet");
    const std::string out = tmp_dir("resume");
    const std::string counter = out + "_count";
    std::ofstream(counter) << 0;
    // A device that dies on its 31st measurement while a flag file exists; latency from
    // the arch text itself. The command stays the same, as a resumed run requires.
    const std::string flag = out + "_down";
    std::ofstream(flag) << 1;
    const std::string runner = "n=$(cat " + counter + "); echo $((n+1)) > " + counter + "; [ -e " + flag +
                               " ] && [ $n -ge 30 ] && exit 1; echo \"${#1}.25\"";
    LoopOptions o = small_options(out);
    o.n_initial = 40;
    o.test_size = 20;
    o.max_iterations = 2;
    o.mlp.epochs = 10;
    o.mlp.min_steps = 0;
    MeasureProtocol no_refs;
    no_refs.refs = 0;  // keeps the count of runner calls exact; QC has its own test
    {
        auto src = make_runner_source(s, {runner, out + "/space.txt", 10}, no_refs);
        EXPECT_THROW(run_esm_loop(s, o, *src), Error);
    }
    EXPECT_EQ(rows_of_kind(out + "/dataset.csv", "sample").size(), 30u);  // confirmed before the crash
    std::remove(flag.c_str());
    auto src = make_runner_source(s, {runner, out + "/space.txt", 10}, no_refs);
    LoopResult r = run_esm_loop(s, o, *src);
    auto archs = rows_of_kind(r.dataset_path, "sample");
    std::set<std::string> uniq(archs.begin(), archs.end());
    EXPECT_EQ(uniq.size(), archs.size());
    const size_t planned = column(out + "/plans.csv", "arch").size();
    EXPECT_EQ(archs.size(), planned);
    std::ifstream c(counter);
    int calls = 0;
    c >> calls;
    EXPECT_EQ(static_cast<size_t>(calls), planned + 1);  // nothing measured twice; one failed call
    EXPECT_EQ(read_table(r.dataset_path).meta_value("library_version"), version());  // a runner header too
    Space described;  // and the space, so that esm-train needs no --space
    ASSERT_TRUE(header_space(read_table(r.dataset_path).meta, r.dataset_path, &described));
    EXPECT_EQ(described, s);
    // The resumed run planned exactly what an uninterrupted run plans.
    const std::string clean = tmp_dir("resume_clean");
    LoopOptions oc = o;
    oc.out_dir = clean;
    auto src2 = make_runner_source(s, {"echo \"${#1}.25\"", clean + "/space.txt", 10}, no_refs);
    run_esm_loop(s, oc, *src2);
    EXPECT_EQ(column(clean + "/plans.csv", "arch"), column(out + "/plans.csv", "arch"));
}

// A custom space may hold fewer architectures than the reference models quality control
// draws from it: refused when the source is made (before esm-measure or esm-build writes a
// file), naming the references, instead of failing in the first measure() as "could not
// draw 5 distinct architectures (got 0)" once the dataset was written.
TEST(Loop, MoreReferencesThanTheSpaceHoldsAreRefusedUpFront) {
    // 3 depths x 2 kernels x 2 resolutions = 12 architectures
    const Space tiny = parse_space("name = tiny\nfamily = densenet\nunits = 1\ndepth = 1-3\nchoice k = 1 3\n"
                                   "stem = 8\ngrowth = 4\nbottleneck = 8\nresolution = 16 24\n",
                                   "tiny.space");
    ASSERT_EQ(tiny.size_exact(), "12");
    MeasureProtocol p;
    p.refs = 13;
    try {
        make_runner_source(tiny, {"echo 1", "", 10}, p);
        ADD_FAILURE() << "13 references of a space of 12 accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("13 distinct reference models (refs) of space 'tiny', which holds only 12 "
                                             "architectures"),
                  std::string::npos)
            << e.what();
    }
    // As many as it holds: each of them a reference, measured.
    p.refs = 12;
    p.qc_batch = 1;
    auto src = make_runner_source(tiny, {"echo 1", "", 10}, p);
    std::set<std::string> refs;
    size_t samples = 0;
    src->measure({"tiny:d2k3@24"}, [&](const DatasetRow& r) {
        if (r.kind == "ref") refs.insert(r.arch);
        if (r.kind == "sample") ++samples;
    });
    EXPECT_EQ(refs.size(), 12u);
    EXPECT_EQ(samples, 1u);
    p.refs = 0;  // no quality control: nothing drawn
    EXPECT_NO_THROW(make_runner_source(tiny, {"echo 1", "", 10}, p));
}

TEST(Loop, RefusesToMixSettingsOrDevices) {
    Space s = preset("resnet");
    const std::string out = tmp_dir("mix");
    const std::string pool = write_pool(s, 600, out + "_pool");
    LoopOptions o = small_options(out);
    o.max_iterations = 1;
    o.mlp.epochs = 5;
    o.mlp.min_steps = 0;
    auto src = make_pool_source(s, pool, "lat");
    run_esm_loop(s, o, *src);
    LoopOptions other = o;
    other.strategy = Strategy::Random;
    expect_refused(s, other, *src, "holds a run with strategy = balanced, this run asks strategy = random");
    // resnet has one resolution: area-depth (the default) and area give the same vectors, so a
    // run written under either resumes under the other; scaled does not.
    other = o;
    other.res_encoding = ResEncoding::Area;
    EXPECT_NO_THROW(run_esm_loop(s, other, *src));
    other.res_encoding = ResEncoding::Scaled;
    expect_refused(s, other, *src, "holds a run with res_encoding = area, this run asks res_encoding = scaled");
    // How the network trains is part of it too: a resume retrains every iteration.
    other = o;
    other.mlp.relative_loss = true;
    expect_refused(s, other, *src, " relative_loss=0 seed=1 drift_correction=1, this run asks training = ");
    // A replay dataset from before its header described the space still resumes.
    {
        std::ifstream in(out + "/dataset.csv");
        std::string text, line;
        while (std::getline(in, line))
            if (line.rfind("# space_line:", 0) != 0 && line.rfind("# format:", 0) != 0) text += line + "\n";
        in.close();
        std::ofstream(out + "/dataset.csv") << text;
    }
    EXPECT_NO_THROW(run_esm_loop(s, o, *src));
    // ... but not as another space of the same name (space.txt says which), nor while another
    // run writes the directory: both refused before anything is written.
    Space wider = s;
    wider.units[0].width *= 2;
    auto wider_src = make_pool_source(wider, pool, "lat");
    expect_refused(wider, o, *wider_src, "holds a run of another description of space 'resnet' (line ");
    {
        const int dir = ::open(out.c_str(), O_RDONLY | O_DIRECTORY);  // as another run holds it
        ASSERT_GE(dir, 0);
        ASSERT_EQ(::flock(dir, LOCK_EX), 0);
        expect_refused(s, o, *src, "is being written by another run right now");
        ::close(dir);
        DatasetWriter running(out + "/dataset.csv", src->header(), false);  // another tool on its dataset
        expect_refused(s, o, *src, "is being written by another process");
    }
    // A directory from before the training options were recorded resumes under any.
    {
        std::ifstream in(out + "/settings.txt");
        std::string text, line;
        while (std::getline(in, line))
            if (line.rfind("# training:", 0) != 0) text += line + "\n";
        in.close();
        std::ofstream(out + "/settings.txt") << text;
    }
    EXPECT_NO_THROW(run_esm_loop(s, other, *src));
    auto runner = make_runner_source(s, {"echo 1", "", 10});
    expect_refused(s, o, *runner, "measured under other settings and is left untouched");
    // A runner header's quality-control threshold tells thresholds apart that six decimals
    // did not (1e-6 and 1.4e-6 were both 0.000001: a rerun under the other resumed).
    MeasureProtocol fine;
    fine.qc_threshold = 1.4e-6;
    std::string qc;
    for (const auto& kv : make_runner_source(s, {"echo 1", "", 10}, fine)->header())
        if (kv.first == "qc_threshold") qc = kv.second;
    EXPECT_EQ(qc, "1.4e-06");
    EXPECT_THROW(run_esm_loop(s, [&] { auto b = o; b.w1 = b.w2 = 0; b.out_dir = tmp_dir("w"); return b; }(), *src), Error);
    // Bin-wise, a test set smaller than the bins would leave a bin unjudged.
    LoopOptions few = o;
    few.test_size = 4;
    few.out_dir = tmp_dir("few");
    expect_refused(s, few, *src, "needs a test set of at least N_bins (5)");
    few.binwise = false;
    EXPECT_NO_THROW(run_esm_loop(s, few, *src));
}

// A predictor of another device of the space, whose latency is f(this device's): trained
// on 800 sampled archs.
std::shared_ptr<const Predictor> other_device(const Space& s, const std::function<double(double)>& f,
                                              bool log_target = false) {
    LatencyData d;
    Sampler sm(s, 7);
    for (const Arch& a : sm.sample(Strategy::Random, 800, 5)) {
        d.latency.push_back(f(synthetic_latency(s, a)));
        d.archs.push_back(a);
    }
    TrainConfig cfg;
    cfg.mlp.linear_skip = true;
    cfg.mlp.epochs = 20;
    cfg.mlp.min_steps = 0;
    cfg.mlp.log_target = log_target;
    return std::make_shared<const Predictor>(train_predictor(s, d, cfg));
}

// With a base predictor of a proportional device (latency 0.5 x this one's + 0.2 ms), the
// loop calibrates it on its 10 initial samples and stops there; without it, a network on
// the same 10 samples is far from the threshold. A base that falls where this device
// rises gives no slope: the loop trains its own network. A resumed run must use the same
// base; a directory written before bases existed resumes without one.
TEST(Loop, BaseFromAnotherDeviceCalibratesFromTheInitialSamples) {
    Replay replay("base", 600);
    auto& [s, out, pool, src, o] = replay;
    o.n_initial = 10;
    o.n_step = 10;
    o.max_iterations = 1;
    o.bases = {other_device(s, [](double t) { return 0.5 * t + 0.2; })};
    LoopResult r = run_esm_loop(s, o, *src);
    ASSERT_EQ(r.iterations.size(), 1u);
    EXPECT_TRUE(r.converged) << r.stop_reason;
    EXPECT_EQ(r.iterations[0].train_samples, 10);
    EXPECT_EQ(r.iterations[0].model.rfind("calibrated base: latency = ", 0), 0u) << r.iterations[0].model;
    Predictor p = Predictor::load(r.predictor_path, s);
    Sampler sm(s, 5);
    double err = 0;
    const auto probe = sm.sample(Strategy::Balanced, 200, 5);
    for (const Arch& a : probe) err += std::fabs(p.predict(a) / synthetic_latency(s, a) - 1);
    EXPECT_LT(err / probe.size(), 0.02);
    std::ifstream rep(r.report_path);
    const std::string json((std::istreambuf_iterator<char>(rep)), std::istreambuf_iterator<char>());
    EXPECT_NE(json.find("\"model\": \"calibrated base: latency = "), std::string::npos);

    LoopOptions plain = o;
    plain.bases.clear();
    plain.out_dir = tmp_dir("base_none");
    LoopResult rp = run_esm_loop(s, plain, *src);
    EXPECT_FALSE(rp.converged);
    EXPECT_EQ(rp.iterations[0].model, "network");
    EXPECT_LT(rp.iterations[0].metrics.overall.accuracy, r.iterations[0].metrics.overall.accuracy - 5);

    LoopOptions falling = o;
    falling.bases = {other_device(s, [](double t) { return 100 - t; })};
    falling.out_dir = tmp_dir("base_falling");
    LoopResult rf = run_esm_loop(s, falling, *src);
    EXPECT_EQ(rf.iterations[0].model, "network");
    EXPECT_EQ(rf.iterations[0].train_samples, 10);

    // Of a falling base and the proportional one, the loop calibrates the second.
    LoopOptions both = o;
    both.bases = {falling.bases[0], o.bases[0]};
    both.out_dir = tmp_dir("base_both");
    LoopResult rb = run_esm_loop(s, both, *src);
    EXPECT_TRUE(rb.converged);
    EXPECT_EQ(rb.iterations[0].model.rfind("calibrated base 2 of 2: latency = ", 0), 0u) << rb.iterations[0].model;

    falling.out_dir = out;
    expect_refused(s, falling, *src, "holds a run with base = ");
    expect_refused(s, falling, *src, "(each --base predictor by a hash of its content: another file, or one changed since)");
    // settings.txt without the base line (an older run, which ended with a line "key"):
    // resumes with no base.
    std::ifstream st(plain.out_dir + "/settings.txt");
    std::string text, line;
    while (std::getline(st, line))
        if (line.rfind("# base:", 0) != 0) text += line + "\n";
    EXPECT_EQ(text.find("\nkey\n"), std::string::npos) << "settings.txt has only '# key: value' lines";
    write_file_atomic(plain.out_dir + "/settings.txt", text + "key\n");
    EXPECT_NO_THROW(run_esm_loop(s, plain, *src));
    LoopOptions late = o;  // a base on a run made without one
    late.out_dir = plain.out_dir;
    EXPECT_THROW(run_esm_loop(s, late, *src), Error);

    LoopOptions wrong = o;
    wrong.out_dir = tmp_dir("base_space");
    wrong.bases = {other_device(preset("mobilenetv3"), [](double t) { return t; })};
    EXPECT_THROW(run_esm_loop(s, wrong, *src), Error);

    // esm-build --base: loads the file for this space, or says why not.
    o.bases[0]->save(out + "_pool/base.esm");
    wrong.bases[0]->save(out + "_pool/wrong.esm");
    const std::string args = "--space resnet --pool " + pool + " --target lat --initial 10 --step 10 --test-size 40 --acc 97 ";
    const std::string tool_out = tmp_dir("base_tool");
    ToolResult t = run_tool("esm-build", args + "--base " + out + "_pool/base.esm -o " + tool_out);
    EXPECT_EQ(t.status, 0) << t.err;
    EXPECT_NE(t.err.find("iteration 0: 10 train"), std::string::npos) << t.err;
    EXPECT_NE(t.err.find("calibrated base: latency = "), std::string::npos) << t.err;
    // Scored on its own dataset (training rows among them), esm-eval says so, rerun or not.
    for (int run = 0; run < 2; ++run) {
        if (run) run_tool("esm-build", args + "--base " + out + "_pool/base.esm -o " + tool_out);
        ToolResult e = run_tool("esm-eval", tool_out + "/predictor.esm " + tool_out + "/dataset.csv");
        EXPECT_NE(e.err.find("was trained on rows of this dataset"), std::string::npos) << run << e.err;
    }
    t = run_tool("esm-build", args + "--base " + out + "_pool/wrong.esm -o " + tmp_dir("base_tool_wrong"));
    EXPECT_EQ(t.status, 1);
    EXPECT_NE(t.err.find("wrong.esm: the predictor was trained for space 'mobilenetv3', not 'resnet'"), std::string::npos) << t.err;

    // The calibrated base the loop keeps is saved with the loop's bins, those of the metrics
    // it carries (docs/predictor_format.md: `bins`, the depth bins of its metrics), not the
    // base's 5: predictor.esm said `bins 5` over 3-bin metrics, and esm-eval scored it in 5.
    ASSERT_EQ(o.bases[0]->n_bins, 5);
    const std::string bins_out = tmp_dir("base_tool_bins");
    t = run_tool("esm-build", args + "--bins 3 --base " + out + "_pool/base.esm -o " + bins_out);
    ASSERT_EQ(t.status, 0) << t.err;
    ASSERT_NE(t.err.find("calibrated base: latency = "), std::string::npos) << t.err;
    const Predictor kept = Predictor::load(bins_out + "/predictor.esm", s);
    EXPECT_EQ(kept.n_bins, 3);
    EXPECT_NE(kept.metrics_json.find("\"n_bins\": 3,"), std::string::npos) << kept.metrics_json;

    // A base that regresses log latency is refused, named: by its place in LoopOptions::bases,
    // by its file in esm-build (the message named neither: which of several?).
    LoopOptions logt = o;
    logt.out_dir = tmp_dir("base_log");
    logt.bases = {o.bases[0], other_device(s, [](double t) { return t; }, true)};
    expect_refused(s, logt, *src, "LoopOptions::bases[1], a base predictor, regresses log latency");
    logt.bases[1]->save(out + "_pool/logt.esm");
    t = run_tool("esm-build", args + "--base " + out + "_pool/base.esm," + out + "_pool/logt.esm -o " + tmp_dir("base_tool_log"));
    EXPECT_EQ(t.status, 1);
    EXPECT_NE(t.err.find("--base " + out + "_pool/logt.esm regresses log latency"), std::string::npos) << t.err;
}

// A base device that is not proportional to this one (its latency the square root of this
// one's): calibrated on 30 samples it misses a 99 % threshold; the loop then fine-tunes the
// calibrated base's network on the samples and keeps that (so it beat the calibrated base alone
// in the worst bin), by more than 10 points above a network trained on the same samples
// without a base (95.8 against 71.8 % when written).
TEST(Loop, BaseThatCalibrationMissesIsFineTuned) {
    Replay replay("finetune", 600);
    auto& [s, out, pool, src, o] = replay;
    o.n_initial = 30;
    o.max_iterations = 1;
    o.acc_th = 99;
    o.bases = {other_device(s, [](double t) { return std::sqrt(t); })};
    LoopResult r = run_esm_loop(s, o, *src);
    ASSERT_EQ(r.iterations.size(), 1u);
    const IterationReport& it = r.iterations[0];
    EXPECT_EQ(it.model.rfind("fine-tuned calibrated base: latency = ", 0), 0u) << it.model;

    LoopOptions plain = o;
    plain.bases.clear();
    plain.out_dir = tmp_dir("finetune_none");
    LoopResult rp = run_esm_loop(s, plain, *src);
    EXPECT_GT(it.metrics.worst_bin_accuracy(), rp.iterations[0].metrics.worst_bin_accuracy() + 10);
}

TEST(Loop, ReferenceQualityControlStopsADriftingDevice) {
    // A device that slows by 10 % after its first 16 measurements (6 of them the baselines:
    // three passes over the two references): the references measured after the first batch
    // moved more than 3 %, every retry too, so the loop stops with a clear error instead of
    // keeping drifted samples; what passed QC before is on disk.
    Space s = preset("densenet");
    const std::string out = tmp_dir("drift");
    const std::string counter = out + "_count";
    std::ofstream(counter) << 0;
    const std::string runner = "n=$(cat " + counter + "); echo $((n+1)) > " + counter +
                               "; if [ $n -ge 16 ]; then echo $(( ${#1} * 11 )); else echo ${#1}0; fi";
    MeasureProtocol p;
    p.refs = 2;
    p.qc_batch = 5;
    p.qc_retries = 1;
    auto src = make_runner_source(s, {runner, out + "/space.txt", 10}, p);
    LoopOptions o = small_options(out);
    o.n_initial = 20;
    o.test_size = 5;
    expect_error(s, o, *src, "quality control failed");  // mid-run: what it measured is kept
    EXPECT_EQ(rows_of_kind(out + "/dataset.csv", "ref").size(), 4u);     // 2 baselines + 2 after batch 1
    EXPECT_EQ(rows_of_kind(out + "/dataset.csv", "sample").size(), 5u);  // only the batch that passed QC
    // Every measurement is on disk, confirmed or not: batch 1 once, batch 2 twice (1 retry).
    EXPECT_EQ(rows_of_kind(out + "/dataset.csv", "pending").size(), 15u);
}

// A device whose latency is the arch text's length (additive over blocks) times a speed that
// falls steadily, 0.2 % per measurement: about 23 % over the run, within the relaxed QC
// threshold. Each sample's reading over its length, its true speed, spreads by that much;
// divided by the drift factors of the references around its batch, by less than 2 % (the
// batch's own span, 5 samples between re-measurements, and the baselines' three passes).
// The loop trains and evaluates on the corrected latencies by default, so its predictor is
// more accurate than without them.
TEST(Loop, DriftCorrectionTrainsOnTheDevicesSteadySpeed) {
    Space s = preset("densenet");
    auto run = [&](bool correct, LoopResult* res) {
        const std::string out = tmp_dir(correct ? "drift_on" : "drift_off");
        auto src = drifting_runner(s, out, 0.002);
        LoopOptions o = small_options(out);
        o.n_initial = 40;
        o.test_size = 20;
        o.max_iterations = 1;
        o.drift_correction = correct;
        *res = run_esm_loop(s, o, *src);
        return out + "/dataset.csv";
    };
    LoopResult on, off;
    const std::string data = run(true, &on);
    run(false, &off);
    // Speed = latency / (length / 10): raw readings, then corrected.
    auto spread = [&](bool correct) {
        const LatencyData d = read_latency_data(data, s, "", correct);
        double lo = 1e30, hi = 0;
        for (size_t i = 0; i < d.size(); ++i) {
            const double speed = d.latency[i] / (format_arch(s, d.archs[i]).size() / 10.0);
            lo = std::min(lo, speed);
            hi = std::max(hi, speed);
        }
        return hi / lo;
    };
    EXPECT_GT(spread(false), 1.15);
    EXPECT_LT(spread(true), 1.02);
    const IterationReport& a = on.iterations.at(0);
    EXPECT_LT(a.drift.lo, 0.92);
    EXPECT_GT(a.drift.hi, 1.08);
    const IterationReport& b = off.iterations.at(0);
    EXPECT_EQ(b.drift.lo, 1.0);
    EXPECT_EQ(b.drift.hi, 1.0);
    std::printf("accuracy with drift correction %.2f %%, without %.2f %%\n", a.metrics.overall.accuracy,
                b.metrics.overall.accuracy);
    EXPECT_GT(a.metrics.overall.accuracy, b.metrics.overall.accuracy + 2);
    std::ifstream report(on.report_path);
    const std::string json((std::istreambuf_iterator<char>(report)), std::istreambuf_iterator<char>());
    EXPECT_NE(json.find("\"drift_correction\": true"), std::string::npos);
}

// A real measuring run of esm-build (CPU executor, tiny resolution and protocol) killed
// with SIGKILL mid-way, then rerun: every sample exactly once, the job finished.
TEST(Loop, KilledEsmBuildResumesWithEverySampleOnce) {
    const std::string out = tmp_dir("kill");
    const std::string cmd = "--space mobilenetv3 --device cpu --res 32 --warmup 1 --runs 3 --refs 0 "
                            "--initial 30 --step 10 --test-size 10 --acc 100 --max-iterations 2 --epochs 5 -o " + out;
    // Start it in the background, wait until some samples are on disk, then kill -9 (and
    // reap it: its file lock goes with it, which takes a while under the sanitizers).
    const pid_t pid = spawn_tool("esm-build", cmd);
    ASSERT_GT(pid, 0);
    const std::string data = out + "/dataset.csv";
    bool some = false;
    for (int i = 0; i < 600 && !some; ++i) {
        usleep(20000);
        std::ifstream in(data);
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        some = all.find(",sample,") != std::string::npos;
    }
    kill(pid, SIGKILL);
    wait_status(pid);
    ASSERT_TRUE(some) << "esm-build wrote no sample within 12 s";
    const size_t before = column(data, "arch").size();
    EXPECT_LT(before, column(out + "/plans.csv", "arch").size()) << "killed too late to test a resume";
    ToolResult r = run_tool("esm-build", cmd);
    EXPECT_EQ(r.status, 3) << r.err;  // Acc_TH 100 % is never met: stopped by the iteration budget
    Table t = read_table(data);
    std::set<std::string> samples;  // kept or dropped by the outlier rule: each exactly once
    for (const auto& row : t.rows) {
        if (row[5] == "sample" || row[5] == "dropped") {
            EXPECT_TRUE(samples.insert(row[0]).second) << "measured twice: " << row[0];
        }
    }
    const auto planned = column(out + "/plans.csv", "arch");
    EXPECT_EQ(samples, std::set<std::string>(planned.begin(), planned.end()));
    EXPECT_GE(t.rows.size(), before);
    EXPECT_NE(r.out.find("predictor  " + out + "/predictor.esm"), std::string::npos) << r.out;
    // Bin-wise: the summary names the worst bin too, both in %g (97.996 printed as 98.00 beside
    // "stopped" once).
    EXPECT_TRUE(std::regex_search(r.out, std::regex("test accuracy [0-9.e+-]+ %, worst bin [0-9.e+-]+ %\n"))) << r.out;
}

// A sample measured just before a crash is durable at once ("pending") and, when the
// references still agree on the rerun, kept without measuring it again.
TEST(Loop, SamplesMeasuredBeforeACrashAreNotMeasuredAgain) {
    Space s = preset("densenet");
    const std::string out = tmp_dir("pending");
    const std::string log = out + "_calls", flag = out + "_down";
    std::ofstream(log) << "";
    std::ofstream(flag) << 1;
    // Logs every call's arch; dies on its 18th call while the flag exists.
    const std::string runner = "echo \"$1\" >> " + log + "; n=$(wc -l < " + log + "); [ -e " + flag +
                               " ] && [ $n -ge 18 ] && exit 1; echo \"${#1}.5\"";
    MeasureProtocol p;
    p.refs = 1;
    p.qc_batch = 10;
    LoopOptions o = small_options(out);
    o.n_initial = 30;
    o.test_size = 10;
    o.max_iterations = 1;
    o.mlp.epochs = 5;
    o.mlp.min_steps = 0;
    {
        auto src = make_runner_source(s, {runner, out + "/space.txt", 10}, p);
        EXPECT_THROW(run_esm_loop(s, o, *src), Error);
    }
    // Calls 1-3: the reference's baseline (three passes); 4-13: batch 1; 14: the reference;
    // 15-17: measured, then the crash.
    Table before = read_table(out + "/dataset.csv");
    int pending = 0;
    for (const auto& r : before.rows) pending += r[5] == "pending";
    EXPECT_EQ(pending, 13);  // 10 confirmed since, 3 still pending
    // The last of them spread its runs by 50 %: an outlier's measurement, which its batch
    // never judged, so the rerun measures it again instead of keeping it.
    std::string noisy;
    {
        std::ifstream in(out + "/dataset.csv");
        std::vector<std::string> lines;
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        for (size_t i = lines.size(); i-- > 0;)
            if (lines[i].find(",pending,") != std::string::npos) {
                std::vector<std::string> f;
                std::stringstream row(lines[i]);
                for (std::string v; std::getline(row, v, ',');) f.push_back(v);
                noisy = f[0];
                f[3] = std::to_string(std::stod(f[2]) / 2);
                lines[i] = f[0];
                for (size_t j = 1; j < f.size(); ++j) lines[i] += ',' + f[j];
                break;
            }
        std::ofstream o2(out + "/dataset.csv");
        for (const auto& line : lines) o2 << line << '\n';
    }
    std::remove(flag.c_str());
    auto src = make_runner_source(s, {runner, out + "/space.txt", 10}, p);
    run_esm_loop(s, o, *src);
    // Every planned sample was passed to the device exactly once, except the one whose
    // call crashed and the noisy one; the reference is measured more often by design.
    Table t = read_table(out + "/dataset.csv");
    std::set<std::string> refs;
    for (const auto& r : t.rows)
        if (r[5] == "ref") refs.insert(r[0]);
    std::map<std::string, int> calls;
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);)
        if (!refs.count(line)) calls[line]++;
    const auto planned = column(out + "/plans.csv", "arch");
    ASSERT_EQ(calls.size(), planned.size());
    int twice = 0;
    for (const auto& kv : calls) {
        EXPECT_LE(kv.second, 2) << kv.first;
        twice += kv.second == 2;
    }
    EXPECT_EQ(twice, 2);  // the call that crashed and the noisy pending measurement
    EXPECT_EQ(calls[noisy], 2);
    std::set<std::string> samples;
    for (const auto& r : t.rows) {
        if (r[5] == "sample") {
            EXPECT_TRUE(samples.insert(r[0]).second);
        }
    }
    EXPECT_EQ(samples.size(), planned.size());
}

// The example runner of docs/runner.md, called as documented: esm-build measures through it
// (it measures with esm-measure on the CPU) and every planned sample lands in the dataset.
TEST(Loop, ExampleRunnerScriptWorksAsDocumented) {
    const std::string out = tmp_dir("example_runner");
    const std::string parent = out.substr(0, out.rfind('/')), name = out.substr(out.rfind('/') + 1);
    const std::string cmd = "cd '" + parent + "' && ESM_MEASURE='" + tool_path("esm-measure") + "' " +
                            tool_path("esm-build") + " --space mobilenetv3 --runner '" + ESM_SOURCE_DIR +
                            "/examples/runner/cpu_runner.sh \"$1\" \"$2\"' --refs 0 --initial 6 --step 5 "
                            "--test-size 5 --max-iterations 1 --epochs 5 --min-steps 0 -o " + name +
                            " > /dev/null 2> " + out + ".err";
    const int st = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 3) << slurp(out + ".err");  // iteration budget
    const auto samples = rows_of_kind(out + "/dataset.csv", "sample");
    EXPECT_EQ(samples.size(), 11u) << slurp(out + ".err");
    for (const auto& lat : column(out + "/dataset.csv", "latency_ms")) EXPECT_GT(std::stod(lat), 0.0);
}

// Rerunning a finished directory replays every iteration's training on the latencies it had
// then: with drift correction, references measured later must not move earlier factors.
TEST(Loop, ResumedRunRetrainsEachIterationOnTheSameData) {
    Space s = preset("densenet");
    const std::string out = tmp_dir("replay_same");
    auto src = drifting_runner(s, out, 0.004);
    LoopOptions o = small_options(out);
    o.n_initial = 30;
    o.n_step = 20;
    o.test_size = 10;
    o.acc_th = 100;
    o.max_iterations = 2;
    const LoopResult first = run_esm_loop(s, o, *src);
    ASSERT_EQ(first.iterations.size(), 2u);
    const LoopResult again = run_esm_loop(s, o, *src);
    ASSERT_EQ(again.iterations.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(again.iterations[i].metrics.overall.accuracy, first.iterations[i].metrics.overall.accuracy) << i;
        EXPECT_EQ(again.iterations[i].drift.lo, first.iterations[i].drift.lo) << i;
        EXPECT_EQ(again.iterations[i].drift.hi, first.iterations[i].drift.hi) << i;
    }
    EXPECT_NE(first.iterations[0].drift.hi, first.iterations[1].drift.hi);  // the factors did move
    // The plots' titles name the runner, cut to fit the 720-pixel width.
    const std::string svg = slurp(out + "/plots/curve.svg");
    const size_t at = svg.find("font-size=\"15\">") + 15;
    const std::string title = svg.substr(at, svg.find("</text>", at) - at);
    EXPECT_EQ(title.rfind("densenet via n=$(cat ", 0), 0u) << title;
    const std::string end = "...: accuracy vs training samples";
    ASSERT_GT(title.size(), end.size()) << title;
    EXPECT_EQ(title.substr(title.size() - end.size()), end) << title;
    EXPECT_LE(title.size(), 48u + 31u) << title;
}

// A dataset whose references were drawn otherwise (an older esm-measure's draw) and cut
// short keeps its count: only the references it lacks are drawn and measured.
TEST(Loop, ResumedReferencesFillOnlyWhatTheFileLacks) {
    Space s = preset("mobilenetv3");
    MeasureProtocol p;
    p.refs = 4;
    auto src = make_runner_source(s, {"echo 2.5", "", 10}, p);
    const std::string path = tmp_dir("refs_lacking") + ".csv";
    std::remove(path.c_str());
    {
        DatasetWriter w(path, src->header(), false);
        Sampler other(s, 999);
        for (const Arch& a : other.sample(Strategy::Random, 2, 1))
            w.append({format_arch(s, a), a.depth(), {3.0, 0.0, 1}, "ref", ""});
    }
    DatasetWriter w(path, src->header(), false);
    src->resume(w.existing());
    std::map<std::string, int> kinds;
    std::set<std::string> new_refs;
    src->measure({}, [&](const DatasetRow& r) {
        ++kinds[r.kind];
        if (r.kind == "ref") new_refs.insert(r.arch);
    });
    EXPECT_EQ(kinds["baseline"], 6);  // 2 references x 3 passes
    EXPECT_EQ(new_refs.size(), 2u);
}

// A batch that fails quality control for good leaves its samples "rejected": the rerun
// measures them again, even when the references agree by then (their "pending" rows, taken
// while a reference was known to be off, were once confirmed as samples on the rerun).
// Three sample archs and a runner that reads their latency from DIR/sample_ms (5) and the
// one reference's from 10 ms for its three baseline passes, then DIR/ref_ms (10.5: 5 % off,
// a batch fails); one retry.
struct QcScript {
    Space s = preset("mobilenetv3");
    std::string dir, path, runner;
    std::vector<std::string> archs;
    MeasureProtocol p;
    explicit QcScript(const std::string& name) : dir(tmp_dir(name)), path(dir + "/dataset.csv") {
        std::system(("mkdir -p '" + dir + "'").c_str());
        Sampler sm(s, 5);
        std::ofstream list(dir + "/samples.txt");
        for (const Arch& a : sm.sample(Strategy::Random, 3, 1)) {
            archs.push_back(format_arch(s, a));
            list << archs.back() << "\n";
        }
        std::ofstream(dir + "/sample_ms") << "5\n";
        std::ofstream(dir + "/ref_ms") << "10.5\n";
        runner = "d=" + dir + "; if grep -qxF \"$1\" $d/samples.txt; then cat $d/sample_ms; exit 0; fi; "
                 "n=$(cat $d/ref_count 2>/dev/null || echo 0); n=$((n+1)); echo $n > $d/ref_count; "
                 "if [ $n -le 3 ]; then echo 10; else cat $d/ref_ms; fi";
        p.refs = 1;
        p.qc_retries = 1;
    }
    // The references agree again and the samples read 6 (told from the first 5): measures
    // every arch; returns each one's sample latency.
    std::map<std::string, double> rerun() {
        std::ofstream(dir + "/sample_ms") << "6\n";
        std::ofstream(dir + "/ref_ms") << "10\n";
        auto src = make_runner_source(s, {runner, "", 10}, p);
        DatasetWriter w(path, src->header(), false);
        src->resume(w.existing());
        src->measure(archs, [&](const DatasetRow& r) { w.append(r); });
        const Table t = read_table(path);
        const int kind = t.require_column("kind"), arch = t.require_column("arch"), ms = t.require_column("latency_ms");
        std::map<std::string, double> sample;
        for (size_t i = 0; i < t.rows.size(); ++i)
            if (t.rows[i][kind] == "sample") sample[t.rows[i][arch]] = t.number(i, ms);
        return sample;
    }
};

TEST(Loop, FailedBatchIsMeasuredAgainOnTheRerun) {
    QcScript q("qc_rejected");
    auto& [s, dir, path, runner, archs, p] = q;
    {
        auto src = make_runner_source(s, {runner, "", 10}, p);
        DatasetWriter w(path, src->header(), false);
        src->resume(w.existing());
        EXPECT_THROW(src->measure(archs, [&](const DatasetRow& r) { w.append(r); }), Error);
        // As if a third attempt had measured the first sample before a kill: after a
        // rejection its "pending" row is not confirmed either.
        w.append({archs[0], parse_arch(s, archs[0]).depth(), {5.0, 0.0, 1}, "pending", ""});
    }
    const std::map<std::string, double> sample = q.rerun();
    EXPECT_EQ(rows_of_kind(path, "rejected").size(), 6u);  // 3 samples x 2 attempts
    ASSERT_EQ(sample.size(), 3u);
    for (const auto& [arch, ms] : sample) EXPECT_EQ(ms, 6.0) << arch << " kept from the failed batch";
}

// Killed between the "rejected" rows of a failed attempt (one append each): the attempt's
// other samples, left "pending" on disk, are not confirmed by the rerun either (they were, with
// the latencies measured while the reference was off).
TEST(Loop, KilledAmongARejectedAttemptsRowsConfirmsNoneOfIt) {
    QcScript q("qc_rejected_cut");
    auto& [s, dir, path, runner, archs, p] = q;
    {
        auto src = make_runner_source(s, {runner, "", 10}, p);
        DatasetWriter w(path, src->header(), false);
        src->resume(w.existing());
        int rejected = 0;
        EXPECT_THROW(src->measure(archs,
                                  [&](const DatasetRow& r) {
                                      if (r.kind == "rejected" && rejected++ == 1) throw Error(ErrorKind::Io, "killed");
                                      w.append(r);
                                  }),
                     Error);
    }
    EXPECT_EQ(rows_of_kind(path, "rejected").size(), 1u);
    EXPECT_EQ(rows_of_kind(path, "pending").size(), 3u);
    const std::map<std::string, double> sample = q.rerun();
    ASSERT_EQ(sample.size(), 3u);
    for (const auto& [a, v] : sample) EXPECT_EQ(v, 6.0) << a << " confirmed from the failed attempt";
}

// What a resume makes of an attempt's "rejected" rows, on rows written out: an attempt
// with one "rejected" row (a kill after it) has none of its "pending" samples confirmed; a
// later attempt cut short by a kill has all of them confirmed (no references: the check
// passes); and a "rejected" row after a "sample" row of the same attempt marks that sample's
// arch rejected again, so that its "pending" row of a later attempt is not confirmed.
// Confirmed samples keep their 5 ms; the others are measured again by the runner (7 ms).
TEST(Loop, ResumeJudgesEachAttemptByItsRejectedRows) {
    Space s = preset("mobilenetv3");
    MeasureProtocol p;
    p.refs = 0;
    p.qc_batch = 1000;
    auto src = make_runner_source(s, {"echo 7", "", 10}, p);
    const std::string path = tmp_dir("resume_rejected") + ".csv";
    std::remove(path.c_str());
    Sampler sm(s, 21);
    std::vector<std::string> a, b, c;
    for (const Arch& x : sm.sample(Strategy::Random, 70, 1))
        (a.size() < 40 ? a : b.size() < 25 ? b : c).push_back(format_arch(s, x));
    {
        DatasetWriter w(path, src->header(), false);
        auto row = [&](const std::string& arch, const char* kind) {
            w.append({arch, parse_arch(s, arch).depth(), {5.0, 0.0, 1}, kind, ""});
        };
        for (const auto& x : a) row(x, "pending");
        row(a[17], "rejected");  // killed after the attempt's first "rejected" row
        for (const auto& x : c) row(x, "pending");
        row(c[0], "rejected");
        row(c[1], "sample");
        row(c[2], "rejected");  // c[1] rejected again
        row(c[1], "pending");   // an attempt of c[1] alone, never rejected: not confirmed even so
        row(c[4], "sample");    // (ends that attempt)
        for (const auto& x : b) row(x, "pending");  // the last attempt, killed before its check
    }
    DatasetWriter w(path, src->header(), false);
    src->resume(w.existing());
    std::vector<std::string> all = a;
    all.insert(all.end(), b.begin(), b.end());
    all.insert(all.end(), c.begin(), c.end());
    std::map<std::string, double> got;
    src->measure(all, [&](const DatasetRow& r) {
        if (r.kind == "sample") got[r.arch] = r.stats.latency_ms;
    });
    ASSERT_EQ(got.size(), all.size());
    for (const auto& x : a) EXPECT_EQ(got[x], 7.0) << x << ": its attempt was rejected";
    for (const auto& x : b) EXPECT_EQ(got[x], 5.0) << x << ": its attempt was not rejected";
    for (const auto& x : c) EXPECT_EQ(got[x], 7.0) << x << ": its attempt was rejected";
}

// Killed while it measures its references' baselines, esm-build resumes them: every pass
// of every reference is on disk ("baseline") exactly once, none measured again.
TEST(Loop, KilledDuringTheBaselinesKeepsTheirPasses) {
    const std::string out = tmp_dir("kill_baselines"), data = out + "/dataset.csv";
    const std::string cmd = "--space mobilenetv3 --runner 'sleep 0.05; echo 2.5' --refs 4 --initial 6 --step 5 "
                            "--test-size 5 --max-iterations 1 --epochs 5 --min-steps 0 -o " + out;
    auto passes_on_disk = [&] {  // while it runs: a torn last line is possible
        std::ifstream in(data);
        std::string line;
        int n = 0;
        while (std::getline(in, line)) n += line.find(",baseline,") != std::string::npos;
        return n;
    };
    const pid_t pid = spawn_tool("esm-build", cmd);
    ASSERT_GT(pid, 0);
    for (int i = 0; i < 1000 && passes_on_disk() < 3; ++i) usleep(10000);
    kill(pid, SIGKILL);
    wait_status(pid);
    const int before = passes_on_disk();
    ASSERT_GE(before, 3) << "no baseline pass on disk within 10 s";
    ASSERT_LT(before, 12) << "killed after the baselines";
    ToolResult r = run_tool("esm-build", cmd);
    EXPECT_TRUE(r.status == 0 || r.status == 3) << r.err;  // converged, or the iteration budget
    std::map<std::string, int> per_ref;
    for (const auto& a : rows_of_kind(data, "baseline")) ++per_ref[a];
    EXPECT_EQ(per_ref.size(), 4u);
    for (const auto& [a, n] : per_ref) EXPECT_EQ(n, 3) << a;
    const auto refs = rows_of_kind(data, "ref");
    EXPECT_EQ(std::set<std::string>(refs.begin(), refs.begin() + std::min<size_t>(4, refs.size())).size(), 4u);
}

// Without a GPU, esm-build --device cuda fails before it writes anything: the same -o can
// then be used with the CPU (a header naming no GPU would bind the directory to it).
TEST(Loop, MissingGpuLeavesNoOutputDirectory) {
    if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present";
    const std::string out = tmp_dir("no_gpu");
    ToolResult r = run_tool("esm-build", "--space mobilenetv3 --device cuda --initial 4 --test-size 5 -o " + out);
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("backend cuda: "), std::string::npos) << r.err;
    struct stat st;
    EXPECT_NE(::stat(out.c_str(), &st), 0) << out << " was created";
}

// SIGTERM (or Ctrl-C) to esm-build stops the runner command it is waiting for too: the
// runner lives in its own process group, which the terminal's signals do not reach.
TEST(Loop, StoppingEsmBuildStopsItsRunner) {
    const std::string out = tmp_dir("stop_runner"), pid_file = out + "_runner_pid";
    std::remove(pid_file.c_str());
    const pid_t pid = spawn_tool("esm-build", "--space mobilenetv3 --refs 0 --initial 4 --test-size 5 --runner 'echo $$ > " +
                                                  pid_file + "; sleep 30; echo 1' -o " + out);
    pid_t runner = 0;
    for (int i = 0; i < 500 && runner <= 0; ++i) {
        usleep(20000);
        std::ifstream(pid_file) >> runner;
    }
    ASSERT_GT(runner, 0) << "the runner never started";
    auto alive = [](pid_t p) {  // a zombie, waiting for its new parent to reap it, counts as gone
        std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
        std::string s;
        std::getline(stat, s);
        const size_t paren = s.rfind(')');
        return !s.empty() && paren != std::string::npos && paren + 2 < s.size() && s[paren + 2] != 'Z';
    };
    EXPECT_TRUE(alive(runner));
    kill(pid, SIGTERM);
    const int st = wait_status(pid);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) << st;
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
        gone = !alive(runner);
        if (!gone) usleep(20000);
    }
    EXPECT_TRUE(gone) << "runner " << runner << " still runs after esm-build was stopped";
    if (!gone) kill(runner, SIGKILL);
}

// A space of 12 architectures (1 unit of 1-2 blocks, 3 kernels): a run that wants more than
// it holds ends cleanly, not with an error on every rerun; so does one whose extension
// plans nothing (w1 = 0 while every bin is below Acc_TH); sizes that cannot work are refused
// before anything is written.
TEST(Loop, SmallSpacesAndEmptyExtensionsEndCleanly) {
    const Space s = parse_space("name = tiny\nfamily = mobilenetv3\nunits = 1\nwidth = 16\nstride = 2\ndepth = 1-2\n"
                                "head = 64 128\nchoice k = 3 5 7\nchoice e = 3\n");
    MeasureProtocol no_refs;
    no_refs.refs = 0;
    auto src = make_runner_source(s, {"echo ${#1}", "", 10}, no_refs);
    LoopOptions o = small_options(tmp_dir("tiny"));
    o.n_bins = 2;
    o.n_initial = 2;
    o.n_step = 2;
    o.test_size = 2;
    o.acc_th = 100;  // never met
    o.max_iterations = 50;
    o.mlp.epochs = 5;
    o.mlp.min_steps = 0;
    LoopResult r = run_esm_loop(s, o, *src);
    EXPECT_FALSE(r.converged);
    EXPECT_NE(r.stop_reason.find("the space holds no unplanned architecture"), std::string::npos) << r.stop_reason;
    EXPECT_LT(r.iterations.size(), 50u);
    EXPECT_LE(column(o.out_dir + "/plans.csv", "arch").size(), 12u);
    EXPECT_NO_THROW(run_esm_loop(s, o, *src));  // and a rerun ends the same way

    o.out_dir = tmp_dir("tiny_w1");
    o.w1 = 0;
    r = run_esm_loop(s, o, *src);
    EXPECT_EQ(r.stop_reason, "the extension plans no sample (w1 = 0, w2 = 1)");
    EXPECT_EQ(r.iterations.size(), 1u);

    o.w1 = 2;
    o.out_dir = tmp_dir("tiny_big");
    o.test_size = 11;
    expect_refused(s, o, *src, "the space holds 12 architectures: too few for the test set (11) and 2 training samples");
    o.test_size = 2;
    o.max_samples = 3;
    expect_refused(s, o, *src, "the sample budget (3) must hold the test set (2) and at least 2 training samples");
    struct stat st;
    EXPECT_NE(::stat(o.out_dir.c_str(), &st), 0) << "a refused run wrote " << o.out_dir;
}
