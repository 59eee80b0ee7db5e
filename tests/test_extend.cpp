// Tests of Algorithm 1's allocation against hand-worked examples.
#include <gtest/gtest.h>

#include <cmath>

#include "esm/common.hpp"
#include "esm/extend.hpp"

using namespace esm;

TEST(Extend, HandWorkedAllocation) {
    // 5 bins, 2 below 98 %: N_norm = 2*2 + 1*3 = 7; below ceil(100*2/7) = 29, above ceil(100/7) = 15.
    EXPECT_EQ(extension_per_bin({97.0, 99.0, 98.0, 90.0, 99.5}, 98.0, 100, 2, 1), (std::vector<int>{29, 15, 15, 29, 15}));
    // Equal weights: N_step spread evenly, rounded up: ceil(100/3) = 34.
    EXPECT_EQ(extension_per_bin({1, 2, 3}, 50, 100, 1, 1), (std::vector<int>{34, 34, 34}));
    // w2 = 0: everything to the bins below.
    EXPECT_EQ(extension_per_bin({99, 90, 99, 91}, 95, 100, 1, 0), (std::vector<int>{0, 50, 0, 50}));
    // A bin without test samples (NaN) counts as below.
    EXPECT_EQ(extension_per_bin({NAN, 99}, 95, 30, 2, 1), (std::vector<int>{20, 10}));
    // All above (overall criterion failed): spread by w2.
    EXPECT_EQ(extension_per_bin({99, 99}, 95, 10, 3, 1), (std::vector<int>{5, 5}));
    // Exact divisions do not round up: 90 * 2 / 6 = 30, also at large N_step (one bin:
    // 887517078 / 1, where an absolute slack of 1e-9 gave one more).
    EXPECT_EQ(extension_per_bin({1, 1, 1}, 50, 90, 2, 5), (std::vector<int>{30, 30, 30}));
    EXPECT_EQ(extension_per_bin({1}, 50, 887517078, 1, 1), (std::vector<int>{887517078}));
    // A tiny positive share is still one sample (ceil): 100 * 1e-12 / (1e-12 + 1) > 0.
    EXPECT_EQ(extension_per_bin({1, 99}, 50, 100, 1e-12, 1), (std::vector<int>{1, 100}));
    // The empty group's share is not computed (it was, as 5e301, cast to int: undefined).
    EXPECT_EQ(extension_per_bin({99, 99}, 50, 100, 1, 1e-300), (std::vector<int>{50, 50}));
}

// Only the weights' ratio matters, at any magnitude the API accepts (finite, >= 0), and a
// positive weight's share is a ceiling of a positive number: at least 1.
TEST(Extend, ExtremeWeightsKeepTheirRatio) {
    // Equal weights: ceil(100 / 5) = 20 each (1e308 * 5 overflowed N_norm to inf: NaN shares,
    // cast to int as -2147483648).
    EXPECT_EQ(extension_per_bin({97, 97, 97, 99, 99}, 98, 100, 1e308, 1e308), (std::vector<int>(5, 20)));
    // 10 : 1 with one bin each: ceil(100 * 10 / 11) = 91, ceil(100 / 11) = 10.
    EXPECT_EQ(extension_per_bin({97, 99}, 98, 100, 1e308, 1e307), (std::vector<int>{91, 10}));
    EXPECT_EQ(extension_per_bin({97, 99}, 98, 100, 1e-307, 1e-308), (std::vector<int>{91, 10}));
    // 100 * 1e-200 / 1e200 underflowed to 0 samples; the exact share is 1e-398 > 0: 1 sample
    // (reachable from esm-build: --w1 1e6 --w2 1e-320).
    EXPECT_EQ(extension_per_bin({97, 99}, 98, 100, 1e200, 1e-200), (std::vector<int>{100, 1}));
    EXPECT_EQ(extension_per_bin({97, 99, 99}, 98, 100, 1e6, 1e-320), (std::vector<int>{100, 1, 1}));
    // Subnormal weights, equal: as 1 : 1.
    EXPECT_EQ(extension_per_bin({97, 99}, 98, 100, 1e-320, 1e-320), (std::vector<int>{50, 50}));
    // A huge weight of a group without bins plays no part (inf * 0 would be NaN).
    EXPECT_EQ(extension_per_bin({99, 99}, 98, 100, 1e308, 1e-300), (std::vector<int>{50, 50}));
    // A zero weight still gets nothing, and N_step = 0 nothing anywhere.
    EXPECT_EQ(extension_per_bin({97, 99}, 98, 100, 0, 1e-300), (std::vector<int>{0, 100}));
    EXPECT_EQ(extension_per_bin({97, 99}, 98, 0, 2, 1), (std::vector<int>{0, 0}));
}

TEST(Extend, RejectsNonsense) {
    EXPECT_THROW(extension_per_bin({}, 98, 100, 1, 1), Error);
    EXPECT_THROW(extension_per_bin({99}, 98, -1, 1, 1), Error);
    EXPECT_THROW(extension_per_bin({99}, 98, 10, 0, 0), Error);
    EXPECT_THROW(extension_per_bin({99}, 98, 10, -1, 2), Error);
    EXPECT_THROW(extension_per_bin({99}, 98, 10, NAN, 2), Error);
    EXPECT_THROW(extension_per_bin({97, 99}, 98, 10, INFINITY, 1), Error);  // inf / inf would be NaN samples
    EXPECT_THROW(extension_per_bin({97, 99}, 98, 10, 1, INFINITY), Error);
}

// A sample budget too small for the extension: shared in proportion to what each bin asks.
TEST(Extend, BudgetCutSharesInProportion) {
    // Fits: unchanged (and room beyond it changes nothing).
    EXPECT_EQ(fit_extension({29, 15, 15}, 59), (std::vector<int>{29, 15, 15}));
    EXPECT_EQ(fit_extension({29, 15, 15}, 1000), (std::vector<int>{29, 15, 15}));
    // Below, above, below (w1 = 2, w2 = 1) with room for 20 of 30: 20 * 12 / 30 = 8, 20 * 6 / 30 = 4.
    EXPECT_EQ(fit_extension({12, 6, 12}, 20), (std::vector<int>{8, 4, 8}));
    // 10 of 3 x 10: 3 each, the one left over to the lowest bin of the equal remainders.
    EXPECT_EQ(fit_extension({10, 10, 10}, 10), (std::vector<int>{4, 3, 3}));
    // 50 of 29+15+15+29+15 = 103: floors 14, 7, 7, 14, 7 (49); remainders 8, 29, 29, 8, 29 (of 103):
    // the one left goes to bin 1.
    EXPECT_EQ(fit_extension({29, 15, 15, 29, 15}, 50), (std::vector<int>{14, 8, 7, 14, 7}));
    // A bin that asks none gets none; no room, or less than none, gives nothing.
    EXPECT_EQ(fit_extension({0, 5, 0, 5}, 3), (std::vector<int>{0, 2, 0, 1}));
    EXPECT_EQ(fit_extension({4, 4}, 0), (std::vector<int>{0, 0}));
    EXPECT_EQ(fit_extension({4, 4}, -7), (std::vector<int>{0, 0}));
    EXPECT_THROW(fit_extension({4, -1}, 2), Error);
}
