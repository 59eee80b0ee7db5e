// Every optimised CPU kernel against the oracle on odd shapes (7 channels, 23x19, tiny
// planes, all kernels and strides), each as a one-op plan run through the executor.
#include <gtest/gtest.h>

#include "one_op_plan.hpp"

#include <cstring>
#include <sstream>

#include "exec_test_util.hpp"
#include "kernels.hpp"

using namespace esm;

namespace {


int out_size(int x, int k, int s, int p) { return (x + 2 * p - k) / s + 1; }

Op conv_op(int cin, int cout, int h, int w, int k, int s, int groups, bool bias, bool bn, Act act) {
    Op op;
    op.kind = OpKind::Conv;
    op.k = k;
    op.stride = s;
    op.pad = k / 2;
    op.groups = groups;
    op.bias = bias;
    op.bn = bn;
    op.act = act;
    op.in = Value{0, 0, cin, h, w};
    op.out = Value{1, 0, cout, out_size(h, k, s, k / 2), out_size(w, k, s, k / 2)};
    return op;
}

const Act kActs[] = {Act::None, Act::ReLU, Act::HSwish, Act::HSigmoid};

}  // namespace

TEST(Kernels, ConvGemmAllKernelsStrides) {
    // 37 output channels: past the direct kernel's 32, so k x k convs take im2col + GEMM
    // (packed_gemm, its B made from the input as it packs it, for strides 1 and 2; OpenBLAS on
    // im2col tiles for stride 3), in 8-channel panels and a partial one.
    int n = 0;
    for (int k : {1, 3, 5, 7, 9})
        for (int s : {1, 2, 3})
            for (int batch : {1, 2}) {
                const Act act = kActs[n % 4];
                Op op = conv_op(7, 37, 23, 19, k, s, 1, n % 3 == 0, n % 2 == 0, act);
                std::ostringstream name;
                name << "conv k" << k << " s" << s << " b" << batch << " act " << act_name(act);
                SCOPED_TRACE(name.str());
                EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, batch, 7, 37, 0), 11 + n, 1 + n % 2));
                ++n;
            }
}

TEST(Kernels, ConvGemmManyChannelsLongK) {
    // Each of packed_gemm's orders, with K past one pass over K (512 rows) where the reference
    // stays cheap: 60 -> 70 3x3 at 23 x 19 (K 540 in two passes, B made from the input;
    // column blocks, the leftover ones shared by panels), 8 -> 260 1x1 at 45 x 45 (C past 2
    // MiB: super-blocks swept panel by panel) and 600 -> 70 1x1 at 7 x 7, batch 2 (two
    // passes; two column blocks: two threads share the panels), and with A past 1 MiB (column
    // blocks in groups of 4: 600 -> 440 at 7 x 7, 300 -> 880 at 10 x 10: 48 + 48 + 4 columns,
    // and at 14 x 14: 4 blocks + 4 columns, two groups), 1 and 2 threads; partial panels
    // throughout. 16 -> 67 3x3 at 91 x 91: C past 2 MiB with its B made from the input: at
    // two threads each sweeps its half of the columns (86 and 87 blocks) in 3 super-blocks
    // of 37.
    int n = 0;
    for (auto [cin, cout, k, h, w, batch] :
         {std::tuple{60, 70, 3, 23, 19, 1}, std::tuple{8, 260, 1, 45, 45, 1}, std::tuple{600, 70, 1, 7, 7, 2},
          std::tuple{16, 67, 3, 91, 91, 1},
          std::tuple{600, 440, 1, 7, 7, 1}, std::tuple{300, 880, 1, 10, 10, 1}, std::tuple{300, 880, 1, 14, 14, 1}})
        for (int threads : {1, 2}) {
            SCOPED_TRACE("conv " + std::to_string(cin) + " -> " + std::to_string(cout) + " k" + std::to_string(k) +
                         " t" + std::to_string(threads));
            Op op = conv_op(cin, cout, h, w, k, 1, 1, true, true, kActs[n % 4]);
            EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, batch, cin, cout, 0), 31 + n, threads));
            ++n;
        }
}

// A conv without activation whose output only an Add reads runs as one step that adds the
// other input in the GEMM's epilogue (cpu/executor.cpp, fuse_residual_add). A bottleneck
// (1x1 c -> r, ReLU; k x k r -> c; Add with the block's input), the shortcut as either input
// of the Add, 1 and 2 threads, every activation on the Add, in each of packed_gemm's paths:
// 260 channels at 45 x 45 (C past 2 MiB: super-blocks), a 3x3 with K = 576 at 23 x 23 (two
// im2col tiles, column blocks), 70 at 7 x 7 (48 + 1 columns: the last one narrow()).
TEST(Kernels, ResidualAddFusedIntoTheConv) {
    struct Case {
        int c, r, k, h, batch;
    };
    int n = 0;
    for (Case e : {Case{260, 8, 1, 45, 2}, Case{70, 64, 3, 23, 1}, Case{70, 8, 1, 7, 2}})
        for (int threads : {1, 2}) {
            const bool shortcut_first = (n + threads) % 2 == 0;
            const Value x{0, 0, e.c, e.h, e.h};
            Plan p;
            p.batch = e.batch;
            p.res = e.h;
            p.buffers = {{e.c, e.h, e.h}, {e.r, e.h, e.h}, {e.c, e.h, e.h}, {e.c, e.h, e.h}};
            p.input = x;
            Op reduce = conv_op(e.c, e.r, e.h, e.h, 1, 1, 1, false, true, Act::ReLU);
            reduce.in.buf = 0, reduce.out.buf = 1;
            reduce.name = "reduce";
            Op conv = conv_op(e.r, e.c, e.h, e.h, e.k, 1, 1, n % 2 == 0, true, Act::None);
            conv.in.buf = 1, conv.out.buf = 2;
            conv.name = "conv";
            Op add;
            add.kind = OpKind::Add;
            add.act = kActs[n % 4];
            add.in = shortcut_first ? x : conv.out;
            add.in2 = shortcut_first ? conv.out : x;
            add.out = Value{3, 0, e.c, e.h, e.h};
            add.name = "add";
            p.ops = {reduce, conv, add};
            p.output = add.out;
            SCOPED_TRACE("residual c" + std::to_string(e.c) + " k" + std::to_string(e.k) + " " + std::to_string(e.h) +
                         (shortcut_first ? " shortcut first" : "") + " t" + std::to_string(threads));
            EXPECT_TRUE(esm_test::executor_matches_reference(p, 41 + n, threads));
            ++n;
        }
}

TEST(Kernels, ConvTinyPlanes) {
    for (int hw : {1, 2, 3})
        for (int k : {1, 3, 7}) {
            SCOPED_TRACE("conv tiny " + std::to_string(hw) + " k" + std::to_string(k));
            Op op = conv_op(5, 9, hw, hw + 1, k, 1 + (k == 3), 1, true, true, Act::ReLU);
            EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, 2, 5, 9, 0), 3, 2));
        }
}

TEST(Kernels, ConvSliceInputAndOutput) {
    // DenseNet pattern: read a channel prefix of a wider buffer, write a slice of another.
    for (int batch : {1, 2})
        for (int k : {1, 3}) {
            SCOPED_TRACE("slice b" + std::to_string(batch) + " k" + std::to_string(k));
            Op op = conv_op(11, 6, 9, 7, k, 1, 1, false, k == 1, Act::None);
            EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, batch, 17, 20, 5), 5, batch));
        }
}

TEST(Kernels, GroupedConvThroughGemm) {
    Op op = conv_op(8, 12, 11, 10, 3, 2, 4, false, true, Act::HSwish);
    EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, 2, 8, 12, 0), 9, 2));
}

TEST(Kernels, Depthwise) {
    int n = 0;
    for (int k : {3, 5, 7, 9})
        for (int s : {1, 2, 3})
            // widths past one 32-column tile, exactly 16, below: each tile shape, with tails
            for (auto [h, w] : {std::pair{23, 19}, std::pair{13, 41}, std::pair{9, 16}, std::pair{2, 3},
                                std::pair{1, 1}}) {
                const Act act = kActs[n % 4];
                std::ostringstream name;
                name << "dw k" << k << " s" << s << " " << h << "x" << w << " act " << act_name(act);
                SCOPED_TRACE(name.str());
                Op op = conv_op(7, 7, h, w, k, s, 7, n % 2 == 1, true, act);
                EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, 1 + n % 2, 7, 7, 0), 20 + n, 1 + n % 2));
                ++n;
            }
}

// B packed once (packed_gemm_pack_b, as the fused expansion uses it) gives, bit for bit,
// what packed_gemm gives packing B itself, with K in three passes and partial last blocks
// (100 = 48 + 48 + 4 columns: the narrow kernel; 61 = 48 + 13), with and without a prologue.
TEST(Kernels, PrepackedGemmEqualsPackedGemm) {
    using namespace esm::cpu;
    if (!packed_gemm_suits()) GTEST_SKIP() << "no AVX-512 or AVX2 + FMA";
    const int m = 20, k = 1100;
    for (int n : {100, 61})
        for (bool with_pre : {false, true}) {
            std::vector<float> a(size_t(m) * k), b(size_t(k) * n), bias(m), scale(k), shift(k);
            for (size_t i = 0; i < a.size(); ++i) a[i] = float(std::sin(0.7 * double(i)));
            for (size_t i = 0; i < b.size(); ++i) b[i] = float(std::cos(0.3 * double(i)));
            for (int i = 0; i < m; ++i) bias[size_t(i)] = 0.1f * float(i);
            for (int i = 0; i < k; ++i) {
                scale[size_t(i)] = 1.0f + 0.001f * float(i);
                shift[size_t(i)] = -0.01f * float(i % 7);
            }
            const Prologue pre{scale.data(), shift.data(), Act::ReLU};
            std::vector<float> pa(size_t(packed_gemm_a_floats(m, k))), pb(size_t(packed_gemm_b_floats(k, n)));
            std::vector<float> scratch(size_t(packed_gemm_scratch_floats(k, 1)));
            packed_gemm_pack_a(a.data(), m, k, pa.data());
            packed_gemm_pack_b(b.data(), n, k, n, with_pre ? &pre : nullptr, pb.data());
            std::vector<float> c1(size_t(m) * n, std::nanf("")), c2(c1);
            packed_gemm(m, n, k, pa.data(), b.data(), n, bias.data(), Act::HSwish, c1.data(), n, scratch.data(), 1,
                        with_pre ? &pre : nullptr);
            packed_gemm_prepacked(m, n, k, pa.data(), pb.data(), bias.data(), Act::HSwish, c2.data(), n);
            SCOPED_TRACE("n " + std::to_string(n) + (with_pre ? " prologue" : ""));
            EXPECT_EQ(0, std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)));
        }
}

// The fused expansion + depthwise conv (cpu/fused.cpp) gives, bit for bit, what the 1x1
// conv (packed_gemm) and the depthwise conv give run apart: 36 expanded channels (chunks of
// 16 and a partial one of 4) of 88 x 88 (1.1 MB per sample: past expand_depthwise_worth),
// every depthwise kernel size and stride, batch 2, 1 and 2 threads, with and without a
// BN + activation prologue on the expansion's input.
TEST(Kernels, ExpandDepthwiseEqualsTheTwoConvs) {
    using namespace esm::cpu;
    const int cin = 5, m = 36, h = 88, w = 88, batch = 2;
    if (!packed_gemm_suits()) GTEST_SKIP() << "no AVX-512 or AVX2 + FMA: convs run on OpenBLAS, nothing fused";
    const auto filled = [](size_t n, double f) {
        std::vector<float> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = float(std::sin(f * double(i) + 0.3));
        return v;
    };
    std::vector<float> x = filled(size_t(batch) * cin * h * w, 0.37), a = filled(size_t(m) * cin, 1.1),
                       bias = filled(m, 0.7), scale = filled(cin, 0.9), shift = filled(cin, 1.3);
    std::vector<float> packed(size_t(packed_gemm_a_floats(m, cin)));
    packed_gemm_pack_a(a.data(), m, cin, packed.data());
    const TensorView in{x.data(), batch, cin, h, w, int64_t(cin) * h * w};
    std::vector<float> mid(size_t(batch) * m * h * w);
    const TensorView midv{mid.data(), batch, m, h, w, int64_t(m) * h * w};
    ASSERT_TRUE(expand_depthwise_worth(midv));
    int n = 0;
    for (int k : {3, 5, 7})
        for (int s : {1, 2})
            for (int threads : {1, 2}) {
                const bool with_pre = n++ % 2 == 1;
                const Prologue pre{scale.data(), shift.data(), Act::ReLU};
                const ConvShape dw{k, s, k / 2, m, kActs[n % 4]};
                const Act act = kActs[(n + 1) % 4];
                std::vector<float> dw_w = filled(size_t(m) * k * k, 0.21 * k), dw_b = filled(m, 0.5);
                const int ho = out_size(h, k, s, k / 2), wo = out_size(w, k, s, k / 2);
                std::vector<float> apart(size_t(batch) * m * ho * wo), fused(apart.size(), std::nanf(""));
                const TensorView out_apart{apart.data(), batch, m, ho, wo, int64_t(m) * ho * wo};
                const TensorView out_fused{fused.data(), batch, m, ho, wo, int64_t(m) * ho * wo};
                std::vector<float> scratch(size_t(std::max(
                    {packed_gemm_scratch_floats(cin, threads), depthwise_scratch_floats(out_apart, dw, threads),
                     expand_depthwise_scratch_floats(midv, out_fused, cin, dw, threads)})));
                for (int b = 0; b < batch; ++b)
                    packed_gemm(m, int64_t(h) * w, cin, packed.data(), in.channel(b, 0), int64_t(h) * w, bias.data(),
                                act, midv.channel(b, 0), int64_t(h) * w, scratch.data(), threads,
                                with_pre ? &pre : nullptr);
                conv_depthwise(midv, out_apart, dw_w.data(), dw_b.data(), dw, scratch.data(), threads);
                expand_depthwise(in, midv, out_fused, packed.data(), bias.data(), act, with_pre ? &pre : nullptr,
                                 dw_w.data(), dw_b.data(), dw, scratch.data(), threads);
                SCOPED_TRACE("k" + std::to_string(k) + " s" + std::to_string(s) + " threads " +
                             std::to_string(threads) + (with_pre ? " prologue" : ""));
                size_t differ = 0;
                for (size_t i = 0; i < apart.size(); ++i) differ += std::memcmp(&apart[i], &fused[i], sizeof(float)) != 0;
                EXPECT_EQ(differ, 0u);
            }
}

// Through the executor: a conv feeding the expansion whose input buffer is dead after it in
// op order; the fused step still reads that input while it writes the depthwise output, so
// the arena must not have placed the two together.
TEST(Kernels, ExpandDepthwiseInANetwork) {
    Plan p;
    p.batch = 1;
    p.res = 88;
    p.buffers = {{3, 88, 88}, {8, 88, 88}, {36, 88, 88}, {36, 44, 44}};
    p.input = Value{0, 0, 3, 88, 88};
    Op c0 = conv_op(3, 8, 88, 88, 3, 1, 1, false, true, Act::ReLU);
    Op ex = conv_op(8, 36, 88, 88, 1, 1, 1, false, true, Act::HSwish);
    Op dw = conv_op(36, 36, 88, 88, 5, 2, 36, false, true, Act::HSwish);
    c0.in.buf = 0, c0.out.buf = 1, ex.in.buf = 1, ex.out.buf = 2, dw.in.buf = 2, dw.out.buf = 3;
    c0.name = "stem", ex.name = "expand", dw.name = "dw";
    p.ops = {c0, ex, dw};
    p.output = dw.out;
    for (int threads : {1, 2}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        EXPECT_TRUE(esm_test::executor_matches_reference(p, 3, threads));
    }
}

TEST(Kernels, BnActOnPrefix) {
    for (Act act : kActs) {
        Op op;
        op.kind = OpKind::BnAct;
        op.act = act;
        op.in = Value{0, 0, 7, 23, 19};
        op.out = Value{1, 0, 7, 23, 19};
        SCOPED_TRACE(act_name(act));
        EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, 2, 10, 7, 0), 4, 2));
    }
}

TEST(Kernels, BnActFusedIntoAWideGemm) {
    // DenseNet's BN + act in front of a 1x1 conv runs while packed_gemm packs the conv's
    // input (with AVX-512 or AVX2; else as a pass of its own): 300 channels, and 700 (two
    // passes over K, each with its part of the scale and shift), each channel with its own
    // scale and shift, 5x7 = 35 columns (part of one 48-column block).
    for (int cin : {300, 700})
    for (Act act : {Act::ReLU, Act::HSwish}) {
        Plan p;
        p.batch = 1;
        p.res = 5;
        p.buffers = {{cin, 5, 7}, {cin, 5, 7}, {19, 5, 7}};
        p.input = Value{0, 0, cin, 5, 7};
        Op bn;
        bn.kind = OpKind::BnAct;
        bn.act = act;
        bn.in = Value{0, 0, cin, 5, 7};
        bn.out = Value{1, 0, cin, 5, 7};
        bn.name = "bn";
        Op conv = conv_op(cin, 19, 5, 7, 1, 1, 1, true, false, Act::None);
        conv.in.buf = 1, conv.out.buf = 2;
        conv.name = "conv";
        p.ops = {bn, conv};
        p.output = conv.out;
        SCOPED_TRACE(act_name(act));
        EXPECT_TRUE(esm_test::executor_matches_reference(p, 5, 1));
    }
}

TEST(Kernels, Pooling) {
    struct P {
        PoolKind kind;
        int k, s, p;
    };
    for (P c : {P{PoolKind::Max, 3, 2, 1}, P{PoolKind::Avg, 2, 2, 0}, P{PoolKind::Max, 2, 1, 0},
                P{PoolKind::Avg, 3, 1, 1}})
        // 3 x 2100: rows wider than the row passes take (cpu/pooling.cpp's plain loops).
        for (auto [h, w] : {std::pair{23, 19}, std::pair{3, 2}, std::pair{3, 2100}}) {
            Op op;
            op.kind = OpKind::Pool;
            op.pool = c.kind;
            op.k = c.k;
            op.stride = c.s;
            op.pad = c.p;
            op.in = Value{0, 0, 7, h, w};
            op.out = Value{1, 0, 7, out_size(h, c.k, c.s, c.p), out_size(w, c.k, c.s, c.p)};
            std::ostringstream name;
            name << (c.kind == PoolKind::Max ? "max" : "avg") << " k" << c.k << " s" << c.s << " p" << c.p << " " << h
                 << "x" << w;
            SCOPED_TRACE(name.str());
            // Written into a slice of a wider buffer, as DenseNet's stem and transitions do.
            EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, 2, 7, 12, 3), 6, 2));
        }
}

TEST(Kernels, GlobalAvgPoolSeAddLinear) {
    {
        Op op;
        op.kind = OpKind::GlobalAvgPool;
        op.in = Value{0, 0, 7, 23, 19};
        op.out = Value{1, 0, 7, 1, 1};
        EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, 2, 9, 7, 0), 1, 2)) << "gap";
    }
    for (int batch : {1, 2}) {
        Op op;
        op.kind = OpKind::SE;
        op.se_reduced = 8;
        op.in = Value{0, 0, 24, 23, 19};
        op.out = Value{1, 0, 24, 23, 19};
        EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, batch, 24, 24, 0), 2, batch)) << "se";
    }
    for (Act act : kActs) {
        Op op;
        op.kind = OpKind::Add;
        op.act = act;
        op.in = Value{0, 0, 7, 23, 19};
        op.in2 = Value{0, 7, 7, 23, 19};
        op.out = Value{1, 0, 7, 23, 19};
        EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, 2, 14, 7, 0), 3, 2)) << "add " << act_name(act);
    }
    for (int batch : {1, 2, 5}) {  // a few rows: SGEMVs; 5: SGEMM
        Op op;
        op.kind = OpKind::Linear;
        op.bias = true;
        op.act = Act::HSwish;
        op.in = Value{0, 0, 37, 1, 1};
        op.out = Value{1, 0, 29, 1, 1};
        EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, batch, 37, 29, 0), 8, batch)) << "linear";
    }
}

TEST(Kernels, DirectConvFewOutputChannels) {
    // Stride-1 convs with <= 32 output channels take the direct kernel (cpu/direct.cpp):
    // channel counts that fill one or two 16-lane vectors partly (AVX-512) or leave a lone
    // 4-channel block (AVX2: 9), rows split into tiles of 1..14 columns (28 = 14 + 14,
    // 37 = 13 + 12 + 12, 17 = 9 + 8, 3), planes smaller than the kernel (every tap
    // skipping rule), and DenseNet's write into a slice of a wider buffer.
    int n = 0;
    for (int k : {3, 5, 7, 9})
        for (auto [h, w] : {std::pair{23, 19}, std::pair{2, 3}, std::pair{5, 17}, std::pair{7, 16}, std::pair{4, 37},
                            std::pair{3, 28}}) {
            const Act act = kActs[n % 4];
            const int cout = n % 4 == 0 ? 32 : n % 4 == 1 ? 13 : n % 4 == 2 ? 9 : 20, batch = 1 + n % 2;
            std::ostringstream name;
            name << "direct k" << k << " " << h << "x" << w << " cout " << cout << " b" << batch << " act "
                 << act_name(act);
            SCOPED_TRACE(name.str());
            Op op = conv_op(19, cout, h, w, k, 1, 1, n % 3 == 0, n % 2 == 0, act);
            EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, batch, 23, cout + 9, 4), 40 + n, 1 + n % 2));
            ++n;
        }
    // With AVX-512 also stride 2 and few input channels (MobileNetV3's 3 -> 16 stem);
    // elsewhere these take im2col + GEMM.
    for (int k : {3, 5, 7})
        for (auto [h, w] : {std::pair{23, 19}, std::pair{2, 3}, std::pair{8, 30}, std::pair{5, 57}}) {
            const Act act = kActs[n % 4];
            const int cin = n % 2 ? 3 : 24, cout = n % 3 == 0 ? 16 : n % 3 == 1 ? 32 : 7, batch = 1 + n % 2;
            std::ostringstream name;
            name << "direct stride 2 k" << k << " " << h << "x" << w << " " << cin << " -> " << cout << " b" << batch
                 << " act " << act_name(act);
            SCOPED_TRACE(name.str());
            Op op = conv_op(cin, cout, h, w, k, 2, 1, n % 3 == 0, n % 2 == 0, act);
            EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, batch, cin, cout, 0), 40 + n, 1 + n % 2));
            ++n;
        }
}

TEST(Kernels, ConvGemmTiledIm2col) {
    // On packed_gemm these convs make their im2col columns block by block as it packs them
    // (Im2colSource, no tiles): K = 64*7*7 = 3136 in 7 passes of 448 rows, which split a
    // channel's 49 rows; on OpenBLAS (the kernels_baseline_isa run) a column matrix past the
    // ~8 MB tile budget goes in row tiles (17 + 17 + 6), each writing its column block.
    Op op = conv_op(64, 40, 40, 38, 7, 1, 1, false, true, Act::ReLU);
    EXPECT_TRUE(esm_test::executor_matches_reference(one_op(op, 1, 64, 40, 0), 77, 2));
    // K = 200*3*3 = 1800 (OpenBLAS: row tiles of 19 + 19 + 2 rows), 37 channels (not whole
    // 8-panels).
    Op packed = conv_op(200, 37, 40, 60, 3, 1, 1, true, true, Act::HSwish);
    for (int threads : {1, 2}) EXPECT_TRUE(esm_test::executor_matches_reference(one_op(packed, 1, 200, 37, 0), 78, threads));
    // A 7x7 plane is 48 + 1 columns: 2 threads split the 9 channel panels (the last
    // partial) instead of the 2 column blocks, each packing both blocks of B itself.
    Op small = conv_op(96, 67, 7, 7, 1, 1, 1, false, true, Act::ReLU);
    for (int threads : {1, 2}) EXPECT_TRUE(esm_test::executor_matches_reference(one_op(small, 2, 96, 67, 0), 79, threads));
}
