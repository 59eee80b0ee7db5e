// The backend-neutral arena layout (lib/arena.hpp) both executors use: buffers whose
// live ranges overlap never share memory, and reuse never costs more than no reuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>

#include "arena.hpp"
#include "esm/sample.hpp"
#include "esm/space.hpp"

using namespace esm;

TEST(Arena, LiveBuffersNeverOverlapOnEveryPreset) {
    for (const std::string& name : preset_names()) {
        const Space space = preset(name);
        Sampler sampler(space, 5);
        for (int i = 0; i < 4; ++i) {
            const Plan plan = build_plan(space, sampler.random(), 1 + i % 2, 64);
            const ArenaLayout a = layout_arena(plan, 16);
            const int nb = static_cast<int>(plan.buffers.size());
            std::vector<int> first(nb, INT_MAX), last(nb, -1);
            for (int k = 0; k < static_cast<int>(plan.ops.size()); ++k) {
                const Op& op = plan.ops[k];
                first[op.out.buf] = std::min(first[op.out.buf], k);
                last[op.in.buf] = std::max(last[op.in.buf], k);
                if (op.kind == OpKind::Add) last[op.in2.buf] = std::max(last[op.in2.buf], k);
            }
            last[plan.output.buf] = static_cast<int>(plan.ops.size());
            auto bytes = [&](int b) {
                const BufferInfo& bi = plan.buffers[b];
                return int64_t(plan.batch) * bi.c * bi.h * bi.w;
            };
            EXPECT_LE(a.total, a.unshared) << name;
            EXPECT_EQ(a.offset[plan.input.buf], -1);
            for (int x = 0; x < nb; ++x) {
                if (x == plan.input.buf || first[x] == INT_MAX) continue;
                ASSERT_GE(a.offset[x], 0);
                EXPECT_EQ(a.offset[x] % 16, 0);
                EXPECT_LE(a.offset[x] + bytes(x), a.total);
                for (int y = x + 1; y < nb; ++y) {
                    if (y == plan.input.buf || first[y] == INT_MAX) continue;
                    const bool live_together =
                        first[x] <= std::max(last[y], first[y]) && first[y] <= std::max(last[x], first[x]);
                    const bool share = a.offset[x] < a.offset[y] + bytes(y) && a.offset[y] < a.offset[x] + bytes(x);
                    EXPECT_FALSE(live_together && share) << name << ": buffers " << x << " and " << y;
                }
            }
        }
    }
}

// `keep` extends a buffer's life: a chain in -> a -> b -> c where a dies at op 1 would let c
// (born at op 2, the size of a) take a's place; kept through op 2, a must not share with c.
TEST(Arena, KeptBufferOutlivesItsLastReader) {
    Plan plan;
    plan.batch = 1;
    plan.buffers = {{4, 8, 8}, {16, 8, 8}, {64, 8, 8}, {16, 8, 8}};
    plan.input = Value{0, 0, 4, 8, 8};
    Op a, b, c;
    a.in = Value{0, 0, 4, 8, 8}, a.out = Value{1, 0, 16, 8, 8};
    b.in = Value{1, 0, 16, 8, 8}, b.out = Value{2, 0, 64, 8, 8};
    c.in = Value{2, 0, 64, 8, 8}, c.out = Value{3, 0, 16, 8, 8};
    plan.ops = {a, b, c};
    plan.output = c.out;
    const auto shares = [](const ArenaLayout& l, int x, int y) {
        return l.offset[x] < l.offset[y] + 16 * 64 && l.offset[y] < l.offset[x] + 16 * 64;
    };
    EXPECT_TRUE(shares(layout_arena(plan, 16), 1, 3));  // the reuse that keep must prevent
    const ArenaLayout kept = layout_arena(plan, 16, {{1, 2}});
    EXPECT_FALSE(shares(kept, 1, 3));
    EXPECT_FALSE(shares(kept, 1, 2));
}
