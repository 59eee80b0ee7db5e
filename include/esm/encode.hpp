// Architecture encoders (SPEC §6): onehot, feature, stat, fc and fcc vectors for any space
// description. Layouts are documented in docs/encodings.md; this is not the MLP's input
// standardisation (that lives with the model).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "esm/arch.hpp"
#include "esm/space.hpp"

namespace esm {

enum class Encoding { OneHot, Feature, Stat, FC, FCC };
Encoding parse_encoding(const std::string& s);  // "onehot" | "feature" | "stat" | "fc" | "fcc"
const char* encoding_name(Encoding e);

// How an elastic resolution enters the vector: Scalar = one feature res / max_res (SPEC §6);
// OneHot = that feature followed by a one-hot over the space's allowed resolutions (a
// tuning option: per-resolution effects such as kernel choices of the device's library);
// Scaled = as OneHot, and every unit entry is multiplied by res / max_res (a block's cost
// grows with its feature-map size). Fixed-resolution spaces ignore these three.
// Area = as OneHot, and every unit entry is multiplied by the area of the feature map the
// unit outputs at this resolution over its area at the largest one (from the network plan,
// so with the plan's rounding); count encodings (stat, fc, fcc) give each unit two sections,
// its first block alone (the block that changes stride and width), then its other blocks.
// The split applies to fixed-resolution spaces too.
// AreaDepth = as Area, and on an elastic resolution one more entry per unit at the end: its
// depth, not scaled (a block's cost is close to affine in its output area, a + b * area:
// the a part, e.g. a GPU kernel's launch, does not shrink with the resolution).
enum class ResEncoding { Scalar, OneHot, Scaled, Area, AreaDepth };
ResEncoding parse_res_encoding(const std::string& s);  // "scalar" | "onehot" | "scaled" | "area" | "area-depth"
const char* res_encoding_name(ResEncoding r);
std::vector<std::string> encoding_names();

// Encoding is const: one encoder may serve any number of threads at once.
class Encoder {
public:
    Encoder(const Space& space, Encoding encoding, ResEncoding res = ResEncoding::Scalar);

    Encoding encoding() const { return encoding_; }
    ResEncoding res_encoding() const { return res_encoding_; }
    const Space& space() const { return space_; }
    int length() const { return length_; }
    // Names of the entries, e.g. "u0.s3.k5e67" or "u1.count.k7", for docs and debugging.
    std::vector<std::string> feature_names() const;

    // Fast path: writes exactly length() floats to out, allocates nothing. The arch must
    // belong to the space (not re-validated here; parse_arch/validate_arch guarantee it).
    // out: (length())
    void encode(const Arch& arch, float* out) const;
    std::vector<float> encode(const Arch& arch) const;
    // out: (n, length()) row-major.
    void encode_batch(const Arch* archs, size_t n, float* out) const;

    // Index of block `b`'s choice combination: mixed radix, first choice most significant
    // (for k x e: k_index * |e| + e_index).
    int combination(const BlockChoice& b) const {
        return b[0] * place_[0] + b[1] * place_[1] + b[2] * place_[2] + b[3] * place_[3];
    }

private:
    // The count encodings (stat, fc, fcc) of blocks [b0, b1) of one unit into o (zeroed),
    // every entry times scale (after counting: a count c gives c * scale rounded once).
    template <Encoding E>
    void encode_counts(const std::vector<BlockChoice>& blocks, int b0, int b1, float* o, float scale) const;
    // One unit's count sections (its first block apart under the area option).
    template <Encoding E>
    void encode_unit_counts(const std::vector<BlockChoice>& blocks, float* o, float scale) const;

    Space space_;
    Encoding encoding_;
    ResEncoding res_encoding_;
    int length_ = 0;
    int combos_ = 1;
    std::vector<int> unit_offset_;   // start of each unit's section
    std::vector<int> radix_;         // value count per choice
    int place_[kMaxChoices] = {};    // combination(): each choice's place value, 0 past the last
    std::vector<int> choice_offset_; // fc: offset of each choice's value counts in a unit
    int count_len_ = 0;              // stat, fc, fcc: length of one count section
    int res_index_ = -1;             // elastic resolution feature, -1 when fixed
    int depth_index_ = -1;           // AreaDepth, elastic: the units' depths, -1 otherwise
    bool split_first_ = false;       // Area(Depth) on a count encoding: first block in its own section
    std::vector<float> unit_area_;   // Area(Depth), elastic: [res index * units + u] = area ratio
    std::vector<int> res_slot_;      // elastic, not Scalar: [resolution] = its index, else -1
    float res_scale_ = 1.f;
    std::vector<int> value_offset_;  // values_[value_offset_[c] + index]: numeric value
    std::vector<float> values_;
};

}  // namespace esm
