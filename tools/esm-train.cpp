// esm-train: train a latency predictor (encoding + MLP) from a CSV and write the predictor
// file; prints the test metrics overall and per depth bin. Public API only.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "cli.hpp"
#include "drift_cli.hpp"
#include "esm/predictor.hpp"
#include "esm/train.hpp"

static const std::string kUsage = std::string(
    "usage: esm-train DATASET.csv [--space S] [--encoding E] -o PREDICTOR [options]\n"
    "       esm-train DATASET.csv --base PREDICTOR[,PREDICTOR...] -o PREDICTOR [data options]\n"
    "Train an MLP latency predictor (or calibrate another device's) and report its accuracy\n"
    "on a held-out test set.\n"
    "  --space S         preset or description file (default: a libesm dataset's own description, else\n"
    "                    the preset named by the first arch's prefix)\n"
    "  --encoding E      onehot | feature | stat | fc | fcc (default fcc)\n"
    "  --res-encoding R  scalar | onehot | scaled | area | area-depth: how an elastic resolution is encoded\n"
    "                    (default scalar; esm-build uses area-depth)\n"
    "  --target COLUMN   latency column (default latency_ms; else an error lists numeric columns)\n"
    "  --test-frac F     share of the rows held out for testing (default 0.2)\n"
    "  --test FILE       a separate test CSV instead of --test-frac\n"
    "  --train-size N    use only the first N training rows (after the seeded shuffle)\n"
    "  --seed X          split and training seed (default 1)\n"
    "  --bins K          depth bins for the report (default 5)\n"
    "  --log-target      regress log latency\n"
    "  --linear-skip     fit a linear model of the encoding first (ridge chosen on the validation split);\n"
    "                    the MLP learns what it leaves\n"
    "  --relative-loss   weight each row's squared error by 1/latency^2: minimise the relative error\n"
    "                    (what the accuracy metric averages) instead of the error in ms\n"
    "  --epochs N        (default 200)   --lr X (default 0.01)   --weight-decay X (default 1e-4)\n"
    "  --wd-grid X,Y,..  train once per weight decay, keep the best on the validation split\n"
    "  --batch N         mini-batch size (default 64)\n"
    "  --min-steps N     run more epochs on small sets, to at least N optimiser steps (default 20000)\n"
    "  --hidden W,W,..   hidden layer widths (default 64,64,64)\n"
    "  --val-frac F      validation share for early stopping (default 0.1)\n"
    "  --patience N      stop after N epochs without improvement of the validation loss (of the training\n"
    "                    loss with --val-frac 0; default 0 = run all epochs)\n"
    "  --schedule S      cosine | constant learning rate (default cosine)\n"
    ) + esm_cli::kDriftUsage + std::string(
    "  --json FILE       also write the metrics report as JSON ('-': to stdout, the rest to stderr)\n"
    "  --threads N       OpenBLAS threads (default 1)\n"
    "  --verbose         print the training and validation loss every 10 epochs\n"
    "  --base P[,P..]    another device's predictor (same space): fit latency = a * base + b on the\n"
    "                    training rows (relative errors) instead of training a network: a new device\n"
    "                    from 10-20 measured rows. Of several, the one best in leave-one-out on the rows\n"
    "  --fine-tune       with --base: then train the calibrated base further on the rows (a linear\n"
    "                    correction once they outnumber the features, then its network): from tens to\n"
    "                    hundreds of rows on devices not proportional to the base; --lr (default\n"
    "                    3e-4), --min-steps (default 3000), --epochs (default 1), --batch, --weight-decay,\n"
    "                    --val-frac, --patience, --schedule, --relative-loss apply\n"
    "  -o PREDICTOR      output predictor file (written atomically)\n");

int main(int argc, char** argv) {
    esm_cli::Args args(argc, argv, kUsage,
                       {{"--space", true}, {"--encoding", true}, {"--target", true}, {"--test-frac", true},
                        {"--test", true}, {"--train-size", true}, {"--seed", true}, {"--bins", true},
                        {"--log-target", false}, {"--linear-skip", false}, {"--relative-loss", false}, {"--epochs", true}, {"--lr", true}, {"--weight-decay", true},
                        {"--batch", true}, {"--min-steps", true}, {"--hidden", true}, {"--val-frac", true}, {"--patience", true},
                        {"--schedule", true}, {"--json", true}, {"--threads", true}, {"--verbose", false}, {"--res-encoding", true}, {"--wd-grid", true}, {"--drift-correction", true}, {"--base", true}, {"--fine-tune", false}, {"-o", true}});
    return esm_cli::run_tool("esm-train", [&] {
        if (args.positional().size() != 1) args.usage_error("expected one dataset CSV");
        if (!args.has("-o")) args.usage_error("missing -o PREDICTOR");
        const std::string path = args.positional()[0];
        std::vector<std::string> inputs = args.get_list("--base");
        inputs.push_back(path);
        if (args.has("--test")) inputs.push_back(args.get("--test"));
        const std::string out_path = args.output_path("-o", inputs);
        if (args.has("--json") && args.get("--json") != "-") {
            args.output_path("--json", inputs);
            if (esm_cli::Args::same_output(args.get("--json"), out_path))  // the predictor would overwrite the report
                args.usage_error("--json and -o name the same file '" + out_path + "'");
        }
        if (args.has("--relative-loss") && args.has("--log-target"))
            args.usage_error("--relative-loss and --log-target exclude each other (a log target's error is relative already)");
        esm::set_blas_threads(static_cast<int>(args.get_int("--threads", 1, 1, 256)));
        // --json -: the JSON report alone on stdout, the readable text on stderr.
        const bool json_stdout = args.get("--json") == "-";
        FILE* text = json_stdout ? stderr : stdout;
        // --base: calibrate that predictor (another device's; of several, the best on the rows)
        // instead of training a network.
        // --fine-tune: then train its network further.
        const std::vector<std::string> base_paths = args.get_list("--base");
        const bool fine_tune = args.has("--fine-tune");
        std::vector<esm::Predictor> bases;
        if (fine_tune && base_paths.empty()) args.usage_error("--fine-tune needs --base");
        if (!base_paths.empty()) {
            for (const char* o : {"--encoding", "--res-encoding", "--log-target", "--linear-skip", "--wd-grid", "--hidden"})
                if (args.has(o)) args.usage_error(std::string(o) + " does not apply with --base (the base's network is used)");
            if (!fine_tune)
                for (const char* o : {"--relative-loss", "--epochs", "--lr", "--weight-decay", "--batch", "--min-steps",
                                      "--val-frac", "--patience", "--schedule", "--verbose"})
                    if (args.has(o))
                        args.usage_error(std::string(o) + " does not apply with --base alone (no network is trained; "
                                                          "add --fine-tune)");
            for (const std::string& b : base_paths) bases.push_back(esm::Predictor::load(b));
        }
        // The space: --space, else the base's, else the dataset header's description (libesm
        // datasets), else the preset named by the first arch's prefix.
        std::string space_name = args.get("--space");
        esm::Space space;
        if (!space_name.empty()) {
            space = esm::load_space(space_name);
        } else if (!bases.empty()) {
            space = bases[0].space();
        } else {
            esm::Table t = esm::read_table(path);
            if (!esm::header_space(t.meta, path, &space)) {
                const int ac = t.require_column("arch");
                if (t.rows.empty()) args.fail(path + ": no data rows");
                space_name = esm::arch_space_name(t.rows[0][static_cast<size_t>(ac)]);
                if (space_name.empty()) args.usage_error("no --space given and the first arch has no 'space:' prefix");
                space = esm::load_space(space_name);
            }
        }
        for (size_t k = 0; k < bases.size(); ++k) {
            if (!(bases[k].space() == space))
                args.fail("--base " + base_paths[k] + " predicts " + esm::space_difference(bases[k].space(), space));
            esm_cli::refuse_log_target_base(args, base_paths[k], bases[k].model().log_target);
        }
        esm::TrainConfig cfg;
        cfg.encoding = args.parse("--encoding", "fcc", esm::parse_encoding);
        cfg.res = args.parse("--res-encoding", "scalar", esm::parse_res_encoding);
        const uint64_t seed = static_cast<uint64_t>(args.get_int("--seed", 1, 0, 0x7fffffffffffffffL));
        cfg.mlp.seed = seed;
        cfg.mlp.log_target = args.has("--log-target");
        cfg.mlp.linear_skip = args.has("--linear-skip");
        cfg.mlp.relative_loss = args.has("--relative-loss");
        if (fine_tune) cfg.mlp = esm::fine_tune_options(cfg.mlp);
        cfg.mlp.epochs = static_cast<int>(args.get_int("--epochs", cfg.mlp.epochs, 1, 1000000));
        cfg.mlp.lr = args.get_double("--lr", cfg.mlp.lr, 1e-9, 10);
        cfg.mlp.weight_decay = args.get_double("--weight-decay", 1e-4, 0, 10);
        cfg.mlp.batch_size = static_cast<int>(args.get_int("--batch", 64, 1, 1 << 20));
        cfg.mlp.min_steps = args.get_int("--min-steps", cfg.mlp.min_steps, 0, 100000000);
        cfg.mlp.val_frac = args.get_double("--val-frac", 0.1, 0, 0.9);
        cfg.mlp.patience = static_cast<int>(args.get_int("--patience", 0, 0, 1000000));
        const std::string sched = args.get("--schedule", "cosine");
        if (sched != "cosine" && sched != "constant") args.usage_error("--schedule expects cosine or constant");
        cfg.mlp.schedule = sched == "cosine" ? esm::LrSchedule::Cosine : esm::LrSchedule::Constant;
        if (args.has("--hidden")) {
            cfg.mlp.hidden.clear();
            for (double v : args.get_double_list("--hidden", 1, 65536)) {
                if (v != static_cast<int>(v)) args.usage_error("--hidden expects widths like 64,64,64");
                cfg.mlp.hidden.push_back(static_cast<int>(v));
            }
        }
        cfg.weight_decay_grid = args.get_double_list("--wd-grid", 0, 10);
        const int span = space.max_depth() - space.min_depth() + 1;
        cfg.n_bins = static_cast<int>(args.get_int("--bins", std::min(5, span), 1, span));
        const std::string target = args.get("--target");

        const bool drift = args.get_on_off("--drift-correction", true);
        esm::LatencyData all = esm::read_latency_data(path, space, target, drift), train, test;
        std::fprintf(text, "%s", esm_cli::drift_note(path, all.drift).c_str());
        // A column named in another unit: libesm's figures (RMSE, predictions) say ms.
        for (const char* unit : {"_s", "_sec", "_seconds", "_us", "_ns"}) {
            const std::string u = unit;
            if (all.target.size() > u.size() && all.target.compare(all.target.size() - u.size(), u.size(), u) == 0)
                std::fprintf(stderr, "warning: column '%s' looks like latencies in another unit than ms: the predictor "
                                     "predicts in the column's unit, where its figures (RMSE, esm-predict) say ms\n",
                             all.target.c_str());
        }
        // A plain CSV may list an architecture twice: a split can then train and test on it.
        std::set<std::string> trained;
        size_t repeats = 0;
        for (const esm::Arch& a : all.archs) repeats += !trained.insert(esm::format_arch(space, a)).second;
        if (repeats)
            std::fprintf(stderr, "warning: %s: %zu rows repeat an earlier row's architecture (%zu distinct of %zu): "
                                 "one can be among the training and the test rows at once\n",
                         path.c_str(), repeats, trained.size(), all.size());
        if (args.has("--test")) {
            if (args.has("--test-frac")) args.usage_error("give --test or --test-frac, not both");
            if (esm_cli::Args::same_file(args.get("--test"), path))
                std::fprintf(stderr, "warning: --test %s is the training dataset: every test row is a training row, "
                                     "the figures are not a test (use --test-frac, or another file)\n",
                             args.get("--test").c_str());
            test = esm::read_latency_data(args.get("--test"), space, all.target, drift);
            std::fprintf(text, "%s", esm_cli::drift_note(args.get("--test"), test.drift).c_str());
            size_t shared = 0;
            for (const esm::Arch& a : test.archs) shared += trained.count(esm::format_arch(space, a));
            if (shared && !esm_cli::Args::same_file(args.get("--test"), path))
                std::fprintf(stderr, "warning: %zu of the %zu --test rows are architectures of %s, the training rows: "
                                     "those figures are not a test\n",
                             shared, test.size(), path.c_str());
            // The whole file trains, in a seeded order so --train-size picks a random subset.
            esm::LatencyData none;
            esm::split_data(all, 0, seed, &train, &none);
        } else {
            const double frac = args.get_double("--test-frac", 0.2, 0, 0.95);
            const size_t n_test = static_cast<size_t>(frac * static_cast<double>(all.size()) + 0.5);
            esm::split_data(all, n_test, seed, &train, &test);
        }
        if (args.has("--train-size")) {
            const size_t n = static_cast<size_t>(args.get_int("--train-size", 0, 2, 1L << 40));
            if (n > train.size())
                args.fail("--train-size " + std::to_string(n) + " exceeds the " + std::to_string(train.size()) +
                          " training rows");
            std::vector<size_t> rows(n);
            for (size_t i = 0; i < n; ++i) rows[i] = i;
            train = train.subset(rows);
        }
        if (train.size() < 2)
            args.fail(path + ": " + std::to_string(train.size()) + " training row(s)" +
                      (args.has("--test") ? "" : " after --test-frac's share") + ": training needs at least 2");
        if (test.archs.empty() && args.has("--json"))
            args.fail("--json: no test rows (" + std::string(args.has("--test") ? "--test is empty" : "--test-frac leaves none") +
                      "), so no metrics to write");
        esm::TrainReport rep;
        double ca = 0, cb = 0, loo = 0;  // with --base: latency = ca * base + cb
        size_t pick = 0;
        if (bases.size() > 1) {
            std::vector<const esm::Predictor*> v;
            for (const auto& b : bases) v.push_back(&b);
            pick = esm::pick_base(v, train, &loo);
        }
        esm::Predictor p = !bases.empty() ? esm::calibrate_predictor(bases[pick], train, &ca, &cb)
                                          : esm::train_predictor(space, train, cfg, &rep);
        if (fine_tune) p = esm::fine_tune_predictor(p, train, cfg.mlp, &rep);
        p.n_bins = cfg.n_bins;  // the bins of its metrics (--bins), not a base's
        std::fprintf(text, "space %s, encoding %s (%d features), target %s\n", space.name.c_str(),
                    esm::encoding_name(p.encoding()), p.encoder().length(), train.target.c_str());
        if (!bases.empty()) {
            if (bases.size() > 1)
                std::fprintf(text, "picked base %zu of %zu: leave-one-out error %.2f %% on the training rows\n", pick + 1,
                            bases.size(), 100 * loo);
            std::fprintf(text, "calibrated the base predictor %s on %zu rows: latency = %.6g * base %c %.6g\n",
                        base_paths[pick].c_str(), train.size(), ca, cb < 0 ? '-' : '+', std::fabs(cb));
        }
        if (fine_tune) {
            if (rep.skip_ridge > 0)
                std::fprintf(text, "added a linear correction to its skip (ridge %g x rows, chosen by leave-one-out)\n",
                            rep.skip_ridge);
            std::fprintf(text, "fine-tuned its network on the same rows: %d epochs, best epoch %d (validation MSE %.5g, in the "
                        "base's standardised residual)%s\n",
                        rep.epochs_run, rep.best_epoch + 1, rep.best_val_loss,
                        rep.best_epoch < 0 ? "; no epoch beat the start, whose network is kept" : "");
        } else if (bases.empty()) {
            std::fprintf(text, "trained on %zu rows: %d epochs, best epoch %d (%s MSE %.5g, standardised)", train.size(),
                        rep.epochs_run, rep.best_epoch + 1, rep.val_loss.empty() ? "training" : "validation",
                        rep.best_val_loss);
            if (cfg.mlp.linear_skip) {  // the MSE is then of the network's target: the skip's residual
                std::fprintf(text, "; linear skip with ridge %g x rows, the MSE is of its residual", rep.skip_ridge);
                if (rep.skip_only_val_loss >= 0)
                    std::fprintf(text, " (the linear part alone: %.5g)", rep.skip_only_val_loss);
            }
            if (cfg.mlp.relative_loss) std::fprintf(text, "; each row's error weighted by 1/latency^2");
            std::fprintf(text, "\n");
        }
        if (args.has("--verbose")) {
            for (size_t e = 0; e < rep.train_loss.size(); e += 10) {
                std::fprintf(text, "epoch %4zu  train MSE %.5g", e + 1, rep.train_loss[e]);
                if (e < rep.val_loss.size()) std::fprintf(text, "  validation MSE %.5g", rep.val_loss[e]);
                std::fprintf(text, "\n");
            }
        }
        if (!test.archs.empty()) {
            esm::MetricsReport m = esm::evaluate_predictor(p, test, cfg.n_bins);
            p.metrics_json = esm::metrics_json(m);
            std::fprintf(text, "test set: %zu rows\n%s", test.size(), esm::metrics_table(m).c_str());
            if (json_stdout) std::printf("%s\n", p.metrics_json.c_str());
            else if (args.has("--json")) esm::write_file_atomic(args.get("--json"), p.metrics_json + "\n");
        } else {
            std::fprintf(text, "no test rows: metrics not computed\n");
        }
        p.save(out_path);
        std::fprintf(text, "wrote %s\n", out_path.c_str());
        return 0;
    });
}
