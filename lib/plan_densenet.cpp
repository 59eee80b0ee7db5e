// DenseNet family builder (SPEC §2.3): structure only, as plan ops. Each unit owns one
// pre-sized buffer; every dense layer reads its channel prefix and writes its own slice.
#include "esm/common.hpp"
#include "plan_builder.hpp"

namespace esm::detail {

void build_densenet(const Space& s, const Arch& a, PlanBuilder& b, Value x) {
    const int k_idx = s.choice_index("k");
    const int g = s.growth;
    b.begin_segment("stem", -1, -1, "stem." + shape_key(x));
    x = b.conv("stem.conv", x, s.stem_width, 7, 2, 1, true, Act::ReLU);
    // The stem's pool writes straight into unit 0's buffer.
    auto unit_buffer = [&](size_t u, int c_in, int h, int w) {
        return b.buffer(c_in + static_cast<int>(a.units[u].size()) * g, h, w);
    };
    const int ph = (x.h + 2 - 3) / 2 + 1, pw = (x.w + 2 - 3) / 2 + 1;
    Value unit = unit_buffer(0, x.c, ph, pw);
    Value head_in = unit;
    Value slice{unit.buf, 0, x.c, ph, pw};
    b.pool("stem.pool", x, PoolKind::Max, 3, 2, 1, &slice);
    b.end_segment();
    int c = s.stem_width;
    for (size_t u = 0; u < s.units.size(); ++u) {
        const int k = static_cast<int>(choice_value(s, a.units[u].front(), k_idx));
        const std::string pu = "u" + std::to_string(u);
        const Act act = s.units[u].act;
        for (size_t l = 0; l < a.units[u].size(); ++l) {
            const std::string p = pu + ".l" + std::to_string(l);
            Value in{unit.buf, 0, c, unit.h, unit.w};
            b.begin_segment("block", static_cast<int>(u), static_cast<int>(l),
                            pu + ".l" + std::to_string(l) + "." + block_label(s, a.units[u][l]) + "." + shape_key(in));
            Value t = b.bn_act(p + ".norm1", in, act);
            t = b.conv(p + ".conv1", t, s.bottleneck, 1, 1, 1, true, act);
            Value out{unit.buf, c, g, unit.h, unit.w};
            b.conv(p + ".conv2", t, g, k, 1, 1, false, Act::None, false, &out);
            b.end_segment();
            c += g;
        }
        Value full{unit.buf, 0, c, unit.h, unit.w};
        head_in = full;
        if (u + 1 < s.units.size()) {
            b.begin_segment("transition", static_cast<int>(u), -1, pu + ".transition." + shape_key(full));
            Value t = b.bn_act(pu + ".transition.norm", full, act);
            t = b.conv(pu + ".transition.conv", t, c / 2, 1, 1, 1, false, Act::None);
            c /= 2;
            Value next = unit_buffer(u + 1, c, t.h / 2, t.w / 2);
            Value dst{next.buf, 0, c, next.h, next.w};
            b.pool(pu + ".transition.pool", t, PoolKind::Avg, 2, 2, 0, &dst);
            b.end_segment();
            unit = next;
        }
    }
    b.begin_segment("head", -1, -1, "head." + shape_key(head_in));
    x = b.bn_act("head.norm", head_in, Act::ReLU);
    x = b.global_avg_pool("head.pool", x);
    b.linear("head.fc", x, s.num_classes, Act::None);
    b.end_segment();
}

}  // namespace esm::detail
