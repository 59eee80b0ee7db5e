// esm-run: one forward pass of one architecture on the CPU executor; prints the output
// checksum and the time. --dump-dir writes input, output and every unfolded parameter as
// .npy plus manifest.txt. Not a latency measurement (esm-measure applies the protocol).
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "cli.hpp"
#include "protocol_cli.hpp"
#include "esm/common.hpp"
#include "esm/executor.hpp"
#include "esm/plan.hpp"
#include "esm/predictor.hpp"

static const char* kUsage =
    "usage: esm-run ARCH [--space S] [--res R] [--batch B] [--threads T] [--seed X] [--runs N] [--dump-dir D]\n"
    "Run one forward pass of ARCH on the CPU executor; print the output checksum and the time.\n"
    "  --space S     preset or description file (default: the preset named by ARCH's prefix)\n"
    "  --res R       input resolution (default: the space's; refused on an elastic space)\n"
    "  --batch B     batch size (default: the space's, 1)\n"
    "  --threads T   threads (default 1)\n"
    "  --seed X      seed of weights and input (default 1)\n"
    "  --runs N      timed forward passes after one warm-up; prints the fastest and mean (default 1)\n"
    "  --dump-dir D  write input.npy, output.npy, every parameter (.npy, '<f4', C order) and\n"
    "                manifest.txt (execution order: name, file, shape) into D\n";

namespace {

// NPY v1.0: magic, version, header length (little-endian u16), a padded dict, raw data.
void write_npy(const std::string& path, const std::vector<int>& shape, const float* data, size_t n) {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (size_t i = 0; i < shape.size(); ++i) dict += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
    dict += "), }";
    const size_t unpadded = 10 + dict.size() + 1;
    dict += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
    std::ofstream f(path, std::ios::binary);
    if (!f) throw esm::Error(esm::ErrorKind::Io, "cannot write " + path);
    const uint16_t len = static_cast<uint16_t>(dict.size());
    f.write("\x93NUMPY\x01\x00", 8);
    const char l[2] = {char(len & 0xff), char(len >> 8)};
    f.write(l, 2);
    f << dict;
    f.write(reinterpret_cast<const char*>(data), std::streamsize(n * sizeof(float)));
    if (!f) throw esm::Error(esm::ErrorKind::Io, "write failed: " + path);
}

std::string shape_text(const std::vector<int>& s) {
    std::string t;
    for (size_t i = 0; i < s.size(); ++i) t += (i ? "x" : "") + std::to_string(s[i]);
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    esm_cli::Args args(argc, argv, kUsage,
                       {{"--space", true}, {"--res", true}, {"--batch", true}, {"--threads", true}, {"--seed", true},
                        {"--runs", true}, {"--dump-dir", true}});
    return esm_cli::run_tool("esm-run", [&] {
        if (args.positional().size() != 1) args.usage_error("expected one architecture");
        const std::string text = args.positional()[0];
        const std::string space_name = args.get("--space", esm::arch_space_name(text));
        if (space_name.empty()) args.usage_error("no space: give --space or an architecture with a 'space:' prefix");
        esm::Space s = esm::load_space(space_name);
        esm::Arch a = esm::parse_arch(s, text);
        const int batch = static_cast<int>(args.get_int("--batch", s.default_batch, 1, 4096));
        const int res = esm_cli::measured_resolution(args, s);
        const int runs = static_cast<int>(args.get_int("--runs", 1, 1, 1000000));
        esm::ExecutorOptions o;
        o.threads = esm_cli::read_threads(args);
        o.seed = static_cast<uint64_t>(args.get_int("--seed", 1, 0, 0x7fffffffffffffffL));
        if (args.has("--dump-dir")) {  // after the usage checks (no directory left by a typo), before anything runs
            const std::string dir = args.get("--dump-dir");
            esm::make_directories(dir);
            if (::access(dir.c_str(), W_OK) != 0)  // else it would fail only after the run, its results printed
                args.fail("cannot write into --dump-dir '" + dir + "': " + std::strerror(errno));
        }
        esm::Plan p = esm::build_plan(s, a, batch, res);
        esm::Weights w = esm::make_weights(p, o.seed);
        auto ex = esm::Executor::create(p, w, o);
        std::vector<float> x = esm::make_input(p, o.seed);
        std::copy(x.begin(), x.end(), ex->input().data);
        ex->run();  // warm-up: thread pools, caches
        double best = 1e300, total = 0;
        for (int i = 0; i < runs; ++i) {
            auto t0 = std::chrono::steady_clock::now();
            ex->run();
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            best = std::min(best, ms);
            total += ms;
        }
        const esm::TensorView out = ex->output();
        double sum = 0, asum = 0;
        for (int64_t i = 0; i < out.size(); ++i) sum += out.data[i], asum += std::fabs(out.data[i]);
        std::printf("arch        %s\n", esm::format_arch(s, a).c_str());
        std::printf("input       %dx3x%dx%d\n", p.batch, p.res, p.res);
        std::printf("threads     %d\n", o.threads);
        std::printf("macs        %" PRId64 "\n", p.macs());
        std::printf("checksum    sum %.9g abs %.9g\n", sum, asum);
        std::printf("time_ms     %.4f (min of %d; mean %.4f)\n", best, runs, total / runs);
        std::printf("activation  %zu bytes: the reused buffers and the kernels' scratch (the buffers alone, "
                    "without reuse: %zu)\n",
                    ex->activation_bytes(), ex->unshared_activation_bytes());
        if (args.has("--dump-dir")) {
            const std::string dir = args.get("--dump-dir");
            std::ofstream man(dir + "/manifest.txt");
            if (!man) throw esm::Error(esm::ErrorKind::Io, "cannot write " + dir + "/manifest.txt");
            man << "# " << esm::format_arch(s, a) << " batch " << batch << " res " << p.res << " seed " << o.seed
                << "\n# name file shape (execution order; BN: weight=gamma, bias=beta, eps 1e-5)\n";
            const std::vector<int> in_shape{p.batch, 3, p.res, p.res};
            write_npy(dir + "/input.npy", in_shape, x.data(), x.size());
            man << "input input.npy " << shape_text(in_shape) << "\n";
            for (const auto& prm : esm::list_params(p, w)) {
                const std::string file = prm.name + ".npy";
                write_npy(dir + "/" + file, prm.shape, prm.data->data(), prm.data->size());
                man << prm.name << ' ' << file << ' ' << shape_text(prm.shape) << "\n";
            }
            const std::vector<int> out_shape{out.n, out.c};
            write_npy(dir + "/output.npy", out_shape, out.data, size_t(out.size()));
            man << "output output.npy " << shape_text(out_shape) << "\n";
            if (!man) throw esm::Error(esm::ErrorKind::Io, "write failed: " + dir + "/manifest.txt");
        }
        return 0;
    });
}
