// Internal: whether a text is written as a decimal number can be (digits, '.', an exponent,
// signs): strtod alone also reads hex ("0x10" as 16), "inf" and "nan". The callers still
// check that strtod read the whole text. Not public API.
#pragma once
#include <string_view>

namespace esm::detail {

inline bool decimal_chars(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789.eE+-") == std::string_view::npos;
}

}  // namespace esm::detail
