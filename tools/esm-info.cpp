// esm-info: depth, bin, params, MACs and the network plan of one architecture.
#include <cinttypes>
#include <cstdio>

#include "cli.hpp"
#include "protocol_cli.hpp"
#include "esm/plan.hpp"

static const char* kUsage =
    "usage: esm-info ARCH [--space S] [--res R] [--batch B] [--bins K]\n"
    "Show an architecture's depth, depth bin, params, MACs and its plan (one op per line).\n"
    "  --space S   preset or description file (default: the preset named by ARCH's prefix)\n"
    "  --res R     input resolution (default: the space's; refused on an elastic space)\n"
    "  --batch B   batch size (default: the space's, 1)\n"
    "  --bins K    depth bins (default 5, or the number of depths when fewer)\n";

int main(int argc, char** argv) {
    esm_cli::Args args(argc, argv, kUsage, {{"--space", true}, {"--res", true}, {"--batch", true}, {"--bins", true}});
    return esm_cli::run_tool("esm-info", [&] {
        if (args.positional().size() != 1) args.usage_error("expected one architecture");
        const std::string text = args.positional()[0];
        std::string space_name = args.get("--space", esm::arch_space_name(text));
        if (space_name.empty()) args.usage_error("no space: give --space or an architecture with a 'space:' prefix");
        esm::Space s = esm::load_space(space_name);
        esm::Arch a = esm::parse_arch(s, text);
        const int span = s.max_depth() - s.min_depth() + 1;
        const int bins = static_cast<int>(args.get_int("--bins", std::min(5, span), 1, span));
        const int batch = static_cast<int>(args.get_int("--batch", s.default_batch, 1, 4096));
        const int res = esm_cli::measured_resolution(args, s);
        esm::Plan p = esm::build_plan(s, a, batch, res);
        std::printf("arch        %s\n", esm::format_arch(s, a).c_str());
        std::printf("depth       %d (bin %d of %d)\n", a.depth(), s.bin_of(a.depth(), bins), bins);
        std::printf("input       %dx3x%dx%d\n", p.batch, p.res, p.res);
        std::printf("params      %" PRId64 "\n", p.params());
        std::printf("macs        %" PRId64 " (%.4f G)\n", p.macs(), p.macs() / 1e9);
        std::printf("ops         %zu\n", p.ops.size());
        for (const auto& op : p.ops) std::printf("  %s\n", op.describe().c_str());
        return 0;
    });
}
