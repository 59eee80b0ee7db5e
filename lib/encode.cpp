// Encoders of SPEC §6 for any space description; layouts in docs/encodings.md.
// Pure functions of (space, arch): no normalisation, no allocation on the fast path.
#include "esm/encode.hpp"

#include <cmath>
#include <cstring>

#include "esm/common.hpp"

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
    throw Error(ErrorKind::InvalidArgument, "unknown resolution encoding '" + s + "' (expected scalar, onehot or scaled)");
}

const char* res_encoding_name(ResEncoding r) {
    switch (r) {
        case ResEncoding::Scalar: return "scalar";
        case ResEncoding::OneHot: return "onehot";
        case ResEncoding::Scaled: return "scaled";
    }
    return "?";
}

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
    int off = 0;
    for (const auto& u : space_.units) {
        unit_offset_.push_back(off);
        int len = 0;
        switch (encoding_) {
            case Encoding::OneHot: len = u.max_depth * (combos_ + 1); break;
            case Encoding::Feature: len = u.max_depth * nc; break;
            case Encoding::Stat: len = 1 + 2 * nc; break;
            case Encoding::FC: len = 1 + fc_len; break;
            case Encoding::FCC: len = combos_; break;
        }
        off += len;
        if (len > unit_len_max_) unit_len_max_ = len;
    }
    if (space_.elastic_resolution()) {
        res_index_ = off++;
        int max_res = 0;
        for (int r : space_.resolutions) max_res = r > max_res ? r : max_res;
        res_scale_ = 1.f / static_cast<float>(max_res);
        if (res_encoding_ != ResEncoding::Scalar) off += static_cast<int>(space_.resolutions.size());
    }
    length_ = off;
}

int Encoder::combination(const BlockChoice& b) const {
    int idx = 0;
    for (size_t c = 0; c < radix_.size(); ++c) idx = idx * radix_[c] + b[c];
    return idx;
}

void Encoder::encode(const Arch& arch, float* out) const {
    std::memset(out, 0, sizeof(float) * static_cast<size_t>(length_));
    const int nc = static_cast<int>(radix_.size());
    const int nu = static_cast<int>(unit_offset_.size());
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
            case Encoding::Stat: {
                o[0] = static_cast<float>(d);
                if (d == 0) break;
                for (int c = 0; c < nc; ++c) {
                    double sum = 0, sq = 0;
                    for (int s = 0; s < d; ++s) {
                        const double v = values_[value_offset_[c] + blocks[s][c]];
                        sum += v;
                        sq += v * v;
                    }
                    const double mean = sum / d;
                    const double var = sq / d - mean * mean;
                    o[1 + 2 * c] = static_cast<float>(mean);
                    o[2 + 2 * c] = static_cast<float>(var > 0 ? std::sqrt(var) : 0.0);
                }
                break;
            }
            case Encoding::FC:
                o[0] = static_cast<float>(d);
                for (int s = 0; s < d; ++s)
                    for (int c = 0; c < nc; ++c) o[1 + choice_offset_[c] + blocks[s][c]] += 1.f;
                break;
            case Encoding::FCC:
                for (int s = 0; s < d; ++s) o[combination(blocks[s])] += 1.f;
                break;
        }
    }
    if (res_index_ >= 0) {
        const float r = static_cast<float>(arch.res) * res_scale_;
        out[res_index_] = r;
        if (res_encoding_ == ResEncoding::Scaled)
            for (int i = 0; i < res_index_; ++i) out[i] *= r;
        if (res_encoding_ != ResEncoding::Scalar) {
            const auto& rs = space_.resolutions;
            for (size_t i = 0; i < rs.size(); ++i)
                if (rs[i] == arch.res) out[res_index_ + 1 + static_cast<int>(i)] = 1.f;
        }
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
        }
    }
    if (res_index_ >= 0) {
        names.push_back("res/max_res");
        if (res_encoding_ != ResEncoding::Scalar)
            for (int r : space_.resolutions) names.push_back("res=" + std::to_string(r));
    }
    return names;
}

}  // namespace esm
