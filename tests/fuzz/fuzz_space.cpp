// libFuzzer target: space description text. Whatever parses must print and parse back to
// an equal space; rejections are esm::Error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "esm/common.hpp"
#include "esm/space.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    esm::Space s;
    try {
        s = esm::parse_space(text, "fuzz");
    } catch (const esm::Error&) {
        return 0;
    }
    // What parsed must read back: a refusal of its own printed text is a bug as well (a
    // predictor or dataset keeps that text), not a rejection to pass over.
    try {
        if (esm::parse_space(esm::format_space(s), "fuzz2") != s) __builtin_trap();
    } catch (const esm::Error&) {
        __builtin_trap();
    }
    (void)s.size_exact();
    (void)s.size_log10();
    return 0;
}
