// esm-eval: accuracy of a predictor file on a latency CSV (SPEC §7 metrics, overall and
// per depth bin), as a table and optionally JSON. Public API only.
#include <cstdio>

#include "cli.hpp"
#include "drift_cli.hpp"
#include "esm/predictor.hpp"
#include "esm/train.hpp"

static const std::string kUsage = std::string(
    "usage: esm-eval PREDICTOR DATASET.csv [--target C] [--bins K] [--json FILE] [--drift-correction on|off]\n"
    "Evaluate a predictor on a dataset: accuracy, ±5 %/±10 % shares, RMSE and Kendall's tau,\n"
    "overall and per depth bin.\n"
    "  --target C   latency column (default: the predictor's target, else latency_ms)\n"
    "  --bins K     depth bins (default: the predictor's)\n"
    "  --json FILE  write the report as JSON ('-' = stdout, instead of the table)\n"
    ) + esm_cli::kDriftUsage;

namespace {

// Warnings (stderr) when the figures may not mean what they seem: the rows include those the
// predictor was trained on, or they were measured on another device or column than its own.
void warn_if_not_a_test(const esm::Predictor& p, const std::string& pred_path, const esm::LatencyData& d) {
    auto value = [&](const esm::DatasetMeta& meta, const std::string& key) {
        const std::string v = esm_cli::meta_value(meta, key);
        const esm::Space& s = p.space();  // resolution 0: the fixed space's own
        return key == "resolution" && v == "0" && !s.elastic_resolution() ? std::to_string(s.default_resolution()) : v;
    };
    // " source=PATH" ends the training line, or comes before " base: " / " from: " (a
    // calibrated or fine-tuned predictor's base's own line).
    const size_t at = p.training.find(" source=");
    std::string source = at == std::string::npos ? "" : p.training.substr(at + 8);
    for (const char* next : {" base: ", " from: "}) source = source.substr(0, source.find(next));
    const std::string created = value(p.dataset_meta, "created");
    if (esm_cli::Args::same_file(source, d.source) || (!created.empty() && created == value(d.meta, "created")))
        std::fprintf(stderr, "warning: %s was trained on rows of this dataset: where they are among these, the figures "
                             "are not a test (esm-train holds out --test-frac, or give --test FILE)\n", pred_path.c_str());
    for (const char* key : {"device", "backend", "pool", "pool_target", "resolution", "batch"}) {
        const std::string was = value(p.dataset_meta, key), now = value(d.meta, key);
        if (!was.empty() && !now.empty() && was != now)
            std::fprintf(stderr, "warning: %s was trained on data with %s '%s'; this dataset has '%s'\n", pred_path.c_str(),
                         key, was.c_str(), now.c_str());
    }
    if (d.target != p.target && d.target != value(p.dataset_meta, "pool_target"))  // (a replay's column: its pool's)
        std::fprintf(stderr, "warning: %s predicts column %s; this evaluation reads column %s\n", pred_path.c_str(),
                     p.target.c_str(), d.target.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    esm_cli::Args args(argc, argv, kUsage, {{"--target", true}, {"--bins", true}, {"--json", true}, {"--drift-correction", true}});
    return esm_cli::run_tool("esm-eval", [&] {
        if (args.positional().size() != 2) args.usage_error("expected PREDICTOR and DATASET.csv");
        if (args.has("--json") && args.get("--json") != "-") args.output_path("--json", args.positional());
        esm::set_blas_threads(1);
        const esm::Predictor p = esm::Predictor::load(args.positional()[0]);
        std::string target = args.get("--target");
        if (target.empty()) {
            esm::Table t = esm::read_table(args.positional()[1]);
            // The predictor's column, else latency_ms; with neither, the message names the former.
            target = t.column(p.target) >= 0 || t.column("latency_ms") < 0 ? p.target : "";
        }
        const esm::LatencyData d = esm::read_latency_data(args.positional()[1], p.space(), target,
                                                          args.get_on_off("--drift-correction", true));
        const int span = p.space().max_depth() - p.space().min_depth() + 1;
        const int bins = static_cast<int>(args.get_int("--bins", std::min(p.n_bins, span), 1, span));
        warn_if_not_a_test(p, args.positional()[0], d);
        const esm::MetricsReport m = esm::evaluate_predictor(p, d, bins);
        const std::string json = esm::metrics_json(m);
        if (args.get("--json") == "-") {
            std::printf("%s\n", json.c_str());
            return 0;
        }
        std::printf("%s", esm_cli::drift_note(d.source, d.drift).c_str());
        std::printf("predictor %s (space %s, encoding %s) on %s, column %s: %zu rows\n%s",
                    args.positional()[0].c_str(), p.space().name.c_str(), esm::encoding_name(p.encoding()),
                    d.source.c_str(), d.target.c_str(), d.size(), esm::metrics_table(m).c_str());
        if (args.has("--json")) esm::write_file_atomic(args.get("--json"), json + "\n");
        return 0;
    });
}
