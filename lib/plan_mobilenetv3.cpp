// MobileNetV3 (MBConv) family builder (SPEC §2.2, and OFA's variant with a fixed
// first block and elastic resolution): structure only, as plan ops.
#include "esm/common.hpp"
#include "plan_builder.hpp"

namespace esm::detail {

// One MBConv: [1x1 expand] -> depthwise k x k / stride -> [SE] -> 1x1 project [+ input].
// An expand ratio of 1 has no expand conv (MobileNetV3's convention).
static Value mbconv(PlanBuilder& b, const std::string& p, Value x, int out, int k, int stride, double expand, Act act,
                    bool se) {
    Value y = x;
    int hidden = x.c;
    if (expand != 1.0) {
        hidden = make_divisible(x.c * expand);
        y = b.conv(p + ".expand", y, hidden, 1, 1, 1, true, act);
    }
    y = b.conv(p + ".dw", y, hidden, k, stride, hidden, true, act);
    if (se) y = b.se(p + ".se", y, make_divisible(hidden / 4.0));
    y = b.conv(p + ".project", y, out, 1, 1, 1, true, Act::None);
    if (stride == 1 && x.c == out) y = b.add(p + ".add", y, x, Act::None);
    return y;
}

void build_mobilenetv3(const Space& s, const Arch& a, PlanBuilder& b, Value x) {
    const int k_idx = s.choice_index("k"), e_idx = s.choice_index("e");
    b.begin_segment("stem", -1, -1, "stem." + shape_key(x));
    x = b.conv("stem.conv", x, s.stem_width, 3, 2, 1, true, Act::HSwish);
    if (s.first_block_width) x = mbconv(b, "stem.block", x, s.first_block_width, 3, 1, 1.0, Act::ReLU, false);
    b.end_segment();
    for (size_t u = 0; u < s.units.size(); ++u) {
        const UnitSpec& us = s.units[u];
        for (size_t i = 0; i < a.units[u].size(); ++i) {
            const BlockChoice& c = a.units[u][i];
            b.begin_segment("block", static_cast<int>(u), static_cast<int>(i),
                            "u" + std::to_string(u) + (i == 0 ? ".first." : ".rest.") + block_label(s, c) + "." +
                                shape_key(x));
            x = mbconv(b, "u" + std::to_string(u) + ".b" + std::to_string(i), x, us.width,
                       static_cast<int>(choice_value(s, c, k_idx)), i == 0 ? us.stride : 1, choice_value(s, c, e_idx),
                       us.act, us.se);
            b.end_segment();
        }
    }
    b.begin_segment("head", -1, -1, "head." + shape_key(x));
    x = b.conv("head.conv", x, s.head_widths[0], 1, 1, 1, true, Act::HSwish);
    x = b.global_avg_pool("head.pool", x);
    x = b.linear("head.fc1", x, s.head_widths[1], Act::HSwish);
    b.linear("head.fc2", x, s.num_classes, Act::None);
    b.end_segment();
}

}  // namespace esm::detail
