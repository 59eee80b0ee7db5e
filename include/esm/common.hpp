// Shared basics of the C++ API: the error type, the library version, small helpers.
// Not a utility grab-bag: only what every other header needs.
#pragma once
#include <stdexcept>
#include <string>

#define ESM_VERSION_MAJOR 0
#define ESM_VERSION_MINOR 1
#define ESM_VERSION_PATCH 0
#define ESM_VERSION_STRING "0.1.0"

namespace esm {

// What went wrong, for the C API's status codes.
enum class ErrorKind { InvalidArgument, Parse, Io, Format, Unsupported, Internal };

// Every failure inside the library is an esm::Error with a message that names
// what and where; the C API turns it into a status and esm_last_error().
class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

private:
    ErrorKind kind_;
};

inline const char* version() { return ESM_VERSION_STRING; }

// The latencies libesm holds, in ms: 1e-9 (a picosecond) to 1e12 (30 years); training and
// prediction run in float. A value outside is a unit mistake or a corrupt field: datasets
// refuse to write it, readers and the runner contract refuse to read it.
constexpr double kMinLatencyMs = 1e-9, kMaxLatencyMs = 1e12;
inline bool latency_in_range(double ms) { return ms >= kMinLatencyMs && ms <= kMaxLatencyMs; }
constexpr const char* kLatencyRangeText = "1e-9 .. 1e12 ms";

}  // namespace esm
