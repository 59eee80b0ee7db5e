// esm-build: the ESM loop end to end (sample, measure, train, evaluate, extend) into an
// output directory holding the predictor, the dataset, report.json and SVG plots.
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "cli.hpp"
#include "drift_cli.hpp"
#include "protocol_cli.hpp"
#include "esm/loop.hpp"
#include "esm/runner.hpp"

static const std::string kUsage = std::string(
    "usage: esm-build --space S [--device cpu|cuda | --runner CMD | --pool CSV --target COLUMN] [options] -o DIR\n"
    "Build a latency predictor with the ESM loop until its accuracy criterion or budget is met.\n"
    "Measurement (default: this library's executor on --device):\n"
    "  --device cpu|cuda   executor backend (default cpu)\n"
    "  --threads T         executor threads (default 1)\n"
    "  --res R --batch B   input resolution and batch (defaults: the space's; batch 1 in the presets)\n"
    ) + esm_cli::kProtocolUsage + std::string(
    "  --runner CMD        external runner: sh -c CMD esm-runner ARCH SPACE_FILE prints ms; a script gets\n"
    "                      them as CMD passes them on: './run.sh \"$1\" \"$2\"' (docs/runner.md)\n"
    "  --runner-timeout S  seconds per architecture (default 600)\n"
    "  --pool CSV          replay: draw samples and latencies from a measured CSV\n"
    "  --target COLUMN     the pool's latency column\n"
    "Loop (SPEC §8):\n"
    "  --strategy random|balanced   sampling and extension (default balanced)\n"
    "  --initial N         N_I initial training samples (default 300)\n"
    "  --step N            N_step samples per extension (default 100)\n"
    "  --w1 W --w2 W       weights of bins below / at-or-above Acc_TH (default 2, 1; balanced only)\n"
    "  --encoding E        onehot|feature|stat|fc|fcc (default fcc)\n"
    "  --res-encoding R    scalar|onehot|scaled|area|area-depth: resolution features, area also splits first\n"
    "                      blocks, area-depth adds each unit's depth unscaled (default area-depth)\n"
    "  --wd-grid X,Y,...   pick the MLP weight decay among these on the validation split\n"
    "  --linear-skip on|off  fit a linear model of the encoding first, the MLP learns the rest (default on)\n"
    "  --relative-loss on|off  weight each row's squared error by 1/latency^2 (default off)\n"
    "  --base P[,P..]      other devices' predictors of this space: each iteration calibrates one to the\n"
    "                      rows (latency = a * base + b; of several, the best in leave-one-out); if that\n"
    "                      fails the criterion, fine-tunes its network on the rows, and if that fails too,\n"
    "                      trains a network of its own, keeping the best (use a small --initial and --step)\n"
    ) + esm_cli::kDriftUsage + std::string(
    "  --eval binwise|overall       criterion (default binwise)\n"
    "  --bins K            depth bins (default 5)\n"
    "  --acc A             Acc_TH in % (default 98)\n"
    "  --test-size N       held-out test set, the same count in every bin (default 200)\n"
    "  --epochs N          MLP epochs (default 200)\n"
    "  --min-steps N       at least N optimiser steps: more epochs on small sets (default 20000)\n"
    "Budget (0 = none): --max-samples N (5000) --max-iterations N (50) --max-time SECONDS (0)\n"
    "  --seed X            (default 1)\n"
    "  -o DIR              output directory; rerunning the same command resumes it\n");

// Ctrl-C, SIGTERM, SIGHUP: the runner command measuring now (in its own process group, out
// of the terminal's reach) is killed too, then the signal takes its default course.
extern "C" void stop_with_runner(int sig) {
    esm::kill_running_runners();
    static const char kSaid[] = "\nesm-build: stopped; every sample measured so far is on disk: rerun the same command to resume\n";
    if (::write(STDERR_FILENO, kSaid, sizeof kSaid - 1) < 0) {}  // async-signal-safe, unlike stdio
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

int main(int argc, char** argv) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP})  // not where ignored (nohup, a background job's SIGINT)
        if (std::signal(sig, stop_with_runner) == SIG_IGN) std::signal(sig, SIG_IGN);
    esm_cli::Args args(argc, argv, kUsage,
                       esm_cli::with_protocol_options({{"--space", true},     {"--runner", true}, {"--runner-timeout", true}, {"--pool", true},
                        {"--target", true},    {"--strategy", true}, {"--initial", true},     {"--step", true},
                        {"--w1", true},        {"--w2", true},       {"--encoding", true},    {"--eval", true},
                        {"--bins", true},      {"--acc", true},      {"--test-size", true},   {"--epochs", true},
                        {"--max-samples", true}, {"--max-iterations", true}, {"--max-time", true},
                        {"--seed", true},      {"-o", true},         {"--device", true},      {"--threads", true},
                        {"--res", true},       {"--batch", true},    {"--res-encoding", true}, {"--wd-grid", true},
                        {"--linear-skip", true}, {"--relative-loss", true}, {"--min-steps", true}, {"--drift-correction", true}, {"--base", true}}));
    return esm_cli::run_tool("esm-build", [&] {
        if (!args.positional().empty()) args.usage_error("unexpected argument '" + args.positional()[0] + "'");
        if (!args.has("--space")) args.usage_error("--space is required");
        if (!args.has("-o")) args.usage_error("-o DIR is required");
        if (args.has("--runner") + args.has("--pool") + args.has("--device") > 1)
            args.usage_error("give at most one of --device, --runner CMD and --pool CSV");
        if (args.has("--pool") != args.has("--target"))
            args.usage_error(args.has("--pool") ? "--pool needs --target COLUMN" : "--target goes with --pool (replay)");
        // Options that would be accepted and change nothing: what measures is not the executor.
        if (args.has("--runner") || args.has("--pool"))
            for (const char* opt : {"--threads", "--res", "--batch", "--warmup", "--runs", "--trim", "--outlier-spread",
                                    "--outlier-retries"})
                if (args.has(opt))
                    args.usage_error(std::string(opt) + " sets the executor's measurement; with " +
                                     (args.has("--runner") ? "--runner the runner measures" : "--pool nothing is measured"));
        if (args.has("--runner-timeout") && !args.has("--runner"))
            args.usage_error("--runner-timeout goes with --runner CMD (the executors need no timeout)");
        if (args.has("--pool"))
            for (const char* opt : {"--refs", "--qc-every", "--qc-threshold", "--qc-retries", "--qc-wait"})
                if (args.has(opt)) args.usage_error(std::string(opt) + " does not apply to a replay (--pool): nothing is measured");
        const esm::Space space = esm::load_space(args.get("--space"));
        esm::LoopOptions o;
        o.strategy = args.parse("--strategy", "balanced", esm::parse_strategy);
        o.n_initial = static_cast<int>(args.get_int("--initial", o.n_initial, 2, 10000000));
        o.n_step = static_cast<int>(args.get_int("--step", o.n_step, 1, 10000000));
        if (o.strategy != esm::Strategy::Balanced)
            for (const char* w : {"--w1", "--w2"})
                if (args.has(w)) args.usage_error(std::string(w) + " weighs the balanced extension; --strategy random extends by N_step random samples");
        o.w1 = args.get_double("--w1", o.w1, 0, 1e6);
        o.w2 = args.get_double("--w2", o.w2, 0, 1e6);
        o.encoding = args.parse("--encoding", esm::encoding_name(o.encoding), esm::parse_encoding);
        o.res_encoding = args.parse("--res-encoding", esm::res_encoding_name(o.res_encoding), esm::parse_res_encoding);
        o.wd_grid = args.get_double_list("--wd-grid", 0, 10);
        o.mlp.linear_skip = args.get_on_off("--linear-skip", true);
        o.mlp.relative_loss = args.get_on_off("--relative-loss", false);
        o.drift_correction = args.get_on_off("--drift-correction", true);
        const std::string ev = args.get("--eval", "binwise");
        if (ev != "binwise" && ev != "overall") args.usage_error("--eval must be binwise or overall");
        o.binwise = ev == "binwise";
        const int span = space.max_depth() - space.min_depth() + 1;
        o.n_bins = static_cast<int>(args.get_int("--bins", std::min(5, span), 1, span));
        o.acc_th = args.get_double("--acc", o.acc_th, 0, 100);
        o.test_size = static_cast<int>(args.get_int("--test-size", o.test_size, 1, 10000000));
        o.mlp.epochs = static_cast<int>(args.get_int("--epochs", o.mlp.epochs, 1, 100000));
        o.mlp.min_steps = args.get_int("--min-steps", o.mlp.min_steps, 0, 100000000);
        o.max_samples = static_cast<int>(args.get_int("--max-samples", o.max_samples, 0, 100000000));
        o.max_iterations = static_cast<int>(args.get_int("--max-iterations", o.max_iterations, 0, 1000000));
        o.max_seconds = args.get_double("--max-time", 0, 0, 1e9);
        o.seed = static_cast<uint64_t>(args.get_int("--seed", 1, 0, 0x7fffffffffffffffL));
        o.out_dir = args.get("-o");
        for (const std::string& b : args.get_list("--base")) {
            o.bases.push_back(std::make_shared<const esm::Predictor>(esm::Predictor::load(b, space)));
            esm_cli::refuse_log_target_base(args, b, o.bases.back()->model().log_target);
        }

        const esm::MeasureProtocol proto = esm_cli::read_protocol(args);
        std::unique_ptr<esm::LatencySource> source;
        if (args.has("--pool")) {
            source = esm::make_pool_source(space, args.get("--pool"), args.get("--target"), o.drift_correction);
        } else if (args.has("--runner")) {
            esm::RunnerOptions r;
            r.command = args.get("--runner");
            // Absolute, so that a runner that changes directory still finds it.
            char cwd[4096];
            const bool relative = o.out_dir.empty() || o.out_dir[0] != '/';
            r.space_file = (relative && ::getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" : std::string()) + o.out_dir + "/space.txt";
            r.timeout_s = args.get_double("--runner-timeout", 600, 1e-3, 1e7);
            source = esm::make_runner_source(space, r, proto, o.seed);
        } else {
            esm::ExecutorOptions ex;
            ex.backend = args.parse("--device", "cpu", esm::parse_backend);
            ex.threads = esm_cli::read_threads(args, ex.backend);
            ex.seed = o.seed;
            const int res = esm_cli::measured_resolution(args, space);
            const int batch = static_cast<int>(args.get_int("--batch", space.default_batch, 1, 4096));
            source = esm::make_executor_source(space, batch, res, ex, proto, o.seed);
        }
        double last_shown = -1;
        auto progress = [&](const esm::LoopProgress& p) {
            if (p.phase == "measure") {
                if (p.done != p.total && p.done != 1 && p.elapsed_s - last_shown < 1.0) return;
                last_shown = p.done == p.total ? -1 : p.elapsed_s;
                const std::string eta = p.eta_s < 0 ? "?" : std::to_string(static_cast<long>(p.eta_s + 0.5)) + "s";
                std::fprintf(stderr, "\r[iteration %d] measured %d/%d  elapsed %.0fs  ETA %s   ", p.iteration, p.done,
                             p.total, p.elapsed_s, eta.c_str());
                if (p.done == p.total) std::fprintf(stderr, "\n");
            } else if (p.phase == "evaluated" || p.phase == "done" || p.phase == "note") {
                std::fprintf(stderr, "%s\n", p.message.c_str());
            }
        };
        esm::LoopResult r = esm::run_esm_loop(space, o, *source, progress);
        const auto& last = r.iterations.back();
        std::printf("%s after %zu iteration(s): %s\n", r.converged ? "converged" : "stopped", r.iterations.size(),
                    r.stop_reason.c_str());
        // Not %.2f nor %g: a run stopped at 97.99996 % against Acc_TH 98 must not read "98 %".
        std::printf("training samples %d, test samples %d, test accuracy %s %%", last.train_samples, last.test_samples,
                    esm::format_accuracy(last.metrics.overall.accuracy, o.acc_th).c_str());
        if (o.binwise)
            std::printf(", worst bin %s %%", esm::format_accuracy(last.metrics.worst_bin_accuracy(), o.acc_th).c_str());
        std::printf("\n");
        std::printf("predictor  %s\ndataset    %s\nreport     %s\n", r.predictor_path.c_str(), r.dataset_path.c_str(),
                    r.report_path.c_str());
        for (const auto& p : r.plot_paths) std::printf("plot       %s\n", p.c_str());
        // esm-predict beside this esm-build (build/esm-predict), or on the PATH as esm-build was.
        const std::string self = argv[0], slash = self.find('/') == std::string::npos ? "" : self.substr(0, self.rfind('/') + 1);
        // A path that begins with '-' (-o -out) would be read by esm-predict as an option.
        const std::string predictor = r.predictor_path.rfind('-', 0) == 0 ? "./" + r.predictor_path : r.predictor_path;
        std::printf("use it:    %s %s ARCH...   (or '-' to read architectures from stdin)\n",
                    esm_cli::shell_word(slash + "esm-predict").c_str(), esm_cli::shell_word(predictor).c_str());
        return r.converged ? 0 : 3;
    });
}
