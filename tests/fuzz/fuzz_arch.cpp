// libFuzzer target: architecture text. The first byte picks the preset; whatever parses
// must print back to exactly the same text, and nothing may crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "esm/arch.hpp"
#include "esm/common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static const esm::Space spaces[] = {esm::preset("resnet"), esm::preset("mobilenetv3"), esm::preset("densenet"),
                                        esm::preset("ofa-mbv3")};
    const esm::Space& s = spaces[data[0] % 4];
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    esm::Arch a;
    std::string err;
    if (esm::try_parse_arch(s, text, &a, &err)) {
        if (esm::format_arch(s, a) != text) __builtin_trap();  // round trip must be exact
    } else if (err.empty()) {
        __builtin_trap();  // a rejection always says why
    }
    return 0;
}
