// Architectures of a space and their canonical one-line text (SPEC §3).
// Parsing is strict and never repairs input; printing gives back the canonical text.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "esm/space.hpp"

namespace esm {

constexpr int kMaxChoices = 4;
// Index into Space::choices[i].values for each choice dimension i.
using BlockChoice = std::array<uint8_t, kMaxChoices>;

struct Arch {
    // units[u][b]: the choices of block b of unit u. For per-unit-choice spaces (DenseNet)
    // every block of a unit holds the unit's choice, so encoders treat all families alike.
    std::vector<std::vector<BlockChoice>> units;
    int res = 0;  // input resolution; for fixed-resolution spaces the space's resolution

    int depth() const;
    int unit_depth(int u) const { return static_cast<int>(units[u].size()); }
};

bool operator==(const Arch& a, const Arch& b);
inline bool operator!=(const Arch& a, const Arch& b) { return !(a == b); }

// Throws esm::Error (ErrorKind::Parse) naming the byte position and what was expected.
Arch parse_arch(const Space& space, std::string_view text);
// Non-throwing form: false and a message on bad input. Parses into *out, reusing its
// vectors' capacity (a loop over millions of lines allocates nothing); after a false,
// *out holds a partial parse.
bool try_parse_arch(const Space& space, std::string_view text, Arch* out, std::string* error);
std::string format_arch(const Space& space, const Arch& arch);
// Longest canonical text of the space (parse rejects longer input up front).
size_t max_arch_text_length(const Space& space);
// Throws esm::Error when `arch` does not belong to `space` (for archs built in code).
void validate_arch(const Space& space, const Arch& arch);

// The space prefix of an architecture text ("resnet" of "resnet:k3e50..."), or "".
std::string arch_space_name(const std::string& text);

// Numeric value of choice `name` of a block (e.g. its kernel), for builders and encoders.
double choice_value(const Space& space, const BlockChoice& b, int choice);

}  // namespace esm
