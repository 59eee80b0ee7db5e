// Encoders against hand-worked examples (docs/encodings.md), one per encoder per family.
// Expected vectors are written out by hand, not computed by the code under test.
#include <gtest/gtest.h>

#include <cctype>

#include <cmath>
#include <limits>
#include <map>

#include "esm/common.hpp"
#include "esm/encode.hpp"

namespace {

using esm::Encoder;
using esm::Encoding;

// Sparse expectation: index -> value, everything else 0.
void expect_vector(const std::vector<float>& v, size_t len, const std::map<int, double>& nz) {
    ASSERT_EQ(v.size(), len);
    for (size_t i = 0; i < len; ++i) {
        auto it = nz.find(static_cast<int>(i));
        const double want = it == nz.end() ? 0.0 : it->second;
        EXPECT_NEAR(v[i], want, 1e-6) << "index " << i;
    }
}

std::vector<float> enc(const char* space, const char* text, Encoding e) {
    esm::Space s = esm::preset(space);
    Encoder en(s, e);
    return en.encode(esm::parse_arch(s, text));
}

const char* kRes = "resnet:k3e50-k5e100/k7e67/k3e100-k3e100-k5e50/k7e50";
const char* kDense = "densenet:d6k3/d12k5/d20k1/d16k7/d3k9";
const char* kOfa = "ofa-mbv3:k7e6-k5e4/k7e6-k7e3/k5e3-k7e6/k5e3-k3e6/k5e6-k3e4-k5e3@204";

TEST(Encode, LengthsOfPresets) {
    const std::map<std::string, std::vector<int>> want = {
        {"resnet", {280, 56, 20, 28, 36}},
        {"mobilenetv3", {280, 56, 20, 28, 36}},
        {"densenet", {600, 100, 15, 30, 25}},
        {"ofa-mbv3", {201, 41, 26, 36, 46}},
    };
    for (const auto& [name, lens] : want) {
        esm::Space s = esm::preset(name);
        int i = 0;
        for (const auto& e : esm::encoding_names()) {
            Encoder en(s, esm::parse_encoding(e));
            EXPECT_EQ(en.length(), lens[static_cast<size_t>(i)]) << name << " " << e;
            EXPECT_EQ(en.feature_names().size(), static_cast<size_t>(en.length())) << name << " " << e;
            ++i;
        }
    }
}

// ResNet: combination index = k_index * 3 + e_index (k 3,5,7; e 50,67,100).
TEST(Encode, ResnetFcc) {
    // u0: k3e50 (0), k5e100 (5); u1: k7e67 (7); u2: k3e100 x2 (2), k5e50 (3); u3: k7e50 (6)
    expect_vector(enc("resnet", kRes, Encoding::FCC), 36, {{0, 1}, {5, 1}, {9 + 7, 1}, {18 + 2, 2}, {18 + 3, 1}, {27 + 6, 1}});
}

TEST(Encode, ResnetFc) {
    // per unit: depth, #k3, #k5, #k7, #e50, #e67, #e100
    const float want[28] = {2, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 3, 2, 1, 0, 1, 0, 2, 1, 0, 0, 1, 1, 0, 0};
    auto v = enc("resnet", kRes, Encoding::FC);
    ASSERT_EQ(v.size(), 28u);
    for (int i = 0; i < 28; ++i) EXPECT_EQ(v[static_cast<size_t>(i)], want[i]) << i;
}

TEST(Encode, ResnetStat) {
    // per unit: depth, mean k, std k, mean e, std e (population std; e as width factor)
    const double want[20] = {2, 4, 1, 0.75, 0.25,                                   //
                             1, 7, 0, 2.0 / 3, 0,                                   //
                             3, 11.0 / 3, std::sqrt(8.0 / 9), 5.0 / 6, std::sqrt(1.0 / 18),  //
                             1, 7, 0, 0.5, 0};
    auto v = enc("resnet", kRes, Encoding::Stat);
    ASSERT_EQ(v.size(), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_NEAR(v[static_cast<size_t>(i)], want[i], 1e-6) << i;
}

TEST(Encode, ResnetFeature) {
    // 7 slots x (k, e) per unit, zeros when absent
    expect_vector(enc("resnet", kRes, Encoding::Feature), 56,
                  {{0, 3}, {1, 0.5}, {2, 5}, {3, 1},  //
                   {14, 7}, {15, 2.0 / 3},              //
                   {28, 3}, {29, 1}, {30, 3}, {31, 1}, {32, 5}, {33, 0.5},  //
                   {42, 7}, {43, 0.5}});
}

TEST(Encode, ResnetOneHot) {
    // 7 slots x (9 combinations + absent) per unit; absent is index 9 of a slot
    std::map<int, double> nz = {{0, 1}, {10 + 5, 1}, {70 + 7, 1}, {140 + 2, 1}, {150 + 2, 1}, {160 + 3, 1}, {210 + 6, 1}};
    const int depth[4] = {2, 1, 3, 1};
    for (int u = 0; u < 4; ++u)
        for (int s = depth[u]; s < 7; ++s) nz[u * 70 + s * 10 + 9] = 1;
    expect_vector(enc("resnet", kRes, Encoding::OneHot), 280, nz);
}

TEST(Encode, MobilenetFccUsesSameLayout) {
    // e labels 50/67/100 are expand ratios 3/4/6 here; the combination order is the same.
    auto v = enc("mobilenetv3", "mobilenetv3:k7e100/k3e50/k5e67-k5e67/k3e100", Encoding::FCC);
    expect_vector(v, 36, {{8, 1}, {9 + 0, 1}, {18 + 4, 2}, {27 + 2, 1}});
    auto f = enc("mobilenetv3", "mobilenetv3:k7e100/k3e50/k5e67-k5e67/k3e100", Encoding::Feature);
    expect_vector(f, 56, {{0, 7}, {1, 6}, {14, 3}, {15, 3}, {28, 5}, {29, 4}, {30, 5}, {31, 4}, {42, 3}, {43, 6}});
}

// The ResNet example in the MobileNetV3 space: the same layout, e as the expand ratio 3/4/6.
const char* kMbv3 = "mobilenetv3:k3e50-k5e100/k7e67/k3e100-k3e100-k5e50/k7e50";

TEST(Encode, MobilenetStatFcOneHot) {
    // stat per unit: depth, mean and std of k, mean and std of e (3, 4, 6); u2's e {6, 6, 3}:
    // mean 5, deviations 1, 1, -2, variance 2
    const double stat[20] = {2, 4, 1, 4.5, 1.5,  //
                             1, 7, 0, 4, 0,      //
                             3, 11.0 / 3, std::sqrt(8.0 / 9), 5, std::sqrt(2.0),  //
                             1, 7, 0, 3, 0};
    auto st = enc("mobilenetv3", kMbv3, Encoding::Stat);
    ASSERT_EQ(st.size(), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_NEAR(st[static_cast<size_t>(i)], stat[i], 1e-6) << i;
    // fc counts value indices: the ResNet vector
    const float fc[28] = {2, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 3, 2, 1, 0, 1, 0, 2, 1, 0, 0, 1, 1, 0, 0};
    auto f = enc("mobilenetv3", kMbv3, Encoding::FC);
    ASSERT_EQ(f.size(), 28u);
    for (int i = 0; i < 28; ++i) EXPECT_EQ(f[static_cast<size_t>(i)], fc[i]) << i;
    // onehot: 7 slots x 10 per unit; u0 k3e50 (0), k5e100 (5), absent slots 2-6 at 9 of each
    expect_vector(enc("mobilenetv3", kMbv3, Encoding::OneHot), 280,
                  {{0, 1}, {15, 1}, {29, 1}, {39, 1}, {49, 1}, {59, 1}, {69, 1},                  // u0
                   {77, 1}, {89, 1}, {99, 1}, {109, 1}, {119, 1}, {129, 1}, {139, 1},             // u1: k7e67 (7)
                   {142, 1}, {152, 1}, {163, 1}, {179, 1}, {189, 1}, {199, 1}, {209, 1},          // u2: 2, 2, 3
                   {216, 1}, {229, 1}, {239, 1}, {249, 1}, {259, 1}, {269, 1}, {279, 1}});        // u3: k7e50 (6)
}

// ofa-mbv3 (5 units x 2-4 slots, e as ratios 3/4/6, elastic resolution as res/224 last).
TEST(Encode, OfaFcFeatureOneHot) {
    // fc per unit: depth, #k3 #k5 #k7, #e3 #e4 #e6
    expect_vector(enc("ofa-mbv3", kOfa, Encoding::FC), 36,
                  {{0, 2}, {2, 1}, {3, 1}, {5, 1}, {6, 1},                   // u0: k7e6, k5e4
                   {7, 2}, {10, 2}, {11, 1}, {13, 1},                        // u1: k7e6, k7e3
                   {14, 2}, {16, 1}, {17, 1}, {18, 1}, {20, 1},              // u2: k5e3, k7e6
                   {21, 2}, {22, 1}, {23, 1}, {25, 1}, {27, 1},              // u3: k5e3, k3e6
                   {28, 3}, {29, 1}, {30, 2}, {32, 1}, {33, 1}, {34, 1},     // u4: k5e6, k3e4, k5e3
                   {35, 204.0 / 224}});
    // feature: 4 slots x (k, e) per unit
    expect_vector(enc("ofa-mbv3", kOfa, Encoding::Feature), 41,
                  {{0, 7}, {1, 6}, {2, 5}, {3, 4}, {8, 7}, {9, 6}, {10, 7}, {11, 3}, {16, 5}, {17, 3}, {18, 7}, {19, 6},
                   {24, 5}, {25, 3}, {26, 3}, {27, 6}, {32, 5}, {33, 6}, {34, 3}, {35, 4}, {36, 5}, {37, 3},
                   {40, 204.0 / 224}});
    // onehot: 4 slots x 10 per unit (40 each)
    expect_vector(enc("ofa-mbv3", kOfa, Encoding::OneHot), 201,
                  {{8, 1}, {14, 1}, {29, 1}, {39, 1},                        // u0: 8, 4, absent, absent
                   {48, 1}, {56, 1}, {69, 1}, {79, 1},                       // u1: 8, 6
                   {83, 1}, {98, 1}, {109, 1}, {119, 1},                     // u2: 3, 8
                   {123, 1}, {132, 1}, {149, 1}, {159, 1},                   // u3: 3, 2
                   {165, 1}, {171, 1}, {183, 1}, {199, 1},                   // u4: 5, 1, 3
                   {200, 204.0 / 224}});
}

// DenseNet: one kernel per unit (k 1,3,5,7,9 -> index 0..4), standing for every layer.
TEST(Encode, DensenetFcc) {
    expect_vector(enc("densenet", kDense, Encoding::FCC), 25, {{1, 6}, {5 + 2, 12}, {10 + 0, 20}, {15 + 3, 16}, {20 + 4, 3}});
}

TEST(Encode, DensenetFc) {
    // per unit: depth, #k1, #k3, #k5, #k7, #k9
    expect_vector(enc("densenet", kDense, Encoding::FC), 30,
                  {{0, 6}, {2, 6}, {6, 12}, {9, 12}, {12, 20}, {13, 20}, {18, 16}, {22, 16}, {24, 3}, {29, 3}});
}

TEST(Encode, DensenetStat) {
    // per unit: depth, mean k, std k (0: one kernel per unit)
    expect_vector(enc("densenet", kDense, Encoding::Stat), 15, {{0, 6}, {1, 3}, {3, 12}, {4, 5}, {6, 20}, {7, 1}, {9, 16}, {10, 7}, {12, 3}, {13, 9}});
}

TEST(Encode, DensenetFeatureAndOneHot) {
    std::map<int, double> f;
    const int depth[5] = {6, 12, 20, 16, 3}, kern[5] = {3, 5, 1, 7, 9}, kidx[5] = {1, 2, 0, 3, 4};
    std::map<int, double> oh;
    for (int u = 0; u < 5; ++u)
        for (int s = 0; s < 20; ++s) {
            if (s < depth[u]) f[u * 20 + s] = kern[u];
            oh[u * 120 + s * 6 + (s < depth[u] ? kidx[u] : 5)] = 1;
        }
    expect_vector(enc("densenet", kDense, Encoding::Feature), 100, f);
    expect_vector(enc("densenet", kDense, Encoding::OneHot), 600, oh);
}

// Elastic resolution: one last feature res / max_res.
TEST(Encode, OfaElasticResolution) {
    // u0: k7e6 (8), k5e4 (4); u1: k7e6 (8), k7e3 (6); u2: k5e3 (3), k7e6 (8);
    // u3: k5e3 (3), k3e6 (2); u4: k5e6 (5), k3e4 (1), k5e3 (3)
    expect_vector(enc("ofa-mbv3", kOfa, Encoding::FCC), 46,
                  {{8, 1}, {4, 1}, {9 + 8, 1}, {9 + 6, 1}, {18 + 3, 1}, {18 + 8, 1}, {27 + 3, 1}, {27 + 2, 1},
                   {36 + 5, 1}, {36 + 1, 1}, {36 + 3, 1}, {45, 204.0 / 224}});
    auto st = enc("ofa-mbv3", kOfa, Encoding::Stat);
    ASSERT_EQ(st.size(), 26u);
    EXPECT_FLOAT_EQ(st[0], 2);
    EXPECT_FLOAT_EQ(st[1], 6);   // mean k of {7,5}
    EXPECT_FLOAT_EQ(st[2], 1);   // std k
    EXPECT_FLOAT_EQ(st[3], 5);   // mean e of {6,4}
    EXPECT_FLOAT_EQ(st[4], 1);   // std e
    EXPECT_FLOAT_EQ(st[25], 204.0f / 224);
}

TEST(Encode, FastPathWritesEveryEntryAndBatchMatches) {
    esm::Space s = esm::preset("ofa-mbv3");
    const char* texts[2] = {kOfa, "ofa-mbv3:k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3@128"};
    std::vector<esm::Arch> archs;
    for (auto t : texts) archs.push_back(esm::parse_arch(s, t));
    for (const auto& name : esm::encoding_names()) {
        Encoder en(s, esm::parse_encoding(name));
        const size_t L = static_cast<size_t>(en.length());
        std::vector<float> buf(2 * L, std::numeric_limits<float>::quiet_NaN());
        en.encode_batch(archs.data(), 2, buf.data());
        for (size_t i = 0; i < 2; ++i) {
            auto one = en.encode(archs[i]);
            for (size_t j = 0; j < L; ++j) ASSERT_EQ(buf[i * L + j], one[j]) << name << " " << i << " " << j;
        }
    }
}

TEST(Encode, ParseEncodingRejectsUnknown) {
    EXPECT_THROW(esm::parse_encoding("fcc2"), esm::Error);
    EXPECT_EQ(std::string(esm::encoding_name(esm::parse_encoding("fc"))), "fc");
}

}  // namespace

namespace {

// Resolution one-hot option: res/max_res, then one entry per allowed resolution (128..224/4).
TEST(Encode, OfaResolutionOneHot) {
    esm::Space s = esm::preset("ofa-mbv3");
    Encoder en(s, Encoding::FCC, esm::ResEncoding::OneHot);
    ASSERT_EQ(en.length(), 46 + 25);
    auto v = en.encode(esm::parse_arch(s, kOfa));
    EXPECT_FLOAT_EQ(v[45], 204.0f / 224);
    for (int i = 46; i < 71; ++i) EXPECT_EQ(v[static_cast<size_t>(i)], i == 46 + (204 - 128) / 4 ? 1.f : 0.f) << i;
    EXPECT_EQ(en.feature_names()[65], "res=204");
    // fixed-resolution spaces are unaffected
    EXPECT_EQ(Encoder(esm::preset("resnet"), Encoding::FCC, esm::ResEncoding::OneHot).length(), 36);
    EXPECT_THROW(esm::parse_res_encoding("log"), esm::Error);
    // scaled: unit entries times res/max_res, resolution features as with onehot
    Encoder sc(s, Encoding::FC, esm::ResEncoding::Scaled);
    ASSERT_EQ(sc.length(), 36 + 25);
    auto f = sc.encode(esm::parse_arch(s, kOfa));
    const float r = 204.0f / 224;
    EXPECT_FLOAT_EQ(f[0], 2 * r);  // unit 0 depth 2
    // unit 0 (k7e6, k5e4): depth, #k3 #k5 #k7, #e3 #e4 #e6 = 2, 0,1,1, 0,1,1 (times r)
    EXPECT_FLOAT_EQ(f[1], 0.f);
    EXPECT_FLOAT_EQ(f[2], r);
    EXPECT_FLOAT_EQ(f[3], r);
    EXPECT_FLOAT_EQ(f[4], 0.f);
    EXPECT_FLOAT_EQ(f[5], r);
    EXPECT_FLOAT_EQ(f[6], r);
    EXPECT_FLOAT_EQ(f[35], r);     // res/max_res itself is not scaled
    EXPECT_EQ(f[36 + 19], 1.f);
}

// Area option, hand-worked from the plan's shapes (esm-info): at 132 px the stem gives 66x66,
// units 0..4 output 33, 17, 9, 9, 5 pixels a side (56, 28, 14, 14, 7 at 224), and each unit's
// first block has its own FCC section in front of the other blocks'.
TEST(Encode, OfaAreaScalesByFeatureMapAndSplitsFirstBlock) {
    esm::Space s = esm::preset("ofa-mbv3");
    Encoder en(s, Encoding::FCC, esm::ResEncoding::Area);
    ASSERT_EQ(en.length(), 5 * 18 + 1 + 25);
    const auto arch = esm::parse_arch(s, "ofa-mbv3:k7e6-k5e4/k7e6-k7e3/k5e3-k7e6/k5e3-k3e6/k5e6-k3e4-k5e3@132");
    const auto v = en.encode(arch);
    const float a[5] = {33.f * 33 / (56 * 56), 17.f * 17 / (28 * 28), 81.f / 196, 81.f / 196, 25.f / 49};
    // combination index k_index * 3 + e_index: k7e6 8, k5e4 4, k7e3 6, k5e3 3, k3e6 2, k5e6 5, k3e4 1
    std::vector<float> want(static_cast<size_t>(en.length()), 0.f);
    auto put = [&](int unit, bool first, int combo, float count) {
        want[static_cast<size_t>(unit * 18 + (first ? 0 : 9) + combo)] = count * a[unit];
    };
    put(0, true, 8, 1), put(0, false, 4, 1);
    put(1, true, 8, 1), put(1, false, 6, 1);
    put(2, true, 3, 1), put(2, false, 8, 1);
    put(3, true, 3, 1), put(3, false, 2, 1);
    put(4, true, 5, 1), put(4, false, 1, 1), put(4, false, 3, 1);
    want[90] = 132.f / 224;
    want[91 + (132 - 128) / 4] = 1.f;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(v[i], want[i]) << i;
    const auto names = en.feature_names();
    ASSERT_EQ(names.size(), want.size());
    EXPECT_EQ(names[8], "u0.first.count.k7e6");
    EXPECT_EQ(names[9 + 4], "u0.rest.count.k5e4");
    // at the largest resolution every ratio is 1: plain split counts
    const auto w = en.encode(esm::parse_arch(s, "ofa-mbv3:k7e6-k5e4/k7e6-k7e3/k5e3-k7e6/k5e3-k3e6/k5e6-k3e4-k5e3@224"));
    EXPECT_FLOAT_EQ(w[8], 1.f);
    EXPECT_FLOAT_EQ(w[72 + 9 + 3], 1.f);
}

// area-depth: the area layout above, then each unit's depth, not scaled (2, 2, 2, 2, 3); on a
// fixed resolution the same as area.
TEST(Encode, OfaAreaDepthAppendsUnscaledUnitDepths) {
    esm::Space s = esm::preset("ofa-mbv3");
    Encoder en(s, Encoding::FCC, esm::ResEncoding::AreaDepth);
    ASSERT_EQ(en.length(), 5 * 18 + 1 + 25 + 5);
    const auto arch = esm::parse_arch(s, "ofa-mbv3:k7e6-k5e4/k7e6-k7e3/k5e3-k7e6/k5e3-k3e6/k5e6-k3e4-k5e3@132");
    const auto v = en.encode(arch);
    const auto area = Encoder(s, Encoding::FCC, esm::ResEncoding::Area).encode(arch);
    for (size_t i = 0; i < area.size(); ++i) EXPECT_EQ(v[i], area[i]) << i;
    const float depth[5] = {2, 2, 2, 2, 3};
    for (size_t u = 0; u < 5; ++u) EXPECT_EQ(v[116 + u], depth[u]) << u;
    const auto names = en.feature_names();
    ASSERT_EQ(names.size(), v.size());
    EXPECT_EQ(names[116], "u0.depth");
    EXPECT_EQ(names[120], "u4.depth");
    // onehot keeps its slot layout and gains the depths too
    const auto oh = Encoder(s, Encoding::OneHot, esm::ResEncoding::AreaDepth).encode(arch);
    ASSERT_EQ(oh.size(), 201u + 25 + 5);
    EXPECT_EQ(oh[230], 3.f);
    EXPECT_EQ(Encoder(esm::preset("resnet"), Encoding::FC, esm::ResEncoding::AreaDepth).length(), 56);
    EXPECT_EQ(std::string(esm::res_encoding_name(esm::parse_res_encoding("area-depth"))), "area-depth");
}

// Every encoding under the area option: each unit entry at 132 px is the same entry at 224 px
// (where every ratio is 1) times the unit's hand-worked ratio, rounded once; repeated blocks
// give counts above 1.
TEST(Encode, AreaScalesEveryEncodingsUnitEntries) {
    esm::Space s = esm::preset("ofa-mbv3");
    const float a[5] = {33.f * 33 / (56 * 56), 17.f * 17 / (28 * 28), 81.f / 196, 81.f / 196, 25.f / 49};
    const std::string blocks = "k7e6-k5e4-k5e4-k5e4/k7e6-k7e3/k5e3-k7e6-k7e6/k5e3-k3e6/k5e6-k3e4-k5e3-k3e4";
    for (const std::string& name : esm::encoding_names()) {
        Encoder en(s, esm::parse_encoding(name), esm::ResEncoding::Area);
        const auto small = en.encode(esm::parse_arch(s, "ofa-mbv3:" + blocks + "@132"));
        const auto big = en.encode(esm::parse_arch(s, "ofa-mbv3:" + blocks + "@224"));
        const auto names = en.feature_names();
        int unit_entries = 0, scaled = 0;
        for (size_t i = 0; i < names.size(); ++i) {
            if (names[i].size() < 2 || names[i][0] != 'u' || !std::isdigit(static_cast<unsigned char>(names[i][1]))) continue;
            const int u = names[i][1] - '0';
            ++unit_entries;
            scaled += big[i] > 1.5f;
            ASSERT_EQ(small[i], big[i] * a[u]) << name << " entry " << names[i];
        }
        EXPECT_EQ(unit_entries, en.length() - 26) << name;  // all but res/max_res and the 25 one-hots
        if (name == "fc" || name == "fcc") {
            EXPECT_GT(scaled, 0) << name << ": no count above 1";
        }
    }
}

// On a fixed resolution the area option only splits the count sections (fc: depth, #k, #e).
TEST(Encode, AreaSplitOnFixedResolution) {
    esm::Space s = esm::preset("resnet");
    Encoder en(s, Encoding::FC, esm::ResEncoding::Area);
    ASSERT_EQ(en.length(), 56);
    const auto v = en.encode(esm::parse_arch(s, "resnet:k3e50-k5e100/k7e67/k3e100-k3e100-k5e50/k7e50"));
    const std::vector<float> want = {
        1, 1, 0, 0, 1, 0, 0, /**/ 1, 0, 1, 0, 0, 0, 1,  // unit 0: k3e50 | k5e100
        1, 0, 0, 1, 0, 1, 0, /**/ 0, 0, 0, 0, 0, 0, 0,  // unit 1: k7e67 | none
        1, 1, 0, 0, 0, 0, 1, /**/ 2, 1, 1, 0, 1, 0, 1,  // unit 2: k3e100 | k3e100 k5e50
        1, 0, 0, 1, 1, 0, 0, /**/ 0, 0, 0, 0, 0, 0, 0,  // unit 3: k7e50 | none
    };
    for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(v[i], want[i]) << i;
    // slot encodings keep their layout
    EXPECT_EQ(Encoder(s, Encoding::OneHot, esm::ResEncoding::Area).length(), 280);
    EXPECT_EQ(std::string(esm::res_encoding_name(esm::parse_res_encoding("area"))), "area");
}

}  // namespace
