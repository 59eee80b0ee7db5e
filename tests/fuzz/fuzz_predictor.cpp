// libFuzzer target: predictor file bytes (tests/fuzz/sealed_input.hpp: as given, or with the
// checksum recomputed). Loading either fails with esm::Error or gives a predictor that
// predicts and saves to a file that loads back to the same bytes and predictions.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "esm/common.hpp"
#include "esm/predictor.hpp"
#include "esm/sample.hpp"
#include "sealed_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes = sealed_input(data, size);
    try {
        esm::Predictor p = esm::Predictor::parse(bytes, "fuzz.esm");
        esm::Sampler sm(p.space(), 1);
        const esm::Arch a = sm.random();
        const double y = p.predict(a);
        // What loads saves, and loads back to the same bytes and predictions.
        const std::string saved = p.serialize();
        const esm::Predictor q = esm::Predictor::parse(saved, "saved.esm");
        if (q.serialize() != saved) __builtin_trap();
        const double z = q.predict(a);
        if (std::memcmp(&y, &z, sizeof y) != 0) __builtin_trap();
    } catch (const esm::Error&) {
    }
    return 0;
}
