// esm-run --dump-dir: NPY v1.0 files ('<f4', C order) for input, output and every
// unfolded parameter, and a manifest in execution order that matches list_params.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "esm/executor.hpp"
#include "esm/weights.hpp"
#include "tool_run.hpp"

namespace {

// Reads an NPY v1.0 float32 file: shape text and data.
bool read_npy(const std::string& path, std::string* shape, std::vector<float>* data) {
    std::ifstream f(path, std::ios::binary);
    char magic[10];
    if (!f.read(magic, 10) || std::memcmp(magic, "\x93NUMPY\x01\x00", 8) != 0) return false;
    const int len = (unsigned char)magic[8] | ((unsigned char)magic[9] << 8);
    if ((10 + len) % 64 != 0) return false;
    std::string header(size_t(len), '\0');
    f.read(&header[0], len);
    if (header.find("'descr': '<f4'") == std::string::npos) return false;
    if (header.find("'fortran_order': False") == std::string::npos) return false;
    const auto a = header.find("'shape': ("), b = header.find(')', a);
    *shape = header.substr(a + 10, b - a - 10);
    data->clear();
    float v;
    while (f.read(reinterpret_cast<char*>(&v), 4)) data->push_back(v);
    return true;
}

}  // namespace

TEST(RunTool, DumpWritesNpyAndManifestInExecutionOrder) {
    const std::string dir = testing::TempDir() + "esm_run_dump";
    const std::string arch = "mobilenetv3:k3e67/k5e100-k5e100/k7e50-k3e50-k3e67/k5e67";
    const std::string cmd = tool_path("esm-run") + " " + arch + " --res 32 --batch 2 --seed 5 --dump-dir " + dir +
                            " > " + dir + ".out 2>&1";
    ASSERT_EQ(std::system(("rm -rf " + dir).c_str()), 0);
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

    esm::Space s = esm::preset("mobilenetv3");
    esm::Plan p = esm::build_plan(s, esm::parse_arch(s, arch), 2, 32);
    esm::Weights w = esm::make_weights(p, 5);
    auto params = esm::list_params(p, w);

    std::ifstream man(dir + "/manifest.txt");
    std::vector<std::string> names;
    for (std::string line; std::getline(man, line);)
        if (!line.empty() && line[0] != '#') names.push_back(line.substr(0, line.find(' ')));
    ASSERT_EQ(names.size(), params.size() + 2);
    EXPECT_EQ(names.front(), "input");
    EXPECT_EQ(names.back(), "output");
    for (size_t i = 0; i < params.size(); ++i) ASSERT_EQ(names[i + 1], params[i].name);

    std::string shape;
    std::vector<float> data;
    ASSERT_TRUE(read_npy(dir + "/" + params[0].name + ".npy", &shape, &data));
    EXPECT_EQ(shape, "16, 3, 3, 3");
    EXPECT_EQ(data, *params[0].data);
    ASSERT_TRUE(read_npy(dir + "/input.npy", &shape, &data));
    EXPECT_EQ(shape, "2, 3, 32, 32");
    EXPECT_EQ(data, esm::make_input(p, 5));

    // output.npy is what the executor computes from the dumped input and parameters.
    auto ex = esm::Executor::create(p, w, esm::ExecutorOptions{});
    std::vector<float> x = esm::make_input(p, 5);
    std::copy(x.begin(), x.end(), ex->input().data);
    ex->run();
    ASSERT_TRUE(read_npy(dir + "/output.npy", &shape, &data));
    EXPECT_EQ(shape, "2, 1000");
    ASSERT_EQ(data.size(), 2000u);
    for (size_t i = 0; i < data.size(); ++i) ASSERT_NEAR(data[i], ex->output().data[i], 1e-5f) << i;
    // A 1-D parameter is written as a one-element tuple.
    for (const auto& prm : params)
        if (prm.shape.size() == 1) {
            ASSERT_TRUE(read_npy(dir + "/" + prm.name + ".npy", &shape, &data));
            EXPECT_EQ(shape, std::to_string(prm.shape[0]) + ",");
            break;
        }
}
