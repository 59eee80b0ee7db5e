// The CUDA backend: every CUDA op and whole networks of every preset against the CPU
// executor (GTEST_SKIP without a device or without CUDA), plus what runs everywhere: the
// clear error without a device, device facts, the algorithm-cache key, timed_run_ms on CPU.
#include <gtest/gtest.h>

#include "one_op_plan.hpp"

#include <cmath>
#include <functional>
#include <set>
#include <sstream>

#include "conv_key.hpp"
#include "esm/common.hpp"
#include "esm/cuda.hpp"
#include "esm/dataset.hpp"
#include "esm/executor.hpp"
#include "esm/sample.hpp"
#include "esm/space.hpp"

#if ESM_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

using namespace esm;

namespace {

#define ESM_REQUIRE_GPU()                                                                            \
    do {                                                                                             \
        if (!cuda::built_with_cuda()) GTEST_SKIP() << "built without CUDA";                          \
        if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::device_summary(); \
    } while (0)

// Runs `plan` on the CPU and the CUDA executor with the same weights and input and
// compares the outputs under |d| <= max(atol_rel * max|cpu|, rtol * |cpu|).
::testing::AssertionResult cuda_matches_cpu(const Plan& plan, uint64_t seed, bool tf32 = false, double rtol = 2e-3,
                                            double atol_rel = 5e-4) {
    const Weights w = make_weights(plan, seed);
    ExecutorOptions oc, og;
    og.backend = Backend::Cuda;
    og.tf32 = tf32;
    auto cpu = Executor::create(plan, w, oc);
    auto gpu = Executor::create(plan, w, og);
    TensorView ci = cpu->input(), gi = gpu->input();
    if (ci.size() != gi.size()) return ::testing::AssertionFailure() << "input sizes differ";
    for (int64_t i = 0; i < ci.size(); ++i) ci.data[i] = gi.data[i] = float(std::sin(0.37 * double(i) + double(seed)));
    cpu->run();
    gpu->run();
    if (!gpu->last_error().empty()) return ::testing::AssertionFailure() << "run: " << gpu->last_error();
    const TensorView want = cpu->output();
    const TensorView got = gpu->output();  // explicit device -> host copy
    if (want.n != got.n || want.c != got.c || want.plane() != got.plane())
        return ::testing::AssertionFailure() << "output shapes differ";
    double maxref = 0;
    for (int b = 0; b < want.n; ++b)
        for (int c = 0; c < want.c; ++c)
            for (int64_t j = 0; j < want.plane(); ++j)
                maxref = std::max(maxref, double(std::fabs(want.channel(b, c)[j])));
    const double atol = atol_rel * std::max(1.0, maxref);
    int64_t i = 0;
    for (int b = 0; b < want.n; ++b)
        for (int c = 0; c < want.c; ++c)
            for (int64_t j = 0; j < want.plane(); ++j, ++i) {
                const double g = got.channel(b, c)[j], r = want.channel(b, c)[j];
                if (!(std::fabs(g - r) <= std::max(atol, rtol * std::fabs(r))))
                    return ::testing::AssertionFailure() << "first mismatch at index " << i << " (b=" << b << " c=" << c
                                                         << " hw=" << j << "): cuda " << g << " cpu " << r;
            }
    const double ms = gpu->timed_run_ms();
    if (!(ms >= 0.0) || !std::isfinite(ms)) return ::testing::AssertionFailure() << "timed_run_ms " << ms;
    return ::testing::AssertionSuccess();
}


int out_size(int x, int k, int s, int p) { return (x + 2 * p - k) / s + 1; }

Op conv(int cin, int cout, int h, int w, int k, int s, int groups, bool bias, bool bn, Act act) {
    Op op;
    op.kind = OpKind::Conv;
    op.k = k, op.stride = s, op.pad = k / 2, op.groups = groups;
    op.bias = bias, op.bn = bn, op.act = act;
    op.in = Value{0, 0, cin, h, w};
    op.out = Value{1, 0, cout, out_size(h, k, s, k / 2), out_size(w, k, s, k / 2)};
    return op;
}

const Act kActs[] = {Act::None, Act::ReLU, Act::HSwish, Act::HSigmoid};

}  // namespace

// --- everywhere -------------------------------------------------------------------------

TEST(CudaBackend, ClearErrorWithoutCudaOrDevice) {
    if (cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
    Plan plan = build_plan(preset("mobilenetv3"), Sampler(preset("mobilenetv3"), 1).random(), 1, 32);
    ExecutorOptions o;
    o.backend = parse_backend("cuda");
    try {
        Executor::create(plan, o);
        FAIL() << "expected esm::Error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
        const std::string msg = e.what();
        const char* want = cuda::built_with_cuda() ? "no CUDA device present" : "built without CUDA (ESM_CUDA=OFF";
        EXPECT_NE(msg.find(want), std::string::npos) << msg;
    }
}

TEST(CudaBackend, DeviceFactsAnswerInEveryBuild) {
    const cuda::DeviceInfo d = cuda::device_info(0);
    const std::string h = cuda::device_header(0);
    EXPECT_EQ(h.rfind("gpu=", 0), 0u) << h;
    if (cuda::device_count() == 0) {
        EXPECT_EQ(d.index, -1);
        EXPECT_TRUE(d.name.empty());
        EXPECT_NE(h.find("gpu=none"), std::string::npos) << h;
    } else {
        EXPECT_EQ(d.index, 0);
        EXPECT_FALSE(d.name.empty());
        EXPECT_GT(d.cudnn_version, 0u);
    }
    if (cuda::built_with_cuda()) {
        EXPECT_NE(h.find(";cudnn="), std::string::npos) << h;
    }
    EXPECT_EQ(cuda::device_info(-1).index, -1);
    EXPECT_EQ(cuda::device_info(1 << 20).index, -1);
}

TEST(CudaBackend, Tf32IsOffByDefault) { EXPECT_FALSE(ExecutorOptions{}.tf32); }

TEST(ConvKey, EveryFieldChangesTheKey) {
    const ConvProblem base;
    std::vector<std::function<void(ConvProblem&)>> change = {
        [](ConvProblem& p) { p.n = 2; },
        [](ConvProblem& p) { p.c = 2; },
        [](ConvProblem& p) { p.h = 2; },
        [](ConvProblem& p) { p.w = 2; },
        [](ConvProblem& p) { p.in_n_stride = 9; },
        [](ConvProblem& p) { p.in_c_stride = 9; },
        [](ConvProblem& p) { p.k_out = 2; },
        [](ConvProblem& p) { p.kh = 3; },
        [](ConvProblem& p) { p.kw = 3; },
        [](ConvProblem& p) { p.stride = 2; },
        [](ConvProblem& p) { p.pad = 1; },
        [](ConvProblem& p) { p.dilation = 2; },
        [](ConvProblem& p) { p.groups = 2; },
        [](ConvProblem& p) { p.out_h = 2; },
        [](ConvProblem& p) { p.out_w = 2; },
        [](ConvProblem& p) { p.out_n_stride = 9; },
        [](ConvProblem& p) { p.out_c_stride = 9; },
        [](ConvProblem& p) { p.dtype = "f16"; },
        [](ConvProblem& p) { p.math = "tf32"; },
        [](ConvProblem& p) { p.align = 16; },
    };
    std::set<std::string> keys = {conv_problem_key(base)};
    for (size_t i = 0; i < change.size(); ++i) {
        ConvProblem p = base;
        change[i](p);
        EXPECT_TRUE(keys.insert(conv_problem_key(p)).second) << "field " << i << " does not change the key";
    }
    // Adjacent fields must not run together: 1x12 and 11x2 differ.
    ConvProblem a, b;
    a.h = 1, a.w = 12, b.h = 11, b.w = 2;
    EXPECT_NE(conv_problem_key(a), conv_problem_key(b));
    EXPECT_EQ(conv_problem_key(base), conv_problem_key(ConvProblem{}));
}

TEST(CudaBackend, CpuTimedRunIsFinite) {
    Plan plan = build_plan(preset("resnet"), Sampler(preset("resnet"), 3).random(), 1, 32);
    auto ex = Executor::create(plan, ExecutorOptions{});
    const double ms = ex->timed_run_ms();
    EXPECT_TRUE(std::isfinite(ms) && ms >= 0.0) << ms;
    EXPECT_TRUE(ex->last_error().empty());
}

// --- with a device ------------------------------------------------------------------------

TEST(CudaOps, ConvAllKernelsStrides) {
    ESM_REQUIRE_GPU();
    int n = 0;
    for (int k : {1, 3, 5, 7, 9})
        for (int s : {1, 2})
            for (int batch : {1, 2}) {
                const Act act = kActs[n % 4];
                std::ostringstream name;
                name << "conv k" << k << " s" << s << " b" << batch << " " << act_name(act);
                SCOPED_TRACE(name.str());
                Op op = conv(7, 13, 23, 19, k, s, 1, n % 3 == 0, n % 2 == 0, act);
                EXPECT_TRUE(cuda_matches_cpu(one_op(op, batch, 7, 13, 0), 11 + n));
                ++n;
            }
}

TEST(CudaOps, ConvSlicesDepthwiseGrouped) {
    ESM_REQUIRE_GPU();
    for (int batch : {1, 2})
        for (int k : {1, 3}) {  // DenseNet: read a channel prefix, write a slice
            SCOPED_TRACE("slice b" + std::to_string(batch) + " k" + std::to_string(k));
            EXPECT_TRUE(
                cuda_matches_cpu(one_op(conv(11, 6, 9, 7, k, 1, 1, false, k == 1, Act::None), batch, 17, 20, 5), 5));
        }
    int n = 0;
    for (int k : {3, 5, 7})
        for (int s : {1, 2}) {
            SCOPED_TRACE("dw k" + std::to_string(k) + " s" + std::to_string(s));
            EXPECT_TRUE(cuda_matches_cpu(
                one_op(conv(24, 24, 23, 19, k, s, 24, n % 2, true, kActs[n % 4]), 2, 24, 24, 0), 20 + n));
            ++n;
        }
    EXPECT_TRUE(cuda_matches_cpu(one_op(conv(8, 12, 11, 10, 3, 2, 4, false, true, Act::HSwish), 2, 8, 12, 0), 9));
    EXPECT_TRUE(cuda_matches_cpu(one_op(conv(5, 9, 1, 2, 3, 1, 1, true, true, Act::ReLU), 2, 5, 9, 0), 3));
}

TEST(CudaOps, BnActPoolGapSeAddLinear) {
    ESM_REQUIRE_GPU();
    for (Act act : kActs) {
        Op op;
        op.kind = OpKind::BnAct, op.act = act;
        op.in = Value{0, 0, 7, 23, 19}, op.out = Value{1, 0, 7, 23, 19};
        EXPECT_TRUE(cuda_matches_cpu(one_op(op, 2, 10, 7, 0), 4)) << "bnact " << act_name(act);
        Op add;
        add.kind = OpKind::Add, add.act = act;
        add.in = Value{0, 0, 7, 23, 19}, add.in2 = Value{0, 7, 7, 23, 19}, add.out = Value{1, 0, 7, 23, 19};
        EXPECT_TRUE(cuda_matches_cpu(one_op(add, 2, 14, 7, 0), 3)) << "add " << act_name(act);
    }
    for (auto [kind, k, s, p] :
         {std::tuple{PoolKind::Max, 3, 2, 1}, std::tuple{PoolKind::Avg, 2, 2, 0}, std::tuple{PoolKind::Avg, 3, 1, 1}}) {
        Op op;
        op.kind = OpKind::Pool, op.pool = kind, op.k = k, op.stride = s, op.pad = p;
        op.in = Value{0, 0, 7, 23, 19};
        op.out = Value{1, 0, 7, out_size(23, k, s, p), out_size(19, k, s, p)};
        EXPECT_TRUE(cuda_matches_cpu(one_op(op, 2, 7, 12, 3), 6)) << "pool k" << k;
    }
    Op gap;
    gap.kind = OpKind::GlobalAvgPool;
    gap.in = Value{0, 0, 7, 23, 19}, gap.out = Value{1, 0, 7, 1, 1};
    EXPECT_TRUE(cuda_matches_cpu(one_op(gap, 2, 9, 7, 0), 1)) << "gap";
    for (int batch : {1, 2}) {
        Op se;
        se.kind = OpKind::SE, se.se_reduced = 8;
        se.in = Value{0, 0, 24, 23, 19}, se.out = Value{1, 0, 24, 23, 19};
        EXPECT_TRUE(cuda_matches_cpu(one_op(se, batch, 24, 24, 0), 2)) << "se b" << batch;
        Op fc;
        fc.kind = OpKind::Linear, fc.bias = true, fc.act = Act::HSwish;
        fc.in = Value{0, 0, 37, 1, 1}, fc.out = Value{1, 0, 29, 1, 1};
        EXPECT_TRUE(cuda_matches_cpu(one_op(fc, batch, 37, 29, 0), 8)) << "linear b" << batch;
    }
}

TEST(CudaNetworks, EveryPresetRandomArchsBatch1And2) {
    ESM_REQUIRE_GPU();
    for (const std::string& name : preset_names()) {
        const Space space = preset(name);
        Sampler sampler(space, 42);
        for (int i = 0; i < 3; ++i) {
            const Arch arch = sampler.random();
            for (int batch : {1, 2}) {
                SCOPED_TRACE(format_arch(space, arch) + " batch " + std::to_string(batch));
                EXPECT_TRUE(cuda_matches_cpu(build_plan(space, arch, batch, 64), 100 + i));
            }
        }
    }
}

TEST(CudaNetworks, Tf32OptionRunsWithLooserTolerance) {
    ESM_REQUIRE_GPU();
    const Space space = preset("resnet");
    const Arch arch = Sampler(space, 7).random();
    EXPECT_TRUE(cuda_matches_cpu(build_plan(space, arch, 1, 64), 5, /*tf32=*/true, 5e-2, 2e-2));
}

TEST(CudaNetworks, RepeatedRunsAreIdenticalAndCreateReusesAlgorithms) {
    ESM_REQUIRE_GPU();
    const Space space = preset("densenet");
    const Plan plan = build_plan(space, Sampler(space, 9).random(), 1, 64);
    ExecutorOptions o;
    o.backend = Backend::Cuda;
    auto a = Executor::create(plan, o);
    auto b = Executor::create(plan, o);  // every conv problem now comes from the cache
    for (auto* ex : {a.get(), b.get()}) {
        TensorView in = ex->input();
        for (int64_t i = 0; i < in.size(); ++i) in.data[i] = float(std::cos(0.1 * double(i)));
    }
    a->run();
    const TensorView ya = a->output();
    std::vector<float> first(ya.data, ya.data + ya.size());
    for (int r = 0; r < 3; ++r) EXPECT_GT(a->timed_run_ms(), 0.0);
    a->run();
    const TensorView ya2 = a->output();
    b->run();
    const TensorView yb = b->output();
    for (int64_t i = 0; i < ya2.size(); ++i) {
        ASSERT_EQ(first[size_t(i)], ya2.data[i]) << i;
        ASSERT_NEAR(first[size_t(i)], yb.data[i], 1e-4 * (1 + std::fabs(first[size_t(i)]))) << i;
    }
    EXPECT_GT(a->activation_bytes(), 0u);
    EXPECT_GT(a->weight_bytes(), 0u);
    EXPECT_TRUE(a->last_error().empty());
}

TEST(CudaNetworks, StagedSlicesMatchToo) {
    // The fallback for a cuDNN that takes no strided channel slice: packed staging copies.
    ESM_REQUIRE_GPU();
    setenv("ESM_CUDA_FORCE_STAGING", "1", 1);
    const Space space = preset("densenet");
    const Arch arch = Sampler(space, 11).random();
    EXPECT_TRUE(cuda_matches_cpu(build_plan(space, arch, 2, 64), 6));
    unsetenv("ESM_CUDA_FORCE_STAGING");
}

TEST(CudaNetworks, AnErrorLeftByTheCallerIsNotTheExecutors) {
    // cudaGetLastError returns what any runtime call of the thread left behind: a caller's
    // handled cudaMalloc failure was taken for this executor's "kernel launch" failure.
    ESM_REQUIRE_GPU();
#if ESM_HAVE_CUDA
    const Space space = preset("mobilenetv3");
    const Plan plan = build_plan(space, Sampler(space, 3).random(), 1, 64);
    ExecutorOptions o;
    o.backend = Backend::Cuda;
    void* p = nullptr;
    ASSERT_NE(cudaMalloc(&p, size_t(1) << 60), cudaSuccess);  // left pending, as a careless caller does
    auto ex = Executor::create(plan, o);
    ASSERT_NE(cudaMalloc(&p, size_t(1) << 60), cudaSuccess);
    ex->run();
    EXPECT_EQ(ex->last_error(), "");
    EXPECT_TRUE(std::isfinite(ex->timed_run_ms())) << ex->last_error();
    EXPECT_NO_THROW(ex->output());
#endif
}

TEST(CudaNetworks, DatasetHeaderSaysTheOneHostThread) {
    // The CUDA executor enqueues from one host thread whatever --threads says: its datasets
    // record 1, so a rerun under another --threads resumes (it was refused: 'threads: 4').
    ESM_REQUIRE_GPU();
    ExecutorOptions o;
    o.backend = Backend::Cuda;
    o.threads = 2;
    std::string threads;
    for (const auto& kv : executor_dataset_meta(preset("resnet"), 64, 1, o, 1, MeasureProtocol{}))
        if (kv.first == "threads") threads = kv.second;
    EXPECT_EQ(threads, "1");
}
