// The --drift-correction option (docs/dataset_format.md, "Drift correction") of the tools
// that read datasets: its help line and the line saying what a correction did.
#pragma once
#include <cstdio>
#include <string>

#include "esm/dataset.hpp"

namespace esm_cli {

// The usage line of --drift-correction, shared by the tools that read datasets.
inline const char* kDriftUsage =
    "  --drift-correction on|off  divide each sample of a libesm dataset by the device's speed\n"
    "                    while its batch was measured, from the reference re-measurements (default on)\n";

// One line on what the drift correction of a dataset did ("" when it had no references).
inline std::string drift_note(const std::string& what, const esm::DriftRange& d) {
    if (d.remeasurements == 0) return "";
    char b[200];
    std::snprintf(b, sizeof b, "%s: drift-corrected by %d reference re-measurements (factors %.3f..%.3f)\n",
                  what.c_str(), d.remeasurements, d.lo, d.hi);
    return b;
}

}  // namespace esm_cli
