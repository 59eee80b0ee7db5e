// Internal: decimal numbers in text. Whether a text is written as a decimal number can be
// (digits, '.', an exponent, signs): strtod alone also reads hex ("0x10" as 16), "inf" and
// "nan"; the callers still check that strtod read the whole text. And a number as a message
// shows it. Not public API.
//
// Numbers are read and written in the "C" locale whatever locale the host program set: a
// program that called setlocale(LC_ALL, "") under a decimal-comma locale (de_DE, fr_FR, ...)
// made strtod refuse "12.5" (every dataset and CSV "not a finite number") and %g write
// "12,5" (a comma that splits a CSV field: a dataset row with two more fields).
#pragma once
#include <locale.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace esm::detail {

// This thread's locale is "C" while one lives (uselocale: other threads and the process's
// locale are untouched); the one before comes back after.
class CNumbers {
public:
    CNumbers() : old_(c_locale() ? uselocale(c_locale()) : locale_t{}) {}
    ~CNumbers() {
        if (old_) uselocale(old_);
    }
    CNumbers(const CNumbers&) = delete;
    CNumbers& operator=(const CNumbers&) = delete;

private:
    static locale_t c_locale() {
        static const locale_t c = newlocale(LC_ALL_MASK, "C", locale_t{});
        return c;
    }
    locale_t old_;
};

// std::strtod and std::strtof in the "C" locale.
inline double strtod_c(const char* s, char** end) {
    CNumbers c;
    return std::strtod(s, end);
}
inline float strtof_c(const char* s, char** end) {
    CNumbers c;
    return std::strtof(s, end);
}

// %g (0.95, 1e-07, 1e+30): not std::to_string's six decimals, which wrote 1e-7 as
// "0.000000" and 1e30 as 31 digits.
inline std::string short_number(double v) {
    CNumbers c;
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
}

// A dataset header's number: 10 significant digits (0.03, 1.4e-06), as every header writes it.
inline std::string header_number(double v) {
    CNumbers c;
    char b[32];
    std::snprintf(b, sizeof b, "%.10g", v);
    return b;
}

// The shortest of %.15g / %.17g that reads back exactly (files that must give the same
// number back: lookup tables, esm-build's settings).
inline std::string exact_number(double v) {
    CNumbers c;
    char b[40];
    std::snprintf(b, sizeof b, "%.15g", v);
    if (std::strtod(b, nullptr) != v) std::snprintf(b, sizeof b, "%.17g", v);
    return b;
}

inline bool decimal_chars(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789.eE+-") == std::string_view::npos;
}

}  // namespace esm::detail
