// Tests of sampling: reproducibility, no duplicates, exact composition counts against
// brute force, and chi-square uniformity of bins and of depth vectors inside a bin.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "esm/common.hpp"
#include "esm/sample.hpp"

using namespace esm;

// Upper chi-square critical value at p = 0.001 (Wilson-Hilferty approximation).
static double chi2_critical_001(int dof) {
    const double z = 3.0902, k = dof;
    const double t = 1.0 - 2.0 / (9 * k) + z * std::sqrt(2.0 / (9 * k));
    return k * t * t * t;
}

static double chi2(const std::vector<double>& observed, const std::vector<double>& expected) {
    double c = 0;
    for (size_t i = 0; i < observed.size(); ++i) c += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
    return c;
}

TEST(Sample, ChiSquareCriticalValuesAreSane) {
    // Published table values at p = 0.001: df 4 -> 18.467, df 69 -> ~111.06.
    EXPECT_NEAR(chi2_critical_001(4), 18.467, 0.4);
    EXPECT_NEAR(chi2_critical_001(69), 111.06, 1.0);
}

TEST(Sample, ReproducibleFromSeed) {
    Space s = preset("mobilenetv3");
    Sampler a(s, 7), b(s, 7), c(s, 8);
    auto x = a.sample(Strategy::Balanced, 50, 5), y = b.sample(Strategy::Balanced, 50, 5), z = c.sample(Strategy::Balanced, 50, 5);
    EXPECT_EQ(x, y);
    EXPECT_NE(x, z);
    // Streamed, the same architectures in the same order, each with its canonical text.
    for (const auto st : {Strategy::Balanced, Strategy::Random}) {
        Sampler kept(s, 9), streamed(s, 9);
        const auto want = kept.sample(st, 300, 5);
        std::vector<Arch> got;
        streamed.sample_each(st, 300, 5, [&](const Arch& a, const std::string& text) {
            EXPECT_EQ(text, format_arch(s, a));
            got.push_back(a);
        });
        EXPECT_EQ(got, want);
    }
}

TEST(Sample, NoDuplicatesAndExclusion) {
    Space s = preset("densenet");
    Sampler sm(s, 3);
    auto first = sm.sample(Strategy::Random, 2000, 5);
    std::unordered_set<std::string> seen;
    for (const auto& a : first) EXPECT_TRUE(seen.insert(format_arch(s, a)).second);
    auto second = sm.sample(Strategy::Balanced, 2000, 5, &seen);
    for (const auto& a : second) EXPECT_EQ(seen.count(format_arch(s, a)), 0u);
}

TEST(Sample, ExhaustedSpaceIsAnErrorNotAHang) {
    Space s = parse_space("name = t\nfamily = densenet\nunits = 1\ndepth = 1-2\nchoice k = 1 3\n");
    Sampler sm(s, 1);
    EXPECT_EQ(sm.sample(Strategy::Random, 4, 1).size(), 4u);  // the whole space: 2 depths x 2 kernels
    EXPECT_THROW(sm.sample(Strategy::Random, 5, 1), Error);
    // A request beyond the space's size fails before any draw (it once drew until 10,000 +
    // 100 n repeats in a row: hours for esm-sample -n 100000000 on a small space).
    try {
        sm.sample_each(Strategy::Random, 100000000, 1, [](const Arch&, const std::string&) {
            ADD_FAILURE() << "drew from a space too small for the request";
        });
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("could not draw 100000000 distinct architectures (got 0); the space holds 4"),
                  std::string::npos)
            << e.what();
    }
}

// The last few architectures of a bin not excluded are found however long the run of
// repeats before them (the old bound of 10,000 + 100 n repeats in a row failed about one
// seed in four here), and asking for one more than is left fails with the count.
TEST(Sample, NearlyExhaustedBinGivesWhatIsLeft) {
    Space s = preset("resnet");
    const char* k[] = {"k3", "k5", "k7"};
    const char* e[] = {"e50", "e67", "e100"};
    std::vector<std::string> bin0;  // depth 4, bin 0 of 25: one block per unit, 9^4 archs
    for (int i = 0; i < 6561; ++i) {
        std::string t = "resnet:";
        for (int u = 0, r = i; u < 4; ++u, r /= 9) t += std::string(u ? "/" : "") + k[r % 9 / 3] + e[r % 3];
        bin0.push_back(t);
    }
    for (uint64_t seed = 1; seed <= 8; ++seed) {
        std::unordered_set<std::string> exclude(bin0.begin(), bin0.end());
        std::set<std::string> left;
        for (size_t i = seed; left.size() < 10; i += 601) {
            left.insert(bin0[i % bin0.size()]);
            exclude.erase(bin0[i % bin0.size()]);
        }
        Sampler sm(s, seed);
        std::set<std::string> got;
        for (const Arch& a : sm.sample_bin(0, 25, 10, &exclude)) got.insert(format_arch(s, a));
        EXPECT_EQ(got, left) << "seed " << seed;
        try {
            sm.sample_bin(0, 25, 11, &exclude);
            ADD_FAILURE() << "drew 11 where 10 are left";
        } catch (const Error& err) {
            EXPECT_NE(std::string(err.what()).find("bin 0 of 25 holds 10 not excluded"), std::string::npos) << err.what();
        }
    }
}

TEST(Sample, DepthVectorCountsMatchBruteForce) {
    for (const auto& name : {"resnet", "ofa-mbv3", "densenet"}) {
        Space s = preset(name);
        Sampler sm(s, 1);
        std::map<int, double> brute;
        std::vector<int> d(s.units.size());
        std::function<void(size_t, int)> rec = [&](size_t u, int total) {
            if (u == s.units.size()) {
                brute[total] += 1;
                return;
            }
            for (int x = s.units[u].min_depth; x <= s.units[u].max_depth; ++x) rec(u + 1, total + x);
        };
        rec(0, 0);
        for (int t = 0; t <= s.max_depth() + 1; ++t) EXPECT_EQ(sm.depth_vector_count(t), brute.count(t) ? brute[t] : 0.0) << name << " " << t;
    }
    // ResNet: depth 4..8 holds C(3,3)+C(4,3)+C(5,3)+C(6,3)+C(7,3) = 1+4+10+20+35 = 70 vectors.
    Sampler r(preset("resnet"), 1);
    double n = 0;
    for (int t = 4; t <= 8; ++t) n += r.depth_vector_count(t);
    EXPECT_EQ(n, 70.0);
}

TEST(Sample, BalancedBinsAreUniform) {
    for (const auto& name : {"resnet", "densenet", "ofa-mbv3"}) {
        Space s = preset(name);
        const int bins = 5, n = 20000;
        Sampler sm(s, 11);
        std::vector<double> obs(bins, 0), exp(bins, double(n) / bins);
        for (int i = 0; i < n; ++i) obs[s.bin_of(sm.balanced(bins).depth(), bins)] += 1;
        EXPECT_LT(chi2(obs, exp), chi2_critical_001(bins - 1)) << name;
    }
}

TEST(Sample, StratifiedCountsDealEvenlyUpToCapacity) {
    // Hand-dealt from bin 1: round 1 gives one to each bin, then bin 2 (capacity 1) is full.
    EXPECT_EQ(stratified_counts(11, {5, 100, 1, 100}, 1), (std::vector<int>{3, 4, 1, 3}));
    EXPECT_EQ(stratified_counts(20, {2, 3, 100}, 0), (std::vector<int>{2, 3, 15}));  // the rest to the bin with room
    EXPECT_EQ(stratified_counts(10, {1, 2}, 0), (std::vector<int>{1, 2}));            // all there is
    EXPECT_EQ(stratified_counts(0, {5, 5}, 1), (std::vector<int>{0, 0}));
}

TEST(Sample, StratifiedSamplesHoldEvenCountsPerBin) {
    for (const auto& name : {"resnet", "densenet", "ofa-mbv3"}) {
        Space s = preset(name);
        Sampler sm(s, 5);
        double total = 0;
        for (int b = 0; b < 5; ++b) total += sm.bin_size(b, 5);
        EXPECT_NEAR(total / std::pow(10.0, s.size_log10()), 1.0, 1e-9) << name;  // the bins cover the space
        const auto v = sm.sample_stratified(203, 5);
        std::vector<int> count(5, 0);
        std::set<std::string> texts;
        for (size_t i = 0; i < v.size(); ++i) {
            const int b = s.bin_of(v[i].depth(), 5);
            if (i < 5) {
                EXPECT_EQ(count[b], 0) << name << ": the first five are one per bin";
            }
            count[b]++;
            texts.insert(format_arch(s, v[i]));
        }
        EXPECT_EQ(texts.size(), 203u);
        for (int c : count) EXPECT_TRUE(c == 40 || c == 41) << name << ": " << c;
    }
    // A space whose 3 bins hold 4, 6 and 6 archs (depths 1-2, 3-5, 6-8; kernel 1 or 3 per
    // depth): 15 gives the shallow bin all 4 of its archs and 5 or 6 to each other one.
    Space t = parse_space("name = t\nfamily = densenet\nunits = 1\ndepth = 1-8\nchoice k = 1 3\n");
    Sampler st(t, 1);
    EXPECT_DOUBLE_EQ(st.bin_size(0, 3), 4.0);
    EXPECT_DOUBLE_EQ(st.bin_size(1, 3), 6.0);
    const auto w = st.sample_stratified(15, 3);
    ASSERT_EQ(w.size(), 15u);
    std::vector<int> per(3, 0);
    for (const auto& a : w) per[t.bin_of(a.depth(), 3)]++;
    EXPECT_EQ(per[0], 4);
    EXPECT_TRUE((per[1] == 5 && per[2] == 6) || (per[1] == 6 && per[2] == 5)) << per[1] << " " << per[2];
    EXPECT_EQ(st.sample_stratified(16, 3).size(), 16u);  // the whole space
    EXPECT_THROW(st.sample_stratified(17, 3), Error);
}

// Stratified draws with an excluded set: a bin's capacity is what it holds not excluded.
// Hand-worked space: 2 units of 1-2 blocks, k in {3, 5}, e in {1}: 2 choices a block, so
// depth 2 holds 1 depth vector x 2^2 = 4 archs (bin 0 of 3), depth 3 holds 2 x 2^3 = 16
// (bin 1), depth 4 holds 1 x 2^4 = 16 (bin 2); 36 in all.
TEST(Sample, StratifiedCapacityIsNetOfExcluded) {
    Space s = parse_space("name = t\nfamily = resnet\nunits = 2\nwidth = 16\nstride = 2\ndepth = 1-2\n"
                          "choice k = 3 5\nchoice e = 1\n");
    const std::vector<std::string> bin0 = {"t:k3e1/k3e1", "t:k3e1/k5e1", "t:k5e1/k3e1", "t:k5e1/k5e1"};
    for (uint64_t seed = 1; seed <= 6; ++seed) {
        // Bin 0 all excluded: its share goes to bins 1 and 2 (3 each), none excluded drawn.
        std::unordered_set<std::string> all0(bin0.begin(), bin0.end());
        Sampler sm(s, seed);
        std::vector<Arch> v = sm.sample_stratified(6, 3, &all0);
        ASSERT_EQ(v.size(), 6u) << "seed " << seed;
        std::vector<int> per(3, 0);
        std::set<std::string> texts;
        for (const auto& a : v) {
            per[s.bin_of(a.depth(), 3)]++;
            texts.insert(format_arch(s, a));
            EXPECT_EQ(all0.count(format_arch(s, a)), 0u);
        }
        EXPECT_EQ(texts.size(), 6u);
        EXPECT_EQ(per, (std::vector<int>{0, 3, 3})) << "seed " << seed;
        // Three of bin 0 excluded: it gives its one left (t:k5e1/k5e1), the others 2 and 3.
        std::unordered_set<std::string> three(bin0.begin(), bin0.begin() + 3);
        v = sm.sample_stratified(6, 3, &three);
        ASSERT_EQ(v.size(), 6u);
        per.assign(3, 0);
        for (const auto& a : v) {
            per[s.bin_of(a.depth(), 3)]++;
            if (a.depth() == 2) {
                EXPECT_EQ(format_arch(s, a), "t:k5e1/k5e1");
            }
        }
        EXPECT_EQ(per[0], 1) << "seed " << seed;
        EXPECT_TRUE((per[1] == 2 && per[2] == 3) || (per[1] == 3 && per[2] == 2)) << per[1] << " " << per[2];
        // All 32 not excluded, and one more is an error that says how many are left.
        EXPECT_EQ(sm.sample_stratified(32, 3, &all0).size(), 32u);
        try {
            sm.sample_stratified(33, 3, &all0);
            ADD_FAILURE() << "drew 33 where 32 are not excluded";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("the space holds 32 not excluded"), std::string::npos) << e.what();
        }
    }
    // Texts of another space in the set are not in this one: they take nothing.
    std::unordered_set<std::string> other = {"resnet:k3e50/k3e50/k3e50/k3e50", "t:k3e1/k3e1"};
    Sampler sm(s, 1);
    EXPECT_EQ(sm.sample_stratified(35, 3, &other).size(), 35u);
    EXPECT_THROW(sm.sample_stratified(36, 3, &other), Error);
}

TEST(Sample, RandomBinsAreNotUniform) {
    // The oracle's power: random sampling piles up in the middle bins, and the same test sees it.
    Space s = preset("resnet");
    const int bins = 5, n = 20000;
    Sampler sm(s, 11);
    std::vector<double> obs(bins, 0), exp(bins, double(n) / bins);
    for (int i = 0; i < n; ++i) obs[s.bin_of(sm.random().depth(), bins)] += 1;
    EXPECT_GT(chi2(obs, exp), chi2_critical_001(bins - 1));
}

TEST(Sample, DepthVectorsInsideABinAreUniform) {
    Space s = preset("resnet");
    Sampler sm(s, 5);
    std::map<std::vector<int>, double> counts;
    const int per_vector = 200, vectors = 70, n = per_vector * vectors;
    for (int i = 0; i < n; ++i) {
        Arch a = sm.in_bin(0, 5);
        std::vector<int> d;
        for (size_t u = 0; u < a.units.size(); ++u) d.push_back(a.unit_depth(static_cast<int>(u)));
        counts[d] += 1;
    }
    ASSERT_EQ(counts.size(), static_cast<size_t>(vectors));  // every vector with total 4..8 appears
    std::vector<double> obs, exp;
    for (auto& kv : counts) {
        obs.push_back(kv.second);
        exp.push_back(per_vector);
    }
    EXPECT_LT(chi2(obs, exp), chi2_critical_001(vectors - 1));
}

TEST(Sample, RandomUnitDepthsAndChoicesAreUniform) {
    Space s = preset("mobilenetv3");
    Sampler sm(s, 9);
    const int n = 14000;
    std::vector<double> depth(7, 0), kernel(3, 0);
    for (int i = 0; i < n; ++i) {
        Arch a = sm.random();
        depth[a.unit_depth(2) - 1] += 1;
        kernel[a.units[0][0][0]] += 1;
    }
    EXPECT_LT(chi2(depth, std::vector<double>(7, n / 7.0)), chi2_critical_001(6));
    EXPECT_LT(chi2(kernel, std::vector<double>(3, n / 3.0)), chi2_critical_001(2));
}

TEST(Sample, StrategyNames) {
    EXPECT_EQ(parse_strategy("random"), Strategy::Random);
    EXPECT_EQ(parse_strategy("balanced"), Strategy::Balanced);
    EXPECT_THROW(parse_strategy("uniform"), Error);
    Sampler sm(preset("resnet"), 1);
    EXPECT_THROW(sm.in_bin(5, 5), Error);
    EXPECT_THROW(sm.balanced(0), Error);
}

TEST(Sample, MutationAndCrossoverStayInTheSpace) {
    for (const auto& name : preset_names()) {
        Space s = preset(name);
        Sampler sm(s, 21);
        Arch a = sm.random(), b = sm.random();
        int changed = 0;
        for (int i = 0; i < 300; ++i) {
            Arch m = sm.mutate(a, 0.3);
            EXPECT_NO_THROW(validate_arch(s, m)) << name;
            changed += m != a;
            EXPECT_EQ(sm.mutate(a, 0.0), a);  // probability 0: the parent itself
            Arch c = sm.crossover(a, b);
            EXPECT_NO_THROW(validate_arch(s, c)) << name;
            // Every unit of the child has the depth of one of its parents, and each of its
            // blocks is the block of the same position in one parent.
            for (size_t u = 0; u < c.units.size(); ++u) {
                EXPECT_TRUE(c.units[u].size() == a.units[u].size() || c.units[u].size() == b.units[u].size());
                for (size_t k = 0; k < c.units[u].size(); ++k) {
                    // Per-unit choices (DenseNet): the unit's choice of either parent.
                    const size_t ka = s.per_unit_choices ? 0 : k, kb = ka;
                    const bool in_a = ka < a.units[u].size() && c.units[u][k] == a.units[u][ka];
                    const bool in_b = kb < b.units[u].size() && c.units[u][k] == b.units[u][kb];
                    EXPECT_TRUE(in_a || in_b) << name;
                }
            }
            a = m;
        }
        EXPECT_GT(changed, 250) << name;  // with p = 0.3 over >= 5 genes almost every mutation changes something
    }
}
