// Tests of spaces: preset facts against the paper's numbers, bins, sizes, the
// description format's round trip and its table of malformed inputs.
#include <gtest/gtest.h>

#include <cmath>

#include "esm/common.hpp"
#include "esm/space.hpp"

using namespace esm;

TEST(Space, PresetSizesMatchThePaper) {
    // (sum_{d=1..7} 9^d)^4 = 5380839^4, computed independently.
    long double per_unit = 0;
    for (int d = 1; d <= 7; ++d) per_unit += std::pow(9.0L, d);
    EXPECT_EQ(per_unit, 5380839.0L);
    EXPECT_EQ(preset("resnet").size_exact(), "838301012866567940657654241");
    EXPECT_EQ(preset("mobilenetv3").size_exact(), "838301012866567940657654241");
    EXPECT_NEAR(preset("resnet").size_log10(), std::log10(8.38301012866567940657654241e26), 1e-9);
    EXPECT_EQ(preset("densenet").size_exact(), "10000000000");
    EXPECT_NEAR(preset("densenet").size_log10(), 10.0, 1e-12);
    // ofa-mbv3: (9^2 + 9^3 + 9^4)^5 * 25 resolutions = 7371^5 * 25.
    EXPECT_EQ(preset("ofa-mbv3").size_exact(), "543966387314312146275");
    EXPECT_NEAR(preset("ofa-mbv3").size_log10(), std::log10(543966387314312146275.0), 1e-9);
}

TEST(Space, DepthRanges) {
    EXPECT_EQ(preset("resnet").min_depth(), 4);
    EXPECT_EQ(preset("resnet").max_depth(), 28);
    EXPECT_EQ(preset("mobilenetv3").max_depth(), 28);
    EXPECT_EQ(preset("densenet").min_depth(), 5);
    EXPECT_EQ(preset("densenet").max_depth(), 100);
    EXPECT_EQ(preset("ofa-mbv3").min_depth(), 10);
    EXPECT_EQ(preset("ofa-mbv3").max_depth(), 20);
    EXPECT_EQ(preset("ofa-mbv3").resolutions.size(), 25u);
    EXPECT_TRUE(preset("ofa-mbv3").elastic_resolution());
    EXPECT_FALSE(preset("resnet").elastic_resolution());
}

TEST(Space, BinsPartitionTheDepthRange) {
    for (const auto& name : preset_names()) {
        Space s = preset(name);
        const int span = s.max_depth() - s.min_depth() + 1;
        for (int k : {1, 2, 3, 5, 7, span}) {
            int expect_lo = s.min_depth();
            for (int b = 0; b < k; ++b) {
                EXPECT_EQ(s.bin_lo(b, k), expect_lo);
                const int width = s.bin_hi(b, k) - s.bin_lo(b, k) + 1;
                EXPECT_GE(width, span / k);
                EXPECT_LE(width, span / k + 1);
                for (int d = s.bin_lo(b, k); d <= s.bin_hi(b, k); ++d) EXPECT_EQ(s.bin_of(d, k), b);
                expect_lo = s.bin_hi(b, k) + 1;
            }
            EXPECT_EQ(expect_lo, s.max_depth() + 1);
        }
    }
    // ResNet 4..28 in 5 bins: 5 depths each.
    Space r = preset("resnet");
    EXPECT_EQ(r.bin_of(8, 5), 0);
    EXPECT_EQ(r.bin_of(9, 5), 1);
    EXPECT_EQ(r.bin_of(28, 5), 4);
    EXPECT_THROW(r.bin_of(3, 5), Error);
    EXPECT_THROW(r.bin_of(10, 0), Error);
    EXPECT_THROW(r.bin_of(10, 26), Error);
}

TEST(Space, DescriptionRoundTrip) {
    for (const auto& name : preset_names()) {
        Space s = preset(name);
        const std::string text = format_space(s);
        Space t = parse_space(text, "round trip");
        EXPECT_EQ(s, t) << text;
        EXPECT_EQ(format_space(t), text);
    }
    Space r = preset("resnet");
    EXPECT_EQ(r.choices[1].values[1], 2.0 / 3.0);  // "2/3" is exact
}

TEST(Space, DifferenceNamesTheSpacesOrTheFirstDifferingLine) {
    const Space o = preset("ofa-mbv3");
    std::string text = format_space(o);
    text.replace(text.find("width = 24 40 80 112 160"), 24, "width = 24 40 80 112 192");
    const Space wider = parse_space(text);
    EXPECT_EQ(space_difference(wider, o),
              "another description of space 'ofa-mbv3' (line 4: 'width = 24 40 80 112 192', not 'width = 24 40 80 112 160')");
    EXPECT_EQ(space_difference(preset("resnet"), o), "space 'resnet', not 'ofa-mbv3'");
    EXPECT_EQ(space_difference(o, o), "space 'ofa-mbv3' (the same description)");
}

TEST(Space, CustomDescription) {
    Space s = parse_space(
        "name = tiny\nfamily = resnet\nunits = 2\nwidth = 32 64\nstride = 1 2\ndepth = 1-2 2-3\n"
        "choice k = 3 5\nchoice e = 1/4:25 1:100  # comment\nstem = 16\nresolution = 32 48 64\n",
        "tiny.space");
    EXPECT_EQ(s.units[1].min_depth, 2);
    EXPECT_EQ(s.units[1].max_depth, 3);
    EXPECT_EQ(s.resolutions, (std::vector<int>{32, 48, 64}));
    // per unit: sum_d 4^d over its range; times 3 resolutions
    EXPECT_EQ(s.size_exact(), std::to_string((4 + 16) * (16 + 64) * 3));
}

struct BadSpace {
    std::string text;
    const char* message;
};

TEST(Space, MalformedDescriptionsAreRejectedWithTheirLine) {
    const std::string head = "name = a\nfamily = resnet\nunits = 1\nwidth = 8\nstride = 1\n";
    const std::string tail = "choice k = 3\nchoice e = 1\ndepth = 1-2\n";
    const BadSpace cases[] = {
        {"", "missing key 'name'"},
        {"name = a\nfamily = resnet\nunits = 1\nwidth = 8\nstride = 1\nbogus = 1\n", "line 6: unknown key 'bogus'"},
        {"name = a\nname = b\n", "line 2: key 'name' given twice (first on line 1)"},
        {"name = a\nfamily = vgg\n", "line 2: family must be resnet, mobilenetv3 or densenet"},
        {"name = a\nfamily = resnet\nunits = 2\nwidth = 8 8 8\nstride = 1\n", "line 4: 'width' needs 1 or 2 values"},
        {"name = a\nfamily = resnet\nunits = 1\nwidth = 8\nstride = 3\n", "line 5: 'stride' expects integers in 1..2"},
        {"name = a\nfamily = resnet\nunits = 1\nwidth = 8\nstride = 1\ndepth = 3-1\n", "line 6: 'depth' range '3-1' is empty"},
        {"name = a\nfamily = resnet\nunits = 1\nwidth = 8\nstride = 1\nchoice k = 4\nchoice e = 1\ndepth = 1\n",
         "line 6: space 'a': kernel sizes must be odd integers up to 15, got 4"},
        {"name = a\nfamily = resnet\nunits = 1\nwidth = 8\nstride = 1\nchoice k = 3:x\nchoice e = 1\ndepth = 1\n",
         "label 'x' must be digits"},
        {"name = a\nfamily = resnet\nunits = 1\nwidth = 8\nstride = 1\nchoice k = 3 3\nchoice e = 1\ndepth = 1\n",
         "line 6: space 'a': choice 'k' repeats label '3'"},
        {head + "choice k = 3\nchoice e = 0.5:50 1/2:51 1:100\ndepth = 1\n",
         "line 7: space 'a': choice 'e' repeats value 0.5 (labels '50' and '51')"},
        {"name = a\nfamily = resnet\nunits = 1\nwidth = 8\nstride = 1\nchoice k = 3\ndepth = 1\n",
         "exactly two choices, 'k' and 'e'"},
        {"name = a\nfamily = mobilenetv3\nunits = 1\nwidth = 8\nstride = 1\ndepth = 1\n", "missing 'choice k = ...'"},
        {"name = A b\nfamily = resnet\nunits = 1\nwidth = 8\nstride = 1\n" + tail, "name may hold only"},
        {head + "resolution = 224-128/4\n" + tail, "line 6: resolution range '224-128/4' must step"},
        {head + "resolution = 128-224/5\n" + tail, "line 6: resolution range '128-224/5' must step from lo exactly to hi"},
        {head + "resolution = 224 160 192\n" + tail, "line 6: resolutions must be strictly increasing, got '224 160 192'"},
        {head + "choice e = -1\nchoice k = 3\ndepth = 1\n", "line 6: 'choice e' expects positive numbers"},
        {head + tail + "resolution = 4\n", "line 9: 'resolution' expects integers in 8..4096, got '4'"},
        {head + tail + "se = 1\n", "line 9: space 'a': unit 0: squeeze-excite is a MobileNetV3 option"},
        {head + tail + "act = gelu\n", "line 9: 'act' expects relu or hswish, got 'gelu'"},
        // The file's bytes outside printable ASCII are quoted as \xHH (a NUL ended the message).
        {head + tail + std::string("stem = 1\0" "6\n", 11), "line 9: 'stem' expects integers in 1..65536, got '1\\x006'"},
        {head + tail + "\xef\xbb\xbfstem = 16\n", "line 9: unknown key '\\xef\\xbb\\xbfstem'"},
        {"name = x\x1b[31m\nfamily = resnet\nunits = 1\nwidth = 8\nstride = 1\n" + tail,
         "line 1: space 'x\\x1b[31m': name may hold only"},
        {head + tail + "head = 10 10\n", "line 9: space 'a': head widths are a mobilenetv3 option"},
        {head + tail + "choice k = 5\n", "line 9: choice 'k' given twice"},
        // Found by fuzz_space: a huge kernel value was cast to int before its range check.
        {head + "choice k = 3" + std::string(80, '3') + "\nchoice e = 1\ndepth = 1\n", "kernel sizes must be odd integers up to 15"},
        {head + "choice k = 3\nchoice e = 1e300:9\ndepth = 1\n", "line 7: space 'a': choice 'e' values (width factors, expand ratios) must be at most 64, got 1e+300"},
        // Numbers as written, nothing strtod or strtol would also take.
        {head + "choice k = 3\nchoice e = 1/2/3:50\ndepth = 1\n", "line 7: 'choice e' expects positive numbers (or fractions p/q), got '1/2/3'"},
        {head + "choice k = 3\nchoice e = 0x10:50\ndepth = 1\n", "line 7: 'choice e' expects positive numbers (or fractions p/q), got '0x10'"},
        {head + "choice k = 3\nchoice e = +1:100\ndepth = 1\n", "line 7: 'choice e' expects positive numbers (or fractions p/q), got '+1'"},
        {head + "choice k = 3\nchoice e = 1/+2:50\ndepth = 1\n", "got '1/+2'"},
        // A subnormal value would print as text that does not read back (strtod: ERANGE).
        {head + "choice k = 3\nchoice e = 1e-300/1e10:1 1:100\ndepth = 1\n", "got '1e-300/1e10'"},
        {head + "choice k = 3\nchoice e = 1\ndepth = +1-+7\n", "line 8: 'depth' expects integers in 1..64, got '+1'"},
        {head + "choice k = 3\nchoice e = 1\ndepth = -1-7\n", "line 8: 'depth' expects N or LO-HI, integers in 1..64, got '-1-7'"},
        {head + tail + std::string("stem = 64\0", 10) + "\n", "line 9: 'stem' expects integers in 1..65536"},
        {"just words\n", "line 1: expected 'key = value'"},
        {"name = a\nfamily = mobilenetv3\nunits = 1\nwidth = 8\nstride = 1\nchoice k = 3\nchoice e = 3\ndepth = 1\n",
         "two head widths"},
        {"name = a\nfamily = densenet\nunits = 1\nchoice k = 3\nchoice e = 1\ndepth = 1\n", "exactly one choice"},
        // A choice the family lacks is refused on its own line (the count alone named none).
        {"name = a\nfamily = densenet\nunits = 1\nchoice k = 3\nchoice e = 1\ndepth = 1\n",
         "line 5: space 'a': choice 'e': densenet has exactly one choice, 'k'"},
        {head + tail + "choice x = 1\n", "line 9: space 'a': choice 'x': resnet has exactly two choices, 'k' and 'e'"},
        {head + "choice k = 3\nchoice E = 1\ndepth = 1\n", "line 7: space 'a': choice 'E': resnet has exactly two choices"},
        // Found by fuzz_space (30-minute runs): keys of another family ('width' for densenet,
        // 'bottleneck' for mobilenetv3) were kept but not written back, so a parsed space did
        // not survive format -> parse.
        {"name = a\nfamily = densenet\nunits = 1\ndepth = 1\nchoice k = 1\nwidth = 16\n",
         "line 6: 'width' does not apply to family densenet"},
        {"name = a\nfamily = densenet\nunits = 2\ndepth = 1\nchoice k = 1\nstride = 1 2\n",
         "line 6: 'stride' does not apply to family densenet"},
        {"name = a\nfamily = mobilenetv3\nunits = 1\nbottleneck = 24\n", "line 4: 'bottleneck' does not apply to family mobilenetv3"},
        {head + "growth = 8\n" + tail, "line 6: 'growth' does not apply to family resnet (densenet only)"},
        // Four transitions halve the map with floors: at 32 (the smaller of an elastic list)
        // no architecture reaches its head. Hand count: 32 -> stem /2 16 -> pool 8 -> 4 2 1 0;
        // 61 -> 31 -> 16 -> 8 4 2 1, 60 -> 30 -> 15 -> 7 3 1 0.
        {"name = a\nfamily = densenet\nunits = 5\ndepth = 1\nchoice k = 1\nresolution = 32 64\n",
         "resolution 32 leaves a 0x0 feature map before the head (the smallest resolution that fits is 61)"},
        // 16 units: 15 transitions after the stem's and the pool's /4 need an input of at
        // least 2^17, beyond 4096: no resolution to name, and it says why.
        {"name = a\nfamily = densenet\nunits = 16\ndepth = 1\nchoice k = 1\nresolution = 224\n",
         "resolution 224 leaves a 0x0 feature map before the head (so does every resolution up to 4096: too many "
         "downsampling units)"},
    };
    for (const auto& c : cases) {
        try {
            parse_space(c.text, "test.space");
            ADD_FAILURE() << "accepted: " << c.text;
            continue;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
                << "input:\n" << c.text << "\nmessage: " << e.what() << "\nexpected to contain: " << c.message;
            EXPECT_NE(std::string(e.what()).find("test.space"), std::string::npos) << e.what();
        }
    }
}

// Every space parse_space accepts writes out (format_space) as text parse_space reads back:
// a predictor, dataset header or lookup table keeps that text. A resolution range is 8 bytes
// in the file and about 20 KB written out, so with a long name a 45 KB description wrote 65 KB,
// saved a predictor, and esm-predict refused it ("larger than 64 KiB").
TEST(Space, WhatIsWrittenOutReadsBack) {
    const std::string rest = "\nfamily = resnet\nunits = 1\nwidth = 16\nstride = 1\ndepth = 1\nchoice k = 3\n"
                             "choice e = 1\nresolution = 8-4096/1\n";
    const size_t base = format_space(parse_space("name = a" + rest)).size();  // written with a 1-byte name
    ASSERT_GT(base, 19000u);  // the 4089 resolutions
    for (size_t written : {kMaxSpaceTextBytes - 1, kMaxSpaceTextBytes}) {
        const std::string text = "name = " + std::string(written - base + 1, 'a') + rest;
        ASSERT_LE(text.size(), kMaxSpaceTextBytes);
        const Space s = parse_space(text, "long.space");
        const std::string out = format_space(s);
        EXPECT_EQ(out.size(), written);
        EXPECT_EQ(parse_space(out, "written"), s);
    }
    const std::string text = "name = " + std::string(kMaxSpaceTextBytes - base + 2, 'a') + rest;
    ASSERT_LE(text.size(), kMaxSpaceTextBytes);  // the file itself is within the limit
    try {
        parse_space(text, "long.space");
        ADD_FAILURE() << "accepted a space that writes out 65537 bytes";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Format);
        EXPECT_NE(std::string(e.what()).find("long.space: space '"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("is 65537 bytes, over the 65536 a description may hold"), std::string::npos)
            << e.what();
    }
    // A space made in code is held to it too (Encoder, Sampler and the rest validate it).
    Space p = preset("resnet");
    p.name = std::string(50000, 'a');
    p.resolutions.clear();
    for (int r = 64; r <= 4096; ++r) p.resolutions.push_back(r);
    EXPECT_THROW(p.validate(), Error);
}

// A UTF-8 byte-order mark (some editors write one) is not part of the first key.
TEST(Space, ByteOrderMarkIsSkipped) {
    const Space s = parse_space("\xEF\xBB\xBF" + format_space(preset("resnet")), "bom.space");
    EXPECT_TRUE(s == preset("resnet"));
}

TEST(Space, JunkAndMissingFiles) {
    EXPECT_THROW(parse_space(std::string(100000, 'x'), "junk"), Error);
    EXPECT_THROW(load_space("/nonexistent/space.txt"), Error);
    try {
        load_space("resnett");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("resnett"), std::string::npos);
    }
}
