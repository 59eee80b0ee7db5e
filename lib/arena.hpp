// Backend-neutral layout of a plan's activation buffers in one reused arena (liveness
// over ops, greedy largest first). Offsets only; not an allocator (the executor owns
// the memory: host for cpu/, device for cuda/).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "esm/plan.hpp"

namespace esm {

struct ArenaLayout {
    std::vector<int64_t> offset;  // per plan buffer, in floats; -1 for the input / unused
    int64_t total = 0;            // floats the arena needs
    int64_t unshared = 0;         // floats without reuse (every buffer but the input)
};

// Every buffer but the input (kept apart so run() can be repeated). Sizes are rounded
// up to `align_floats` so every buffer starts aligned. `keep`: pairs (buffer, op index)
// whose buffer must stay alive through that op too (an executor that runs two ops as one).
ArenaLayout layout_arena(const Plan& plan, int64_t align_floats = 16,
                         const std::vector<std::pair<int, int>>& keep = {});

}  // namespace esm
