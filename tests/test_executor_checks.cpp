// Executor::create's checks of what it is given (docs/executor.md, Lifecycle): a plan
// that does not hold together and weights made for another plan are refused with
// InvalidArgument naming what and where, not read and written out of bounds. Apart from
// test_executor.cpp, whose counting operator new/delete make GCC's -Wmismatched-new-delete
// misfire as that file grows.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "esm/arch.hpp"
#include "esm/common.hpp"
#include "esm/executor.hpp"
#include "esm/plan.hpp"
#include "esm/sample.hpp"
#include "esm/space.hpp"
#include "esm/weights.hpp"

using namespace esm;

TEST(Executor, RejectsWeightsOfAnotherPlan) {
    // Same op count and names, other shapes: these were folded and packed past the ends of
    // the smaller tensors (heap corruption) before create checked every op's sizes.
    Space s = preset("resnet");
    Plan small = build_plan(s, parse_arch(s, "resnet:k3e50/k3e50/k3e50/k3e50"), 1, 32);
    Plan big = build_plan(s, parse_arch(s, "resnet:k7e100/k7e100/k7e100/k7e100"), 1, 32);
    ASSERT_EQ(small.ops.size(), big.ops.size());
    const Weights w = make_weights(small, 1);
    try {
        Executor::create(big, w, ExecutorOptions{});
        FAIL() << "weights of another plan accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
        // names the first op whose tensor does not fit, what it has and what it needs
        EXPECT_NE(std::string(e.what()).find("op 'u0.b0.conv1' weight has 2048 values, expected 4096"), std::string::npos)
            << e.what();
    }
    // One short BN vector, one missing SE bias, one linear bias too long: each refused.
    Space m = preset("mobilenetv3");
    Plan p = build_plan(m, parse_arch(m, "mobilenetv3:k3e50/k3e50/k3e50/k3e50"), 1, 32);
    const Weights good = make_weights(p, 1);
    EXPECT_NO_THROW(Executor::create(p, good, ExecutorOptions{}));
    auto refused = [&](const char* what, auto&& spoil) {
        Weights bad = good;
        for (size_t i = 0; i < p.ops.size(); ++i)
            if (spoil(p.ops[i], bad.ops[i])) break;
        EXPECT_THROW(Executor::create(p, bad, ExecutorOptions{}), Error) << what;
    };
    refused("short bn", [](const Op& op, OpWeights& ow) {
        if (!op.bn) return false;
        ow.bn_var.pop_back();
        return true;
    });
    refused("no se bias", [](const Op& op, OpWeights& ow) {
        if (op.kind != OpKind::SE) return false;
        ow.se_b2.clear();
        return true;
    });
    refused("long linear bias", [](const Op& op, OpWeights& ow) {
        if (op.kind != OpKind::Linear) return false;
        ow.bias.push_back(0.f);
        return true;
    });
}

TEST(Executor, RejectsPlansThatDoNotHoldTogether) {
    // create validates the plan (docs/executor.md): a value naming no buffer, a channel
    // slice past its buffer, an output shape its op does not give were read and written out
    // of bounds (ASan: heap-buffer-overflow in reader_counts) instead of being refused.
    Space s = preset("mobilenetv3");
    const Plan good = build_plan(s, parse_arch(s, "mobilenetv3:k3e50-k3e50/k3e50/k3e50/k3e50"), 2, 32);
    EXPECT_NO_THROW(Executor::create(good, ExecutorOptions{}));
    for (size_t i = 0; i < good.segments.size(); ++i)  // segment plans are valid plans too
        EXPECT_NO_THROW(Executor::create(extract_segment(good, int(i)), ExecutorOptions{})) << i;
    auto refused = [&](const char* what, const char* message, auto&& spoil) {
        Plan p = good;
        spoil(p);
        try {
            Executor::create(p, ExecutorOptions{});
            ADD_FAILURE() << what << ": accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << what;
            EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << what << ": " << e.what();
        }
    };
    refused("no such buffer", "op 'u0.b0.dw' input: buffer 999 does not exist",
            [](Plan& p) { p.ops[2].in.buf = 999; });
    refused("slice past the buffer", "op 'u0.b0.expand' output: channels [8, ", [](Plan& p) { p.ops[1].out.c_off = 8; });
    refused("output shape", "op 'stem.conv': output 16x16x16, its input and attributes give 16x13x13",
            [](Plan& p) { p.ops[0].k = 9; });
    refused("groups", "op 'u0.b0.dw': channels not divisible by groups", [](Plan& p) { p.ops[2].groups = 0; });
    refused("add shapes", "inputs of different shapes", [](Plan& p) {
        for (Op& op : p.ops)
            if (op.kind == OpKind::Add) op.in2 = p.input;
    });
    refused("output value", "output: buffer -1", [](Plan& p) { p.output.buf = -1; });
    // A buffer no op writes has no place in the arena (its offset is -1): an op reading it,
    // or an output naming it, was viewed before the arena's start (ASan: heap-buffer-overflow
    // reading output(); with a far channel slice, the kernel read far past the arena).
    ASSERT_EQ(good.buffers.size(), 25u);
    auto unwritten = [](Plan& p, const Value& like) {
        p.buffers.push_back({like.c + 100000, like.h, like.w});
        return Value{int(p.buffers.size()) - 1, 100000, like.c, like.h, like.w};
    };
    refused("read of an unwritten buffer", "op 'u0.b0.dw' input: buffer 25 is read before any op writes it",
            [&](Plan& p) { p.ops[2].in = unwritten(p, p.ops[2].in); });
    refused("output of an unwritten buffer", "output: buffer 25 is written by no op",
            [&](Plan& p) { p.output = unwritten(p, p.output); });
    // u0.b1.expand reads what u0.b1.project writes after it (the same 16x8x8 shape): not
    // live in the arena yet where it is read.
    ASSERT_EQ(good.ops[6].name, "u0.b1.project");
    refused("read before its write", "op 'u0.b1.expand' input: buffer 7 is read before any op writes it",
            [](Plan& p) { p.ops[4].in = p.ops[6].out; });
    // Every family's plans and segment plans at odd resolutions and batches hold together.
    for (const char* name : {"resnet", "densenet", "ofa-mbv3"}) {
        const Space sp = preset(name);
        const Arch a = Sampler(sp, 1).sample(Strategy::Random, 1, 1).at(0);
        for (int res : {65, 97}) {
            const Plan p = build_plan(sp, a, 3, res);
            EXPECT_NO_THROW(Executor::create(p, ExecutorOptions{})) << name << " " << res;
            for (size_t i = 0; i < p.segments.size(); ++i)
                EXPECT_NO_THROW(Executor::create(extract_segment(p, int(i)), ExecutorOptions{})) << name << " " << i;
        }
    }
}

// A custom space whose widths are each within range can ask for more weights than the
// machine holds (here 77 G parameters, 310 GB): refused before any is made, naming the
// sizes, by make_weights and so by Executor::create (esm-run filled memory for minutes).
TEST(Executor, WeightsBeyondTheMachinesMemoryAreRefusedUpFront) {
    const Space s = parse_space("name = big\nfamily = mobilenetv3\nunits = 1\nwidth = 65536\nstride = 2\ndepth = 1\n"
                                "act = relu\nse = 0\nchoices_per = block\nchoice k = 3\nchoice e = 64\nstem = 16\n"
                                "head = 65536 65536\nclasses = 1048576\nresolution = 32\n");
    const Plan p = build_plan(s, parse_arch(s, "big:k3e64"), 1, 32);
    ASSERT_EQ(p.params(), 77377926608LL);
    const double memory = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGESIZE));
    if (memory >= 4.0 * double(p.params())) GTEST_SKIP() << "this machine holds 310 GB";
    for (int call = 0; call < 2; ++call) {
        try {
            if (call == 0) make_weights(p, 1);
            else Executor::create(p, ExecutorOptions{});
            ADD_FAILURE() << "310 GB of weights were not refused";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("weights: the network's 77377926608 parameters take 310 GB, more than this "
                                                 "machine's"),
                      std::string::npos)
                << e.what();
        }
    }
}
