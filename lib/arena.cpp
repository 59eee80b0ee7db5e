// The liveness-based arena layout of lib/arena.hpp, used by the CPU and CUDA executors.
// Not an allocator.
#include "arena.hpp"

#include <algorithm>
#include <climits>
#include <utility>

namespace esm {

ArenaLayout layout_arena(const Plan& plan, int64_t align, const std::vector<std::pair<int, int>>& keep) {
    const int nb = static_cast<int>(plan.buffers.size());
    std::vector<int> first(nb, INT_MAX), last(nb, -1);
    for (int i = 0; i < static_cast<int>(plan.ops.size()); ++i) {
        const Op& op = plan.ops[i];
        first[op.out.buf] = std::min(first[op.out.buf], i);
        last[op.in.buf] = std::max(last[op.in.buf], i);
        if (op.kind == OpKind::Add) last[op.in2.buf] = std::max(last[op.in2.buf], i);
    }
    for (const auto& [buf, op] : keep) last[buf] = std::max(last[buf], op);
    last[plan.output.buf] = static_cast<int>(plan.ops.size());
    ArenaLayout a;
    std::vector<int64_t> size(nb);
    for (int b = 0; b < nb; ++b) {
        const BufferInfo& bi = plan.buffers[b];
        size[b] = (int64_t(plan.batch) * bi.c * bi.h * bi.w + align - 1) / align * align;
        if (b != plan.input.buf) a.unshared += size[b];
        last[b] = std::max(last[b], first[b]);
    }
    std::vector<int> order;
    for (int b = 0; b < nb; ++b)
        if (b != plan.input.buf && first[b] != INT_MAX) order.push_back(b);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return size[x] > size[y]; });
    a.offset.assign(nb, -1);
    std::vector<int> placed;
    for (int b : order) {
        std::vector<std::pair<int64_t, int64_t>> busy;
        for (int o : placed)
            if (first[o] <= last[b] && first[b] <= last[o]) busy.push_back({a.offset[o], a.offset[o] + size[o]});
        std::sort(busy.begin(), busy.end());
        int64_t at = 0;
        for (const auto& r : busy) {
            if (at + size[b] <= r.first) break;
            at = std::max(at, r.second);
        }
        a.offset[b] = at;
        a.total = std::max(a.total, at + size[b]);
        placed.push_back(b);
    }
    return a;
}

}  // namespace esm
