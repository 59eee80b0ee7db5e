// esm-space: describe an architecture space (a preset or a description file).
#include <cstdio>

#include "cli.hpp"
#include "esm/space.hpp"

static const char* kUsage =
    "usage: esm-space [PRESET|FILE] [--bins K] [--print]\n"
    "       esm-space --list\n"
    "Describe a space: units, choices, depth range, depth bins, size.\n"
    "  --list      list the preset spaces (alone)\n"
    "  --bins K    depth bins to show (default 5, or the number of depths when fewer;\n"
    "              not with --print)\n"
    "  --print     print the space description text (a file you can edit)\n";

int main(int argc, char** argv) {
    esm_cli::Args args(argc, argv, kUsage, {{"--list", false}, {"--bins", true}, {"--print", false}});
    return esm_cli::run_tool("esm-space", [&] {
        if (args.has("--list")) {
            if (!args.positional().empty() || args.has("--bins") || args.has("--print"))
                args.usage_error("--list takes no space, --bins or --print");
            for (const auto& n : esm::preset_names()) {
                esm::Space s = esm::preset(n);
                std::printf("%-12s %-11s depth %d..%d  size 10^%.2f\n", n.c_str(), esm::family_name(s.family),
                            s.min_depth(), s.max_depth(), s.size_log10());
            }
            return 0;
        }
        if (args.positional().size() != 1) args.usage_error("expected one PRESET or FILE");
        esm::Space s = esm::load_space(args.positional()[0]);
        if (args.has("--print")) {
            if (args.has("--bins")) args.usage_error("--bins does not apply to --print");
            std::fputs(esm::format_space(s).c_str(), stdout);
            return 0;
        }
        const int span = s.max_depth() - s.min_depth() + 1;
        const int bins = static_cast<int>(args.get_int("--bins", std::min(5, span), 1, span));
        std::printf("space       %s\nfamily      %s\n", s.name.c_str(), esm::family_name(s.family));
        std::printf("units       %zu\n", s.units.size());
        std::printf("  unit  width  stride  depth  act     se\n");
        for (size_t u = 0; u < s.units.size(); ++u) {
            const auto& us = s.units[u];
            const bool dense = s.family == esm::Family::DenseNet;  // its widths follow from stem and growth
            std::printf("  %-4zu  %-5s  %-6s  %d..%-3d %-7s %s\n", u, dense ? "-" : std::to_string(us.width).c_str(),
                        dense ? "-" : std::to_string(us.stride).c_str(), us.min_depth, us.max_depth,
                        esm::act_name(us.act), us.se ? "yes" : "no");
        }
        std::printf("choices     per %s\n", s.per_unit_choices ? "unit" : "block");
        for (const auto& c : s.choices) {
            std::printf("  %-3s", c.name.c_str());
            for (size_t i = 0; i < c.values.size(); ++i) std::printf(" %s=%.4g", c.labels[i].c_str(), c.values[i]);
            std::printf("\n");
        }
        std::printf("resolution  ");
        if (s.elastic_resolution())
            std::printf("elastic, %zu values %d..%d\n", s.resolutions.size(), s.resolutions.front(), s.resolutions.back());
        else
            std::printf("%d\n", s.resolutions.front());
        std::printf("depth       %d..%d (total blocks)\n", s.min_depth(), s.max_depth());
        std::printf("bins        %d:", bins);
        for (int b = 0; b < bins; ++b) std::printf(" [%d..%d]", s.bin_lo(b, bins), s.bin_hi(b, bins));
        std::printf("\nsize        %s (10^%.4f)\n", s.size_exact().c_str(), s.size_log10());
        return 0;
    });
}
