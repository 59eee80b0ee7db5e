// Whole networks: the CPU executor equals the oracle plan interpreter for random archs of
// every preset (batch 1/2, threads 1/2); run() allocates nothing; buffers are reused.
#include <gtest/gtest.h>

#include <atomic>
#include <algorithm>
#include <cstdlib>
#include <thread>
#include <new>

#include "alloc_fault.hpp"
#include "esm/common.hpp"
#include "esm/cuda.hpp"
#include "esm/sample.hpp"
#include "exec_test_util.hpp"

using namespace esm;

namespace {
std::atomic<long> g_news{0};
}  // namespace

namespace esm_test {
std::atomic<long> g_fail_new_in{0};
std::atomic<bool> g_fail_new_hit{false};
}  // namespace esm_test

// Counts every C++ allocation in the test binary (the run() check below reads it). Not
// under AddressSanitizer, which owns operator new itself.
#if defined(__SANITIZE_ADDRESS__)
#define ESM_COUNTS_NEW 0
#else
#define ESM_COUNTS_NEW 1
void* operator new(std::size_t n) {
    g_news.fetch_add(1, std::memory_order_relaxed);
    if (esm_test::g_fail_new_in.load(std::memory_order_relaxed) > 0 && esm_test::g_fail_new_in.fetch_sub(1) == 1) {
        esm_test::g_fail_new_hit = true;
        throw std::bad_alloc();
    }
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
// GCC 12 at -O2 (RelWithDebInfo, the usual build for ThreadSanitizer) inlines these into
// gtest's `new TestClass` and takes the replaced operator new for the built-in one: a false
// -Wmismatched-new-delete, which -Werror made a build error (-O3 does not inline them).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
#endif

namespace {

int test_res(const std::string& space) { return space == "densenet" ? 64 : 32; }

}  // namespace

TEST(Executor, MatchesReferenceOnRandomArchsOfEveryPreset) {
    for (const std::string name : {"resnet", "mobilenetv3", "densenet", "ofa-mbv3"}) {
        Space s = preset(name);
        Sampler sampler(s, 42);
        for (int i = 0; i < 2; ++i) {
            Arch a = sampler.random();
            const int batch = 1 + i, threads = 2 - i;
            Plan p = build_plan(s, a, batch, test_res(name) + 8 * i);
            SCOPED_TRACE(format_arch(s, a) + " batch " + std::to_string(batch) + " threads " + std::to_string(threads));
            EXPECT_TRUE(esm_test::executor_matches_reference(p, 100 + i, threads, 2e-3, 2e-4));
        }
    }
}

TEST(Executor, DeepestArchsStayFiniteAndMatch) {
    // The deepest ResNet and DenseNet (cheapest choices, to stay fast): the weight init
    // keeps activations finite through 28 residual blocks and 100 dense layers.
    Space r = preset("resnet");
    std::string unit = "k3e50-k3e50-k3e50-k3e50-k3e50-k3e50-k3e50";
    Arch big = parse_arch(r, "resnet:" + unit + "/" + unit + "/" + unit + "/" + unit);
    EXPECT_TRUE(esm_test::executor_matches_reference(build_plan(r, big, 1, 32), 5, 2, 2e-3, 2e-4));
    Space d = preset("densenet");
    Arch dbig = parse_arch(d, "densenet:d20k1/d20k3/d20k1/d20k1/d20k1");
    EXPECT_TRUE(esm_test::executor_matches_reference(build_plan(d, dbig, 1, 64), 6, 2, 2e-3, 2e-4));
}

TEST(Executor, UnitActivationAppliesInResNetAndDenseNetBlocks) {
    // A description's `act` is per unit in every family (SPEC §2.5): hswish in the last two
    // units reaches those units' convs, adds and pre-activations, not the stem or the head.
    for (const std::string name : {"resnet", "densenet"}) {
        std::string text = format_space(preset(name));
        const size_t at = text.find("act = ");
        ASSERT_NE(at, std::string::npos) << text;
        text.replace(at, text.find('\n', at) - at,
                     name == "resnet" ? "act = relu relu hswish hswish" : "act = relu relu relu hswish hswish");
        const Space s = parse_space(text);
        const Arch a = parse_arch(s, name == "resnet" ? "resnet:k3e50/k3e50/k5e100-k3e67/k3e50"
                                                      : "densenet:d1k3/d1k3/d1k3/d2k3/d1k5");
        const Plan p = build_plan(s, a, 1, test_res(name));
        int hswish = 0;
        for (const Op& op : p.ops) {
            const bool late_unit = name == "resnet" ? op.name.rfind("u2.", 0) == 0 || op.name.rfind("u3.", 0) == 0
                                                    : op.name.rfind("u3.", 0) == 0 || op.name.rfind("u4.", 0) == 0;
            SCOPED_TRACE(op.name);
            if (op.act == Act::HSwish) {
                ++hswish;
                EXPECT_TRUE(late_unit);
            } else if (late_unit && op.act != Act::None) {
                ADD_FAILURE() << "relu in an hswish unit";
            }
        }
        // resnet: conv1, conv2, add of 3 blocks; densenet: norm1, conv1 of 3 layers, u3's transition norm
        EXPECT_EQ(hswish, name == "resnet" ? 9 : 7);
        EXPECT_TRUE(esm_test::executor_matches_reference(p, 7, 2, 2e-3, 2e-4));
    }
}

TEST(Executor, RunAllocatesNothingAndIsRepeatable) {
    Space s = preset("mobilenetv3");
    Plan p = build_plan(s, Sampler(s, 3).random(), 2, 64);
    ExecutorOptions o;
    o.threads = 2;
    auto ex = Executor::create(p, o);
    std::vector<float> x = make_input(p, 1);
    std::copy(x.begin(), x.end(), ex->input().data);
    ex->run();  // first run: OpenMP/OpenBLAS thread pools start here
    const float* in_ptr = ex->input().data;
    const float* out_ptr = ex->output().data;
    std::vector<float> first(ex->output().data, ex->output().data + ex->output().size());
    const long before = g_news.load();
    for (int i = 0; i < 3; ++i) ex->run();
    const long after = g_news.load();
    if (ESM_COUNTS_NEW) {
        EXPECT_EQ(before, after) << "run() allocated";
    }
    EXPECT_EQ(in_ptr, ex->input().data);
    EXPECT_EQ(out_ptr, ex->output().data);
    for (size_t i = 0; i < first.size(); ++i) ASSERT_EQ(first[i], ex->output().data[i]) << "index " << i;
}

TEST(Executor, ReusesActivationMemoryOnDeepNets) {
    Space s = preset("densenet");
    Plan p = build_plan(s, parse_arch(s, "densenet:d12k3/d12k3/d12k3/d12k3/d12k3"), 1, 64);
    auto ex = Executor::create(p, ExecutorOptions{});
    EXPECT_LT(ex->activation_bytes(), ex->unshared_activation_bytes() / 2);
    EXPECT_GT(ex->activation_bytes(), 0u);
    Space r = preset("resnet");
    Plan q = build_plan(r, Sampler(r, 9).random(), 1, 64);
    auto ey = Executor::create(q, ExecutorOptions{});
    EXPECT_LT(ey->activation_bytes(), ey->unshared_activation_bytes());
}

TEST(Executor, WeightsAreDeterministicAndBackendNeutral) {
    Space s = preset("mobilenetv3");
    Plan p = build_plan(s, Sampler(s, 1).random(), 1, 32);
    Weights a = make_weights(p, 7), b = make_weights(p, 7), c = make_weights(p, 8);
    EXPECT_EQ(a.ops[0].weight, b.ops[0].weight);
    EXPECT_NE(a.ops[0].weight, c.ops[0].weight);
    auto params = list_params(p, a);
    int64_t n = 0;
    for (const auto& q : params)
        if (q.name.find("running") == std::string::npos) n += int64_t(q.data->size());
    EXPECT_EQ(n, p.params());  // every trainable parameter listed exactly once (SPEC §2.4)
}

TEST(Executor, RejectsBadOptions) {
    Space s = preset("resnet");
    Plan p = build_plan(s, Sampler(s, 1).random(), 1, 32);
    ExecutorOptions o;
    o.threads = 0;
    EXPECT_THROW(Executor::create(p, o), Error);
    // More than 4 per hardware thread (at least 8 allowed): an OpenMP runtime that cannot
    // start them ends the process itself.
    const int cap = max_cpu_threads();
    EXPECT_EQ(cap, std::min(1024, std::max(8, 4 * static_cast<int>(std::thread::hardware_concurrency()))));
    o.threads = cap + 1;
    EXPECT_THROW(Executor::create(p, o), Error);
    o.threads = cap;
    EXPECT_NO_THROW(Executor::create(p, o));
    // CUDA: no device (or a build without CUDA) is Unsupported; a device ordinal that does
    // not exist is refused in every build (Unsupported without CUDA or a device,
    // InvalidArgument with one). A plain CUDA request succeeds on a GPU machine, so it is
    // expected to throw only where there is no device (tests/test_cuda.cpp covers the GPU).
    o.threads = 1;
    o.backend = Backend::Cuda;
    if (cuda::device_count() == 0) {
        try {
            Executor::create(p, o);
            ADD_FAILURE() << "expected esm::Error without a CUDA device";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Unsupported) << e.what();
        }
    }
    o.device = 1 << 20;
    try {
        Executor::create(p, o);
        ADD_FAILURE() << "expected esm::Error for CUDA device " << o.device;
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), cuda::device_count() == 0 ? ErrorKind::Unsupported : ErrorKind::InvalidArgument) << e.what();
    }
}
