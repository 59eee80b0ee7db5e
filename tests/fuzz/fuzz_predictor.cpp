// libFuzzer target: predictor file bytes. Loading either fails with esm::Error or gives
// a predictor that predicts a finite number.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "esm/common.hpp"
#include "esm/predictor.hpp"
#include "esm/sample.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    try {
        esm::Predictor p = esm::Predictor::parse(bytes, "fuzz.esm");
        esm::Sampler sm(p.space(), 1);
        (void)p.predict(sm.random());
    } catch (const esm::Error&) {
    }
    return 0;
}
