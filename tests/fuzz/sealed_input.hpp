// Fuzz input for the checksummed files (predictors, lookup tables): byte 0 picks how the
// rest is read. Even: as the file's bytes, where the checksum stops almost every mutation
// at the first check. Odd: the checksum line is recomputed over the mutated text, so the
// mutations reach the parser behind the check.
#pragma once
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "esm/predictor.hpp"

inline std::string sealed_input(const uint8_t* data, size_t size) {
    if (size == 0) return {};
    std::string s(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (!(data[0] & 1)) return s;
    const std::string key = "checksum fnv1a64 ";
    const size_t at = s.rfind("\n" + key);
    if (at != std::string::npos) s.resize(at + 1);
    if (s.empty() || s.back() != '\n') s += '\n';
    char sum[32];
    std::snprintf(sum, sizeof sum, "%016" PRIx64, esm::fnv1a64(s.data(), s.size()));
    return s + key + sum + "\n";
}
