// Lookup-table baseline: segment extraction (params add up, every segment runs alone and
// matches the oracle), exhaustive keys, sum prediction, exact bias fit, file round trip
// and refusal. Timing-free: the segment timer is a synthetic MACs-based cost.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "esm/common.hpp"
#include "esm/lut.hpp"
#include "esm/sample.hpp"
#include "esm/train.hpp"
#include "exec_test_util.hpp"
#include "sealed_file.hpp"

using namespace esm;

namespace {

int small_res(const std::string& space) { return space == "densenet" ? 64 : 32; }

// A deterministic cost that depends on the whole segment: MACs, op count, the values it
// reads and writes. (Not whole buffer sizes: a dense layer's unit buffer is as wide as the
// unit is deep, which its key rightly ignores: the computation is the same.)
double synthetic_ms(const Plan& p) {
    double floats = 0;
    for (const Op& op : p.ops) floats += double(op.in.c) * op.in.h * op.in.w + double(op.out.c) * op.out.h * op.out.w;
    return 1e-6 * double(p.macs()) + 0.01 * double(p.ops.size()) + 1e-7 * floats;
}

LatencyStats synthetic_timer(const Plan& p) {
    LatencyStats s;
    s.latency_ms = synthetic_ms(p);
    s.std_ms = 0.001;
    s.runs = 3;
    return s;
}

std::string tmp_path(const std::string& name) {
    return std::string(ESM_BINARY_DIR) + "/test_lut_" + std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

TEST(LutExtract, EverySegmentStandsAloneAndParamsAddUp) {
    for (const std::string name : {"resnet", "mobilenetv3", "densenet", "ofa-mbv3"}) {
        Space s = preset(name);
        Sampler sampler(s, 7);
        for (int i = 0; i < 2; ++i) {
            const Arch a = sampler.random();
            const int batch = 1 + i;
            const Plan p = build_plan(s, a, batch, small_res(name));
            int64_t params = 0, macs = 0;
            for (int seg = 0; seg < static_cast<int>(p.segments.size()); ++seg) {
                const Plan q = extract_segment(p, seg);
                SCOPED_TRACE(name + " " + p.segments[static_cast<size_t>(seg)].key);
                ASSERT_EQ(q.segments.size(), 1u);
                EXPECT_EQ(q.segments[0].key, p.segments[static_cast<size_t>(seg)].key);
                EXPECT_EQ(q.ops.size(), size_t(p.segments[static_cast<size_t>(seg)].end_op -
                                                p.segments[static_cast<size_t>(seg)].first_op));
                params += q.params();
                macs += q.macs();
                ExecutorOptions o;
                auto ex = Executor::create(q, o);
                TensorView in = ex->input();
                for (int b = 0; b < in.n; ++b)
                    for (int c = 0; c < in.c; ++c)
                        for (int64_t j = 0; j < in.plane(); ++j) in.channel(b, c)[j] = float(std::cos(0.1 * double(j + c)));
                TensorView out = ex->output();
                for (int b = 0; b < out.n; ++b)
                    for (int c = 0; c < out.c; ++c)
                        std::fill(out.channel(b, c), out.channel(b, c) + out.plane(), NAN);
                ex->run();
                for (int b = 0; b < out.n; ++b)
                    for (int c = 0; c < out.c; ++c)
                        for (int64_t j = 0; j < out.plane(); ++j)
                            ASSERT_TRUE(std::isfinite(out.channel(b, c)[j])) << "b=" << b << " c=" << c << " j=" << j;
            }
            EXPECT_EQ(params, p.params()) << name;
            EXPECT_EQ(macs, p.macs()) << name;
        }
    }
}

TEST(LutExtract, DenseLayerReadsAPrefixOfItsUnitBufferAndMatchesTheOracle) {
    Space s = preset("densenet");
    const Arch a = parse_arch(s, "densenet:d3k3/d2k5/d1k1/d2k7/d1k9");
    const Plan p = build_plan(s, a, 2, 64);
    int checked = 0;
    for (int seg = 0; seg < static_cast<int>(p.segments.size()); ++seg) {
        const Plan q = extract_segment(p, seg);
        const Segment& sg = p.segments[static_cast<size_t>(seg)];
        if (sg.kind == "block" && sg.unit == 1 && sg.block == 1) {
            // Unit 1 holds (64 + 3*32)/2 = 80 channels from the transition plus 2 layers.
            EXPECT_EQ(q.input.c, 80 + 32);
            EXPECT_EQ(q.buffers[static_cast<size_t>(q.input.buf)].c, 80 + 2 * 32);
            EXPECT_EQ(q.output.buf, q.input.buf);
            EXPECT_EQ(q.output.c_off, 80 + 32);
        }
        if (sg.kind == "stem") {
            EXPECT_EQ(q.input.c, 3);
        }
        EXPECT_TRUE(esm_test::executor_matches_reference(q, 5, 1)) << sg.key;
        ++checked;
    }
    EXPECT_EQ(checked, static_cast<int>(p.segments.size()));
    EXPECT_THROW(extract_segment(p, -1), Error);
    EXPECT_THROW(extract_segment(p, static_cast<int>(p.segments.size())), Error);
}

TEST(Lut, ResNetAndMobileNetV3TablesHoldExactlyEveryKey) {
    for (const std::string name : {"resnet", "mobilenetv3"}) {
        Space s = preset(name);
        const LookupTable t = build_lookup_table(s, 1, 64, {}, synthetic_timer);
        // stem + head + 4 units x 9 combinations x (first, rest).
        EXPECT_EQ(t.size(), size_t(2 + 4 * 9 * 2)) << name;
        Sampler sampler(s, 3);
        for (const Arch& a : sampler.sample(Strategy::Random, 200, 5))
            ASSERT_TRUE(t.missing_keys(a).empty()) << format_arch(s, a);
    }
    // Elastic resolution: every resolution is profiled unless one is forced.
    Space ofa = preset("ofa-mbv3");
    EXPECT_EQ(lut_cover_archs(ofa, 0).size(), ofa.resolutions.size() * size_t(ofa.combinations()));
    EXPECT_EQ(lut_cover_archs(ofa, 160).size(), size_t(ofa.combinations()));
    // ... at that resolution (they were at the space's default, 224, whatever was asked):
    // a table profiled from them held no key of an arch @160.
    LookupTable at160(ofa, 1, 0);
    at160.profile(lut_cover_archs(ofa, 160), synthetic_timer);
    EXPECT_EQ(at160.size(), size_t(2 + 5 * 9 * 2));
    for (const Arch& a : lut_cover_archs(ofa, 160)) EXPECT_EQ(a.res, 160);
    Sampler at_any(ofa, 5);
    for (Arch a : at_any.sample(Strategy::Random, 50, 5)) {
        a.res = 160;
        ASSERT_TRUE(at160.missing_keys(a).empty()) << format_arch(ofa, a);
    }
    EXPECT_THROW(lut_cover_archs(ofa, 161), Error);  // not one of its resolutions
    // A fixed space's archs keep its resolution; the table's res builds them at 40.
    const LookupTable fixed40 = build_lookup_table(preset("resnet"), 1, 40, {}, synthetic_timer);
    EXPECT_EQ(fixed40.entries().count("stem.3x40x40"), 1u);
    EXPECT_THROW(lut_cover_archs(preset("densenet")), Error);
}

TEST(Lut, PredictIsTheSumOfTheSegmentCosts) {
    for (const std::string name : {"resnet", "mobilenetv3", "densenet", "ofa-mbv3"}) {
        Space s = preset(name);
        Sampler sampler(s, 11);
        const std::vector<Arch> archs = sampler.sample(Strategy::Random, 20, 5);
        const int res = name == "ofa-mbv3" ? 0 : small_res(name);
        const std::vector<Arch> given = name == "densenet" ? archs : std::vector<Arch>{};
        const LookupTable t = build_lookup_table(s, 1, res, given, synthetic_timer);
        for (const Arch& a : archs) {
            const Plan p = build_plan(s, a, 1, res);
            double want = 0;
            for (int seg = 0; seg < static_cast<int>(p.segments.size()); ++seg)
                want += synthetic_ms(extract_segment(p, seg));
            EXPECT_NEAR(t.predict(a), want, 1e-9 * want) << format_arch(s, a);
            EXPECT_EQ(t.predict(format_arch(s, a)), t.predict(a));
        }
    }
}

TEST(Lut, DenseNetProfilesMissingKeysOnDemand) {
    Space s = preset("densenet");
    Sampler sampler(s, 5);
    const std::vector<Arch> first = sampler.sample(Strategy::Random, 3, 5);
    LookupTable t = build_lookup_table(s, 1, 64, first, synthetic_timer);
    EXPECT_THROW(build_lookup_table(s, 1, 64, {}, synthetic_timer), Error);
    const Arch other = parse_arch(s, "densenet:d20k9/d20k9/d20k9/d20k9/d20k9");
    const std::vector<std::string> missing = t.missing_keys(other);
    ASSERT_FALSE(missing.empty());
    try {
        t.predict(other);
        FAIL() << "predicted with missing keys";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no entry for segment"), std::string::npos) << e.what();
    }
    const size_t before = t.size();
    const size_t timed = t.profile({other, other}, synthetic_timer);
    EXPECT_GT(timed, 0u);
    EXPECT_LE(timed, missing.size());
    EXPECT_EQ(t.size(), before + missing.size());
    EXPECT_TRUE(t.missing_keys(other).empty());
    EXPECT_EQ(t.profile({other}, synthetic_timer), 0u);
}

// The key without its ".l<digits>" (the oracle's own reading of docs/lut.md's key format).
std::string without_layer_index(const std::string& key) {
    const size_t l = key.find(".l");
    if (key[0] != 'u' || l == std::string::npos) return key;
    size_t e = l + 2;
    while (e < key.size() && std::isdigit(static_cast<unsigned char>(key[e]))) ++e;
    return e > l + 2 ? key.substr(0, l) + key.substr(e) : key;
}

// DenseNet keys name the layer index beside the input shape (SPEC §9); layers of one unit,
// kernel and input shape at different indices are one computation, timed once (here 1,355
// timings for these 40 archs' 1,802 keys; the share grows with the archs). Every key still
// gets its entry, twins the same one, and each computation is timed once whether its twins
// come in the same call, a later one, or after a resumed (journaled) run.
TEST(Lut, DenseNetTimesEachComputationOnce) {
    const Space s = preset("densenet");
    Sampler sampler(s, 17);
    const std::vector<Arch> archs = sampler.sample(Strategy::Random, 40, 5);
    std::set<std::string> keys, computations;
    for (const Arch& a : archs)
        for (const Segment& seg : build_plan(s, a, 1, 64).segments) {
            keys.insert(seg.key);
            computations.insert(without_layer_index(seg.key));
        }
    ASSERT_GT(keys.size(), computations.size() + computations.size() / 4);  // 1,802 keys, 1,355 computations
    size_t calls = 0;
    auto counting = [&](const Plan& p) {
        ++calls;
        return synthetic_timer(p);
    };
    std::set<std::string> timed;  // the computations of the keys progress reports
    auto progress = [&](const std::string& key, size_t, size_t) { timed.insert(without_layer_index(key)); };
    LookupTable t(s, 1, 64);
    EXPECT_EQ(t.profile(archs, counting, progress), computations.size());
    EXPECT_EQ(calls, computations.size());
    EXPECT_EQ(timed, computations);
    EXPECT_EQ(t.size(), keys.size());
    std::map<std::string, LutEntry> by_computation;
    for (const auto& [key, e] : t.entries()) {
        const auto [it, fresh] = by_computation.emplace(without_layer_index(key), e);
        if (!fresh) {
            EXPECT_EQ(e.latency_ms, it->second.latency_ms) << key;
            EXPECT_EQ(e.std_ms, it->second.std_ms) << key;
        }
    }
    // Twins a later call needs come from the table, untimed.
    Arch deeper = archs.front();
    deeper.units[0].insert(deeper.units[0].begin(), deeper.units[0].front());  // shifts unit 0's layer indices
    ASSERT_LE(deeper.units[0].size(), size_t(s.units[0].max_depth));
    std::set<std::string> new_computations;
    for (const std::string& k : t.missing_keys(deeper))
        if (!by_computation.count(without_layer_index(k))) new_computations.insert(without_layer_index(k));
    ASSERT_FALSE(t.missing_keys(deeper).empty());
    calls = 0;
    EXPECT_EQ(t.profile({deeper}, counting), new_computations.size());
    EXPECT_EQ(calls, new_computations.size());
    EXPECT_TRUE(t.missing_keys(deeper).empty());
    // Resumed from a journal of the timed entries only: no computation timed twice.
    const std::string path = tmp_path("dense.lut.journal");
    std::remove(path.c_str());
    {
        LookupTable u(s, 1, 64);
        LutJournal j(u, path);
        size_t calls = 0;
        auto dies = [&](const Plan& p) {
            if (calls++ == 25) throw std::runtime_error("killed");
            return synthetic_timer(p);
        };
        EXPECT_THROW(u.profile(archs, dies, nullptr, &j), std::runtime_error);
    }
    LookupTable u(s, 1, 64);
    LutJournal j(u, path);
    EXPECT_EQ(j.resumed(), 25u);
    EXPECT_EQ(u.profile(archs, synthetic_timer, nullptr, &j), computations.size() - 25);
    EXPECT_EQ(u.size(), keys.size());
    j.finish();
}

TEST(Lut, BiasFitRecoversSlopeAndInterceptExactly) {
    Space s = preset("mobilenetv3");
    LookupTable t = build_lookup_table(s, 1, 32, {}, synthetic_timer);
    Sampler sampler(s, 9);
    LatencyData d;
    d.archs = sampler.sample(Strategy::Random, 50, 5);
    d.target = "latency_ms";
    for (const Arch& a : d.archs) d.latency.push_back(1.7 * t.sum(a) + 0.35);
    t.fit_bias(d);
    EXPECT_NEAR(t.bias_a, 1.7, 1e-9);
    EXPECT_NEAR(t.bias_b, 0.35, 1e-9);
    for (size_t i = 0; i < d.size(); ++i) EXPECT_NEAR(t.predict(d.archs[i]), d.latency[i], 1e-9);
    EXPECT_NE(t.fit_info.find("rows=50"), std::string::npos);
    // The source as a full path: eval's "fitted on this dataset" warning compares it with
    // the dataset it is given from any directory (a relative one named the eval's).
    const std::string rel = "lut_fit_source.csv";
    std::ofstream(rel) << "x\n";
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    d.source = rel;
    t.fit_bias(d);
    EXPECT_NE(t.fit_info.find(" source=" + std::string(cwd) + "/" + rel), std::string::npos) << t.fit_info;
    std::remove(rel.c_str());
    LatencyData one = d.subset({0});
    EXPECT_THROW(t.fit_bias(one), Error);
    // Latencies that fall as the sums rise (another device's, say) would give a table that
    // predicts below zero for large networks: refused, the fit left as it was.
    for (size_t i = 0; i < d.size(); ++i) d.latency[i] = 1000 - 1.7 * t.sum(d.archs[i]);
    try {
        t.fit_bias(d);
        ADD_FAILURE() << "a falling fit was kept: a = " << t.bias_a;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("the measured latencies do not rise with the table sums"), std::string::npos)
            << e.what();
    }
    EXPECT_NEAR(t.bias_a, 1.7, 1e-9);
}

TEST(Lut, SaveLoadPredictsIdentically) {
    Space s = preset("ofa-mbv3");
    LookupTable t = build_lookup_table(s, 2, 0, {}, synthetic_timer);
    t.bias_a = 1.1;
    t.bias_b = 0.123456789012345;
    t.threads = 2;
    t.protocol.runs = 7;
    t.meta = {{"device", "test cpu"}, {"backend", "cpu"}};
    t.fit_info = "rows=3 target=latency_ms";
    const std::string path = tmp_path("a.lut");
    t.save(path);
    const LookupTable u = LookupTable::load(path);
    EXPECT_EQ(u.space(), s);
    EXPECT_EQ(u.batch(), 2);
    EXPECT_EQ(u.res(), 0);
    EXPECT_EQ(u.threads, 2);
    EXPECT_EQ(u.protocol.runs, 7);
    EXPECT_EQ(u.meta, t.meta);
    EXPECT_EQ(u.fit_info, t.fit_info);
    EXPECT_EQ(u.library_version, version());
    EXPECT_EQ(u.size(), t.size());
    EXPECT_EQ(u.serialize(), t.serialize());
    Sampler sampler(s, 2);
    for (const Arch& a : sampler.sample(Strategy::Random, 50, 5)) EXPECT_EQ(u.predict(a), t.predict(a));
    // A correction load refuses (set through the API, not by fit_bias) is refused on save,
    // the file left as it was: it was written, then no longer loaded.
    const std::string before = u.serialize();
    for (const auto& [a, b] : std::vector<std::pair<double, double>>{
             {0.0, 0.0}, {-2.0, 1.0}, {NAN, 0.0}, {INFINITY, 0.0}, {1.0, NAN}, {1.0, -INFINITY}}) {
        LookupTable v = u;
        v.bias_a = a;
        v.bias_b = b;
        try {
            v.save(path);
            ADD_FAILURE() << "saved bias_a " << a << ", bias_b " << b;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
            EXPECT_NE(std::string(e.what()).find("bias_a must be positive and both finite"), std::string::npos)
                << e.what();
        }
        EXPECT_EQ(LookupTable::load(path).serialize(), before);
    }
    std::remove(path.c_str());
}

TEST(Lut, CorruptedTruncatedOrForeignFilesAreRefused) {
    Space s = preset("mobilenetv3");
    const LookupTable t = build_lookup_table(s, 1, 32, {}, synthetic_timer);
    const std::string good = t.serialize();
    auto refused = [](const std::string& bytes, const std::string& what) {
        try {
            LookupTable::parse(bytes, "x.lut");
            ADD_FAILURE() << "accepted a bad file (expected '" << what << "')";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Format);
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).rfind("x.lut", 0), 0u) << e.what();
        }
    };
    std::string flipped = good;
    const size_t at = flipped.find("u2.first");
    ASSERT_NE(at, std::string::npos);
    flipped[at + 1] = '3';
    refused(flipped, "checksum mismatch");
    refused(good.substr(0, good.size() / 2), "truncated");
    refused("esm-predictor 1\n", "not a libesm lookup-table file");
    std::string v2 = good;
    v2.replace(0, 9, "esm-lut 9");
    refused(v2, "unsupported lookup-table format version '9'");
    // The checksum is right but a field holds what the writer refuses (a tab): refused on
    // load, not when the table is saved again after hours of profiling (found by fuzz_lut).
    const size_t body_at = good.find('\n') + 1;
    std::string body = good.substr(body_at, good.rfind("checksum fnv1a64 ") - body_at);
    const size_t fit = body.find("\nfit \n");
    ASSERT_NE(fit, std::string::npos);
    body.replace(fit, 6, "\nfit a\tb\n");
    refused(detail::seal("esm-lut", kLutFormatVersion, body), "line 11: fit info 'a\tb' contains a tab or line break");
    // Fields the writer never writes are refused on their own line, not when profiling.
    const std::string clean = good.substr(body_at, good.rfind("checksum fnv1a64 ") - body_at);
    auto with = [&](const std::string& from, const std::string& to) {
        std::string b = clean;
        const size_t i = b.find(from);
        EXPECT_NE(i, std::string::npos) << from;
        if (i != std::string::npos) b.replace(i, from.size(), to);
        return detail::seal("esm-lut", kLutFormatVersion, b);
    };
    refused(with("\nres 32\n", "\nres 7\n"), "line 4: res must be 0 (each arch's own) or 8..4096, got 7");
    refused(with("\ntrim 0.2\n", "\ntrim 5\n"), "line 8: measurement protocol: trim must be in [0, 0.5)");
    refused(with("\nbias_a 1\n", "\nbias_a -2\n"), "line 9: bias_a -2 is not positive");  // a larger sum predicting less
    const size_t first_entry = clean.find('\n', clean.find("\nentries ") + 1) + 1;
    const size_t entry_end = clean.find('\n', first_entry), last_tab = clean.rfind('\t', entry_end);
    std::string zero_runs = clean;
    zero_runs.replace(last_tab + 1, entry_end - last_tab - 1, "0");
    refused(detail::seal("esm-lut", kLutFormatVersion, zero_runs), "runs");
    // A resolution of its own on an elastic space would price every arch at it, whatever its @R.
    EXPECT_THROW(LookupTable(preset("ofa-mbv3"), 1, 128), Error);
    const std::string path = tmp_path("missing.lut");
    try {
        LookupTable::load(path);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Io);
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    }
}

// A profiling run killed after k keys (here: its timer throws) leaves k entries in its
// journal; a rerun with the same settings profiles only the others and ends with the
// table a run without a kill makes. Other settings, corrupt lines and a second writer are
// refused with the journal left as it was.
TEST(LutJournal, AKilledProfilingResumesWhereItStopped) {
    const Space s = preset("mobilenetv3");
    const std::string path = tmp_path("j.lut.journal");
    std::remove(path.c_str());
    auto fresh = [&](int runs) {
        LookupTable t(s, 1, 32);
        t.protocol.runs = runs;
        t.meta = {{"device", "test cpu"}, {"created", "2026-12-05T00:00:00Z"}};
        return t;
    };
    const std::vector<Arch> cover = lut_cover_archs(s, 32);
    LookupTable whole = fresh(7);
    whole.profile(cover, synthetic_timer);
    ASSERT_EQ(whole.size(), 74u);

    const size_t k = 20;
    {
        LookupTable t = fresh(7);
        LutJournal j(t, path);
        EXPECT_EQ(j.resumed(), 0u);
        size_t calls = 0;
        auto dies = [&](const Plan& p) {
            if (calls++ == k) throw std::runtime_error("killed");
            return synthetic_timer(p);
        };
        EXPECT_THROW(t.profile(cover, dies, nullptr, &j), std::runtime_error);
    }
    const std::string killed = slurp(path);
    EXPECT_EQ(killed.rfind("esm-lut-journal 1\nbatch 1\nres 32\n", 0), 0u) << killed.substr(0, 80);
    EXPECT_EQ(killed.find("created"), std::string::npos);  // volatile keys do not bind a journal

    // Other settings: refused, naming the line and both values; nothing changed on disk.
    {
        LookupTable other = fresh(8);
        try {
            LutJournal j(other, path);
            ADD_FAILURE() << "a journal of other settings was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(path + ": line 6: the journal was written by a profiling run "
                                                        "with 'runs 7', this one has 'runs 8'"),
                      std::string::npos)
                << e.what();
        }
        EXPECT_EQ(slurp(path), killed);
    }
    // A torn last line (killed mid-append) is cut; the k entries before it are kept.
    std::ofstream(path, std::ios::app) << "u3.rest.k7e100.128x1x1\t0.12";
    {
        LookupTable t = fresh(7);
        t.meta[1].second = "2026-12-06T00:00:00Z";  // another day, the same machine
        LutJournal j(t, path);
        EXPECT_EQ(j.resumed(), k);
        EXPECT_EQ(slurp(path), killed);
        // A second writer while this one holds it is refused; nor does another table record
        // into this one's journal.
        LookupTable u = fresh(7);
        EXPECT_THROW(LutJournal(u, path), Error);
        EXPECT_THROW(u.profile(cover, synthetic_timer, nullptr, &j), Error);
        size_t calls = 0;
        auto counting = [&](const Plan& p) {
            ++calls;
            return synthetic_timer(p);
        };
        EXPECT_EQ(t.profile(cover, counting, nullptr, &j), 74u - k);
        EXPECT_EQ(calls, 74u - k);
        t.meta = whole.meta;
        EXPECT_EQ(t.serialize(), whole.serialize());
        j.finish();
    }
    EXPECT_FALSE(std::ifstream(path).good());

    // Corrupt entries are refused with their line: a bad number, a repeated key.
    auto refused = [&](const std::string& text, const std::string& what) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
        LookupTable t = fresh(7);
        try {
            LutJournal j(t, path);
            ADD_FAILURE() << "accepted a corrupt journal (expected '" << what << "')";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
        EXPECT_EQ(slurp(path), text);
    };
    const size_t header_end = killed.find("entries\n") + 8;
    const size_t line2 = killed.find('\n', header_end) + 1;
    const int first_entry_line = static_cast<int>(std::count(killed.begin(), killed.begin() + header_end, '\n')) + 1;
    std::string bad = killed;
    bad.insert(line2, "u0.first.k3e3.16x16x16\tfast\t0\t3\n");
    refused(bad, ": line " + std::to_string(first_entry_line + 1) + ": ");
    refused(killed + killed.substr(header_end, line2 - header_end),
            ": line " + std::to_string(first_entry_line + int(k)) + ": duplicate key");
    refused("garbage\n", "not a lookup-table journal");
    // Something else with no newline at all (its one line "torn") is not a journal either: it
    // was taken for an empty one, overwritten, and deleted when the run finished.
    refused("densenet:d1k3/d2k5/d1k1/d1k7/d1k9", "its first line is 'densenet:d1k3/d2k5/d1k1/d1k7/d1k9'");
    refused(killed.substr(0, killed.find('\n') + 1) + "batch 7", "with 'batch 7', this one has 'batch 1'");
    // A header torn within its first line is still started anew.
    std::ofstream(path, std::ios::binary | std::ios::trunc) << killed.substr(0, 9);
    {
        LookupTable t = fresh(7);
        LutJournal j(t, path);
        EXPECT_EQ(j.resumed(), 0u);
        EXPECT_EQ(slurp(path), killed.substr(0, header_end));
    }
    std::remove(path.c_str());
}

// `esm-lut eval --update` opens its journal with the whole device header of the machine
// (esm::executor_dataset_meta: format, space line, quality control's settings), `build` with
// a table's meta, which holds only what profiling applies: the two refused each other's
// journal ("written by a profiling run with 'meta format…'"), so a killed eval's timings could
// not be continued by a build of the same table. Both now bind only the applied keys, and a
// journal an eval wrote before (those lines in its header) resumes.
TEST(LutJournal, EvalAndBuildContinueEachOthersJournal) {
    const Space s = preset("mobilenetv3");
    const std::string path = tmp_path("jeval.lut.journal");
    std::remove(path.c_str());
    const std::vector<std::pair<std::string, std::string>> whole_header = {
        {"format", "esm-latency-dataset 1"}, {"device", "test cpu"}, {"qc_threshold", "0.03"}, {"refs", "5"},
        {"space_line", "name = mobilenetv3"}};
    auto table = [&] {
        LookupTable t(s, 1, 32);
        for (const auto& kv : whole_header)
            if (lut_meta_applies(kv.first)) t.meta.push_back(kv);
        return t;
    };
    ASSERT_EQ(table().meta, (std::vector<std::pair<std::string, std::string>>{{"device", "test cpu"}}));
    const std::vector<Arch> cover = lut_cover_archs(s, 32);
    std::string written;
    {
        LookupTable t = table();
        LutJournal j(t, path, whole_header);  // as eval --update opens it
        size_t calls = 0;
        auto dies = [&](const Plan& p) {
            if (calls++ == 5) throw std::runtime_error("killed");
            return synthetic_timer(p);
        };
        EXPECT_THROW(t.profile(cover, dies, nullptr, &j), std::runtime_error);
        written = slurp(path);
    }
    EXPECT_EQ(written.find("qc_threshold"), std::string::npos) << written;
    {
        LookupTable t = table();
        LutJournal j(t, path);  // as build opens it
        EXPECT_EQ(j.resumed(), 5u);
    }
    // The header an eval wrote before: the inapplicable keys' lines among the others.
    const size_t device_line = written.find("meta device");
    ASSERT_NE(device_line, std::string::npos);
    std::string old = written;
    old.insert(device_line, "meta format\tesm-latency-dataset 1\n");
    old.insert(old.find("entries\n"), "meta qc_threshold\t0.03\nmeta refs\t5\nmeta space_line\tname = mobilenetv3\n");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << old;
    {
        LookupTable t = table();
        LutJournal j(t, path);
        EXPECT_EQ(j.resumed(), 5u);
        EXPECT_EQ(t.size(), 5u);
    }
    // (An applied key that differs is still refused.)
    std::string other = written;
    other.replace(other.find("test cpu"), 8, "that cpu");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << other;
    {
        LookupTable t = table();
        EXPECT_THROW(LutJournal(t, path), Error);
    }
    std::remove(path.c_str());
}

// What a table at esm-lut build's -o is compared with before the build continues it.
TEST(LookupTable, SettingsDifferenceNamesTheFirstLine) {
    LookupTable a(preset("mobilenetv3"), 1, 32), b(preset("mobilenetv3"), 1, 32);
    a.meta = b.meta = {{"device", "x"}, {"created", "monday"}};
    b.meta[1].second = "tuesday";  // volatile: no difference
    b.set_entry("k", {1.0, 0.0, 1});
    EXPECT_EQ(a.settings_difference(b), "");
    b.protocol.runs = 3;
    EXPECT_EQ(a.settings_difference(b, "B"), "'runs 150' where B has 'runs 3'");
    b.protocol.runs = a.protocol.runs;
    b.meta.push_back({"seed", "7"});
    EXPECT_EQ(a.settings_difference(b), "no meta seed where the other has 'meta seed 7'");
    // A key one of them lacks is named as missing, not set against the other's next line
    // (cpu_isa is in a header only under an ESM_CPU_ISA cap; it said "'meta space ...' where
    // this build has 'meta cpu_isa avx2'").
    a.meta = {{"device", "x"}, {"space", "mobilenetv3"}};
    b.meta = {{"device", "x"}, {"cpu_isa", "avx2"}, {"space", "mobilenetv3"}};
    EXPECT_EQ(a.settings_difference(b, "this build"), "no meta cpu_isa where this build has 'meta cpu_isa avx2'");
    EXPECT_EQ(b.settings_difference(a, "this build"), "'meta cpu_isa avx2' where this build has no meta cpu_isa");
    b.meta = {{"device", "y"}, {"space", "mobilenetv3"}};  // a key both have: both values
    EXPECT_EQ(a.settings_difference(b), "'meta device x' where the other has 'meta device y'");
    b.meta = {{"space", "mobilenetv3"}, {"device", "x"}};  // the same keys in another order
    EXPECT_EQ(a.settings_difference(b), "'meta device x' where the other has 'meta space mobilenetv3'");
}
