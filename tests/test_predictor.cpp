// Predictor file: save/load predicts bit-identically; truncated, corrupted, wrong-version
// and other-space files fail with messages naming what and where; saves are atomic.
#include <gtest/gtest.h>
#include <unistd.h>
#include <utime.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <atomic>
#include <fstream>
#include <thread>
#include <sstream>

#include "esm/common.hpp"
#include "esm/predictor.hpp"
#include "esm/sample.hpp"
#include "esm/train.hpp"
#include "comma_locale.hpp"
#include "esm/esm.h"
#include "sealed_file.hpp"

namespace {

std::string tmp_path(const std::string& name) {
    return std::string(ESM_BINARY_DIR) + "/test_predictor_" + std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

void spit(const std::string& p, const std::string& b) {
    std::ofstream f(p, std::ios::binary);
    f << b;
}

// pred saved to a temporary file `name` and loaded back (the file removed again).
esm::Predictor reloaded(const esm::Predictor& pred, const std::string& name) {
    const std::string p = tmp_path(name);
    pred.save(p);
    esm::Predictor loaded = esm::Predictor::load(p);
    std::remove(p.c_str());
    return loaded;
}

struct Fixture {
    esm::Space space = esm::preset("ofa-mbv3");
    std::vector<esm::Arch> archs;
    esm::Predictor pred;
    explicit Fixture(bool skip = false) : pred(make(skip)) {}
    esm::Predictor make(bool skip) {
        esm::Sampler s(space, 4);
        archs = s.sample(esm::Strategy::Random, 300, 5);
        esm::Encoder enc(space, esm::Encoding::FCC, esm::ResEncoding::OneHot);
        std::vector<float> x(archs.size() * static_cast<size_t>(enc.length())), y(archs.size());
        enc.encode_batch(archs.data(), archs.size(), x.data());
        for (size_t i = 0; i < archs.size(); ++i) y[i] = 1.f + 0.1f * static_cast<float>(archs[i].depth());
        esm::MlpOptions opt;
        opt.epochs = 5;
        opt.min_steps = 0;
        opt.linear_skip = skip;
        esm::Predictor p(space, esm::Encoding::FCC, esm::train_mlp(x.data(), y.data(), archs.size(), enc.length(), opt),
                         esm::ResEncoding::OneHot);
        p.dataset_meta = {{"device", "test cpu"}, {"threads", "1"}};
        p.metrics_json = "{\"overall\": {}}\n";
        p.training = "n_train=300 epochs=5";
        return p;
    }
};

void expect_error(const std::string& path, const std::string& what) {
    try {
        esm::Predictor::load(path);
        FAIL() << "loaded " << path;
    } catch (const esm::Error& e) {
        EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
}

TEST(Predictor, SaveLoadPredictsBitIdentically) {
    for (bool skip : {false, true}) {
        SCOPED_TRACE(skip ? "linear skip" : "no skip");
        Fixture f(skip);
        EXPECT_EQ(f.pred.model().skip.empty(), !skip);
        const std::string p = tmp_path("a.esmp");
        f.pred.save(p);
        esm::Predictor q = esm::Predictor::load(p, f.space);
        EXPECT_EQ(q.space(), f.space);
        EXPECT_EQ(q.encoding(), esm::Encoding::FCC);
        EXPECT_EQ(q.encoder().res_encoding(), esm::ResEncoding::OneHot);
        EXPECT_EQ(q.dataset_meta, f.pred.dataset_meta);
        EXPECT_EQ(q.metrics_json, f.pred.metrics_json);
        EXPECT_EQ(q.training, f.pred.training);
        EXPECT_EQ(q.library_version, esm::version());
        EXPECT_EQ(q.model().net.params(), f.pred.model().net.params());
        EXPECT_EQ(q.model().skip, f.pred.model().skip);
        std::vector<float> a(f.archs.size()), b(f.archs.size());
        f.pred.predict_batch(f.archs.data(), f.archs.size(), a.data());
        q.predict_batch(f.archs.data(), f.archs.size(), b.data());
        for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
        // single prediction and text prediction agree with the batch
        EXPECT_EQ(static_cast<float>(q.predict(f.archs[7])), b[7]);
        EXPECT_EQ(static_cast<float>(q.predict(esm::format_arch(f.space, f.archs[7]))), b[7]);
        // serialising the loaded predictor gives the same bytes
        EXPECT_EQ(q.serialize(), slurp(p));
        std::remove(p.c_str());
    }
}

// A model with constants a load refuses (x_inv_std <= 0, y_std <= 0) is refused when the
// predictor is made: it saved a file that no load read back.
TEST(Predictor, ConstructorRefusesWhatALoadRefuses) {
    Fixture f(false);
    for (int which = 0; which < 2; ++which) {
        esm::MlpModel m = f.pred.model();
        if (which == 0) m.x_inv_std[3] = 0;
        else m.y_std = -1;
        try {
            esm::Predictor p(f.space, f.pred.encoding(), m, f.pred.encoder().res_encoding());
            ADD_FAILURE() << (which ? "y_std -1" : "x_inv_std 0") << ": made a predictor whose saved file does not load";
        } catch (const esm::Error& e) {
            EXPECT_EQ(e.kind(), esm::ErrorKind::InvalidArgument) << e.what();
            EXPECT_NE(std::string(e.what()).find(which ? "predictor: y_std is -1" : "predictor: x_inv_std[3] is 0"),
                      std::string::npos) << e.what();
        }
    }
}

// The predictor folds the standardisation into the first layer and the skip; its
// predictions must equal the unfolded model's (MlpModel::predict on encoded rows).
TEST(Predictor, FoldedSkipMatchesTheModel) {
    Fixture f(true);
    const esm::Encoder& enc = f.pred.encoder();
    std::vector<float> x(f.archs.size() * static_cast<size_t>(enc.length())), a(f.archs.size()), b(f.archs.size());
    enc.encode_batch(f.archs.data(), f.archs.size(), x.data());
    f.pred.predict_batch(f.archs.data(), f.archs.size(), a.data());
    f.pred.model().predict(x.data(), f.archs.size(), b.data());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5 * std::fabs(b[i])) << i;
    // By pointers (archs held elsewhere, in reverse here): the same predictions bit for bit.
    std::vector<const esm::Arch*> ptrs;
    for (size_t i = f.archs.size(); i-- > 0;) ptrs.push_back(&f.archs[i]);
    std::vector<float> c(ptrs.size());
    f.pred.predict_batch(ptrs.data(), ptrs.size(), c.data());
    for (size_t i = 0; i < c.size(); ++i) ASSERT_EQ(c[i], a[a.size() - 1 - i]) << i;
}

// A version-1 file (no skip line) still loads and predicts as it did.
TEST(Predictor, VersionOneFilesStillLoad) {
    Fixture f;
    const std::string v2 = f.pred.serialize();
    std::string body = v2.substr(0, v2.rfind("checksum fnv1a64 "));
    ASSERT_EQ(body.compare(0, 16, "esm-predictor 2\n"), 0);
    body.replace(0, 16, "esm-predictor 1\n");
    const size_t at = body.find("\nskip 0\n");
    ASSERT_NE(at, std::string::npos);
    body.erase(at + 1, 7);
    char sum[32];
    std::snprintf(sum, sizeof sum, "%016" PRIx64, esm::fnv1a64(body.data(), body.size()));
    esm::Predictor q = esm::Predictor::parse(body + "checksum fnv1a64 " + sum + "\n", "v1");
    std::vector<float> a(f.archs.size()), b(f.archs.size());
    f.pred.predict_batch(f.archs.data(), f.archs.size(), a.data());
    q.predict_batch(f.archs.data(), f.archs.size(), b.data());
    EXPECT_EQ(a, b);
}

TEST(Predictor, DamagedFilesFailClearly) {
    Fixture f;
    const std::string good = f.pred.serialize();
    const std::string p = tmp_path("bad.esmp");
    spit(p, good.substr(0, good.size() / 2));
    expect_error(p, "truncated");
    std::string corrupt = good;
    corrupt[good.size() / 2] ^= 0x01;
    spit(p, corrupt);
    expect_error(p, "checksum mismatch");
    std::string v3 = good;
    v3.replace(0, 15, "esm-predictor 3");
    spit(p, v3);
    expect_error(p, "unsupported predictor format version '3' (this library, " + std::string(esm::version()) +
                        ", reads version 1 to 2)");
    spit(p, "arch,latency_ms\n");
    expect_error(p, "not a libesm predictor file");
    spit(p, good.substr(0, 15));  // "esm-predictor 2", cut inside line 1
    expect_error(p, "truncated: the file (15 bytes) ends inside its first line");
    std::string crlf;
    for (char c : good) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    spit(p, crlf);
    expect_error(p, "its lines end in CR LF");
    // The checksum is right but the target holds a carriage return, which the writer
    // refuses: refused on load, not on the next save (found by fuzz_predictor).
    const size_t body_at = good.find('\n') + 1;
    std::string body = good.substr(body_at, good.rfind("checksum fnv1a64 ") - body_at);
    const size_t target = body.find("\ntarget latency_ms\n");
    ASSERT_NE(target, std::string::npos);
    body.insert(target + 15, "\r");
    spit(p, esm::detail::seal("esm-predictor", esm::kPredictorFormatVersion, body));
    expect_error(p, "line 5: target 'latency\r_ms' contains a tab or line break");
    // Constants training never writes: a y_std <= 0 predicted one latency (or mirrored ones)
    // for every arch, a negative x_inv_std mirrored an input.
    const std::string clean = good.substr(body_at, good.rfind("checksum fnv1a64 ") - body_at);
    const size_t ystd = clean.find("\ny_std ");
    ASSERT_NE(ystd, std::string::npos);
    std::string zero = clean;
    zero.replace(ystd + 7, zero.find('\n', ystd + 1) - ystd - 7, "0x0p+0");
    spit(p, esm::detail::seal("esm-predictor", esm::kPredictorFormatVersion, zero));
    expect_error(p, "y_std must be > 0");
    const size_t inv = clean.find("\n", clean.find("\nx_inv_std ") + 1) + 1;
    std::string mirrored = clean;
    mirrored.insert(inv, "-");
    spit(p, esm::detail::seal("esm-predictor", esm::kPredictorFormatVersion, mirrored));
    expect_error(p, "x_inv_std holds -");
    EXPECT_THROW(esm::Predictor::load(tmp_path("missing.esmp")), esm::Error);
    std::remove(p.c_str());
}

// Bytes read by this process so far (/proc/self/io), or -1 where it cannot be read.
long long bytes_read_so_far() {
    std::ifstream io("/proc/self/io");
    std::string key;
    long long v = -1;
    while (io >> key >> v)
        if (key == "rchar:") return v;
    return -1;
}

TEST(Predictor, AFileOfAnotherKindIsRefusedWithoutReadingItWhole) {
    // A load of /dev/zero (or any endless source) read until memory ran out, and a large
    // file of another kind was read whole before its first line was looked at.
    const std::string p = tmp_path("zeros.esmp");
    spit(p, std::string(32 << 20, '\0'));
    const long long before = bytes_read_so_far();
    if (before < 0) GTEST_SKIP() << "no /proc/self/io";
    try {
        esm::Predictor::load(p);
        FAIL() << "loaded " << p;
    } catch (const esm::Error& e) {
        EXPECT_EQ(e.kind(), esm::ErrorKind::Format);
        // The first line quoted readably (its NUL bytes would end the message for a C
        // caller) and cut: "line 1 is '\x00\x00...'".
        const std::string what = e.what();
        EXPECT_NE(what.find("not a libesm predictor file (line 1 is '\\x00\\x00"), std::string::npos)
            << what;
        EXPECT_LT(what.size(), 60 * 4 + p.size() + 80) << what;
    }
    EXPECT_LT(bytes_read_so_far() - before, 1 << 20);
    // A first line that is the magic and a huge "version": the message quotes its start.
    spit(p, "esm-predictor " + std::string(1 << 20, '7') + "\n");
    try {
        esm::Predictor::load(p);
        FAIL() << "loaded " << p;
    } catch (const esm::Error& e) {
        EXPECT_NE(std::string(e.what()).find("unsupported predictor format version '7777"), std::string::npos);
        EXPECT_LT(std::string(e.what()).size(), 300u) << std::string(e.what()).substr(0, 300);
    }
    std::remove(p.c_str());
}

TEST(Predictor, OtherSpaceIsRejected) {
    Fixture f;
    const std::string p = tmp_path("space.esmp");
    f.pred.save(p);
    try {
        esm::Predictor::load(p, esm::preset("mobilenetv3"));
        FAIL();
    } catch (const esm::Error& e) {
        EXPECT_NE(std::string(e.what()).find("trained for space 'ofa-mbv3'"), std::string::npos) << e.what();
    }
    EXPECT_THROW(f.pred.predict("mobilenetv3:k3e50/k3e50/k3e50/k3e50"), esm::Error);
    // An Arch of another space (4 units for 5) is refused too; the encoder read past it.
    const esm::Arch other = esm::parse_arch(esm::preset("mobilenetv3"), "mobilenetv3:k3e50/k3e50/k3e50/k3e50");
    try {
        f.pred.predict(other);
        FAIL();
    } catch (const esm::Error& e) {
        EXPECT_NE(std::string(e.what()).find("has 4 units, the space has 5"), std::string::npos) << e.what();
    }
    std::remove(p.c_str());
}

TEST(Predictor, AtomicSaveReplacesWholeFile) {
    Fixture f;
    const std::string p = tmp_path("atomic.esmp");
    spit(p, "old content\n");
    f.pred.save(p);
    EXPECT_EQ(slurp(p), f.pred.serialize());
    // a save into a missing directory fails and leaves nothing behind
    EXPECT_THROW(f.pred.save(tmp_path("nodir/x.esmp")), esm::Error);
    // Two threads saving to one path while a third loads it: every load sees a whole file
    // (each save writes its own temporary), every save succeeds.
    std::atomic<int> failed_saves{0};
    auto saver = [&] {
        for (int i = 0; i < 60; ++i) try {
                f.pred.save(p);
            } catch (const esm::Error&) {
                ++failed_saves;
            }
    };
    std::thread a(saver), b(saver);
    int damaged = 0;
    for (int i = 0; i < 60; ++i) try {
            esm::Predictor::load(p);
        } catch (const esm::Error&) {
            ++damaged;
        }
    a.join();
    b.join();
    EXPECT_EQ(failed_saves.load(), 0);
    EXPECT_EQ(damaged, 0);
    const std::string dir = p.substr(0, p.rfind('/')), name = p.substr(p.rfind('/') + 1);
    EXPECT_EQ(std::system(("! ls '" + dir + "' | grep -q '^" + name + "\\.tmp\\.'").c_str()), 0) << "a temporary is left";
    // A temporary left by a save killed before its rename goes with the next save, once it
    // is an hour old; a live process's stays, as do younger ones and other names.
    const std::string stale = p + ".tmp.999999999.0", live = p + ".tmp." + std::to_string(::getpid()) + ".999",
                      young = p + ".tmp.999999998.0", notes = p + ".tmp.999999999.notes";
    const time_t two_hours_ago = std::time(nullptr) - 7200;
    for (const std::string& t : {stale, live, young, notes}) {
        spit(t, "half a predictor");
        if (t != young) {
            struct utimbuf old{two_hours_ago, two_hours_ago};
            ASSERT_EQ(::utime(t.c_str(), &old), 0);
        }
    }
    f.pred.save(p);
    EXPECT_NE(access(stale.c_str(), F_OK), 0);
    for (const std::string& t : {live, young, notes}) {
        EXPECT_EQ(access(t.c_str(), F_OK), 0) << t;
        std::remove(t.c_str());
    }
    // Saving through a symbolic link replaces the file it points to; the link stays.
    const std::string link = tmp_path("atomic_link.esmp");
    spit(p, "old content\n");
    ASSERT_EQ(::symlink(p.c_str(), link.c_str()), 0);
    f.pred.save(link);
    EXPECT_EQ(slurp(p), f.pred.serialize());
    char target[4096] = {};
    EXPECT_GT(::readlink(link.c_str(), target, sizeof target - 1), 0) << "the link was replaced";
    std::remove(link.c_str());
    std::remove(p.c_str());
}

}  // namespace

namespace {

// Every preset family round-trips through the file (per-unit choices, fixed resolution).
TEST(Predictor, RoundTripEveryPresetAndEncoding) {
    for (const std::string name : {"resnet", "mobilenetv3", "densenet"}) {
        const esm::Space s = esm::preset(name);
        esm::Sampler smp(s, 5);
        esm::LatencyData d;
        d.archs = smp.sample(esm::Strategy::Random, 60, 5);
        for (const auto& a : d.archs) d.latency.push_back(1.0 + a.depth());
        for (const auto& e : esm::encoding_names()) {
            esm::TrainConfig cfg;
            cfg.encoding = esm::parse_encoding(e);
            cfg.mlp.epochs = 2;
            cfg.mlp.min_steps = 0;
            esm::Predictor p = esm::train_predictor(s, d, cfg);
            esm::Predictor q = esm::Predictor::parse(p.serialize(), name + "/" + e);
            EXPECT_EQ(q.space(), s);
            std::vector<float> a(d.size()), b(d.size());
            p.predict_batch(d.archs.data(), d.size(), a.data());
            q.predict_batch(d.archs.data(), d.size(), b.data());
            EXPECT_EQ(a, b) << name << " " << e;
        }
    }
}

TEST(Predictor, WeightDecayGridKeepsBestValidation) {
    const esm::Space s = esm::preset("mobilenetv3");
    esm::Sampler smp(s, 6);
    esm::LatencyData d;
    d.archs = smp.sample(esm::Strategy::Random, 200, 5);
    for (const auto& a : d.archs) d.latency.push_back(2.0 + 0.1 * a.depth());
    esm::TrainConfig cfg;
    cfg.mlp.epochs = 10;
    cfg.mlp.min_steps = 0;
    double best = INFINITY;
    for (double wd : {1e-3, 1.0}) {
        cfg.mlp.weight_decay = wd;
        esm::TrainReport r;
        esm::train_predictor(s, d, cfg, &r);
        best = std::min(best, r.best_val_loss);
    }
    cfg.weight_decay_grid = {1e-3, 1.0};
    esm::TrainReport r;
    esm::Predictor p = esm::train_predictor(s, d, cfg, &r);
    EXPECT_EQ(r.best_val_loss, best);
    EXPECT_NE(p.training.find("best on validation"), std::string::npos) << p.training;
    cfg.mlp.val_frac = 0;
    EXPECT_THROW(esm::train_predictor(s, d, cfg), esm::Error);
}

}  // namespace

// Calibration (transfer to another device): rows whose latency is exactly 2 x base + 0.5
// give a = 2, b = 0.5, and a predictor that predicts 2 x base + 0.5 on new archs, with or
// without the base's linear skip; it saves and loads like any predictor.
TEST(Predictor, CalibrationScalesAndShiftsTheBase) {
    for (bool skip : {false, true}) {
        Fixture f(skip);
        esm::LatencyData d;
        d.target = "new_ms";
        d.meta = {{"device", "new gpu"}};
        for (size_t i = 0; i < 20; ++i) {
            d.archs.push_back(f.archs[i]);
            d.latency.push_back(2 * f.pred.predict(f.archs[i]) + 0.5);
        }
        double a = 0, b = 0;
        const esm::Predictor c = esm::calibrate_predictor(f.pred, d, &a, &b);
        EXPECT_NEAR(a, 2, 1e-9);
        EXPECT_NEAR(b, 0.5, 1e-8);
        EXPECT_EQ(c.target, "new_ms");
        EXPECT_EQ(c.dataset_meta, d.meta);
        EXPECT_EQ(c.training.rfind("calibrated: latency = 2 * base + 0.5", 0), 0u) << c.training;
        // The base's column is named (its own line, after " base: ", names only its dataset).
        EXPECT_NE(c.training.find(", n_train=20 base_target=" + f.pred.target + " source="), std::string::npos)
            << c.training;
        const esm::Predictor loaded = reloaded(c, "cal.esmp");
        for (size_t i = 100; i < 150; ++i) {
            const double want = 2 * f.pred.predict(f.archs[i]) + 0.5;
            ASSERT_NEAR(c.predict(f.archs[i]), want, 1e-5 * want) << i << (skip ? " skip" : "");
            ASSERT_EQ(loaded.predict(f.archs[i]), c.predict(f.archs[i])) << i;
        }

        // Refused: one row; rows falling as the base rises; the same arch twice (no slope).
        esm::LatencyData one = d.subset({0});
        EXPECT_THROW(esm::calibrate_predictor(f.pred, one, nullptr, nullptr), esm::Error);
        esm::LatencyData falling = d;
        for (size_t i = 0; i < falling.size(); ++i) falling.latency[i] = 100 - f.pred.predict(f.archs[i]);
        EXPECT_THROW(esm::calibrate_predictor(f.pred, falling), esm::Error);
        // The message gives the slope's value at any scale (it wrote -0.000000 for
        // latencies a million times smaller than the base's): least squares on these rows
        // (weights 1 / y^2) gives the same slope as 1e-7 x the falling rows' fit.
        esm::LatencyData tiny = falling;
        for (double& v : tiny.latency) v *= 1e-7;
        try {
            esm::calibrate_predictor(f.pred, tiny);
            ADD_FAILURE() << "falling rows calibrated";
        } catch (const esm::Error& e) {
            const std::string m = e.what();
            const size_t at = m.find("fitted slope ");
            ASSERT_NE(at, std::string::npos) << m;
            const double slope = std::strtod(m.c_str() + at + 13, nullptr);
            EXPECT_LT(slope, 0) << m;
            EXPECT_NEAR(slope, -1e-7, 1e-9) << m;  // latency = 100 - base: slope -1, times 1e-7
        }
        esm::LatencyData same = d.subset({3, 3, 3});
        same.latency = {1, 2, 3};
        EXPECT_THROW(esm::calibrate_predictor(f.pred, same), esm::Error);
    }
}

// Fine-tuning a calibrated base (esm::fine_tune_predictor). The new device is not a linear
// map of the base: latency = 2 x base + 0.1 per 7x7 kernel. Calibration on 150 rows leaves
// that part out; fine-tuning the calibrated predictor on the same rows (the defaults: 3,000
// steps at lr 3e-4) learns much of it: its mean relative error on 100 other archs is under
// 0.6 times the calibrated one's (2.7 % -> 1.3 % when written). The result carries
// the rows' target and header, says how it was made, and saves and loads bit for bit.
TEST(Predictor, FineTuningLearnsWhatCalibrationLeaves) {
    Fixture f(true);
    esm::LatencyData d, test;
    d.target = "new_ms";
    d.meta = {{"device", "new gpu"}};
    auto latency = [&](const esm::Arch& a) {
        int k7 = 0;
        for (const auto& unit : a.units)
            for (const auto& blk : unit) k7 += esm::choice_value(f.space, blk, 0) == 7;
        return 2 * f.pred.predict(a) + 0.1 * k7;
    };
    for (size_t i = 0; i < 250; ++i) {
        esm::LatencyData& to = i < 150 ? d : test;
        to.archs.push_back(f.archs[i]);
        to.latency.push_back(latency(f.archs[i]));
    }
    const esm::Predictor cal = esm::calibrate_predictor(f.pred, d);
    esm::TrainReport rep;
    const esm::Predictor ft = esm::fine_tune_predictor(cal, d, esm::fine_tune_options(), &rep);
    auto mape = [&](const esm::Predictor& p) {
        const std::vector<double> y = esm::predict_all(p, test);
        double e = 0;
        for (size_t i = 0; i < y.size(); ++i) e += std::fabs(y[i] / test.latency[i] - 1);
        return e / static_cast<double>(y.size());
    };
    EXPECT_LT(mape(ft), 0.6 * mape(cal)) << mape(cal);
    EXPECT_GE(rep.best_epoch, 0);
    EXPECT_EQ(ft.target, "new_ms");
    EXPECT_EQ(ft.dataset_meta, d.meta);
    EXPECT_EQ(ft.training.rfind("fine-tuned: n_train=150 lr=0.0003 min_steps=3000 epochs=1 ", 0), 0u) << ft.training;
    const esm::Predictor loaded = reloaded(ft, "ft.esmp");
    for (size_t i = 0; i < test.size(); ++i) ASSERT_EQ(loaded.predict(test.archs[i]), ft.predict(test.archs[i])) << i;
}

// Of two bases, the one the rows are an exact affine map of wins the leave-one-out, in
// either order, with an error of zero to rounding; the other base (trained on the same
// targets, with a skip: close but not affine) has a clearly larger one.
TEST(Predictor, PickBaseTakesTheBestCalibratedInLeaveOneOut) {
    Fixture exact(false), other(true);
    esm::LatencyData d;
    for (size_t i = 0; i < 20; ++i) {
        d.archs.push_back(exact.archs[i]);
        d.latency.push_back(2 * exact.pred.predict(exact.archs[i]) + 0.5);
    }
    double loo = -1, loo_other = -1;
    EXPECT_EQ(esm::pick_base({&other.pred, &exact.pred}, d, &loo), 1u);
    EXPECT_LT(loo, 1e-6);
    EXPECT_EQ(esm::pick_base({&exact.pred, &other.pred}, d), 0u);
    EXPECT_EQ(esm::pick_base({&other.pred}, d, &loo_other), 0u);
    EXPECT_GT(loo_other, 1e-4);
    // Refused: fewer than 3 rows (no leave-one-out), no base, no base that fits.
    EXPECT_THROW(esm::pick_base({&exact.pred}, d.subset({0, 1})), esm::Error);
    EXPECT_THROW(esm::pick_base({}, d), esm::Error);
    esm::LatencyData same = d.subset({3, 3, 3, 3});
    same.latency = {1, 2, 3, 4};
    try {
        esm::pick_base({&exact.pred, &other.pred}, same);
        FAIL();
    } catch (const esm::Error& e) {
        EXPECT_NE(std::string(e.what()).find("no base predictor fits these 4 rows"), std::string::npos) << e.what();
    }
    // A base that regresses log latency is refused, named by its place among the bases.
    esm::MlpModel m = exact.pred.model();
    m.log_target = true;
    const esm::Predictor log_base(exact.space, exact.pred.encoding(), m, exact.pred.encoder().res_encoding());
    try {
        esm::pick_base({&exact.pred, &log_base}, d);
        FAIL();
    } catch (const esm::Error& e) {
        EXPECT_NE(std::string(e.what()).find("the base predictor 2 of 2 regresses log latency"), std::string::npos) << e.what();
    }
}

// A predictor saved and loaded by a program under a decimal-comma locale: its weights (%a:
// "0x1,8p+3"), its space's values and its metrics were written with commas, and read with
// strtod stopping at the '.': saved under de_DE, refused everywhere else. Files are in the
// "C" locale's numbers whatever the host set; the C API too.
TEST(Predictor, FilesIgnoreTheHostsLocale) {
    Fixture f;
    const std::string plain = f.pred.serialize();
    const std::string path = tmp_path("locale.esmp");
    std::string under_comma, loaded_status;
    std::vector<double> predicted;
    {
        CommaLocale::Restore restore;
        const std::string comma = CommaLocale::set();
        if (comma.empty()) GTEST_SKIP() << "no decimal-comma locale installed, and localedef could not make one";
        ASSERT_EQ(std::strtod("12.5", nullptr), 12.0);  // the locale is in force
        under_comma = f.pred.serialize();
        f.pred.save(path);
        const esm::Predictor back = esm::Predictor::load(path);
        for (size_t i = 0; i < 20; ++i) predicted.push_back(back.predict(f.archs[i]));
        esm_predictor_t c = nullptr;
        loaded_status = std::to_string(esm_predictor_load(path.c_str(), &c));
        esm_predictor_free(c);
    }
    EXPECT_EQ(under_comma.substr(under_comma.find('\n')), plain.substr(plain.find('\n')));  // (line 1: the version)
    EXPECT_EQ(loaded_status, std::to_string(ESM_OK));
    const esm::Predictor in_c = esm::Predictor::load(path);  // what another program reads
    for (size_t i = 0; i < 20; ++i) EXPECT_EQ(in_c.predict(f.archs[i]), predicted[i]) << i;
    std::remove(path.c_str());
}
