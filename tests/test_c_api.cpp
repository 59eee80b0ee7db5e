// Tests of the C API from C++: a predictor trained here is used by the C99 program
// (tests/c99/test_c_api.c), and every entry point survives NULL and bad arguments.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "esm/dataset.hpp"
#include "esm/esm.h"
#include "esm/table.hpp"
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
