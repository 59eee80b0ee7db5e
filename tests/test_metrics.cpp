// Metrics against hand-computed values; tau-b with ties against a hand example and an
// O(n^2) pair-counting oracle.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "esm/common.hpp"
#include "esm/metrics.hpp"
#include "esm/rng.hpp"

namespace {

double tau_b_brute(const std::vector<double>& x, const std::vector<double>& y) {
    double c = 0, d = 0, tx = 0, ty = 0;
    for (size_t i = 0; i < x.size(); ++i)
        for (size_t j = i + 1; j < x.size(); ++j) {
            const double a = x[i] - x[j], b = y[i] - y[j];
            if (a == 0 && b == 0) continue;
            if (a == 0) tx += 1;
            else if (b == 0) ty += 1;
            else if ((a > 0) == (b > 0)) c += 1;
            else d += 1;
        }
    return (c - d) / std::sqrt((c + d + tx) * (c + d + ty));
}

TEST(Metrics, HandComputed) {
    // relative errors .1, .05, 0, .2 -> MAPE .0875; squared errors 1, 1, 0, 100
    const double y[4] = {10, 20, 40, 50}, p[4] = {11, 19, 40, 60};
    esm::Metrics m = esm::compute_metrics(y, p, 4);
    EXPECT_EQ(m.n, 4u);
    EXPECT_NEAR(m.accuracy, 91.25, 1e-9);
    EXPECT_NEAR(m.within5, 50.0, 1e-9);   // 0.05 and 0 (boundary inclusive)
    EXPECT_NEAR(m.within10, 75.0, 1e-9);  // 0.1, 0.05, 0
    EXPECT_NEAR(m.rmse, std::sqrt(25.5), 1e-9);
    EXPECT_NEAR(m.tau, 1.0, 1e-12);
    // A NaN prediction (a broken predictor) leaves no figure: every one NaN ("null" in the
    // report), where tau read 1.0 through a sort the NaN broke. The loop never passes it.
    const double nan_p[4] = {11, NAN, NAN, 60};
    const esm::Metrics bad = esm::compute_metrics(y, nan_p, 4);
    EXPECT_EQ(bad.n, 4u);
    for (double v : {bad.accuracy, bad.within5, bad.within10, bad.rmse, bad.tau}) EXPECT_TRUE(std::isnan(v)) << v;
    // ... which does not hide a bad measured latency further on
    const double y2[2] = {10, -1}, p2[2] = {NAN, 5};
    EXPECT_THROW(esm::compute_metrics(y2, p2, 2), esm::Error);
    // An infinite measured latency is no measurement either (it gave NaN accuracy beside a
    // finite ±10 % share and tau).
    const double y3[3] = {1, INFINITY, 3}, p3[3] = {1, 2, 3};
    EXPECT_THROW(esm::compute_metrics(y3, p3, 3), esm::Error);
    // A bin without a figure makes the worst bin no figure (a NaN bin was passed over).
    esm::MetricsReport r;
    r.bins.resize(2);
    r.bins[0].n = 3, r.bins[0].accuracy = NAN;
    r.bins[1].n = 3, r.bins[1].accuracy = 91;
    EXPECT_TRUE(std::isnan(r.worst_bin_accuracy()));
    r.bins[0].accuracy = 95;
    EXPECT_EQ(r.worst_bin_accuracy(), 91);
    r.bins[1].n = 0;  // an empty bin does not count
    EXPECT_EQ(r.worst_bin_accuracy(), 95);
}

TEST(Metrics, KendallTauBWithTiesHandExample) {
    // pairs: (0,1) C, (0,2) C, (0,3) C, (1,2) tie in x, (1,3) D, (2,3) tie in y
    // tau_b = (3 - 1) / sqrt((6 - 1) * (6 - 1)) = 0.4
    const double x[4] = {1, 2, 2, 3}, y[4] = {1, 3, 2, 2};
    EXPECT_NEAR(esm::kendall_tau_b(x, y, 4), 0.4, 1e-12);
    // joint tie: x = {1,1,2}, y = {5,5,6}: pair (0,1) tied in both, others concordant:
    // n0 = 3, n1 = 1, n2 = 1 -> tau_b = 2 / 2 = 1
    const double a[3] = {1, 1, 2}, b[3] = {5, 5, 6};
    EXPECT_NEAR(esm::kendall_tau_b(a, b, 3), 1.0, 1e-12);
    // reversed order -> -1; constant input -> NaN
    const double r[4] = {4, 3, 2, 1}, s[4] = {1, 2, 3, 4}, c[4] = {1, 1, 1, 1};
    EXPECT_NEAR(esm::kendall_tau_b(r, s, 4), -1.0, 1e-12);
    EXPECT_TRUE(std::isnan(esm::kendall_tau_b(c, s, 4)));
    // a NaN or infinity in either input -> NaN (the sort's order breaks: {1, NaN, 2, 3} read 1)
    const double with_nan[4] = {1, NAN, 2, 3}, with_inf[4] = {1, 2, INFINITY, 4};
    EXPECT_TRUE(std::isnan(esm::kendall_tau_b(with_nan, s, 4)));
    EXPECT_TRUE(std::isnan(esm::kendall_tau_b(s, with_nan, 4)));
    EXPECT_TRUE(std::isnan(esm::kendall_tau_b(with_inf, s, 4)));
}

TEST(Metrics, KendallMatchesPairCountingWithManyTies) {
    esm::Rng rng(9);
    for (int trial = 0; trial < 5; ++trial) {
        std::vector<double> x(300), y(300);
        for (size_t i = 0; i < x.size(); ++i) {
            x[i] = static_cast<double>(rng.below(7));
            y[i] = static_cast<double>(rng.below(5)) + 0.3 * x[i];
        }
        EXPECT_NEAR(esm::kendall_tau_b(x.data(), y.data(), x.size()), tau_b_brute(x, y), 1e-12) << trial;
    }
}

TEST(Metrics, PerBinReportAndJson) {
    esm::Space s = esm::preset("resnet");  // depths 4..28, 5 bins of 5
    std::vector<int> depth = {4, 5, 28, 27};
    std::vector<double> y = {1, 2, 10, 20}, p = {1.1, 2, 10, 21};
    esm::MetricsReport r = esm::evaluate(s, depth, y, p, 5);
    ASSERT_EQ(r.bins.size(), 5u);
    EXPECT_EQ(r.bins[0].n, 2u);
    EXPECT_NEAR(r.bins[0].accuracy, 95.0, 1e-9);
    EXPECT_EQ(r.bins[4].n, 2u);
    EXPECT_NEAR(r.bins[4].accuracy, 97.5, 1e-9);
    EXPECT_EQ(r.bins[2].n, 0u);
    EXPECT_EQ(r.bin_lo[4], 24);
    EXPECT_EQ(r.bin_hi[4], 28);
    // A bin or bin count the space cannot have is an error, not an empty range.
    EXPECT_THROW(s.bin_lo(5, 5), esm::Error);
    EXPECT_THROW(s.bin_hi(-1, 5), esm::Error);
    EXPECT_THROW(s.bin_lo(0, 26), esm::Error);  // 25 depths
    EXPECT_EQ(s.bin_hi(24, 25), 28);
    // evaluate() checks the bin count itself, with or without samples, and names a sample
    // whose depth the space cannot have.
    for (int nb : {-1, 0, 26}) {
        try {
            esm::evaluate(s, depth, y, p, nb);
            ADD_FAILURE() << nb;
        } catch (const esm::Error& e) {
            EXPECT_NE(std::string(e.what()).find("number of bins " + std::to_string(nb)), std::string::npos) << e.what();
        }
        EXPECT_THROW(esm::evaluate(s, {}, {}, {}, nb), esm::Error) << nb;
    }
    try {
        esm::evaluate(s, {4, 29}, {1, 1}, {1, 1}, 5);
        ADD_FAILURE();
    } catch (const esm::Error& e) {
        EXPECT_NE(std::string(e.what()).find("depth of sample 1 is 29"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(r.all_bins_at_least(95.0));
    EXPECT_FALSE(r.all_bins_at_least(96.0));
    const std::string j = esm::metrics_json(r);
    EXPECT_NE(j.find("\"overall\": {\"n\": 4, \"accuracy\": 96.250000"), std::string::npos) << j;
    EXPECT_NE(j.find("{\"bin\": 2, \"depth_lo\": 14, \"depth_hi\": 18, \"n\": 0, \"accuracy\": null"), std::string::npos) << j;
    EXPECT_NE(esm::metrics_table(r).find("bin 4"), std::string::npos);
}

// A wild prediction's figures are printed in full, in the JSON (a 64-byte buffer cut
// -7.5e301 to a 63-digit number) and in the table (one line per row).
TEST(Metrics, HugeFiguresPrintInFull) {
    esm::Space s = esm::preset("resnet");
    const double yhat = 1.5e300;  // relative error 7.5e299 - 1 on y = 2: accuracy -7.5e301
    esm::MetricsReport r = esm::evaluate(s, {4}, {2.0}, {yhat}, 1);
    ASSERT_TRUE(std::isfinite(r.overall.accuracy));
    const std::string j = esm::metrics_json(r);
    const std::string key = "\"accuracy\": ";
    const size_t at = j.find(key);
    ASSERT_NE(at, std::string::npos) << j;
    EXPECT_NEAR(std::strtod(j.c_str() + at + key.size(), nullptr) / r.overall.accuracy, 1.0, 1e-12) << j;
    const std::string t = esm::metrics_table(r);
    EXPECT_EQ(std::count(t.begin(), t.end(), '\n'), 3) << t;  // header, overall, bin 0
    EXPECT_NE(t.find("bin 0"), std::string::npos) << t;
    // Ordinary figures keep their columns.
    esm::MetricsReport q = esm::evaluate(s, {4, 5}, {1.0, 2.0}, {1.1, 2.0}, 1);
    EXPECT_NE(esm::metrics_table(q).find("overall   all            2     95.000    50.0   100.0     0.07071       1.0000\n"),
              std::string::npos)
        << esm::metrics_table(q);
}

}  // namespace

// An accuracy next to Acc_TH reads on its own side of it: %g alone printed 97.99996 as "98".
TEST(Metrics, FormatAccuracyKeepsTheSideOfTheThreshold) {
    EXPECT_EQ(esm::format_accuracy(97.99996, 98), "97.99996");
    EXPECT_EQ(esm::format_accuracy(97.9999999999, 98), "97.9999999999");
    EXPECT_EQ(esm::format_accuracy(std::nextafter(98.0, 0.0), 98), "97.99999999999999");
    EXPECT_EQ(esm::format_accuracy(98.0, 98), "98");
    EXPECT_EQ(esm::format_accuracy(98.0000004, 98), "98");  // passes, and reads so
    EXPECT_EQ(esm::format_accuracy(95.123456789, 98), "95.1235");
    EXPECT_EQ(esm::format_accuracy(99.99999, 100), "99.99999");
}
