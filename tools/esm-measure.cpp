// esm-measure: measures architectures on the CPU executor under the ESM protocol (SPEC §5)
// into a dataset CSV (docs/dataset_format.md). Resumable: rerun after a kill and it skips
// what is in the file. Not the ESM loop (esm-build decides what to measure).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <unordered_set>

#include "cli.hpp"
#include "protocol_cli.hpp"
#include "esm/common.hpp"
#include "esm/dataset.hpp"
#include "esm/loop.hpp"
#include "esm/sample.hpp"

static const std::string kUsage = std::string(
    "usage: esm-measure --space S -o DATASET.csv [--archs FILE|-] [options]\n"
    "Measure each architecture (one per line, '#' comments allowed) on the CPU executor into\n"
    "DATASET.csv (pandas.read_csv(path, comment='#')). Rerunning resumes: archs already in the\n"
    "file are skipped; a file measured under other settings is refused and left untouched.\n"
    "  --space S          preset or description file (required)\n"
    "  --archs FILE|-     architectures (default '-': stdin)\n"
    "  -o DATASET.csv     output dataset (required)\n"
    "  --threads T        executor threads (default 1)\n"
    "  --res R            input resolution of a fixed-resolution space (default: the space's; on an\n"
    "                     elastic space each architecture's own @R, and --res is refused)\n"
    "  --batch B          batch size (default: the space's, 1)\n"
    "  --seed X           weights and reference-model draw (default 1)\n"
    "Measurement protocol:\n") +
    esm_cli::kProtocolUsage + std::string(
    "Each sample is on disk the moment it is measured: 'pending' until its\n"
    "batch's references confirm it ('sample'), or 'dropped' as an outlier (measured again on a\n"
    "rerun). Progress and ETA go to stderr; a summary line to stdout. Exit 1 when quality\n"
    "control still fails after the retries (the device is not stable: a rerun resumes).\n");

namespace {

std::vector<std::string> read_archs(const esm::Space& s, const std::string& src) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (src != "-") {
        file.open(src);
        if (!file) throw esm::Error(esm::ErrorKind::Io, "cannot read " + src + ": " + std::strerror(errno));
        in = &file;
    }
    std::vector<std::string> out;
    std::unordered_set<std::string> seen;
    std::string line;
    for (int n = 1; std::getline(*in, line); ++n) {
        const auto a = line.find_first_not_of(" \t\r"), b = line.find_last_not_of(" \t\r");
        if (a == std::string::npos || line[a] == '#') continue;
        std::string err;
        esm::Arch arch;
        if (!esm::try_parse_arch(s, line.substr(a, b - a + 1), &arch, &err))
            throw esm::Error(esm::ErrorKind::Parse, (src == "-" ? "stdin" : src) + ":" + std::to_string(n) + ": " + err);
        std::string text = esm::format_arch(s, arch);
        if (seen.insert(text).second) out.push_back(text);
    }
    return out;
}

std::string clock_text(double s) {
    char buf[32];
    const long t = static_cast<long>(s + 0.5);
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    esm_cli::Args args(argc, argv, kUsage,
                       esm_cli::with_protocol_options({{"--space", true}, {"--archs", true}, {"-o", true}, {"--threads", true},
                                                       {"--res", true}, {"--batch", true}, {"--seed", true}}));
    return esm_cli::run_tool("esm-measure", [&] {
        if (!args.positional().empty()) args.usage_error("unexpected argument '" + args.positional()[0] + "'");
        if (!args.has("--space")) args.usage_error("--space is required");
        if (!args.has("-o")) args.usage_error("-o DATASET.csv is required");
        const esm::Space space = esm::load_space(args.get("--space"));
        const esm::MeasureProtocol p = esm_cli::read_protocol(args);
        esm::ExecutorOptions o;
        o.threads = esm_cli::read_threads(args);
        o.seed = static_cast<uint64_t>(args.get_int("--seed", 1, 0, 0x7fffffffffffffffL));
        const int batch = static_cast<int>(args.get_int("--batch", space.default_batch, 1, 4096));
        const int res = esm_cli::measured_resolution(args, space);
        const int header_res = res ? res : space.elastic_resolution() ? 0 : space.default_resolution();
        const std::string path = args.get("-o");

        const std::vector<std::string> archs = read_archs(space, args.get("--archs", "-"));
        // The library's measuring source, as esm-build's: reference-model quality control,
        // every measurement on disk the moment it is taken (the references' "baseline"
        // passes, each sample "pending" until its batch's references confirm it), and a
        // killed run resumed from the rows it left. Refuses bad settings before the file.
        const auto src = esm::make_executor_source(space, batch, header_res, o, p, o.seed);
        esm::DatasetWriter out = [&] {  // the messages name the option too
            try {
                return esm::DatasetWriter(path, src->header());
            } catch (const esm::Error& e) {
                if (e.kind() != esm::ErrorKind::Io) throw;
                throw esm::Error(e.kind(), std::string("-o: ") + e.what());
            }
        }();
        src->resume(out.existing());

        std::vector<std::string> todo;
        for (const auto& a : archs)
            if (!out.has_sample(a)) todo.push_back(a);
        const size_t skipped = archs.size() - todo.size();
        if (skipped) std::fprintf(stderr, "resuming %s: %zu of %zu archs already measured\n", path.c_str(), skipped,
                                  archs.size());
        const auto t0 = std::chrono::steady_clock::now();
        size_t done = 0, dropped = 0;
        esm::MeasurePace pace(todo.size());  // the loop's ETA
        src->measure(todo, [&](const esm::DatasetRow& row) {
            out.append(row);
            if (row.kind == "ref" && done == 0)
                std::fprintf(stderr, "reference %s: %.4f ms\n", row.arch.c_str(), row.stats.latency_ms);
            pace.on_row(row);
            if (row.kind != "sample" && row.kind != "dropped") return;
            ++done;
            if (row.kind == "dropped") {
                ++dropped;
                std::fprintf(stderr, "dropped %s: spread %.1f%% stays an outlier after its re-measurements\n",
                             row.arch.c_str(), 100 * row.stats.spread());
            }
            const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::fprintf(stderr, "[%zu/%zu] %.4f ms %s  elapsed %s  ETA %s\n", skipped + done, archs.size(),
                         row.stats.latency_ms, row.arch.c_str(), clock_text(el).c_str(),
                         done == todo.size() ? clock_text(0).c_str() : pace.eta_s() < 0 ? "?" : clock_text(pace.eta_s()).c_str());
        });
        std::printf("%s: %zu measured, %zu dropped as outliers, %zu already present, %zu archs\n", path.c_str(),
                    done - dropped, dropped, skipped, archs.size());
        return 0;
    });
}
