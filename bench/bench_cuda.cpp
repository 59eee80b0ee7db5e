// Benchmark of the CUDA executor: for each SPEC §2 preset the largest, the smallest and a
// few seeded random architectures at R=224, B=1, timed with CUDA events (SPEC §5 trimmed
// mean). Prints a skip message and exits 0 without a device. Not the dataset protocol.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "esm/arch.hpp"
#include "esm/common.hpp"
#include "esm/cuda.hpp"
#include "esm/executor.hpp"
#include "esm/plan.hpp"
#include "esm/sample.hpp"
#include "esm/space.hpp"

using namespace esm;

namespace {

struct Case {
    std::string preset, label;
    Arch arch;
};

// Every unit at its max (or min) depth, every choice at its largest (or smallest) value.
Arch extreme(const Space& s, bool largest) {
    Arch a;
    a.res = s.default_resolution();
    BlockChoice c{};
    for (size_t i = 0; i < s.choices.size(); ++i) {
        const auto& v = s.choices[i].values;
        const auto it = largest ? std::max_element(v.begin(), v.end()) : std::min_element(v.begin(), v.end());
        c[i] = static_cast<uint8_t>(it - v.begin());
    }
    for (const UnitSpec& u : s.units) a.units.emplace_back(size_t(largest ? u.max_depth : u.min_depth), c);
    return a;
}

std::vector<Case> cases(int n_random) {
    std::vector<Case> out;
    for (const char* name : {"resnet", "mobilenetv3", "densenet"}) {
        const Space s = preset(name);
        out.push_back({name, "largest", extreme(s, true)});
        out.push_back({name, "smallest", extreme(s, false)});
        for (int seed = 1; seed <= n_random; ++seed)
            out.push_back({name, "random" + std::to_string(seed), Sampler(s, uint64_t(seed)).random()});
    }
    return out;
}

// SPEC §5: sort, drop the fastest and slowest 20 %, mean and std of the middle 60 %.
void trimmed(std::vector<double> t, double* mean, double* sd) {
    std::sort(t.begin(), t.end());
    const size_t lo = t.size() / 5, hi = t.size() - t.size() / 5;
    double s = 0, s2 = 0;
    for (size_t i = lo; i < hi; ++i) s += t[i];
    *mean = s / double(hi - lo);
    for (size_t i = lo; i < hi; ++i) s2 += (t[i] - *mean) * (t[i] - *mean);
    *sd = std::sqrt(s2 / double(hi - lo));
}

int usage() {
    std::fprintf(stderr,
                 "usage: bench_cuda [--list] [--csv FILE] [--runs N] [--warmup N] [--random N] [--tf32]\n"
                 "  --list   print the benchmark architectures (preset,label,arch,params,macs); no GPU needed\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    bool list = false, tf32 = false;
    int runs = 150, warmup = 10, n_random = 3;
    std::string csv;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : std::string(); };
        if (a == "--list")
            list = true;
        else if (a == "--tf32")
            tf32 = true;
        else if (a == "--csv")
            csv = next();
        else if (a == "--runs")
            runs = std::atoi(next().c_str());
        else if (a == "--warmup")
            warmup = std::atoi(next().c_str());
        else if (a == "--random")
            n_random = std::atoi(next().c_str());
        else
            return usage();
    }
    if (runs < 5 || warmup < 0 || n_random < 0) return usage();
    try {
        const std::vector<Case> all = cases(n_random);
        if (list) {
            std::printf("preset,label,arch,params,macs\n");
            for (const Case& c : all) {
                const Space s = preset(c.preset);
                const Plan plan = build_plan(s, c.arch, 1, 224);
                std::printf("%s,%s,%s,%lld,%lld\n", c.preset.c_str(), c.label.c_str(), format_arch(s, c.arch).c_str(),
                            static_cast<long long>(plan.params()), static_cast<long long>(plan.macs()));
            }
            return 0;
        }
        if (cuda::device_count() == 0) {
            std::printf("bench_cuda: skipped: %s\n", cuda::device_summary().c_str());
            return 0;
        }
        std::FILE* out = csv.empty() ? stdout : std::fopen(csv.c_str(), "w");
        if (!out) throw Error(ErrorKind::Io, "cannot write " + csv);
        std::fprintf(out,
                     "# libesm %s bench_cuda; %s; tf32=%d; batch=1; res=224; warmup=%d; runs=%d; trimmed 20%%/20%%\n",
                     version(), cuda::device_header(0).c_str(), tf32 ? 1 : 0, warmup, runs);
        std::fprintf(out, "preset,label,arch,params,macs,ms_mean,ms_std,activation_mib\n");
        for (const Case& c : all) {
            const Space s = preset(c.preset);
            const Plan plan = build_plan(s, c.arch, 1, 224);
            ExecutorOptions o;
            o.backend = Backend::Cuda;
            o.tf32 = tf32;
            auto ex = Executor::create(plan, o);
            TensorView in = ex->input();
            for (int64_t i = 0; i < in.size(); ++i) in.data[i] = float(std::sin(0.01 * double(i)));
            for (int i = 0; i < warmup; ++i) ex->timed_run_ms();
            std::vector<double> t;
            for (int i = 0; i < runs; ++i) t.push_back(ex->timed_run_ms());
            if (!ex->last_error().empty()) throw Error(ErrorKind::Internal, ex->last_error());
            double mean = 0, sd = 0;
            trimmed(t, &mean, &sd);
            std::fprintf(out, "%s,%s,%s,%lld,%lld,%.4f,%.4f,%.1f\n", c.preset.c_str(), c.label.c_str(),
                         format_arch(s, c.arch).c_str(), static_cast<long long>(plan.params()),
                         static_cast<long long>(plan.macs()), mean, sd, double(ex->activation_bytes()) / (1 << 20));
            std::fflush(out);
        }
        if (out != stdout) std::fclose(out);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_cuda: %s\n", e.what());
        return 1;
    }
    return 0;
}
