// libFuzzer target: dataset CSV text (header lines and rows), read strictly, then as a
// latency dataset of a preset space, with or without drift correction; only esm::Error may
// come out, and a dataset that loads holds finite latencies > 0.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "esm/common.hpp"
#include "esm/table.hpp"
#include "esm/train.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    static const esm::Space space = esm::preset("resnet");
    try {
        bool torn = false;
        esm::Table t = esm::parse_table(text, "fuzz.csv", data[0] & 1, &torn);
        for (size_t r = 0; r < t.rows.size(); ++r)
            for (size_t c = 0; c < t.columns.size(); ++c) {
                try {
                    (void)t.number(r, static_cast<int>(c));
                } catch (const esm::Error&) {
                }
                try {
                    const long v = t.integer(r, static_cast<int>(c), -1000, 1000);
                    if (v < -1000 || v > 1000) __builtin_trap();
                } catch (const esm::Error&) {
                }
            }
        esm::LatencyData d = esm::latency_data_from_table(t, space, "", (data[0] & 2) != 0);
        for (double y : d.latency)
            if (!(std::isfinite(y) && y > 0)) __builtin_trap();
        (void)d.depths();
    } catch (const esm::Error&) {
    }
    return 0;
}
