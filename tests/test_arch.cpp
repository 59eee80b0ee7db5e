// Tests of the canonical architecture text: the SPEC's examples, round trips over
// thousands of samples of every preset, and a table of malformed inputs with messages.
#include <gtest/gtest.h>

#include "esm/arch.hpp"
#include "esm/common.hpp"
#include "esm/sample.hpp"

using namespace esm;

TEST(Arch, SpecExamplesParse) {
    const char* examples[][2] = {
        {"resnet", "resnet:k3e50-k5e100/k7e67/k3e100-k3e100-k5e50/k7e50"},
        {"mobilenetv3", "mobilenetv3:k3e67/k5e100-k5e100/k7e50-k3e50-k3e67/k5e67"},
        {"densenet", "densenet:d6k3/d12k5/d20k1/d16k7/d3k9"},
        {"ofa-mbv3", "ofa-mbv3:k7e6-k5e4/k7e6-k7e3/k5e3-k7e6/k5e3-k3e6/k5e6-k3e4-k5e3@204"},
    };
    for (auto& ex : examples) {
        Space s = preset(ex[0]);
        Arch a = parse_arch(s, ex[1]);
        EXPECT_EQ(format_arch(s, a), ex[1]);
    }
    Space r = preset("resnet");
    Arch a = parse_arch(r, examples[0][1]);
    ASSERT_EQ(a.units.size(), 4u);
    EXPECT_EQ(a.unit_depth(0), 2);
    EXPECT_EQ(a.unit_depth(2), 3);
    EXPECT_EQ(a.depth(), 7);
    EXPECT_EQ(a.res, 224);
    EXPECT_EQ(choice_value(r, a.units[0][1], 0), 5.0);   // k5
    EXPECT_EQ(choice_value(r, a.units[0][1], 1), 1.0);   // e100
    EXPECT_EQ(choice_value(r, a.units[1][0], 1), 2.0 / 3.0);
    Space d = preset("densenet");
    Arch b = parse_arch(d, examples[2][1]);
    EXPECT_EQ(b.depth(), 6 + 12 + 20 + 16 + 3);
    EXPECT_EQ(b.unit_depth(2), 20);
    EXPECT_EQ(choice_value(d, b.units[4][2], 0), 9.0);
    Space o = preset("ofa-mbv3");
    Arch c = parse_arch(o, examples[3][1]);
    EXPECT_EQ(c.res, 204);
    EXPECT_EQ(choice_value(o, c.units[0][1], 1), 4.0);
}

TEST(Arch, RoundTripThousandsOfSamples) {
    for (const auto& name : preset_names()) {
        Space s = preset(name);
        Sampler sampler(s, 42);
        for (Strategy st : {Strategy::Random, Strategy::Balanced}) {
            for (const Arch& a : sampler.sample(st, 2500, 5)) {
                const std::string t = format_arch(s, a);
                Arch b = parse_arch(s, t);
                ASSERT_EQ(a, b) << t;
                ASSERT_EQ(format_arch(s, b), t);
                ASSERT_LE(t.size(), max_arch_text_length(s));
            }
        }
    }
}

// try_parse_arch parses into the same Arch again and again (esm-predict's batch): whatever
// it held before, deeper or after a failed parse, the result is the fresh parse's.
TEST(Arch, ParsingIntoAUsedArchGivesTheFreshResult) {
    for (const auto& name : preset_names()) {
        Space s = preset(name);
        Sampler sampler(s, 7);
        Arch reused;
        std::string err;
        int n = 0;
        for (const Arch& a : sampler.sample(Strategy::Random, 500, 5)) {
            const std::string t = format_arch(s, a);
            if (++n % 50 == 0) {
                ASSERT_FALSE(try_parse_arch(s, t + "x", &reused, &err));  // leaves a partial parse
            }
            ASSERT_TRUE(try_parse_arch(s, t, &reused, &err)) << err;
            ASSERT_EQ(reused, a) << t;
        }
    }
}

TEST(Arch, LongestTextIsExact) {
    for (const auto& name : preset_names()) {
        Space s = preset(name);
        Arch a;
        a.units.resize(s.units.size());
        for (size_t u = 0; u < s.units.size(); ++u) {
            BlockChoice longest{};
            for (size_t i = 0; i < s.choices.size(); ++i)
                for (size_t j = 0; j < s.choices[i].labels.size(); ++j)
                    if (s.choices[i].labels[j].size() > s.choices[i].labels[longest[i]].size())
                        longest[i] = static_cast<uint8_t>(j);
            a.units[u].assign(s.units[u].max_depth, longest);
        }
        a.res = s.resolutions.back();
        EXPECT_EQ(format_arch(s, a).size(), max_arch_text_length(s)) << name;
    }
}

struct BadArch {
    const char* space;
    std::string text;
    const char* message;
};

// A resolution list that is no range is named value by value.
TEST(Arch, ResolutionOutsideAnUnevenListNamesTheList) {
    const Space s = parse_space("name = tiny\nfamily = resnet\nunits = 1\nwidth = 64\nstride = 1\ndepth = 1-2\n"
                                "choice k = 3\nchoice e = 1:100\nresolution = 96 128 224\n", "tiny");
    try {
        parse_arch(s, "tiny:k3e100@160");
        FAIL() << "resolution 160 accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("resolution '160' is not allowed; expected 96, 128, 224 (the space's list)"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Arch, MalformedInputsNameColumnAndExpectation) {
    const std::string u = "k3e50";
    const std::string ok4 = "resnet:" + u + "/" + u + "/" + u + "/" + u;
    const std::string eight = u + "-" + u + "-" + u + "-" + u + "-" + u + "-" + u + "-" + u + "-" + u;
    const std::string ofa_ok = "ofa-mbv3:k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3";
    const BadArch cases[] = {
        {"resnet", "", "column 1: empty architecture text"},
        {"resnet", "resnet", "column 7: expected the space prefix 'resnet:', got end of text"},
        {"resnet", "mobilenetv3:k3e50/k3e50/k3e50/k3e50",
         "column 1: expected the space prefix 'resnet:' (the text is an architecture of space 'mobilenetv3'), got 'm'"},
        {"ofa-mbv4", "ofa-mbv3:k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3@224",
         "column 8: expected the space prefix 'ofa-mbv4:' (the text is an architecture of space 'ofa-mbv3'), got '3'"},
        {"resnet", "RESNET:k3e50/k3e50/k3e50/k3e50", "column 1: expected the space prefix"},
        {"resnet", "res net:k3e50", "column 4: expected the space prefix 'resnet:', got ' '"},
        {"resnet", "resnet:k3e50/k3e50/k3e50", "column 25: expected '-' (another block) or '/' (to start unit 3 of 0..3), got end"},
        {"resnet", ok4 + "/" + u, "column 31: expected end of text"},
        {"resnet", "resnet:" + eight + "/" + u + "/" + u + "/" + u, "column 50: unit 0 has more than 7 blocks"},
        {"resnet", "resnet:k4e50/k3e50/k3e50/k3e50", "column 9: unknown k value '4'; expected 3, 5 or 7"},
        {"resnet", "resnet:k3e33/k3e50/k3e50/k3e50", "column 11: unknown e value '33'; expected 50, 67 or 100"},
        {"resnet", "resnet:k3/k3e50/k3e50/k3e50", "column 10: expected 'e' (choice e), got '/'"},
        {"resnet", "resnet:k3e/k3e50/k3e50/k3e50", "column 11: missing e value; expected 50, 67 or 100"},
        {"resnet", "resnet:k3e50 /k3e50/k3e50/k3e50", "column 13: expected '-' (another block) or '/' (to start unit 1 of 0..3), got ' '"},
        {"resnet", ok4 + "\n", "column 31: expected end of text (this space has a fixed resolution), got byte 0x0a"},
        {"resnet", ok4 + "@224", "expected end of text (this space has a fixed resolution), got '@'"},
        {"resnet", "resnet:k3e50//k3e50/k3e50", "column 14: expected 'k' (a block), got '/'"},
        {"resnet", "resnet:k3e50-/k3e50/k3e50/k3e50", "column 14: expected 'k' (a block), got '/'"},
        {"resnet", std::string("resnet:k3e50") + '\0' + "/k3e50/k3e50/k3e50", "got byte 0x00"},
        {"resnet", "resnet:" + std::string(1 << 20, 'x'), "text is 1048583 bytes, longer than the longest resnet architecture"},
        {"ofa-mbv3", "mobilenetv3:" + eight + "/" + eight + "/" + eight + "/" + eight,  // long, of another space
         "expected the space prefix 'ofa-mbv3:' (the text is an architecture of space 'mobilenetv3')"},
        {"resnet", "resnet:k3e50,k3e50/k3e50/k3e50", "got ','"},
        {"resnet", "resnet:k3e50.5/k3e50/k3e50/k3e50", "unknown e value '50.5'"},
        {"ofa-mbv3", "ofa-mbv3:k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3", "expected '@' and the input resolution, got end"},
        {"ofa-mbv3", ofa_ok + "@130", "resolution '130' is not allowed; expected 128..224 in steps of 4 (the space's list)"},
        // docs/arch_text.md's example: the column is that of the resolution's first digit.
        {"ofa-mbv3", "ofa-mbv3:k7e6-k5e4/k7e6-k7e3/k5e3-k7e6/k5e3-k3e6/k5e6-k3e4-k5e3@130",
         "ofa-mbv3 architecture, column 65: resolution '130' is not allowed; expected 128..224 in steps of 4 (the space's list)"},
        {"ofa-mbv3", ofa_ok + "@0224", "resolution '0224' is not allowed"},
        {"ofa-mbv3", ofa_ok + "@", "resolution '' is not allowed"},
        {"ofa-mbv3", ofa_ok + "@228", "resolution '228' is not allowed"},
        {"ofa-mbv3", "ofa-mbv3:k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3@224", "unit 0 has 1 blocks, needs at least 2"},
        {"ofa-mbv3", "ofa-mbv3:k3e50-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3/k3e3-k3e3@224", "unknown e value '50'; expected 3, 4 or 6"},
        {"densenet", "densenet:d0k3/d1k3/d1k3/d1k3/d1k3", "column 11: unit 0 depth '0' out of range; expected 1..20"},
        {"densenet", "densenet:d21k3/d1k3/d1k3/d1k3/d1k3", "unit 0 depth '21' out of range"},
        {"densenet", "densenet:d06k3/d1k3/d1k3/d1k3/d1k3", "unit 0 depth '06' out of range"},
        {"densenet", "densenet:d6k2/d1k3/d1k3/d1k3/d1k3", "unknown k value '2'; expected 1, 3, 5, 7 or 9"},
        {"densenet", "densenet:dk3/d1k3/d1k3/d1k3/d1k3",
         "column 11: expected the number of layers of unit 0 (1..20) after 'd', got 'k'"},
        {"densenet", "densenet:d1/d1k3/d1k3/d1k3/d1k3", "column 12: expected 'k' (the unit's choices), got '/'"},
        {"densenet", "densenet:d6k3/d1k3/d1k3/d1k3", "expected '/' before unit 4, got end of text"},
        {"densenet", "densenet:d6k3-k3/d1k3/d1k3/d1k3/d1k3", "expected '/' before unit 1, got '-'"},
        {"densenet", "densenet:6k3/d1k3/d1k3/d1k3/d1k3", "column 10: expected 'd' and the number of layers of unit 0"},
    };
    for (const auto& c : cases) {
        Space s = preset(std::string(c.space) == "ofa-mbv4" ? "ofa-mbv3" : c.space);
        s.name = c.space;  // ofa-mbv4: a space whose name shares a prefix with another's
        Arch out;
        std::string err;
        EXPECT_FALSE(try_parse_arch(s, c.text, &out, &err)) << c.text;
        EXPECT_NE(err.find(c.message), std::string::npos)
            << "input: " << c.text.substr(0, 80) << "\nmessage: " << err << "\nexpected to contain: " << c.message;
        EXPECT_THROW(parse_arch(s, c.text), Error);
    }
}

TEST(Arch, ValidateCatchesHandBuiltMistakes) {
    Space r = preset("resnet");
    Arch a = parse_arch(r, "resnet:k3e50/k3e50/k3e50/k3e50");
    EXPECT_NO_THROW(validate_arch(r, a));
    Arch bad = a;
    bad.units[0][0][0] = 3;  // only 3 kernels
    EXPECT_THROW(validate_arch(r, bad), Error);
    bad = a;
    bad.units.pop_back();
    EXPECT_THROW(validate_arch(r, bad), Error);
    bad = a;
    bad.res = 225;
    EXPECT_THROW(validate_arch(r, bad), Error);
    Space d = preset("densenet");
    Arch dn = parse_arch(d, "densenet:d2k3/d1k3/d1k3/d1k3/d1k3");
    dn.units[0][1][0] = 0;  // mixed kernels inside a dense unit
    EXPECT_THROW(validate_arch(d, dn), Error);
}
