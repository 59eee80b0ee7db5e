// libFuzzer target: external-runner output. Accepted values are positive and finite.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "esm/common.hpp"
#include "esm/runner.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string out(reinterpret_cast<const char*>(data), size);
    try {
        const double v = esm::parse_runner_output(out);
        if (!(v > 0) || !std::isfinite(v)) __builtin_trap();
    } catch (const esm::Error&) {
    }
    return 0;
}
