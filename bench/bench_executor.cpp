// Benchmark of the CPU executor (docs/performance.md): latency of fixed architectures of
// every preset (largest, smallest, two random) at R=224, B=1, 1 and 2 threads, and the
// achieved GFLOP/s (2*MACs/time) against an OpenBLAS SGEMM peak measured in the same run:
// the peak is the best of 6 SGEMMs, so %peak compares the network's best run with it (like
// with like on a machine whose speed drifts), and also prints its median run's share.
// Prints figures, not pass/fail. `--results FILE` also writes machine-readable lines
// (preset, arch, threads, ms) for bench/torch_compare.py. Not a latency dataset.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_data.hpp"
#include "esm/executor.hpp"
#include "esm/sample.hpp"

using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Best of several 1536^3 SGEMMs with OpenBLAS's own threads (outside any OpenMP region).
static double sgemm_peak_gflops(int threads) {
    const int n = 1536;
    std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
    openblas_set_num_threads(threads);
    double best = 1e300;
    for (int i = 0; i < 6; ++i) {
        auto t0 = Clock::now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(),
                    n);
        best = std::min(best, ms_since(t0));
    }
    openblas_set_num_threads(1);
    return 2.0 * n * n * double(n) / (best * 1e-3) / 1e9;
}

static esm::Arch extreme(const esm::Space& s, bool largest) {
    esm::Arch a;
    for (const auto& u : s.units) {
        esm::BlockChoice c{};
        for (size_t i = 0; i < s.choices.size(); ++i)
            c[i] = static_cast<uint8_t>(largest ? s.choices[i].values.size() - 1 : 0);
        a.units.push_back(std::vector<esm::BlockChoice>(size_t(largest ? u.max_depth : u.min_depth), c));
    }
    a.res = 224;
    return a;
}

struct Timing {
    double median, best;
};

// Median and best of timed runs after warm-up; at least 5 runs, more while under ~1.5 s.
static Timing time_ms(esm::Executor& ex) {
    for (int i = 0; i < 3; ++i) ex.run();
    std::vector<double> t;
    const auto start = Clock::now();
    while (t.size() < 5 || (t.size() < 50 && ms_since(start) < 1500)) {
        auto t0 = Clock::now();
        ex.run();
        t.push_back(ms_since(t0));
    }
    std::sort(t.begin(), t.end());
    return {t[t.size() / 2], t[0]};
}

int main(int argc, char** argv) {
    std::string results;
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--results") && i + 1 < argc) results = argv[++i];
        else if (!std::strcmp(argv[i], "--quick")) quick = true;
        else {
            std::fprintf(stderr, "usage: bench_executor [--results FILE] [--quick]\n");
            return 2;
        }
    }
    std::FILE* out = results.empty() ? nullptr : std::fopen(results.c_str(), "w");
    print_kernels();
    std::printf("OpenBLAS config: %s\n", openblas_get_config());
    const double peak1 = sgemm_peak_gflops(1), peak2 = sgemm_peak_gflops(2);
    std::printf("SGEMM peak 1536^3: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (2 threads)\n", peak1, peak2);
    std::printf("%-12s %-6s %3s %10s %10s %9s %9s %7s %7s  %s\n", "preset", "which", "thr", "median_ms", "best_ms",
                "GMACs", "GFLOP/s", "%peak", "%p_med", "arch");
    for (const std::string name : {"resnet", "mobilenetv3", "densenet", "ofa-mbv3"}) {
        esm::Space s = esm::preset(name);
        std::vector<std::pair<std::string, esm::Arch>> archs = {{"small", extreme(s, false)}};
        if (!quick) archs.push_back({"large", extreme(s, true)});
        esm::Sampler sampler(s, 2024);
        for (int i = 0; i < (quick ? 1 : 2); ++i) archs.push_back({"random", sampler.random()});
        for (auto& [which, a] : archs) {
            a.res = s.elastic_resolution() ? 224 : a.res;
            const esm::Plan p = esm::build_plan(s, a, 1, 224);
            const std::string text = esm::format_arch(s, a);
            for (int threads : {1, 2}) {
                esm::ExecutorOptions o;
                o.threads = threads;
                auto ex = esm::Executor::create(p, o);
                const Timing tm = time_ms(*ex);
                const double ms = tm.median;
                const double gflops = 2.0 * double(p.macs()) / (tm.best * 1e-3) / 1e9;
                const double peak = threads == 1 ? peak1 : peak2;
                std::printf("%-12s %-6s %3d %10.3f %10.3f %9.3f %9.1f %6.1f%% %6.1f%%  %s\n", name.c_str(), which.c_str(),
                            threads, ms, tm.best, p.macs() / 1e9, gflops, 100.0 * gflops / peak,
                            100.0 * gflops * tm.best / ms / peak, text.c_str());
                std::fflush(stdout);
                if (out) std::fprintf(out, "%s %s %s %d %.6f\n", name.c_str(), which.c_str(), text.c_str(), threads, ms);
            }
        }
    }
    if (out) std::fclose(out);
    return 0;
}
