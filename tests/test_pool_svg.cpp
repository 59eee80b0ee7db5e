// Tests of the replay pool (lookup, random and balanced draws without repeats, libesm
// datasets drift-corrected) and of the SVG plots (well-formed, every point inside the frame).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "esm/common.hpp"
#include "esm/pool.hpp"
#include "esm/predictor.hpp"
#include "esm/svg.hpp"

using namespace esm;

namespace {
std::string write_pool(const Space& s, int n, const std::string& name) {
    const std::string path = std::string(ESM_BINARY_DIR) + "/" + name;
    std::ofstream f(path);
    f << "# made by test\narch,lat\n";
    Sampler sm(s, 4);
    for (const Arch& a : sm.sample(Strategy::Random, n, 5)) f << format_arch(s, a) << ',' << a.depth() * 1.5 << '\n';
    return path;
}
}  // namespace

TEST(Pool, LooksUpAndDrawsWithoutRepeats) {
    Space s = preset("resnet");
    const std::string path = write_pool(s, 300, "pool_test.csv");
    Pool p(s, path, "lat");
    EXPECT_EQ(p.size(), 300u);
    Rng rng(1);
    std::unordered_set<std::string> used;
    auto first = p.draw(Strategy::Balanced, 100, 5, rng, used);
    EXPECT_EQ(first.size(), 100u);
    for (const auto& a : first) {
        const std::string t = format_arch(s, a);
        EXPECT_DOUBLE_EQ(p.latency(t), a.depth() * 1.5);
        EXPECT_TRUE(used.insert(t).second);
    }
    auto rest = p.draw(Strategy::Random, 1000, 5, rng, used);
    EXPECT_EQ(rest.size(), 200u);  // the pool runs out: only what is left
    for (const auto& a : rest) EXPECT_TRUE(used.insert(format_arch(s, a)).second);
    EXPECT_THROW(p.latency("resnet:k3e50/k3e50/k3e50/k3e51"), Error);
    std::remove(path.c_str());
}

TEST(Pool, BalancedDrawsEvenOutBins) {
    Space s = preset("resnet");
    const std::string path = write_pool(s, 2000, "pool_bins.csv");
    Pool p(s, path, "lat");
    Rng rng(2);
    std::map<int, int> pool_bins, drawn_bins;
    for (const auto& a : p.archs()) pool_bins[s.bin_of(a.depth(), 5)]++;
    for (const auto& a : p.draw(Strategy::Balanced, 100, 5, rng, {})) drawn_bins[s.bin_of(a.depth(), 5)]++;
    // Random pools are thin at the edges; balanced draws take the edge bins far more often
    // than their share of the pool.
    ASSERT_GT(pool_bins[0], 0);
    EXPECT_GT(drawn_bins[0] / 100.0, 2.0 * pool_bins[0] / 2000.0);
    std::remove(path.c_str());
}

TEST(Pool, StratifiedDrawsFillEveryBinAlike) {
    Space s = preset("resnet");
    const std::string path = write_pool(s, 2000, "pool_strat.csv");
    Pool p(s, path, "lat");
    std::map<int, int> pool_bins, drawn;
    for (const auto& a : p.archs()) pool_bins[s.bin_of(a.depth(), 5)]++;
    Rng rng(3);
    // As many per bin as the thinnest bin holds, plus one: that bin gives all it has, the
    // others share the rest evenly.
    const int thin = std::min_element(pool_bins.begin(), pool_bins.end(),
                                      [](auto& x, auto& y) { return x.second < y.second; })->first;
    const int per = pool_bins[thin] + 1;
    const auto v = p.draw_stratified(5 * per, 5, rng, {});
    ASSERT_EQ(v.size(), static_cast<size_t>(5 * per));
    std::unordered_set<std::string> texts;
    for (const auto& a : v) {
        drawn[s.bin_of(a.depth(), 5)]++;
        texts.insert(format_arch(s, a));
    }
    EXPECT_EQ(texts.size(), v.size());
    EXPECT_EQ(drawn[thin], pool_bins[thin]);
    for (int b = 0; b < 5; ++b)
        if (b != thin) {
            EXPECT_TRUE(drawn[b] == per || drawn[b] == per + 1) << b << ": " << drawn[b];
        }
    std::remove(path.c_str());
}

// A libesm dataset as the pool: its samples come drift-corrected, as esm-build would have
// trained on them. Reference A reads 1, then 1.21, then 1.4641 (x1.1 twice); s1 lies between
// the first two re-measurements (factor sqrt(1 x 1.21) = 1.1), s2 between the last two
// (1.331); divided by their median 1.21: 1/1.1 and 1.1.
TEST(Pool, LibesmDatasetsAreDriftCorrected) {
    Space s = preset("resnet");
    const std::string path = std::string(ESM_BINARY_DIR) + "/pool_drift.csv";
    const std::string a = "resnet:k3e50/k3e50/k3e50/k3e50", s1 = "resnet:k5e50/k3e50/k3e50/k3e50",
                      s2 = "resnet:k7e50/k3e50/k3e50/k3e50";
    std::ofstream(path) << "arch,latency_ms,kind\n" << a << ",1,ref\n" << s1 << ",2,sample\n" << a << ",1.21,ref\n"
                        << s2 << ",3,sample\n" << a << ",1.4641,ref\n";
    Pool p(s, path, "latency_ms");
    EXPECT_EQ(p.size(), 2u);
    EXPECT_NEAR(p.latency(s1), 2.0 * 1.1, 1e-12);
    EXPECT_NEAR(p.latency(s2), 3.0 / 1.1, 1e-12);
    std::remove(path.c_str());
}

// With drift correction off (esm-build --pool --drift-correction off) the pool's numbers are
// the file's readings; the option was accepted, recorded in report.json and ignored.
TEST(Pool, DriftCorrectionOffTakesTheReadings) {
    Space s = preset("resnet");
    const std::string path = std::string(ESM_BINARY_DIR) + "/pool_drift_off.csv";
    const std::string a = "resnet:k3e50/k3e50/k3e50/k3e50", s1 = "resnet:k5e50/k3e50/k3e50/k3e50",
                      s2 = "resnet:k7e50/k3e50/k3e50/k3e50";
    std::ofstream(path) << "arch,latency_ms,kind\n" << a << ",1,ref\n" << s1 << ",2,sample\n" << a << ",1.21,ref\n"
                        << s2 << ",3,sample\n" << a << ",1.4641,ref\n";
    Pool p(s, path, "latency_ms", /*drift_correction=*/false);
    EXPECT_EQ(p.latency(s1), 2.0);
    EXPECT_EQ(p.latency(s2), 3.0);
    std::remove(path.c_str());
}

TEST(Pool, RejectsBadFiles) {
    Space s = preset("resnet");
    const std::string path = std::string(ESM_BINARY_DIR) + "/pool_bad.csv";
    std::ofstream(path) << "arch,lat\nresnet:k3e50/k3e50/k3e50/k3e50,1\nresnet:k9e50/k3e50/k3e50/k3e50,2\n";
    try {
        Pool p(s, path, "lat");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("pool_bad.csv:3: resnet architecture, column 9"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Pool(s, path, "nosuch"), Error);
    std::remove(path.c_str());
}

TEST(Svg, ScatterAndLinesAreWellFormed) {
    std::vector<double> x = {1, 2, 3, 4}, y = {1.1, 1.9, 3.3, 4.0};
    std::string s = svg_scatter("pred <vs> meas", "measured", "predicted", x, y);
    EXPECT_EQ(s.rfind("<svg", 0), 0u);
    EXPECT_NE(s.find("</svg>"), std::string::npos);
    EXPECT_NE(s.find("pred &lt;vs&gt; meas"), std::string::npos);
    std::regex circle("<circle cx=\"([0-9.e+-]+)\" cy=\"([0-9.e+-]+)\"");
    int n = 0;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), circle); it != std::sregex_iterator(); ++it, ++n) {
        double cx = std::stod((*it)[1]), cy = std::stod((*it)[2]);
        EXPECT_GE(cx, 70);
        EXPECT_LE(cx, 550);  // 720 wide, the legend in the right margin of 170
        EXPECT_GE(cy, 40);
        EXPECT_LE(cy, 425);
    }
    EXPECT_EQ(n, 4);
    std::string l = svg_lines("acc", "samples", "%", {{"bin 0", {100, 200}, {90, 95}}, {"bin 1", {100, 200}, {97, 99}}}, 98);
    EXPECT_NE(l.find("bin 1"), std::string::npos);
    EXPECT_NE(l.find("stroke-dasharray=\"6 4\""), std::string::npos);
    // Round ticks; over iterations 0..2 whole numbers only (the range is padded to -0.1..2.1).
    std::string it = svg_lines("bins", "iteration", "%", {{"bin 0", {0, 1, 2}, {97.3, 97.9, 98.6}}}, 98);
    std::vector<std::string> labels;
    std::regex label("text-anchor=\"middle\">([^<]*)</text>");
    for (auto m = std::sregex_iterator(it.begin(), it.end(), label); m != std::sregex_iterator(); ++m) labels.push_back((*m)[1]);
    // the x axis label, then the x ticks
    EXPECT_EQ(labels, (std::vector<std::string>{"iteration", "0", "1", "2"}));
    std::regex ylabel("text-anchor=\"end\">([^<]*)</text>");
    labels.clear();
    for (auto m = std::sregex_iterator(it.begin(), it.end(), ylabel); m != std::sregex_iterator(); ++m) labels.push_back((*m)[1]);
    EXPECT_EQ(labels, (std::vector<std::string>{"97.4", "97.6", "97.8", "98", "98.2", "98.4", "98.6"}));
    // Degenerate input (one point, NaN) still gives a valid picture.
    std::string d = svg_scatter("t", "x", "y", {5, NAN}, {5, 1});
    EXPECT_NE(d.find("</svg>"), std::string::npos);
    EXPECT_EQ(d.find("nan"), std::string::npos);
    // A run that ends on iteration 0: one tick, 0 (it once read -1, 0, 1).
    std::string one = svg_lines("bins", "iteration", "%", {{"bin 0", {0}, {97.3}}}, 98);
    labels.clear();
    for (auto m = std::sregex_iterator(one.begin(), one.end(), label); m != std::sregex_iterator(); ++m) labels.push_back((*m)[1]);
    EXPECT_EQ(labels, (std::vector<std::string>{"iteration", "0"}));
}

// The band lines run past the frame at one end or the other (y = 1.1 x leaves it at the top):
// they are drawn inside the group clipped to the frame, and the legend says what they are.
TEST(Svg, BandLinesAreClippedAndNamed) {
    const std::string s = svg_scatter("t", "measured", "predicted", {1, 2, 3}, {1, 2, 3});
    const size_t band = s.find("stroke-dasharray=\"4 3\"");
    ASSERT_NE(band, std::string::npos);
    const size_t group = s.rfind("<g clip-path=\"url(#frame)\">", band);
    ASSERT_NE(group, std::string::npos) << "band line outside the clipped group";
    EXPECT_EQ(s.find("</g>", group), s.find("</g>", band)) << "the group closes before the band line";
    EXPECT_NE(s.find("<clipPath id=\"frame\"><rect x=\"70\" y=\"40\" width=\"480\" height=\"385\"/>"), std::string::npos);
    EXPECT_NE(s.find(">\u00b110 %</text>"), std::string::npos);
    EXPECT_NE(s.find(">y = x</text>"), std::string::npos);
}

// Up to 40 series (--bins 40) each in its own style, named right of the frame.
TEST(Svg, SeriesStylesAreDistinctAndTheLegendSitsBesideTheFrame) {
    std::vector<Series> series;
    for (int k = 0; k < 40; ++k) series.push_back({"bin " + std::to_string(k), {0, 1}, {90.0 + k * 0.1, 91.0}});
    const std::string l = svg_lines("bins", "iteration", "%", series, 95, "Acc_TH 95 %");
    std::set<std::string> styles;
    std::regex polyline("<polyline fill=\"none\" ([^>]*) points=");
    for (auto m = std::sregex_iterator(l.begin(), l.end(), polyline); m != std::sregex_iterator(); ++m) styles.insert((*m)[1]);
    EXPECT_EQ(styles.size(), 40u);
    std::regex legend("<text x=\"([0-9.]+)\" y=\"[0-9.]+\" font-size=\"[0-9.]+\">(bin [0-9]+|Acc_TH 95 %)</text>");
    int named = 0;
    for (auto m = std::sregex_iterator(l.begin(), l.end(), legend); m != std::sregex_iterator(); ++m, ++named)
        EXPECT_GT(std::stod((*m)[1]), 550) << (*m)[2];
    EXPECT_EQ(named, 41);
}

// Tick labels never repeat: accuracies between 99.99 and 99.999 (Acc_TH 99.99) ticked at
// 0.002 read "99.99" five times with 4 significant digits. Each label is its tick's value.
TEST(Svg, TickLabelsAreDistinctAndTrue) {
    const std::string l = svg_lines("t", "iteration", "%", {{"overall", {0, 1, 2}, {99.99, 99.995, 99.999}}}, 99.99);
    std::regex label("<text x=\"64\" y=\"([0-9.e+-]+)\" text-anchor=\"end\">([^<]*)</text>");
    std::vector<std::string> labels;
    for (auto m = std::sregex_iterator(l.begin(), l.end(), label); m != std::sregex_iterator(); ++m) labels.push_back((*m)[2]);
    ASSERT_GE(labels.size(), 3u) << l;
    for (size_t i = 1; i < labels.size(); ++i) {
        EXPECT_NE(labels[i], labels[i - 1]);
        EXPECT_NEAR(std::stod(labels[i]) - std::stod(labels[i - 1]), std::stod(labels[1]) - std::stod(labels[0]), 1e-9)
            << "labels at an even step: " << labels[i - 1] << ", " << labels[i];
    }
    EXPECT_GE(std::stod(labels.front()), 99.98);
    EXPECT_LE(std::stod(labels.back()), 100.0);
    // Round values keep their short labels.
    const std::string r = svg_lines("t", "iteration", "%", {{"overall", {0, 1}, {90, 100}}});
    EXPECT_NE(r.find("text-anchor=\"end\">94</text>"), std::string::npos) << r;
    // Distinct is not enough: ticks at 47850.5, 47851, 47851.5 (a step of 0.5) read
    // "47850", "47851", "47852" with 5 digits (%g rounds half to even), a step of 1 and each
    // half a step off its tick. Each label reads its tick's value, and the step.
    const std::string h = svg_lines("t", "iteration", "ms", {{"s", {0, 1}, {47850.35, 47851.9}}});
    std::vector<std::string> hl;
    for (auto m = std::sregex_iterator(h.begin(), h.end(), label); m != std::sregex_iterator(); ++m) hl.push_back((*m)[2]);
    EXPECT_EQ(hl, (std::vector<std::string>{"47850.5", "47851", "47851.5"})) << h;
}

TEST(Svg, AtomicWriteReplacesOrLeavesIntact) {
    const std::string path = std::string(ESM_BINARY_DIR) + "/atomic_test.txt";
    write_file_atomic(path, "first");
    write_file_atomic(path, "second");
    std::ifstream f(path);
    std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(got, "second");
    EXPECT_THROW(write_file_atomic("/nonexistent-dir/x.txt", "x"), Error);
    std::remove(path.c_str());
}

// A draw from one bin is the first n of a Fisher-Yates shuffle of the pool's archs of that
// bin not excluded, in pool order: checked against that definition written out (every arch's
// bin from Space::bin_of of its depth) for every bin of 1, 5, 13 and 25 bins, with an
// excluded set that empties some bins, and on a pool that repeats architectures.
TEST(Pool, DrawBinIsAShuffleOfTheBinsUnusedArchs) {
    Space s = preset("resnet");
    const std::string path = write_pool(s, 1500, "pool_drawbin.csv");
    {  // its first 50 rows again, another latency: repeats, each arch counted once
        std::ifstream in(path);
        std::vector<std::string> lines;
        for (std::string l; std::getline(in, l);) lines.push_back(l);
        std::ofstream out(path, std::ios::app);
        for (size_t i = 2; i < 52; ++i) out << lines[i] << "0\n";
    }
    Pool p(s, path, "lat");
    ASSERT_EQ(p.size(), 1500u);
    std::unordered_set<std::string> exclude;
    for (size_t i = 0; i < p.size(); i += 3) exclude.insert(format_arch(s, p.archs()[i]));
    for (size_t i = 0; i < p.size(); ++i)  // every arch of the deepest depth: bins emptied
        if (p.archs()[i].depth() >= 26) exclude.insert(format_arch(s, p.archs()[i]));
    for (int n_bins : {1, 5, 13, 25})
        for (int bin = -1; bin < n_bins; ++bin)
            for (int n : {0, 7, 100000}) {
                std::vector<size_t> idx;
                for (size_t i = 0; i < p.size(); ++i)
                    if ((bin < 0 || s.bin_of(p.archs()[i].depth(), n_bins) == bin) &&
                        !exclude.count(format_arch(s, p.archs()[i])))
                        idx.push_back(i);
                Rng want_rng(77 + bin), got_rng(77 + bin);
                std::vector<std::string> want;
                for (size_t k = 0; k < idx.size() && static_cast<int>(want.size()) < n; ++k) {
                    std::swap(idx[k], idx[k + static_cast<size_t>(want_rng.below(idx.size() - k))]);
                    want.push_back(format_arch(s, p.archs()[idx[k]]));
                }
                std::vector<std::string> got;
                for (const Arch& a : p.draw_bin(bin, n_bins, n, got_rng, exclude)) got.push_back(format_arch(s, a));
                EXPECT_EQ(got, want) << "bin " << bin << " of " << n_bins << ", n " << n;
                if (n == 100000 && bin >= 0 && s.bin_lo(bin, n_bins) >= 26) {
                    EXPECT_TRUE(got.empty()) << "bin " << bin << " of " << n_bins;
                }
            }
    Rng rng(1);
    EXPECT_THROW(p.draw_bin(0, 26, 1, rng, exclude), Error);  // resnet has 25 depths
    std::remove(path.c_str());
}
