// Architecture spaces (SPEC §2): a block-wise macro-architecture of one family with
// per-unit depth and per-block (or per-unit) choices. A space is data: presets and
// user description files (docs/space_format.md) produce the same Space value.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace esm {

// The smallest choice value a space holds: the smallest normal double, so that a value
// written out with %.17g (format_space) reads back (a subnormal one sets ERANGE).
constexpr double kMinChoiceValue = std::numeric_limits<double>::min();

// The longest space description text read (a file, or the copy a dataset header, predictor
// or lookup table keeps); Space::validate refuses a space whose format_space text is longer.
constexpr size_t kMaxSpaceTextBytes = 65536;

enum class Family { ResNet, MobileNetV3, DenseNet };
enum class Act { None, ReLU, HSwish, HSigmoid };

const char* family_name(Family f);
const char* act_name(Act a);

// One searchable dimension of a block, e.g. kernel "k" {3,5,7} or expansion "e".
// The name is letters only, labels are digits (and '.') only, so the text is unambiguous.
struct Choice {
    std::string name;                 // "k", "e"
    std::vector<double> values;       // numeric meaning: kernel size, width factor, expand ratio
    std::vector<std::string> labels;  // text form in architectures, same order as values
};

struct UnitSpec {
    int width = 0;       // output channels (ResNet/MobileNetV3); unused by DenseNet
    int stride = 1;      // stride of the unit's first block (DenseNet: unused)
    int min_depth = 1;   // blocks (layers) per unit
    int max_depth = 1;
    Act act = Act::ReLU; // MobileNetV3: block activation
    bool se = false;     // MobileNetV3: squeeze-excite
};

struct Space {
    std::string name;  // prefix of every architecture text: "resnet:..."
    Family family = Family::ResNet;
    std::vector<UnitSpec> units;
    std::vector<Choice> choices;  // ResNet: k, e (e = width factor of W/4);
                                  // MobileNetV3: k, e (e = expand ratio); DenseNet: k
    bool per_unit_choices = false;  // DenseNet: one choice set shared by every layer of a unit

    int stem_width = 64;              // stem conv output channels
    int first_block_width = 0;        // MobileNetV3: fixed expand-1 MBConv after the stem (0 = none)
    std::vector<int> head_widths;     // MobileNetV3: head 1x1 conv width, then FC hidden width
    int num_classes = 1000;
    int growth = 32;                  // DenseNet growth rate
    int bottleneck = 128;             // DenseNet bottleneck width

    std::vector<int> resolutions = {224};  // one value = fixed; several = elastic (part of the arch)
    int default_batch = 1;

    // Derived facts.
    bool elastic_resolution() const { return resolutions.size() > 1; }
    int default_resolution() const { return resolutions.back(); }
    int min_depth() const;  // total over units
    int max_depth() const;
    int max_unit_depth() const;
    int choice_index(const std::string& name) const;  // -1 when absent
    // Number of (value combinations) of one block's choices, e.g. 9 for k x e.
    int combinations() const;

    // Depth bins (SPEC §4): n_bins equally wide integer bins over [min_depth, max_depth].
    // Bin b holds depths [bin_lo(b), bin_hi(b)]; widths differ by at most one. A bin count
    // outside 1..(max_depth - min_depth + 1), or a bin outside 0..n_bins-1, throws.
    int bin_of(int depth, int n_bins) const;
    int bin_lo(int bin, int n_bins) const;
    int bin_hi(int bin, int n_bins) const;

    // Size of the space: exact decimal integer, and log10.
    std::string size_exact() const;
    double size_log10() const;

    // Throws esm::Error naming the field when the description is inconsistent.
    void validate() const;
    // The same checks, each failure handed to `fail` with the description-file key it is
    // about ("depth", "choice k", ...; "" for none) and the message; `fail` must throw (a
    // parser adds the key's line). esm::Error is thrown if it returns.
    void validate(const std::function<void(const std::string& key, const std::string& what)>& fail) const;
};

// Presets: "resnet", "mobilenetv3", "densenet" (SPEC §2.1-2.3), "ofa-mbv3".
std::vector<std::string> preset_names();
bool is_preset(const std::string& name);
Space preset(const std::string& name);

// Space description text (docs/space_format.md). `where` names the source in errors.
Space parse_space(const std::string& text, const std::string& where = "space description");
std::string format_space(const Space& s);  // parse_space(format_space(s)) == s
Space load_space_file(const std::string& path);
// A preset name or a description file path.
Space load_space(const std::string& preset_or_path);

// For messages about two spaces that are not equal: "space 'resnet', not 'mobilenetv3'", or
// for two descriptions under one name "another description of space 'ofa-mbv3' (line 4:
// 'width = 16 24 40 80 160', not 'width = 16 24 40 80 112')": a's first differing line of
// format_space against b's.
std::string space_difference(const Space& a, const Space& b);

bool operator==(const Space& a, const Space& b);
inline bool operator!=(const Space& a, const Space& b) { return !(a == b); }

}  // namespace esm
