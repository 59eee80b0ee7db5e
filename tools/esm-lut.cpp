// esm-lut: the lookup-table baseline (SPEC §9, docs/lut.md): build a table by profiling
// every distinct segment on this machine's executor, and evaluate a table on a latency CSV
// like esm-eval. Public API only; not the MLP predictor (esm-train, esm-eval).
#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>

#include "cli.hpp"
#include "drift_cli.hpp"
#include "protocol_cli.hpp"
#include "esm/common.hpp"
#include "esm/dataset.hpp"
#include "esm/lut.hpp"
#include "esm/predictor.hpp"
#include "esm/train.hpp"

static const std::string kUsage = std::string(
    "usage: esm-lut build --space S [options] -o TABLE\n"
    "       esm-lut eval TABLE DATASET.csv [--target C] [--bins K] [--json FILE] [--no-profile] [--update]\n"
    "Lookup-table latency baseline: every distinct segment (stem, block or dense layer, transition,\n"
    "head) is profiled alone at its real input shape; a prediction is the sum over the arch's\n"
    "segments, optionally corrected by y = a*sum + b fitted on a training set.\n"
    "build:\n"
    "  --space S          preset or description file\n"
    "  --res R            input resolution of a fixed-resolution space (default: the space's;\n"
    "                     refused on an elastic space: each arch is profiled at its own @R)\n"
    "  --batch B          batch (default: the space's)\n"
    "  --device cpu|cuda  executor backend (default cpu)\n"
    "  --threads T        executor threads (default 1)\n"
    "  --warmup N --runs N  warm-up and timed runs per segment (default 10, 150; trimmed mean)\n"
    "  --seed X           weights seed (default 1)\n"
    "  --archs FILE       also profile the segments of these archs (one per line, '#' comments);\n"
    "                     DenseNet-family spaces need --archs or --fit: their keys are not enumerable\n"
    "  --fit DATASET.csv  profile its archs too, then fit the bias correction y = a*sum + b on it\n"
    "  --target C         the latency column of --fit (default latency_ms)\n"
    "  -o TABLE           output table file (written atomically at the end; until then each\n"
    "                     profiled segment is on disk in TABLE.journal: a killed build rerun with\n"
    "                     the same options profiles only the rest). An existing TABLE of the same\n"
    "                     settings is extended (its entries kept, only what it lacks profiled);\n"
    "                     one of other settings, or a file that is no table, is refused\n"
    "eval:\n"
    "  --target C         latency column (default latency_ms)\n"
    "  --bins K           depth bins (default 5)\n"
    "  --json FILE        write the report as JSON ('-' = stdout, instead of the table)\n"
    "  --no-profile       fail on archs with segments missing from the table; by default they are\n"
    "                     profiled on demand with this machine's executor (DenseNet-family tables)\n"
    "                     under the table's protocol and threads\n"
    "  --update           with on-demand profiling, write the grown table back to TABLE (each\n"
    "                     profiled segment on disk in TABLE.journal until then, as for build)\n"
    "both (the dataset of --fit, or of eval):\n"
    ) + esm_cli::kDriftUsage;

namespace {

std::vector<esm::Arch> read_arch_file(const esm::Space& space, const std::string& path) {
    // An ifstream opens a directory and reads it as an empty file: no archs, and then a
    // misleading "give --archs FILE" (DenseNet) or nothing profiled from it at all.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        throw esm::Error(esm::ErrorKind::Io, "cannot read architecture file '" + path + "': it is a directory");
    std::ifstream f(path);
    if (!f) throw esm::Error(esm::ErrorKind::Io, "cannot open architecture file '" + path + "': " + std::strerror(errno));
    std::vector<esm::Arch> out;
    std::string line;
    for (int n = 1; std::getline(f, line); ++n) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        esm::Arch a;
        std::string err;
        if (!esm::try_parse_arch(space, line, &a, &err))
            throw esm::Error(esm::ErrorKind::Parse, path + ":" + std::to_string(n) + ": " + err);
        out.push_back(std::move(a));
    }
    return out;
}

// Progress of profiling on stderr, at most once a second, and the last line.
std::function<void(const std::string&, size_t, size_t)> progress_printer() {
    auto t0 = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    auto last = std::make_shared<double>(-1.0);
    return [t0, last](const std::string& key, size_t done, size_t total) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - *t0).count();
        if (done != total && s - *last < 1.0) return;
        *last = s;
        std::fprintf(stderr, "\rprofiled %zu/%zu segments (%.0fs) %-48s", done, total, s, key.c_str());
        if (done == total) std::fprintf(stderr, "\n");
    };
}

void say_resumed(const esm::LutJournal& j) {
    if (j.resumed())
        std::fprintf(stderr, "resuming: %zu segments already profiled in %s\n", j.resumed(), j.path().c_str());
}

std::vector<int> depths_of(const std::vector<esm::Arch>& archs) {
    std::vector<int> d;
    for (const auto& a : archs) d.push_back(a.depth());
    return d;
}

// A dataset measured at another resolution or batch than the table's instance, or on another
// device or backend, makes its comparison meaningless: say so (the header is optional, so
// only a warning).
void warn_if_other_instance(const esm::LookupTable& t, const esm::LatencyData& d) {
    for (const char* key : {"device", "backend"}) {
        const std::string was = esm_cli::meta_value(t.meta, key), now = esm_cli::meta_value(d.meta, key);
        if (!was.empty() && !now.empty() && was != now)
            std::fprintf(stderr, "warning: the table was profiled with %s '%s'; %s has '%s'\n", key, was.c_str(),
                         d.source.c_str(), now.c_str());
    }
    const esm::Space& s = t.space();
    auto effective = [&](int res) { return res ? res : (s.elastic_resolution() ? 0 : s.default_resolution()); };
    for (const auto& [k, v] : d.meta) {
        const int x = std::atoi(v.c_str());
        if (k == "resolution" && effective(x) && effective(t.res()) && effective(x) != effective(t.res()))
            std::fprintf(stderr, "warning: %s was measured at resolution %d, the table at %d\n", d.source.c_str(),
                         effective(x), effective(t.res()));
        if (k == "batch" && x > 0 && x != t.batch())
            std::fprintf(stderr, "warning: %s was measured at batch %d, the table at %d\n", d.source.c_str(), x,
                         t.batch());
    }
}

// A table already at -o holds measured latencies (hours of profiling, maybe): never replaced
// unread. One of this build's settings is its start: its entries are kept and only what it
// lacks is profiled (a finished build rerun, or one whose bias fit failed rerun with another
// --fit, profiles nothing again). One of other settings, or a file that is no table, is refused
// and left as it is.
void reuse_existing_table(const esm_cli::Args& args, esm::LookupTable& t) {
    const std::string out = args.get("-o");
    struct stat st;
    if (::stat(out.c_str(), &st) != 0) return;
    const esm::LookupTable old = [&] {
        try {
            return esm::LookupTable::load(out);
        } catch (const esm::Error& e) {
            args.fail("-o '" + out + "' exists and is not a lookup table this build can continue (" + e.what() +
                      "): move it away to write a new one");
        }
    }();
    const std::string d = old.settings_difference(t, "this build");
    if (!d.empty())
        args.fail("-o '" + out + "' is a lookup table profiled with " + d + ": its " + std::to_string(old.size()) +
                  " measured entries would be replaced; rerun with its settings to extend it, or move it away to "
                  "profile from scratch");
    for (const auto& [k, e] : old.entries()) t.set_entry(k, e);
    // Its bias correction too, until a --fit replaces it (a rerun without --fit dropped it).
    t.bias_a = old.bias_a;
    t.bias_b = old.bias_b;
    t.fit_info = old.fit_info;
    std::fprintf(stderr, "reusing the %zu segments of %s (profiled with these settings)%s\n", old.size(), out.c_str(),
                 old.fit_info.empty() ? "" : " and its bias correction, unless --fit replaces it");
}

int build(const esm_cli::Args& args) {
    if (args.positional().size() != 1) args.usage_error("build takes no positional arguments");
    if (!args.has("--space")) args.usage_error("--space is required");
    if (!args.has("-o")) args.usage_error("-o TABLE is required");
    // profiling takes minutes: fail now, not when saving
    args.output_path("-o", {args.get("--fit"), args.get("--archs"), args.get("--space")});
    const esm::Space space = esm::load_space(args.get("--space"));
    const int res = esm_cli::measured_resolution(args, space);
    const int batch = static_cast<int>(args.get_int("--batch", space.default_batch, 1, 4096));
    esm::ExecutorOptions ex;
    ex.backend = args.parse("--device", "cpu", esm::parse_backend);
    ex.threads = esm_cli::read_threads(args, ex.backend);
    ex.seed = static_cast<uint64_t>(args.get_int("--seed", 1, 0, 0x7fffffffffffffffL));
    esm::MeasureProtocol proto;
    proto.warmup = static_cast<int>(args.get_int("--warmup", proto.warmup, 0, esm::MeasureProtocol::kMaxPasses));
    proto.runs = static_cast<int>(args.get_int("--runs", proto.runs, 1, esm::MeasureProtocol::kMaxPasses));
    for (const char* option : {"--target", "--drift-correction"})
        if (args.has(option) && !args.has("--fit")) args.usage_error(std::string(option) + " needs --fit DATASET.csv");

    std::vector<esm::Arch> archs;
    if (args.has("--archs")) archs = read_arch_file(space, args.get("--archs"));
    esm::LatencyData fit;
    if (args.has("--fit")) {
        fit = esm::read_latency_data(args.get("--fit"), space, args.get("--target"),
                                     args.get_on_off("--drift-correction", true));
        std::printf("%s", esm_cli::drift_note(fit.source, fit.drift).c_str());
        if (fit.size() < 2) args.fail("--fit " + fit.source + ": the bias fit needs at least 2 rows, got " +
                                      std::to_string(fit.size()));  // before minutes of profiling
        archs.insert(archs.end(), fit.archs.begin(), fit.archs.end());
    }
    if (space.family == esm::Family::DenseNet && archs.empty())
        args.usage_error("space '" + space.name + "' is of the densenet family: give --archs FILE or --fit DATASET.csv");

    esm::LookupTable t(space, batch, res);
    t.protocol = proto;
    // The instance and the timing protocol; not the space (its own section) nor the quality
    // control settings, which profiling does not apply. The table's threads are the header's:
    // those the executor runs on (1 in a build without OpenMP, whatever --threads asked).
    t.threads = ex.threads;
    for (const auto& kv : esm::executor_dataset_meta(space, res, batch, ex, ex.seed, proto)) {
        if (kv.first == "threads") t.threads = std::stoi(kv.second);
        if (esm::lut_meta_applies(kv.first)) t.meta.push_back(kv);
    }
    reuse_existing_table(args, t);
    std::vector<esm::Arch> all;
    if (space.family != esm::Family::DenseNet) all = esm::lut_cover_archs(space, res);
    all.insert(all.end(), archs.begin(), archs.end());
    esm::LutJournal journal(t, args.get("-o") + ".journal");  // a killed build resumes from it
    say_resumed(journal);
    const auto t0 = std::chrono::steady_clock::now();
    const size_t n = t.profile(all, esm::executor_segment_timer(ex, proto), progress_printer(), &journal);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("space %s, batch %d, resolution %s: profiled %zu segments in %.1f s (%zu keys)\n", space.name.c_str(),
                batch, res ? std::to_string(res).c_str() : "of each arch", n, secs, t.size());
    if (args.has("--fit")) {
        warn_if_other_instance(t, fit);
        try {
            t.fit_bias(fit);
        } catch (const esm::Error& e) {  // the profiling (hours, maybe) is kept all the same
            t.save(args.get("-o"));
            journal.finish();
            throw esm::Error(e.kind(), std::string(e.what()) + "; the profiled table is written " +
                                           (t.fit_info.empty() ? "without a bias correction"
                                                               : "with the bias correction it had") +
                                           " to " + args.get("-o"));
        }
        std::printf("bias correction on %zu rows of %s (column %s): latency = %.6g * sum %c %.6g ms\n", fit.size(),
                    fit.source.c_str(), fit.target.c_str(), t.bias_a, t.bias_b < 0 ? '-' : '+', std::fabs(t.bias_b));
        std::vector<double> yhat;
        for (const auto& a : fit.archs) yhat.push_back(t.predict(a));
        const int span = space.max_depth() - space.min_depth() + 1;
        const esm::MetricsReport m =
            esm::evaluate(space, depths_of(fit.archs), fit.latency, yhat, std::min(5, span));
        std::printf("on the fit set (training data, not a test):\n%s", esm::metrics_table(m).c_str());
    }
    t.save(args.get("-o"));
    journal.finish();
    std::printf("wrote %s\n", args.get("-o").c_str());
    return 0;
}

int eval(const esm_cli::Args& args) {
    if (args.positional().size() != 3) args.usage_error("eval expects TABLE and DATASET.csv");
    if (args.has("--update") && args.has("--no-profile")) args.usage_error("--update needs on-demand profiling");
    const std::string table_path = args.positional()[1];
    if (args.has("--json") && args.get("--json") != "-") args.output_path("--json", {table_path, args.positional()[2]});
    esm::LookupTable t = esm::LookupTable::load(table_path);
    const esm::Space& space = t.space();
    const esm::LatencyData d = esm::read_latency_data(args.positional()[2], space, args.get("--target"),
                                                      args.get_on_off("--drift-correction", true));
    warn_if_other_instance(t, d);
    // The bias was fitted on rows of this dataset ("source=PATH" in the fit line): not a test.
    const size_t source_at = t.fit_info.find(" source=");
    if (source_at != std::string::npos) {
        const std::string fitted = t.fit_info.substr(source_at + 8);
        if (esm_cli::Args::same_file(fitted.substr(0, fitted.find(" drift_corrected=")), d.source))
            std::fprintf(stderr, "warning: %s's bias correction was fitted on rows of this dataset: where they are "
                                 "among these, the figures are not a test\n", table_path.c_str());
    }
    t.profile(d.archs, nullptr);  // keys whose computation the table holds (DenseNet layers), untimed
    size_t missing = 0;
    std::string example;
    for (const auto& a : d.archs) {
        const std::vector<std::string> keys = t.missing_keys(a);
        if (keys.empty()) continue;
        if (!missing++) example = "'" + keys.front() + "' of " + esm::format_arch(space, a);
    }
    if (missing) {
        if (args.has("--no-profile"))
            args.fail(std::to_string(missing) + " of " + std::to_string(d.size()) +
                      " archs of " + d.source + " have segments missing from " + table_path + " (e.g. " + example +
                      "); drop --no-profile to profile them on the machine that built the table");
        // On the table's executor: its backend, threads and weights' seed.
        esm::ExecutorOptions ex;
        ex.threads = t.threads;
        for (const auto& [k, v] : t.meta) {
            if (k == "backend") {
                try {
                    ex.backend = esm::parse_backend(v);
                } catch (const esm::Error& e) {
                    args.fail(table_path + ": header: " + e.what());
                }
            }
            if (k == "seed") {
                char* end = nullptr;
                ex.seed = std::strtoull(v.c_str(), &end, 10);
                if (v.empty() || *end || v[0] == '-') args.fail(table_path + ": header: seed '" + v + "' is not a number");
            }
        }
        // Only on the machine that profiled the table: entries timed on another (its CPU,
        // cores, OpenBLAS core, GPU, threads) would sit next to the table's own, all summed as
        // one device's, under a header naming the first.
        std::vector<std::pair<std::string, std::string>> here;
        try {
            here = esm::executor_dataset_meta(space, t.res(), t.batch(), ex, ex.seed, t.protocol);
        } catch (const esm::Error& e) {  // e.g. the table's threads, more than this machine runs
            args.fail(table_path + ": cannot profile its missing segments here (table threads " +
                      std::to_string(t.threads) + "): " + e.what());
        }
        for (const auto& [k, v] : t.meta) {
            if (esm::dataset_meta_volatile(k)) continue;
            // (A CUDA table written before CUDA headers said the one host thread holds
            // --threads as given: nothing the GPU's timings depend on.)
            if (k == "threads" && ex.backend == esm::Backend::Cuda) continue;
            for (const auto& [hk, hv] : here)
                if (hk == k && hv != v)
                    args.fail(table_path + ": its segments were profiled with " + k + " '" + v + "', this machine has '" +
                              hv + "': profiling the " + std::to_string(missing) +
                              " archs' missing segments here would mix two machines' latencies in one table; "
                              "evaluate on the machine that built it (--no-profile fails on missing segments)");
        }
        // cpu_isa is in a header only under an ESM_CPU_ISA cap: its absence is the CPU's own
        // kernels, so the loop above, over the table's keys only, let a table profiled on the
        // CPU's own kernels take segments timed under a cap, and the other way round.
        const std::string table_isa = esm_cli::meta_value(t.meta, "cpu_isa"), here_isa = esm_cli::meta_value(here, "cpu_isa");
        if (table_isa != here_isa) {
            auto shown = [](const std::string& v) { return v.empty() ? std::string("none (the CPU's own kernels)") : "'" + v + "'"; };
            args.fail(table_path + ": its segments were profiled with cpu_isa " + shown(table_isa) +
                      ", this run has cpu_isa " + shown(here_isa) + " (ESM_CPU_ISA): profiling the " +
                      std::to_string(missing) + " archs' missing segments here would mix two kernels' latencies in "
                      "one table; rerun with the table's ESM_CPU_ISA");
        }
        // With --update the profiled entries are kept durably as they come (a killed eval
        // resumes); without, the table file and its folder stay as they are.
        std::unique_ptr<esm::LutJournal> journal;
        if (args.has("--update")) {
            journal = std::make_unique<esm::LutJournal>(t, table_path + ".journal", here);  // bound to this machine
            say_resumed(*journal);
        }
        const size_t n =
            t.profile(d.archs, esm::executor_segment_timer(ex, t.protocol), progress_printer(), journal.get());
        std::fprintf(stderr, "profiled %zu missing segments on demand (%s executor, %d threads)\n", n,
                     esm::backend_name(ex.backend), t.threads);
        if (journal) {
            t.save(table_path);
            journal->finish();
            std::fprintf(stderr, "updated %s (%zu keys)\n", table_path.c_str(), t.size());
        }
    }
    std::vector<double> yhat, raw;
    for (const auto& a : d.archs) {
        yhat.push_back(t.predict(a));
        raw.push_back(t.sum(a));
    }
    const int span = space.max_depth() - space.min_depth() + 1;
    const int bins = static_cast<int>(args.get_int("--bins", std::min(5, span), 1, span));
    const esm::MetricsReport m = esm::evaluate(space, depths_of(d.archs), d.latency, yhat, bins);
    const std::string json = esm::metrics_json(m);
    if (args.get("--json") == "-") {
        std::printf("%s\n", json.c_str());
        return 0;
    }
    const esm::Metrics r = esm::compute_metrics(d.latency.data(), raw.data(), raw.size());
    const bool corrected = t.bias_a != 1.0 || t.bias_b != 0.0;  // what predict applies, whatever the fit line says
    std::printf("%s", esm_cli::drift_note(d.source, d.drift).c_str());
    std::printf("lookup table %s (space %s, %zu keys, %s) on %s, column %s: %zu rows\n", table_path.c_str(),
                space.name.c_str(), t.size(), corrected ? "bias-corrected" : "no bias correction", d.source.c_str(),
                d.target.c_str(), d.size());
    if (corrected)
        std::printf("latency = %.6g * sum %c %.6g ms; the plain sum has accuracy %.2f %%\n", t.bias_a,
                    t.bias_b < 0 ? '-' : '+', std::fabs(t.bias_b),
                    r.accuracy);
    std::printf("%s", esm::metrics_table(m).c_str());
    if (args.has("--json")) esm::write_file_atomic(args.get("--json"), json + "\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    esm_cli::Args args(argc, argv, kUsage,
                       {{"--space", true}, {"--res", true}, {"--batch", true}, {"--device", true},
                        {"--threads", true}, {"--warmup", true}, {"--runs", true}, {"--seed", true},
                        {"--archs", true}, {"--fit", true}, {"--target", true}, {"-o", true}, {"--bins", true},
                        {"--json", true}, {"--no-profile", false}, {"--update", false}, {"--drift-correction", true}});
    return esm_cli::run_tool("esm-lut", [&] {
        if (args.positional().empty()) args.usage_error("expected a command: build or eval");
        const std::string cmd = args.positional()[0];
        // Options of the other command are mistakes, not something to ignore silently.
        const std::vector<std::string> build_only = {"--space", "--res", "--batch", "--device", "--threads", "--warmup",
                                                     "--runs", "--seed", "--archs", "--fit", "-o"};
        const std::vector<std::string> eval_only = {"--bins", "--json", "--no-profile", "--update"};
        for (const auto& o : cmd == "build" ? eval_only : cmd == "eval" ? build_only : std::vector<std::string>{})
            if (args.has(o)) args.usage_error("option '" + o + "' does not apply to '" + cmd + "'");
        if (cmd == "build") return build(args);
        if (cmd == "eval") return eval(args);
        args.usage_error("unknown command '" + cmd + "' (expected build or eval)");
    });
}
