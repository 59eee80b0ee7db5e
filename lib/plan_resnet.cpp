// ResNet bottleneck family builder (SPEC §2.1): structure only, as plan ops.
#include "esm/common.hpp"
#include "plan_builder.hpp"

namespace esm::detail {

void build_resnet(const Space& s, const Arch& a, PlanBuilder& b, Value x) {
    const int k_idx = s.choice_index("k"), e_idx = s.choice_index("e");
    b.begin_segment("stem", -1, -1, "stem." + shape_key(x));
    x = b.conv("stem.conv", x, s.stem_width, 7, 2, 1, true, Act::ReLU);
    x = b.pool("stem.pool", x, PoolKind::Max, 3, 2, 1);
    b.end_segment();
    for (size_t u = 0; u < s.units.size(); ++u) {
        const int width = s.units[u].width;
        const Act act = s.units[u].act;
        for (size_t i = 0; i < a.units[u].size(); ++i) {
            const BlockChoice& c = a.units[u][i];
            const int stride = i == 0 ? s.units[u].stride : 1;
            const int k = static_cast<int>(choice_value(s, c, k_idx));
            const int mid = make_divisible(width / 4.0 * choice_value(s, c, e_idx));
            const std::string p = "u" + std::to_string(u) + ".b" + std::to_string(i);
            b.begin_segment("block", static_cast<int>(u), static_cast<int>(i),
                            "u" + std::to_string(u) + (i == 0 ? ".first." : ".rest.") + block_label(s, c) + "." +
                                shape_key(x));
            Value shortcut = x;
            if (stride != 1 || x.c != width) shortcut = b.conv(p + ".shortcut", x, width, 1, stride, 1, true, Act::None);
            Value y = b.conv(p + ".conv1", x, mid, 1, 1, 1, true, act);
            y = b.conv(p + ".conv2", y, mid, k, stride, 1, true, act);
            y = b.conv(p + ".conv3", y, width, 1, 1, 1, true, Act::None);
            x = b.add(p + ".add", y, shortcut, act);
            b.end_segment();
        }
    }
    b.begin_segment("head", -1, -1, "head." + shape_key(x));
    x = b.global_avg_pool("head.pool", x);
    b.linear("head.fc", x, s.num_classes, Act::None);
    b.end_segment();
}

}  // namespace esm::detail
