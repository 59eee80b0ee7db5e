// Space facts derived from the description: depth range, bins, size, validation.
// Parsing and printing of description files live in space_text.cpp.
#include "esm/space.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "decimal.hpp"
#include "esm/arch.hpp"
#include "esm/common.hpp"
#include "esm/plan.hpp"

namespace esm {

const char* family_name(Family f) {
    switch (f) {
        case Family::ResNet: return "resnet";
        case Family::MobileNetV3: return "mobilenetv3";
        case Family::DenseNet: return "densenet";
    }
    return "?";
}

const char* act_name(Act a) {
    switch (a) {
        case Act::None: return "none";
        case Act::ReLU: return "relu";
        case Act::HSwish: return "hswish";
        case Act::HSigmoid: return "hsigmoid";
    }
    return "?";
}

int Space::min_depth() const {
    int d = 0;
    for (const auto& u : units) d += u.min_depth;
    return d;
}

int Space::max_depth() const {
    int d = 0;
    for (const auto& u : units) d += u.max_depth;
    return d;
}

int Space::max_unit_depth() const {
    int d = 0;
    for (const auto& u : units) d = std::max(d, u.max_depth);
    return d;
}

int Space::choice_index(const std::string& n) const {
    for (size_t i = 0; i < choices.size(); ++i)
        if (choices[i].name == n) return static_cast<int>(i);
    return -1;
}

int Space::combinations() const {
    int c = 1;
    for (const auto& ch : choices) c *= static_cast<int>(ch.values.size());
    return c;
}

// Bins split the integer depths [lo, hi] into n_bins runs as equal as integers allow:
// bin b starts at lo + floor(b * span / n_bins) (b = n_bins: one past the last depth).
static int bin_start(const Space& s, int bin, int n_bins) {
    const int span = s.max_depth() - s.min_depth() + 1;
    return s.min_depth() + static_cast<int>(static_cast<int64_t>(bin) * span / n_bins);
}

static void check_bins(const Space& s, int n_bins) {
    const int span = s.max_depth() - s.min_depth() + 1;
    if (n_bins < 1 || n_bins > span)
        throw Error(ErrorKind::InvalidArgument, "number of bins " + std::to_string(n_bins) +
                                                    " must be in 1.." + std::to_string(span) +
                                                    " for space " + s.name);
}

static void check_bin(const Space& s, int bin, int n_bins) {
    check_bins(s, n_bins);
    if (bin < 0 || bin >= n_bins)
        throw Error(ErrorKind::InvalidArgument, "bin " + std::to_string(bin) + " outside 0.." + std::to_string(n_bins - 1));
}

int Space::bin_lo(int bin, int n_bins) const {
    check_bin(*this, bin, n_bins);
    return bin_start(*this, bin, n_bins);
}

int Space::bin_hi(int bin, int n_bins) const {
    check_bin(*this, bin, n_bins);
    return bin_start(*this, bin + 1, n_bins) - 1;
}

int Space::bin_of(int depth, int n_bins) const {
    const int span = max_depth() - min_depth() + 1;
    check_bins(*this, n_bins);
    if (depth < min_depth() || depth > max_depth())
        throw Error(ErrorKind::InvalidArgument, "depth " + std::to_string(depth) +
                                                    " outside the space's range " +
                                                    std::to_string(min_depth()) + ".." +
                                                    std::to_string(max_depth()));
    // Largest b with bin_lo(b) <= depth.
    int b = static_cast<int>((static_cast<int64_t>(depth - min_depth()) * n_bins) / span);
    while (b + 1 < n_bins && bin_start(*this, b + 1, n_bins) <= depth) ++b;
    while (b > 0 && bin_start(*this, b, n_bins) > depth) --b;
    return b;
}

namespace {

// Unsigned big integer in base 1e9, just enough for space sizes.
struct BigUint {
    std::vector<uint32_t> d;  // little-endian limbs
    static constexpr uint32_t kBase = 1000000000u;

    explicit BigUint(uint64_t v = 0) {
        do {
            d.push_back(static_cast<uint32_t>(v % kBase));
            v /= kBase;
        } while (v);
    }
    BigUint& operator+=(const BigUint& o) {
        uint64_t carry = 0;
        for (size_t i = 0; i < std::max(d.size(), o.d.size()) || carry; ++i) {
            if (i == d.size()) d.push_back(0);
            uint64_t s = carry + d[i] + (i < o.d.size() ? o.d[i] : 0);
            d[i] = static_cast<uint32_t>(s % kBase);
            carry = s / kBase;
        }
        return *this;
    }
    BigUint operator*(const BigUint& o) const {
        std::vector<uint64_t> r(d.size() + o.d.size() + 1, 0);
        for (size_t i = 0; i < d.size(); ++i) {
            uint64_t carry = 0;
            for (size_t j = 0; j < o.d.size() || carry; ++j) {
                uint64_t cur = r[i + j] + carry + (j < o.d.size() ? uint64_t(d[i]) * o.d[j] : 0);
                r[i + j] = cur % kBase;
                carry = cur / kBase;
            }
        }
        BigUint out;
        out.d.assign(r.begin(), r.end());
        while (out.d.size() > 1 && out.d.back() == 0) out.d.pop_back();
        return out;
    }
    std::string str() const {
        std::string s = std::to_string(d.back());
        for (size_t i = d.size() - 1; i-- > 0;) {
            std::string limb = std::to_string(d[i]);
            s += std::string(9 - limb.size(), '0') + limb;
        }
        return s;
    }
};

}  // namespace

// Per unit: per-block choices give sum_d C^d; per-unit choices give (#depths) * C.
std::string Space::size_exact() const {
    const uint64_t c = static_cast<uint64_t>(combinations());
    BigUint total(1);
    for (const auto& u : units) {
        BigUint unit_ways(0);
        if (per_unit_choices) {
            unit_ways = BigUint(static_cast<uint64_t>(u.max_depth - u.min_depth + 1) * c);
        } else {
            BigUint power(1);
            for (int d = 1; d <= u.max_depth; ++d) {
                power = power * BigUint(c);
                if (d >= u.min_depth) unit_ways += power;
            }
        }
        total = total * unit_ways;
    }
    total = total * BigUint(resolutions.size());
    return total.str();
}

double Space::size_log10() const {
    const double c = combinations();
    double lg = std::log10(static_cast<double>(resolutions.size()));
    for (const auto& u : units) {
        double ways = 0;
        if (per_unit_choices) {
            ways = (u.max_depth - u.min_depth + 1) * c;
        } else {
            // sum_d c^d computed relative to the largest term to stay finite.
            for (int d = u.min_depth; d <= u.max_depth; ++d)
                ways += std::pow(c, d - u.max_depth);
            lg += u.max_depth * std::log10(c);
        }
        lg += std::log10(ways);
    }
    return lg;
}

namespace {

bool is_label(const std::string& l) {
    if (l.empty()) return false;
    for (char c : l)
        if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
    return true;
}

}  // namespace

void Space::validate() const {
    validate([](const std::string&, const std::string& what) { throw Error(ErrorKind::Format, what); });
}

void Space::validate(const std::function<void(const std::string& key, const std::string& what)>& fail) const {
    auto bad = [&](const std::string& key, const std::string& what) {
        const std::string message = "space '" + (name.empty() ? std::string("?") : name) + "': " + what;
        fail(key, message);
        throw Error(ErrorKind::Format, message);  // `fail` did not throw
    };
    if (name.empty()) bad("name", "name is empty");
    for (char c : name)
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
              c == '-' || c == '_'))
            bad("name", "name may hold only a-z, 0-9, '-' and '_'");
    if (units.empty() || units.size() > 16) bad("units", "needs 1 to 16 units");
    for (size_t i = 0; i < units.size(); ++i) {
        const auto& u = units[i];
        const std::string where = "unit " + std::to_string(i) + ": ";
        if (u.min_depth < 1 || u.max_depth < u.min_depth || u.max_depth > 64)
            bad("depth", where + "depth range must satisfy 1 <= min <= max <= 64");
        if (family != Family::DenseNet) {
            if (u.width < 1 || u.width > 65536) bad("width", where + "width must be 1..65536");
            if (u.stride != 1 && u.stride != 2) bad("stride", where + "stride must be 1 or 2");
        }
        if (family != Family::MobileNetV3 && u.se) bad("se", where + "squeeze-excite is a MobileNetV3 option");
        if (u.act != Act::ReLU && u.act != Act::HSwish) bad("act", where + "activation must be relu or hswish");
    }
    if (choices.empty() || choices.size() > static_cast<size_t>(kMaxChoices))
        bad("", "needs 1 to " + std::to_string(kMaxChoices) + " choices");
    for (const auto& ch : choices) {
        if (ch.name.empty()) bad("", "a choice has no name");
        for (char c : ch.name)
            if (!std::isalpha(static_cast<unsigned char>(c))) bad("choice " + ch.name, "choice name '" + ch.name + "' must be letters");
        if (ch.values.empty() || ch.values.size() > 255 || ch.values.size() != ch.labels.size())
            bad("choice " + ch.name, "choice '" + ch.name + "' needs 1..255 values, each with a label");
        for (size_t i = 0; i < ch.labels.size(); ++i) {
            if (!is_label(ch.labels[i]))
                bad("choice " + ch.name, "choice '" + ch.name + "' label '" + ch.labels[i] + "' must be digits and '.'");
            if (!(ch.values[i] >= kMinChoiceValue) || !std::isfinite(ch.values[i]))
                bad("choice " + ch.name, "choice '" + ch.name + "' values must be positive (normal) numbers");
            for (size_t j = 0; j < i; ++j)
                if (ch.labels[j] == ch.labels[i])
                    bad("choice " + ch.name, "choice '" + ch.name + "' repeats label '" + ch.labels[i] + "'");
                else if (ch.values[j] == ch.values[i])
                    bad("choice " + ch.name, "choice '" + ch.name + "' repeats value " + detail::short_number(ch.values[i]) +
                                                 " (labels '" + ch.labels[j] + "' and '" + ch.labels[i] + "')");
        }
    }
    for (size_t i = 0; i < choices.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (choices[i].name == choices[j].name) bad("choice " + choices[i].name, "choice '" + choices[i].name + "' given twice");
    // A choice the family does not have, on its own line ('choice x', 'choice E'): the count
    // checks below would refuse it without one.
    const std::string family_choices = family == Family::DenseNet ? std::string(family_name(family)) + " has exactly one choice, 'k'"
                                                                  : std::string(family_name(family)) + " has exactly two choices, 'k' and 'e'";
    for (const auto& ch : choices)
        if (ch.name != "k" && (family == Family::DenseNet || ch.name != "e"))
            bad("choice " + ch.name, "choice '" + ch.name + "': " + family_choices);
    const int k = choice_index("k");
    if (k < 0) bad("", "needs a kernel choice 'k'");
    for (double v : choices[k].values)
        if (v > 15 || v != std::floor(v) || static_cast<int>(v) % 2 == 0)  // range first: the cast needs it
            bad("choice k", "kernel sizes must be odd integers up to 15, got " + detail::short_number(v));
    const int e = choice_index("e");
    if (e >= 0)
        for (double v : choices[e].values)
            if (v > 64)
                bad("choice e", "choice 'e' values (width factors, expand ratios) must be at most 64, got " + detail::short_number(v));
    if (family == Family::DenseNet) {
        if (!per_unit_choices) bad("choices_per", "densenet choices are per unit");
        if (choices.size() != 1) bad("", "densenet has exactly one choice, 'k'");
        if (growth < 1 || bottleneck < 1) bad("growth", "growth and bottleneck must be positive");
    } else {
        if (per_unit_choices) bad("choices_per", std::string(family_name(family)) + " choices are per block");
        if (choices.size() != 2 || choice_index("e") < 0)
            bad("", std::string(family_name(family)) + " has exactly two choices, 'k' and 'e'");
    }
    if (family == Family::MobileNetV3) {
        if (head_widths.size() != 2 || head_widths[0] < 1 || head_widths[1] < 1)
            bad("head", "mobilenetv3 needs two head widths (1x1 conv, FC hidden)");
    } else if (!head_widths.empty()) {
        bad("head", "head widths are a mobilenetv3 option");
    }
    if (first_block_width != 0 && family != Family::MobileNetV3)
        bad("first_block", "first_block is a mobilenetv3 option");
    if (stem_width < 1 || num_classes < 1) bad("stem", "stem width and classes must be positive");
    if (first_block_width < 0) bad("first_block", "first_block width must be >= 0");
    if (resolutions.empty()) bad("resolution", "needs a resolution");
    for (size_t i = 0; i < resolutions.size(); ++i) {
        if (resolutions[i] < 8 || resolutions[i] > 4096) bad("resolution", "resolutions must be 8..4096");
        if (i && resolutions[i] <= resolutions[i - 1]) bad("resolution", "resolutions must be strictly increasing");
    }
    if (default_batch < 1) bad("batch", "batch must be >= 1");
    // The smallest resolution must carry the network to its head: pooling floors (DenseNet's
    // transitions halve the map), so a small input leaves a 0x0 feature map in every
    // architecture. Feature-map sizes grow with the input, so a binary search finds the
    // smallest input that fits.
    Arch smallest;
    for (const auto& u : units) smallest.units.emplace_back(static_cast<size_t>(u.min_depth), BlockChoice{});
    smallest.res = resolutions.front();
    const auto fits = [&](int r) {
        try {
            build_plan(*this, smallest, 1, r);
            return true;
        } catch (const Error&) {
            return false;
        }
    };
    if (!fits(resolutions.front())) {
        int lo = resolutions.front(), hi = 4097;  // fits(hi) taken as true
        while (hi - lo > 1) {
            const int mid = lo + (hi - lo) / 2;
            (fits(mid) ? hi : lo) = mid;
        }
        bad("resolution", "resolution " + std::to_string(resolutions.front()) + " leaves a 0x0 feature map before the head" +
                       (hi <= 4096 ? " (the smallest resolution that fits is " + std::to_string(hi) + ")"
                                   : " (so does every resolution up to 4096: too many downsampling units)"));
    }
    // What is written out must read back: a dataset, predictor or lookup table keeps this text,
    // and a range (`8-4096/1`: 20 KB of values), per-unit lists and labelled values grow it
    // past what a file holds, which saved a predictor that no tool could load.
    const size_t written = format_space(*this).size();
    if (written > kMaxSpaceTextBytes)
        bad("", "the description written out (esm-space --print, and the copy a dataset, predictor or lookup table keeps) is " +
                    std::to_string(written) + " bytes, over the " + std::to_string(kMaxSpaceTextBytes) +
                    " a description may hold (shorter name or labels, fewer resolutions)");
}

bool operator==(const Space& a, const Space& b) {
    if (a.name != b.name || a.family != b.family || a.per_unit_choices != b.per_unit_choices ||
        a.stem_width != b.stem_width || a.first_block_width != b.first_block_width ||
        a.head_widths != b.head_widths || a.num_classes != b.num_classes || a.growth != b.growth ||
        a.bottleneck != b.bottleneck || a.resolutions != b.resolutions ||
        a.default_batch != b.default_batch || a.units.size() != b.units.size() ||
        a.choices.size() != b.choices.size())
        return false;
    for (size_t i = 0; i < a.units.size(); ++i) {
        const auto &x = a.units[i], &y = b.units[i];
        if (x.width != y.width || x.stride != y.stride || x.min_depth != y.min_depth ||
            x.max_depth != y.max_depth || x.act != y.act || x.se != y.se)
            return false;
    }
    for (size_t i = 0; i < a.choices.size(); ++i) {
        const auto &x = a.choices[i], &y = b.choices[i];
        if (x.name != y.name || x.values != y.values || x.labels != y.labels) return false;
    }
    return true;
}

}  // namespace esm
