// Internal helper shared by the family builders: appends ops with inferred shapes.
// Not public API; families describe structure, this only does the bookkeeping.
#pragma once
#include <string>

#include "esm/plan.hpp"

namespace esm::detail {

class PlanBuilder {
public:
    PlanBuilder(Plan& p) : p_(p) {}

    Value buffer(int c, int h, int w);
    void begin_segment(const std::string& kind, int unit, int block, const std::string& key);
    void end_segment();

    // Conv k x k / stride, padding k/2, into a new buffer (or `into` when given).
    Value conv(const std::string& name, const Value& in, int cout, int k, int stride, int groups, bool bn, Act act,
               bool bias = false, const Value* into = nullptr);
    Value bn_act(const std::string& name, const Value& in, Act act);
    Value pool(const std::string& name, const Value& in, PoolKind kind, int k, int stride, int pad,
               const Value* into = nullptr);
    Value global_avg_pool(const std::string& name, const Value& in);
    Value se(const std::string& name, const Value& in, int reduced);
    Value add(const std::string& name, const Value& a, const Value& b, Act act);
    Value linear(const std::string& name, const Value& in, int out, Act act);

private:
    Op& push(OpKind kind, const std::string& name, const Value& in);
    Plan& p_;
};

// SPEC §2: make_divisible(v) = max(8, floor((v + 4) / 8) * 8), plus 8 if that is < 0.9 v.
int make_divisible(double v);

void build_resnet(const Space& s, const Arch& a, PlanBuilder& b, Value x);
void build_mobilenetv3(const Space& s, const Arch& a, PlanBuilder& b, Value x);
void build_densenet(const Space& s, const Arch& a, PlanBuilder& b, Value x);

// "256x56x56": a value's per-sample shape, for segment keys.
inline std::string shape_key(const Value& v) {
    return std::to_string(v.c) + "x" + std::to_string(v.h) + "x" + std::to_string(v.w);
}

// "k3e67" for a block's choices (the canonical text of one block).
std::string block_label(const Space& s, const BlockChoice& c);

}  // namespace esm::detail
