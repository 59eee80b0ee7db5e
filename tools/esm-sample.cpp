// esm-sample: draw architectures from a space, one canonical line each on stdout.
#include <cstdio>

#include "cli.hpp"
#include "esm/sample.hpp"

static const char* kUsage =
    "usage: esm-sample --space S -n N [--strategy random|balanced] [--bins K] [--seed X]\n"
    "Print N distinct architectures of space S (preset or description file).\n"
    "  --strategy  random (default): unit depths and choices uniform;\n"
    "              balanced: a depth bin uniform, then a depth vector uniform in the bin\n"
    "  --bins K    depth bins for balanced sampling (default 5, or the number of depths\n"
    "              when fewer; balanced only)\n"
    "  --seed X    RNG seed (default 1)\n";

int main(int argc, char** argv) {
    esm_cli::Args args(argc, argv, kUsage,
                       {{"--space", true}, {"-n", true}, {"--strategy", true}, {"--bins", true}, {"--seed", true}});
    return esm_cli::run_tool("esm-sample", [&] {
        if (!args.positional().empty()) args.usage_error("unexpected argument '" + args.positional()[0] + "'");
        if (!args.has("--space")) args.usage_error("--space is required");
        if (!args.has("-n")) args.usage_error("-n is required");
        esm::Space s = esm::load_space(args.get("--space"));
        const int span = s.max_depth() - s.min_depth() + 1;
        const int n = static_cast<int>(args.get_int("-n", 0, 0, 100000000));
        const int bins = static_cast<int>(args.get_int("--bins", std::min(5, span), 1, span));
        const auto strategy = args.parse("--strategy", "random", esm::parse_strategy);
        if (args.has("--bins") && strategy != esm::Strategy::Balanced)
            args.usage_error("--bins goes with --strategy balanced (random sampling has no bins)");
        const auto seed = static_cast<uint64_t>(args.get_int("--seed", 1, 0, 0x7fffffffffffffffL));
        esm::Sampler sampler(s, seed);
        // Streamed: millions of lines without holding them (esm-sample ... | esm-predict P -).
        sampler.sample_each(strategy, n, bins, [](const esm::Arch&, const std::string& text) {
            std::fwrite(text.data(), 1, text.size(), stdout);
            std::fputc('\n', stdout);
        });
        return 0;
    });
}
