// Tests of the C API from C++: a predictor trained here is used by the C99 program
// (tests/c99/test_c_api.c), and every entry point survives NULL and bad arguments.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cfloat>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "esm/arch.hpp"
#include "esm/dataset.hpp"
#include "esm/esm.h"
#include "esm/sample.hpp"
#include "esm/table.hpp"
#include "esm/train.hpp"
#include "alloc_fault.hpp"
#include "depth_predictor.hpp"
#include "tool_run.hpp"

TEST(CApi, C99ProgramUsesATrainedPredictor) {
    const std::string path = std::string(ESM_BINARY_DIR) + "/c_api_test.esm";
    esm_test::depth_predictor("resnet", 300, 0.5, 20).save(path);
    ToolResult r = run_tool("esm_c99_test", path);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("all checks held"), std::string::npos);
    std::remove(path.c_str());
}

TEST(CApi, AFileOfNulBytesIsNamedReadablyInTheMessage) {
    // What a power loss can leave of a file: its size, its bytes zero. The message quoted
    // line 1 raw, and its first NUL ended esm_last_error() inside the quote.
    const std::string zeros = std::string(ESM_BINARY_DIR) + "/c_api_zeros.esm";
    std::ofstream(zeros, std::ios::binary) << std::string(4096, '\0');
    esm_predictor_t p = nullptr;
    EXPECT_EQ(esm_predictor_load(zeros.c_str(), &p), ESM_ERR_FORMAT);
    EXPECT_EQ(p, nullptr);
    const std::string msg = esm_last_error();
    EXPECT_NE(msg.find("not a libesm predictor file (line 1 is '\\x00\\x00"), std::string::npos) << msg;
    EXPECT_EQ(msg.substr(msg.size() < 5 ? 0 : msg.size() - 5), "...')") << msg;
    std::remove(zeros.c_str());
}

TEST(CApi, BatchPredictionEqualsTheCppBatchBitForBit) {
    // esm_predictor_predict_batch gives what esm::Predictor::predict_batch and
    // esm_predictor_predict give, bit for bit, across its chunks (3,001 archs: full chunks
    // and a partial last one), with and without a linear skip, and with archs of an equal
    // space loaded apart from the predictor's.
    for (bool skip : {false, true}) {
        esm::Space s = esm::preset("ofa-mbv3");
        esm::Sampler sm(s, 5);
        esm::LatencyData d;
        for (const auto& a : sm.sample(esm::Strategy::Random, 200, 5)) {
            d.archs.push_back(a);
            d.latency.push_back(1.0 + 0.3 * a.depth() + 0.01 * a.res);
        }
        d.target = "latency_ms";
        esm::TrainConfig cfg;
        cfg.mlp.epochs = 3;
        cfg.mlp.min_steps = 0;
        cfg.mlp.linear_skip = skip;
        const esm::Predictor cpp = esm::train_predictor(s, d, cfg);
        const std::string path = std::string(ESM_BINARY_DIR) + "/c_api_batch.esm";
        cpp.save(path);
        esm_predictor_t p = nullptr;
        ASSERT_EQ(esm_predictor_load(path.c_str(), &p), ESM_OK) << esm_last_error();
        esm_space_t own = nullptr;
        ASSERT_EQ(esm_space_load("ofa-mbv3", &own), ESM_OK);
        esm_sampler_t smp = nullptr;
        ASSERT_EQ(esm_sampler_create(own, 9, &smp), ESM_OK);
        const size_t n = 3001;
        std::vector<esm_arch_t> handles(n);
        std::vector<esm::Arch> archs(n);
        std::vector<char> text(256);
        for (size_t i = 0; i < n; ++i) {
            ASSERT_EQ(esm_sampler_random(smp, &handles[i]), ESM_OK);
            ASSERT_EQ(esm_arch_print(handles[i], text.data(), text.size(), nullptr), ESM_OK);
            archs[i] = esm::parse_arch(s, text.data());
        }
        std::vector<float> via_c(n, -1.0f), via_cpp(n, -2.0f);
        ASSERT_EQ(esm_predictor_predict_batch(p, handles.data(), n, via_c.data()), ESM_OK) << esm_last_error();
        cpp.predict_batch(archs.data(), n, via_cpp.data());
        for (size_t i = 0; i < n; ++i) {
            ASSERT_EQ(std::memcmp(&via_c[i], &via_cpp[i], sizeof(float)), 0) << i << ": " << via_c[i] << " " << via_cpp[i];
            if (i % 97 == 0) {
                double one = 0;
                ASSERT_EQ(esm_predictor_predict(p, handles[i], &one), ESM_OK);
                EXPECT_EQ(one, static_cast<double>(via_cpp[i])) << i;
            }
        }
        for (esm_arch_t h : handles) esm_arch_free(h);
        esm_sampler_free(smp);
        esm_space_free(own);
        esm_predictor_free(p);
        std::remove(path.c_str());
    }
}

TEST(CApi, NullAndBadArgumentsGiveStatuses) {
    esm_space_t sp = nullptr;
    EXPECT_EQ(esm_space_load(nullptr, &sp), ESM_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(esm_last_error()).find("preset_or_path"), std::string::npos);
    EXPECT_EQ(esm_space_load("resnet", nullptr), ESM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(esm_space_parse("family = nope\n", &sp), ESM_ERR_FORMAT);
    EXPECT_EQ(sp, nullptr);
    EXPECT_EQ(esm_space_get_info(nullptr, nullptr), ESM_ERR_INVALID_ARGUMENT);
    ASSERT_EQ(esm_space_load("densenet", &sp), ESM_OK);
    esm_arch_t a = nullptr;
    EXPECT_EQ(esm_arch_parse(sp, ("densenet:" + std::string(1 << 20, 'x')).c_str(), &a), ESM_ERR_PARSE);
    EXPECT_NE(std::string(esm_last_error()).find("longer than the longest"), std::string::npos);
    ASSERT_EQ(esm_arch_parse(sp, "densenet:d1k1/d1k1/d1k1/d1k1/d1k1", &a), ESM_OK);
    int64_t macs = 0;
    EXPECT_EQ(esm_arch_macs(a, 1, 32, &macs), ESM_ERR_INVALID_ARGUMENT);  // too small a resolution
    EXPECT_EQ(esm_arch_macs(a, 0, 64, &macs), ESM_ERR_INVALID_ARGUMENT);  // batch 0
    EXPECT_EQ(esm_arch_print(a, nullptr, 0, nullptr), ESM_ERR_BUFFER_TOO_SMALL);
    esm_predictor_t p = nullptr;
    const std::string junk = std::string(ESM_BINARY_DIR) + "/c_api_junk.esm";
    std::ofstream(junk) << "not a predictor\n";
    EXPECT_EQ(esm_predictor_load(junk.c_str(), &p), ESM_ERR_FORMAT);
    EXPECT_EQ(p, nullptr);
    EXPECT_NE(std::string(esm_last_error()).find(junk), std::string::npos) << esm_last_error();
    float out = 0;
    EXPECT_EQ(esm_predictor_predict_batch(nullptr, &a, 1, &out), ESM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(esm_predictor_save(nullptr, junk.c_str()), ESM_ERR_INVALID_ARGUMENT);
    const double ms[1] = {1.0};
    p = reinterpret_cast<esm_predictor_t>(&out);  // must be reset to NULL, not freed
    EXPECT_EQ(esm_predictor_calibrate(nullptr, &a, ms, 1, &p), ESM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(p, nullptr);
    p = reinterpret_cast<esm_predictor_t>(&out);
    EXPECT_EQ(esm_predictor_fine_tune(nullptr, &a, ms, 1, &p), ESM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(p, nullptr);
    size_t pick = 0;
    EXPECT_EQ(esm_predictor_pick_base(&p, 0, &a, ms, 1, &pick, nullptr), ESM_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(esm_last_error()).find("n_bases is 0"), std::string::npos) << esm_last_error();
    esm_sampler_t smp = nullptr;
    ASSERT_EQ(esm_sampler_create(sp, 1, &smp), ESM_OK);
    esm_arch_t b = nullptr;
    EXPECT_EQ(esm_sampler_balanced(smp, 0, &b), ESM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(esm_sampler_balanced(smp, 1000, &b), ESM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(b, nullptr);
    esm_sampler_free(smp);
    esm_arch_free(a);
    esm_space_free(sp);
    std::remove(junk.c_str());
    // The message is per thread.
    std::string other;
    std::thread([&] { other = esm_last_error(); }).join();
    EXPECT_EQ(other, "");
}

// A dataset opened through the C API describes its space in its header, as the tools'
// do: esm-train reads a custom space from it without --space.
TEST(CApi, DatasetsDescribeTheirSpace) {
    esm_space_t sp = nullptr;
    ASSERT_EQ(esm_space_load("densenet", &sp), ESM_OK);
    const std::string path = std::string(ESM_BINARY_DIR) + "/capi_space_header.csv";
    std::remove(path.c_str());
    esm_dataset_t ds = nullptr;
    ASSERT_EQ(esm_dataset_open(path.c_str(), sp, "a phone", "tflite", &ds), ESM_OK) << esm_last_error();
    esm_dataset_free(ds);
    esm::Space described;
    ASSERT_TRUE(esm::header_space(esm::read_table(path).meta, path, &described));
    EXPECT_EQ(described, esm::preset("densenet"));
    esm_space_free(sp);
    std::remove(path.c_str());
}

namespace {

std::string file_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

// Saving replaces the file by a rename: a FIFO or device there (/dev/null, to discard, when
// run as root) would be swapped for a regular file. It is refused, and stays what it was.
TEST(CApi, SaveRefusesADeviceOrFifoItWouldReplace) {
    const std::string pred = std::string(ESM_BINARY_DIR) + "/capi_fifo_src.esm";
    const std::string fifo = std::string(ESM_BINARY_DIR) + "/capi_fifo.esm";
    esm_test::depth_predictor("densenet", 40, 0.5, 2).save(pred);
    esm_predictor_t p = nullptr;
    ASSERT_EQ(esm_predictor_load(pred.c_str(), &p), ESM_OK) << esm_last_error();
    std::remove(fifo.c_str());
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_EQ(esm_predictor_save(p, fifo.c_str()), ESM_ERR_IO);
    EXPECT_NE(std::string(esm_last_error()).find(fifo + "': it is not a regular file"), std::string::npos) << esm_last_error();
    struct stat st{};
    ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    EXPECT_EQ(esm_predictor_save(p, pred.c_str()), ESM_OK) << esm_last_error();  // a regular file is replaced
    esm_predictor_free(p);
    std::remove(fifo.c_str());
    std::remove(pred.c_str());
}

// What esm_dataset_append accepts, a resume (esm_dataset_open) reads back: runs past 2^30
// and a std that is written as 1.797693135e+308 (infinity when read) made the file unopenable.
TEST(CApi, DatasetAppendRefusesWhatAResumeCouldNotRead) {
    esm_space_t sp = nullptr;
    ASSERT_EQ(esm_space_load("densenet", &sp), ESM_OK);
    esm_arch_t a = nullptr;
    ASSERT_EQ(esm_arch_parse(sp, "densenet:d1k1/d1k1/d1k1/d1k1/d1k1", &a), ESM_OK);
    const std::string path = std::string(ESM_BINARY_DIR) + "/capi_append_bounds.csv";
    std::remove(path.c_str());
    esm_dataset_t ds = nullptr;
    ASSERT_EQ(esm_dataset_open(path.c_str(), sp, "dev", "c", &ds), ESM_OK) << esm_last_error();
    const esm_measurement refused[] = {{5, 0.1, (1 << 30) + 1}, {5, 0.1, INT_MAX}, {5, DBL_MAX, 10}, {5, 1.5e12, 10}};
    for (const esm_measurement& m : refused) {
        EXPECT_EQ(esm_dataset_append(ds, a, &m), ESM_ERR_INVALID_ARGUMENT) << m.std_ms << " " << m.runs;
        EXPECT_NE(std::string(esm_last_error()).find("runs 1 .. 1073741824"), std::string::npos) << esm_last_error();
    }
    const esm_measurement kept[] = {{5, 0.1, 1 << 30}, {5, 1e12, 10}, {5, 0, 1}};
    for (const esm_measurement& m : kept) EXPECT_EQ(esm_dataset_append(ds, a, &m), ESM_OK) << esm_last_error();
    esm_dataset_free(ds);
    ds = nullptr;
    EXPECT_EQ(esm_dataset_open(path.c_str(), sp, "dev", "c", &ds), ESM_OK) << esm_last_error();
    int has = 0;
    EXPECT_EQ(esm_dataset_contains(ds, a, &has), ESM_OK);
    EXPECT_EQ(has, 1);
    esm_dataset_free(ds);
    esm_arch_free(a);
    esm_space_free(sp);
    std::remove(path.c_str());
}

// An allocation failure anywhere in a call is ESM_ERR_INTERNAL, never a wrong result: string
// streams swallowed std::bad_alloc, so a save returned ESM_OK having written a predictor
// whose space section was cut (checksum and all; it no longer loaded), a good file loaded
// as "truncated or damaged" (ESM_ERR_FORMAT), and a preset as "missing key 'name'".
TEST(CApi, AnAllocationFailureIsInternalNeverACutFileOrAFormatError) {
    if (!esm_test::kAllocFaultHook) GTEST_SKIP() << "AddressSanitizer owns operator new";
    const std::string src = std::string(ESM_BINARY_DIR) + "/capi_oom_src.esm";
    const std::string out = std::string(ESM_BINARY_DIR) + "/capi_oom_out.esm";
    esm_test::depth_predictor("densenet", 40, 0.5, 2).save(src);
    const std::string good = file_bytes(src);
    esm_predictor_t p = nullptr;
    ASSERT_EQ(esm_predictor_load(src.c_str(), &p), ESM_OK) << esm_last_error();
    int failures = 0;
    for (long n = 1;; ++n) {
        std::remove(out.c_str());
        esm_test::arm_alloc_fault(n);
        const esm_status st = esm_predictor_save(p, out.c_str());
        if (!esm_test::disarm_alloc_fault()) {
            ASSERT_EQ(st, ESM_OK) << esm_last_error();
            break;
        }
        ++failures;
        if (st == ESM_OK) EXPECT_TRUE(file_bytes(out) == good) << "save returned ESM_OK with allocation " << n << " failing";
        else EXPECT_EQ(st, ESM_ERR_INTERNAL) << n << ": " << esm_last_error();
    }
    EXPECT_GT(failures, 5);
    for (long n = 1;; ++n) {
        esm_predictor_t q = nullptr;
        esm_test::arm_alloc_fault(n);
        const esm_status st = esm_predictor_load(src.c_str(), &q);
        const bool hit = esm_test::disarm_alloc_fault();
        esm_predictor_free(q);
        if (!hit) break;
        EXPECT_TRUE(st == ESM_OK || st == ESM_ERR_INTERNAL) << "load with allocation " << n << " failing: " << esm_last_error();
    }
    for (long n = 1;; ++n) {
        esm_space_t s = nullptr;
        esm_test::arm_alloc_fault(n);
        const esm_status st = esm_space_load("mobilenetv3", &s);
        const bool hit = esm_test::disarm_alloc_fault();
        esm_space_free(s);
        if (!hit) break;
        EXPECT_TRUE(st == ESM_OK || st == ESM_ERR_INTERNAL) << "preset with allocation " << n << " failing: " << esm_last_error();
    }
    esm_predictor_free(p);
    std::remove(src.c_str());
    std::remove(out.c_str());
}
