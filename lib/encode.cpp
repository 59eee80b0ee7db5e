// Encoders of SPEC §6 for any space description; layouts in docs/encodings.md.
// Pure functions of (space, arch): no normalisation, no allocation on the fast path.
#include "esm/encode.hpp"

#include <cmath>
#include <cstring>

#include "esm/common.hpp"
#include "esm/plan.hpp"

namespace esm {

std::vector<std::string> encoding_names() { return {"onehot", "feature", "stat", "fc", "fcc"}; }

Encoding parse_encoding(const std::string& s) {
    if (s == "onehot") return Encoding::OneHot;
    if (s == "feature") return Encoding::Feature;
    if (s == "stat") return Encoding::Stat;
    if (s == "fc") return Encoding::FC;
    if (s == "fcc") return Encoding::FCC;
    throw Error(ErrorKind::InvalidArgument,
                "unknown encoding '" + s + "' (expected onehot, feature, stat, fc or fcc)");
}

const char* encoding_name(Encoding e) {
    switch (e) {
        case Encoding::OneHot: return "onehot";
        case Encoding::Feature: return "feature";
        case Encoding::Stat: return "stat";
        case Encoding::FC: return "fc";
        case Encoding::FCC: return "fcc";
    }
    return "?";
}

ResEncoding parse_res_encoding(const std::string& s) {
    if (s == "scalar") return ResEncoding::Scalar;
    if (s == "onehot") return ResEncoding::OneHot;
    if (s == "scaled") return ResEncoding::Scaled;
    if (s == "area") return ResEncoding::Area;
    if (s == "area-depth") return ResEncoding::AreaDepth;
    throw Error(ErrorKind::InvalidArgument,
                "unknown resolution encoding '" + s + "' (expected scalar, onehot, scaled, area or area-depth)");
}

const char* res_encoding_name(ResEncoding r) {
    switch (r) {
        case ResEncoding::Scalar: return "scalar";
        case ResEncoding::OneHot: return "onehot";
        case ResEncoding::Scaled: return "scaled";
        case ResEncoding::Area: return "area";
        case ResEncoding::AreaDepth: return "area-depth";
    }
    return "?";
}

namespace {

bool scales_by_area(ResEncoding r) { return r == ResEncoding::Area || r == ResEncoding::AreaDepth; }

// [res index * units + u]: the area of the feature map unit u outputs at each allowed
// resolution over its area at the largest, read from the network plan of the space's
// shallowest architecture (a unit's output size does not depend on its depth or choices).
std::vector<float> unit_area_ratios(const Space& space) {
    Arch a;
    a.units.resize(space.units.size());
    for (size_t u = 0; u < space.units.size(); ++u)
        a.units[u].assign(static_cast<size_t>(space.units[u].min_depth), BlockChoice{});
    const size_t nu = space.units.size(), nr = space.resolutions.size();
    std::vector<double> area(nr * nu, 0.0);
    size_t max_r = 0;
    for (size_t r = 0; r < nr; ++r) {
        if (space.resolutions[r] > space.resolutions[max_r]) max_r = r;
        a.res = space.resolutions[r];
        const Plan p = build_plan(space, a);
        for (const Segment& s : p.segments)
            if (s.kind == "block" && s.block == 0) {
                const Value& v = p.ops[static_cast<size_t>(s.end_op - 1)].out;
                area[r * nu + static_cast<size_t>(s.unit)] = static_cast<double>(v.h) * v.w;
            }
    }
    std::vector<float> ratio(nr * nu);
    for (size_t r = 0; r < nr; ++r)
        for (size_t u = 0; u < nu; ++u)
            ratio[r * nu + u] = static_cast<float>(area[r * nu + u] / area[max_r * nu + u]);
    return ratio;
}

}  // namespace

Encoder::Encoder(const Space& space, Encoding encoding, ResEncoding res)
    : space_(space), encoding_(encoding), res_encoding_(res) {
    space_.validate();
    const int nc = static_cast<int>(space_.choices.size());
    if (nc < 1 || nc > kMaxChoices)
        throw Error(ErrorKind::InvalidArgument, "encoder: space '" + space_.name + "' has " +
                                                    std::to_string(nc) + " choices (1.." +
                                                    std::to_string(kMaxChoices) + " supported)");
    combos_ = space_.combinations();
    int fc_len = 0;
    for (const auto& ch : space_.choices) {
        radix_.push_back(static_cast<int>(ch.values.size()));
        choice_offset_.push_back(fc_len);
        value_offset_.push_back(static_cast<int>(values_.size()));
        for (double v : ch.values) values_.push_back(static_cast<float>(v));
        fc_len += static_cast<int>(ch.values.size());
    }
    for (int c = nc - 1, place = 1; c >= 0; --c) {  // mixed radix, first choice most significant
        place_[c] = place;
        place *= radix_[static_cast<size_t>(c)];
    }
    switch (encoding_) {
        case Encoding::Stat: count_len_ = 1 + 2 * nc; break;
        case Encoding::FC: count_len_ = 1 + fc_len; break;
        case Encoding::FCC: count_len_ = combos_; break;
        case Encoding::OneHot:
        case Encoding::Feature: break;
    }
    split_first_ = scales_by_area(res_encoding_) && count_len_ > 0;
    int off = 0;
    for (const auto& u : space_.units) {
        unit_offset_.push_back(off);
        if (encoding_ == Encoding::OneHot)
            off += u.max_depth * (combos_ + 1);
        else if (encoding_ == Encoding::Feature)
            off += u.max_depth * nc;
        else
            off += split_first_ ? 2 * count_len_ : count_len_;
    }
    if (space_.elastic_resolution()) {
        res_index_ = off++;
        int max_res = 0;
        for (int r : space_.resolutions) max_res = r > max_res ? r : max_res;
        res_scale_ = 1.f / static_cast<float>(max_res);
        if (res_encoding_ != ResEncoding::Scalar) off += static_cast<int>(space_.resolutions.size());
        if (scales_by_area(res_encoding_)) unit_area_ = unit_area_ratios(space_);
        if (res_encoding_ == ResEncoding::AreaDepth) {
            depth_index_ = off;
            off += static_cast<int>(space_.units.size());
        }
        if (res_encoding_ != ResEncoding::Scalar) {
            res_slot_.assign(static_cast<size_t>(max_res) + 1, -1);
            for (size_t i = 0; i < space_.resolutions.size(); ++i)
                res_slot_[static_cast<size_t>(space_.resolutions[i])] = static_cast<int>(i);
        }
    }
    length_ = off;
}

template <Encoding E>
void Encoder::encode_counts(const std::vector<BlockChoice>& blocks, int b0, int b1, float* o, float scale) const {
    const int nc = static_cast<int>(radix_.size());
    const int d = b1 - b0;
    // FC and FCC touch few entries and scale only those (a mask of them, when the section
    // has at most 64 entries); Stat fills all of its 1 + 2 * choices and scales them all.
    uint64_t touched = 0;
    const bool sparse = E != Encoding::Stat && count_len_ <= 64;
    if constexpr (E == Encoding::Stat) {
        o[0] = static_cast<float>(d);
        if (d > 0)
            for (int c = 0; c < nc; ++c) {
                double sum = 0, sq = 0;
                for (int s = b0; s < b1; ++s) {
                    const double v = values_[value_offset_[c] + blocks[s][c]];
                    sum += v;
                    sq += v * v;
                }
                const double mean = sum / d;
                const double var = sq / d - mean * mean;
                o[1 + 2 * c] = static_cast<float>(mean);
                o[2 + 2 * c] = static_cast<float>(var > 0 ? std::sqrt(var) : 0.0);
            }
    } else if constexpr (E == Encoding::FC) {
        o[0] = static_cast<float>(d);
        touched = 1;
        for (int s = b0; s < b1; ++s)
            for (int c = 0; c < nc; ++c) {
                const int j = 1 + choice_offset_[c] + blocks[s][c];
                o[j] += 1.f;
                if (sparse) touched |= uint64_t{1} << j;
            }
    } else {
        static_assert(E == Encoding::FCC, "count encodings only");
        for (int s = b0; s < b1; ++s) {
            const int j = combination(blocks[s]);
            o[j] += 1.f;
            if (sparse) touched |= uint64_t{1} << j;
        }
    }
    if (scale == 1.f) return;
    if (!sparse) {
        for (int j = 0; j < count_len_; ++j) o[j] *= scale;
        return;
    }
    for (; touched; touched &= touched - 1) o[__builtin_ctzll(touched)] *= scale;
}

template <Encoding E>
void Encoder::encode_unit_counts(const std::vector<BlockChoice>& blocks, float* o, float scale) const {
    const int d = static_cast<int>(blocks.size());
    if (split_first_) {  // d >= 1: Space::validate() requires min_depth >= 1
        encode_counts<E>(blocks, 0, 1, o, scale);
        encode_counts<E>(blocks, 1, d, o + count_len_, scale);
    } else {
        encode_counts<E>(blocks, 0, d, o, scale);
    }
}

void Encoder::encode(const Arch& arch, float* out) const {
    std::memset(out, 0, sizeof(float) * static_cast<size_t>(length_));
    const int nc = static_cast<int>(radix_.size());
    const int nu = static_cast<int>(unit_offset_.size());
    // The resolution's index among the space's (OneHot, Scaled, Area(Depth); -1 otherwise)
    // and, for Area(Depth), the units' area ratios at it.
    const int ri = res_index_ < 0 || res_encoding_ == ResEncoding::Scalar || arch.res < 0 ||
                           static_cast<size_t>(arch.res) >= res_slot_.size()
                       ? -1
                       : res_slot_[static_cast<size_t>(arch.res)];
    const float* area = scales_by_area(res_encoding_) && ri >= 0
                            ? unit_area_.data() + static_cast<size_t>(ri) * static_cast<size_t>(nu)
                            : nullptr;
    for (int u = 0; u < nu; ++u) {
        float* o = out + unit_offset_[u];
        const auto& blocks = arch.units[u];
        const int d = static_cast<int>(blocks.size());
        switch (encoding_) {
            case Encoding::OneHot: {
                const int max_d = space_.units[u].max_depth;
                for (int s = 0; s < max_d; ++s)
                    o[s * (combos_ + 1) + (s < d ? combination(blocks[s]) : combos_)] = 1.f;
                break;
            }
            case Encoding::Feature:
                for (int s = 0; s < d; ++s)
                    for (int c = 0; c < nc; ++c) o[s * nc + c] = values_[value_offset_[c] + blocks[s][c]];
                break;
            // each entry times the unit's area ratio
            case Encoding::Stat: encode_unit_counts<Encoding::Stat>(blocks, o, area ? area[u] : 1.f); break;
            case Encoding::FC: encode_unit_counts<Encoding::FC>(blocks, o, area ? area[u] : 1.f); break;
            case Encoding::FCC: encode_unit_counts<Encoding::FCC>(blocks, o, area ? area[u] : 1.f); break;
        }
        if (area && (encoding_ == Encoding::OneHot || encoding_ == Encoding::Feature)) {
            const int end = u + 1 < nu ? unit_offset_[u + 1] : res_index_;
            for (int j = unit_offset_[u]; j < end; ++j) out[j] *= area[u];
        }
        if (depth_index_ >= 0) out[depth_index_ + u] = static_cast<float>(d);
    }
    if (res_index_ >= 0) {
        const float r = static_cast<float>(arch.res) * res_scale_;
        out[res_index_] = r;
        if (res_encoding_ == ResEncoding::Scaled)
            for (int i = 0; i < res_index_; ++i) out[i] *= r;
        if (ri >= 0) out[res_index_ + 1 + ri] = 1.f;
    }
}

std::vector<float> Encoder::encode(const Arch& arch) const {
    std::vector<float> v(static_cast<size_t>(length_));
    encode(arch, v.data());
    return v;
}

void Encoder::encode_batch(const Arch* archs, size_t n, float* out) const {
    for (size_t i = 0; i < n; ++i) encode(archs[i], out + i * static_cast<size_t>(length_));
}

std::vector<std::string> Encoder::feature_names() const {
    std::vector<std::string> names;
    const int nc = static_cast<int>(radix_.size());
    auto combo_label = [&](int idx) {
        std::string s;
        std::vector<int> digits(static_cast<size_t>(nc));
        for (int c = nc - 1; c >= 0; --c) {
            digits[static_cast<size_t>(c)] = idx % radix_[static_cast<size_t>(c)];
            idx /= radix_[static_cast<size_t>(c)];
        }
        for (int c = 0; c < nc; ++c)
            s += space_.choices[static_cast<size_t>(c)].name +
                 space_.choices[static_cast<size_t>(c)].labels[static_cast<size_t>(digits[static_cast<size_t>(c)])];
        return s;
    };
    // The count section of one unit (stat, fc, fcc) under prefix p.
    auto count_names = [&](const std::string& p) {
        switch (encoding_) {
            case Encoding::Stat:
                names.push_back(p + "depth");
                for (const auto& ch : space_.choices) {
                    names.push_back(p + "mean." + ch.name);
                    names.push_back(p + "std." + ch.name);
                }
                break;
            case Encoding::FC:
                names.push_back(p + "depth");
                for (const auto& ch : space_.choices)
                    for (const auto& l : ch.labels) names.push_back(p + "count." + ch.name + l);
                break;
            case Encoding::FCC:
                for (int k = 0; k < combos_; ++k) names.push_back(p + "count." + combo_label(k));
                break;
            case Encoding::OneHot:
            case Encoding::Feature: break;
        }
    };
    for (size_t u = 0; u < space_.units.size(); ++u) {
        const std::string p = "u" + std::to_string(u) + ".";
        const int max_d = space_.units[u].max_depth;
        switch (encoding_) {
            case Encoding::OneHot:
                for (int s = 0; s < max_d; ++s) {
                    for (int k = 0; k < combos_; ++k) names.push_back(p + "s" + std::to_string(s) + "." + combo_label(k));
                    names.push_back(p + "s" + std::to_string(s) + ".absent");
                }
                break;
            case Encoding::Feature:
                for (int s = 0; s < max_d; ++s)
                    for (const auto& ch : space_.choices) names.push_back(p + "s" + std::to_string(s) + "." + ch.name);
                break;
            case Encoding::Stat:
            case Encoding::FC:
            case Encoding::FCC:
                if (split_first_) {
                    count_names(p + "first.");
                    count_names(p + "rest.");
                } else {
                    count_names(p);
                }
                break;
        }
    }
    if (res_index_ >= 0) {
        names.push_back("res/max_res");
        if (res_encoding_ != ResEncoding::Scalar)
            for (int r : space_.resolutions) names.push_back("res=" + std::to_string(r));
    }
    if (depth_index_ >= 0)
        for (size_t u = 0; u < space_.units.size(); ++u) names.push_back("u" + std::to_string(u) + ".depth");
    return names;
}

}  // namespace esm
