// ESM loop benchmark (the paper's Fig. 11 on public data): replay on every batch-32/64
// column of HELP's OFA MobileNetV3 latencies, several seeds, Acc_TH bin-wise: how many
// training samples balanced and random sampling need. Prints a table and the ratios.
// With $ESM_BENCH_BASE=COLUMN[,COLUMN..]: predictors trained on those columns (all their rows,
// other devices) are the loop's bases (LoopOptions::bases), and the two runs compared per
// column are balanced with the bases and balanced without them.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench_data.hpp"
#include "esm/common.hpp"
#include "esm/loop.hpp"
#include "esm/table.hpp"
#include "esm/train.hpp"

int main(int argc, char** argv) {
    const std::string data = find_bench_data(argc, argv);
    if (!bench_exists(data)) {
        std::printf("bench_loop: %s not found; skipping (set ESM_DATA or pass the path)\n", data.c_str());
        return 0;
    }
    const int seeds = std::getenv("ESM_BENCH_SEEDS") ? std::atoi(std::getenv("ESM_BENCH_SEEDS")) : 5;
    // $ESM_BENCH_ACC: another Acc_TH, for columns where 98 % bin-wise is out of the MLP's reach.
    const double acc_th = std::getenv("ESM_BENCH_ACC") ? std::atof(std::getenv("ESM_BENCH_ACC")) : 98.0;
    // $ESM_BENCH_NI / $ESM_BENCH_NSTEP: another N_I / N_step (granularity of the comparison).
    const int n_initial = std::getenv("ESM_BENCH_NI") ? std::atoi(std::getenv("ESM_BENCH_NI")) : 300;
    const int n_step = std::getenv("ESM_BENCH_NSTEP") ? std::atoi(std::getenv("ESM_BENCH_NSTEP")) : 100;
    if (seeds < 1 || !(acc_th > 0 && acc_th <= 100) || n_initial < 2 || n_step < 1) {
        std::fprintf(stderr, "bench_loop: ESM_BENCH_SEEDS >= 1, ESM_BENCH_ACC in (0, 100], ESM_BENCH_NI >= 2 and "
                             "ESM_BENCH_NSTEP >= 1 (got %d, %g, %d, %d)\n", seeds, acc_th, n_initial, n_step);
        return 2;
    }
    try {
        esm::Space space = esm::preset("ofa-mbv3");
        esm::Table t = esm::read_table(data);
        std::vector<std::string> cols;
        // $ESM_BENCH_COLUMNS (comma-separated) limits the run to some columns.
        const std::string only = std::getenv("ESM_BENCH_COLUMNS") ? std::getenv("ESM_BENCH_COLUMNS") : "";
        for (const auto& c : t.columns)
            if ((c.find("_bs32_") != std::string::npos || c.find("_bs64_") != std::string::npos) &&
                (only.empty() || ("," + only + ",").find("," + c + ",") != std::string::npos))
                cols.push_back(c);
        for (size_t start = 0; start < only.size();) {  // a name that is no batch-32/64 column is said, not dropped
            const size_t comma = std::min(only.find(',', start), only.size());
            const std::string c = only.substr(start, comma - start);
            if (std::find(cols.begin(), cols.end(), c) == cols.end())
                std::fprintf(stderr, "bench_loop: ESM_BENCH_COLUMNS names '%s', not a batch-32/64 column of %s\n", c.c_str(),
                             data.c_str());
            start = comma + 1;
        }
        const std::string base_col = std::getenv("ESM_BENCH_BASE") ? std::getenv("ESM_BENCH_BASE") : "";
        std::vector<std::shared_ptr<const esm::Predictor>> bases;
        for (size_t start = 0; !base_col.empty();) {
            const size_t comma = base_col.find(',', start);
            const std::string c = base_col.substr(start, comma == std::string::npos ? comma : comma - start);
            esm::TrainConfig cfg;  // the loop's network settings
            cfg.res = esm::LoopOptions().res_encoding;
            cfg.mlp = esm::LoopOptions().mlp;
            const auto all = esm::latency_data_from_table(t, space, c);
            bases.push_back(std::make_shared<const esm::Predictor>(esm::train_predictor(space, all, cfg)));
            cols.erase(std::remove(cols.begin(), cols.end(), c), cols.end());
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        const bool base = !bases.empty();
        if (cols.empty()) {  // a misspelt ESM_BENCH_COLUMNS, or the base was the only column
            std::string known;
            for (const auto& c : t.columns)
                if (c.find("_bs32_") != std::string::npos || c.find("_bs64_") != std::string::npos) known += " " + c;
            std::fprintf(stderr, "bench_loop: no column to run (ESM_BENCH_COLUMNS '%s', ESM_BENCH_BASE '%s'); the batch-32/64 "
                                 "columns are:%s\n", only.c_str(), base_col.c_str(), known.c_str());
            return 2;
        }
        std::printf("replay on %s: %zu rows; N_I %d, N_step %d, w1 2, w2 1, test 200 balanced, FCC, bin-wise"
                    " Acc_TH %.0f %%, 5 bins, budget 4800 samples, %d seeds%s\n",
                    data.c_str(), t.rows.size(), n_initial, n_step, acc_th, seeds,
                    base ? (", comparing balanced with and without bases trained on " + base_col).c_str() : "");
        std::printf("%-20s %-9s %s\n", "column", "strategy", "training samples at convergence per seed (* = budget hit)");
        std::vector<double> ratios;
        const auto t0 = std::chrono::steady_clock::now();
        for (const auto& col : cols) {
            double med[2] = {0, 0};
            for (int st = 0; st < 2; ++st) {
                const esm::Strategy strategy = st == 0 || base ? esm::Strategy::Balanced : esm::Strategy::Random;
                const char* label = !base ? esm::strategy_name(strategy) : st == 0 ? "base" : "no-base";
                std::vector<double> need;
                std::string line;
                for (int seed = 1; seed <= seeds; ++seed) {
                    esm::LoopOptions o;
                    o.strategy = strategy;
                    o.acc_th = acc_th;
                    o.n_initial = n_initial;
                    o.n_step = n_step;
                    o.seed = static_cast<uint64_t>(seed);
                    o.max_samples = 5000;
                    o.max_iterations = 0;
                    if (st == 0) o.bases = bases;
                    o.out_dir = "/tmp/esm_bench_loop/" + col + "_" + label + "_" +
                                std::to_string(seed) + "_acc" + std::to_string(acc_th) + "_ni" +
                                std::to_string(n_initial) + "_" + std::to_string(n_step);
                    std::system(("rm -rf '" + o.out_dir + "'").c_str());
                    auto src = esm::make_pool_source(space, data, col);
                    esm::LoopResult r = esm::run_esm_loop(space, o, *src);
                    const int n = r.iterations.back().train_samples;
                    need.push_back(n);
                    line += " " + std::to_string(n) + (r.converged ? "" : "*");
                }
                std::sort(need.begin(), need.end());
                med[st] = need[need.size() / 2];
                std::printf("%-20s %-9s%s  (median %.0f)\n", col.c_str(), label, line.c_str(), med[st]);
                std::fflush(stdout);
            }
            ratios.push_back(med[0] / med[1]);
            std::printf("%-20s %s median ratio %.2f\n", col.c_str(), base ? "base/no-base" : "balanced/random", ratios.back());
        }
        std::sort(ratios.begin(), ratios.end());
        std::printf("median over columns of %s: %.2f%s  [%.0f s]\n", base ? "base/no-base" : "balanced/random",
                    ratios[ratios.size() / 2], base ? "" : " (target <= 0.5; paper: 500 vs 4000)",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_loop: %s\n", e.what());
        return 1;
    }
    return 0;
}
