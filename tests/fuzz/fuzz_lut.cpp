// libFuzzer target: lookup-table file bytes (tests/fuzz/sealed_input.hpp: as given, or with
// the checksum recomputed). Loading fails with esm::Error, or gives a table that saves to a
// file which loads back to the same bytes and that predicts a finite number or names a
// missing key.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "esm/common.hpp"
#include "esm/executor.hpp"
#include "esm/lut.hpp"
#include "esm/sample.hpp"
#include "sealed_input.hpp"

// The fuzz build has no CPU kernels (CMakeLists.txt) and this target never profiles: the
// executor factory that esm::LookupTable's profiling links to traps if it is ever reached.
namespace esm::cpu {
std::unique_ptr<Executor> make_executor(const Plan&, const Weights&, const ExecutorOptions&) { __builtin_trap(); }
}  // namespace esm::cpu

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes = sealed_input(data, size);
    esm::LookupTable t = [&] {
        try {
            return esm::LookupTable::parse(bytes, "fuzz.lut");
        } catch (const esm::Error&) {
            return esm::LookupTable(esm::preset("resnet"), 1, 0);
        }
    }();
    if (t.size() == 0) return 0;
    const std::string saved = t.serialize();
    if (esm::LookupTable::parse(saved, "saved.lut").serialize() != saved) __builtin_trap();
    try {
        esm::Sampler sm(t.space(), 1);
        if (!std::isfinite(t.predict(sm.random()))) __builtin_trap();
    } catch (const esm::Error&) {
    }
    return 0;
}
