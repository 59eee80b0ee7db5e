// The measurement-protocol options (SPEC §5) that esm-measure and esm-build share: their
// names for esm_cli::Args, their help lines, and reading them into a MeasureProtocol.
#pragma once
#include <string>
#include <vector>

#include "cli.hpp"
#include "esm/common.hpp"
#include "esm/measure.hpp"
#include "esm/space.hpp"

namespace esm_cli {

inline const char* const kProtocolUsage =
    "  --warmup N --runs N warm-up and timed runs per measurement (default 10, 150)\n"
    "  --trim F            fraction of the sorted runs dropped at each end (default 0.2)\n"
    "  --refs N            reference models for quality control (default 5; 0 disables it)\n"
    "  --qc-every N        samples between reference re-measurements (default 10)\n"
    "  --qc-threshold F    largest relative move of a reference (default 0.03, the paper's 3 %)\n"
    "  --qc-retries N      re-measurements of a failing batch (default 3)\n"
    "  --qc-wait S         seconds to wait before re-measuring a failing batch, doubled for each\n"
    "                      further retry (default 0)\n"
    "  --outlier-spread F  a sample whose spread (std/mean) exceeds max(F, 3 x the lower median\n"
    "                      spread of the other samples of its batch) is re-measured, then\n"
    "                      dropped (default 0.05)\n"
    "  --outlier-retries N re-measurements of an outlier before it is dropped (default 2)\n";

// `options` plus the protocol options.
inline std::vector<Option> with_protocol_options(std::vector<Option> options) {
    for (const char* name : {"--warmup", "--runs", "--trim", "--refs", "--qc-every", "--qc-threshold", "--qc-retries",
                             "--qc-wait", "--outlier-spread", "--outlier-retries"})
        options.push_back({name, true});
    return options;
}

// The executor's input resolution (--res; 0 = the space's): a usage error on an elastic
// space, whose architectures each run at their own @R (esm::executor_measurer); esm-info
// and esm-run would print an @R the figures were not computed at.
inline int measured_resolution(const Args& args, const esm::Space& space) {
    const int res = static_cast<int>(args.get_int("--res", 0, 8, 4096));
    if (res && space.elastic_resolution())
        args.usage_error("--res: space '" + space.name + "' has an elastic resolution; each architecture runs at "
                         "its own (@R)");
    if (res) {  // one that leaves no feature map is refused here, not at the first architecture
        esm::Space at = space;
        at.resolutions = {res};
        try {
            at.validate();
        } catch (const esm::Error& e) {
            args.usage_error(std::string("--res: ") + e.what());
        }
    }
    return res;
}

// The protocol the options ask for (defaults: MeasureProtocol's): a usage error when one is
// out of range, esm::Error (MeasureProtocol::validate) when the whole is inconsistent.
inline esm::MeasureProtocol read_protocol(const Args& args) {
    esm::MeasureProtocol p;
    p.warmup = static_cast<int>(args.get_int("--warmup", p.warmup, 0, esm::MeasureProtocol::kMaxPasses));
    p.runs = static_cast<int>(args.get_int("--runs", p.runs, 1, esm::MeasureProtocol::kMaxPasses));
    p.trim = args.get_double("--trim", p.trim, 0.0, 0.49);
    p.refs = static_cast<int>(args.get_int("--refs", p.refs, 0, 1000));
    p.qc_batch = static_cast<int>(args.get_int("--qc-every", p.qc_batch, 1, 1000000));
    p.qc_threshold = args.get_double("--qc-threshold", p.qc_threshold, 1e-6, 10.0);
    p.qc_retries = static_cast<int>(args.get_int("--qc-retries", p.qc_retries, 0, 1000));
    p.qc_wait_s = args.get_double("--qc-wait", p.qc_wait_s, 0, 3600);
    p.outlier_spread = args.get_double("--outlier-spread", p.outlier_spread, 1e-6, 1e6);
    p.outlier_retries = static_cast<int>(args.get_int("--outlier-retries", p.outlier_retries, 0, 1000));
    p.validate();
    return p;
}

}  // namespace esm_cli
