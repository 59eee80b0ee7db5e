// Plan bookkeeping: op shapes, params and MACs (SPEC §2.4), and the dispatch to the
// family builders (plan_resnet.cpp, plan_mobilenetv3.cpp, plan_densenet.cpp).
#include "esm/plan.hpp"

#include <cmath>
#include <initializer_list>
#include <sstream>
#include <utility>

#include "esm/common.hpp"
#include "plan_builder.hpp"

namespace esm {

const char* op_kind_name(OpKind k) {
    switch (k) {
        case OpKind::Conv: return "conv";
        case OpKind::BnAct: return "bn_act";
        case OpKind::Pool: return "pool";
        case OpKind::GlobalAvgPool: return "global_avg_pool";
        case OpKind::SE: return "se";
        case OpKind::Add: return "add";
        case OpKind::Linear: return "linear";
    }
    return "?";
}

namespace {

// Sums and products of counts, refused past 64 bits (a legal description of absurd widths
// and resolutions can get there) rather than wrapped to a negative count.
[[noreturn]] void count_overflow() {
    throw Error(ErrorKind::InvalidArgument, "the network's params or MACs exceed 64 bits (widths or resolution too large)");
}

int64_t product(std::initializer_list<int64_t> factors) {
    int64_t p = 1;
    for (int64_t f : factors)
        if (__builtin_mul_overflow(p, f, &p)) count_overflow();
    return p;
}

int64_t sum(std::initializer_list<int64_t> terms) {
    int64_t s = 0;
    for (int64_t t : terms)
        if (__builtin_add_overflow(s, t, &s)) count_overflow();
    return s;
}

}  // namespace

int64_t Op::params() const {
    switch (kind) {
        case OpKind::Conv:
            return sum({product({out.c, in.c / groups, k, k}), bias ? out.c : 0, bn ? 2 * int64_t(out.c) : 0});
        case OpKind::BnAct: return 2 * int64_t(in.c);
        case OpKind::SE: return sum({product({2, in.c, se_reduced}), se_reduced, in.c});
        case OpKind::Linear: return sum({product({in.c, out.c}), bias ? out.c : 0});
        default: return 0;
    }
}

int64_t Op::macs(int batch) const {
    switch (kind) {
        case OpKind::Conv: return product({batch, out.c, out.h, out.w, in.c / groups, k, k});
        case OpKind::SE: return product({batch, 2, in.c, se_reduced});
        case OpKind::Linear: return product({batch, in.c, out.c});
        default: return 0;
    }
}

std::string Op::describe() const {
    std::ostringstream o;
    auto shape = [](const Value& v) {
        return std::to_string(v.c) + "x" + std::to_string(v.h) + "x" + std::to_string(v.w);
    };
    o << name << ' ' << op_kind_name(kind) << ' ' << shape(in);
    if (kind == OpKind::Add) o << " + " << shape(in2);
    o << " -> " << shape(out);
    if (kind == OpKind::Conv || kind == OpKind::Pool) o << " k" << k << " s" << stride << " p" << pad;
    if (kind == OpKind::Conv && groups > 1) o << " g" << groups;
    if (kind == OpKind::Pool) o << (pool == PoolKind::Max ? " max" : " avg");
    if (kind == OpKind::SE) o << " r" << se_reduced;
    if (bias) o << " bias";
    if (bn) o << " bn";
    if (act != Act::None) o << ' ' << act_name(act);
    return o.str();
}

int64_t Plan::params() const {
    int64_t n = 0;
    for (const auto& op : ops) n = sum({n, op.params()});
    return n;
}

int64_t Plan::macs() const {
    int64_t n = 0;
    for (const auto& op : ops) n = sum({n, op.macs(batch)});
    return n;
}

namespace detail {

int make_divisible(double v) {
    // SPEC §2's formula is on the real value of v = width / 4 * e (ResNet) or Cin * e
    // (MobileNetV3). v comes from a double product: 1440 / 4 * 0.7 is 251.99999999999997,
    // not 252, and a bare floor put it one step of 8 lower (248 channels, the formula's
    // 256). A relative hair absorbs that rounding both at the floor and at the 0.9 v
    // comparison (v = 80/9 is exactly 0.9 v = 8: no +8); the values of a space description
    // are decimals and small fractions, never within 1e-12 of a boundary but by rounding.
    constexpr double kHair = 1e-12;
    int r = std::max(8, static_cast<int>(std::floor((v + 4) / 8 * (1 + kHair))) * 8);
    if (r < 0.9 * v * (1 - kHair)) r += 8;
    return r;
}

std::string block_label(const Space& s, const BlockChoice& c) {
    std::string t;
    for (size_t i = 0; i < s.choices.size(); ++i) t += s.choices[i].name + s.choices[i].labels[c[i]];
    return t;
}

Value PlanBuilder::buffer(int c, int h, int w) {
    if (c < 1 || h < 1 || w < 1)
        throw Error(ErrorKind::InvalidArgument, "network does not fit the input: a feature map would be " +
                                                    std::to_string(c) + "x" + std::to_string(h) + "x" +
                                                    std::to_string(w) + " (resolution " + std::to_string(p_.res) +
                                                    " too small?)");
    p_.buffers.push_back({c, h, w});
    return Value{static_cast<int>(p_.buffers.size()) - 1, 0, c, h, w};
}

void PlanBuilder::begin_segment(const std::string& kind, int unit, int block, const std::string& key) {
    Segment s;
    s.kind = kind;
    s.unit = unit;
    s.block = block;
    s.key = key;
    s.first_op = s.end_op = static_cast<int>(p_.ops.size());
    p_.segments.push_back(std::move(s));
}

void PlanBuilder::end_segment() { p_.segments.back().end_op = static_cast<int>(p_.ops.size()); }

Op& PlanBuilder::push(OpKind kind, const std::string& name, const Value& in) {
    Op op;
    op.kind = kind;
    op.name = name;
    op.segment = static_cast<int>(p_.segments.size()) - 1;
    op.in = in;
    p_.ops.push_back(std::move(op));
    return p_.ops.back();
}

static int out_size(int x, int k, int s, int p) { return x + 2 * p < k ? 0 : (x + 2 * p - k) / s + 1; }

Value PlanBuilder::conv(const std::string& name, const Value& in, int cout, int k, int stride, int groups, bool bn,
                        Act act, bool bias, const Value* into) {
    const int pad = k / 2;
    Value out = into ? *into : buffer(cout, out_size(in.h, k, stride, pad), out_size(in.w, k, stride, pad));
    Op& op = push(OpKind::Conv, name, in);
    op.out = out;
    op.k = k;
    op.stride = stride;
    op.pad = pad;
    op.groups = groups;
    op.bn = bn;
    op.act = act;
    op.bias = bias;
    return out;
}

Value PlanBuilder::bn_act(const std::string& name, const Value& in, Act act) {
    Value out = buffer(in.c, in.h, in.w);
    Op& op = push(OpKind::BnAct, name, in);
    op.out = out;
    op.act = act;
    return out;
}

Value PlanBuilder::pool(const std::string& name, const Value& in, PoolKind kind, int k, int stride, int pad,
                        const Value* into) {
    Value out = into ? *into : buffer(in.c, out_size(in.h, k, stride, pad), out_size(in.w, k, stride, pad));
    Op& op = push(OpKind::Pool, name, in);
    op.out = out;
    op.pool = kind;
    op.k = k;
    op.stride = stride;
    op.pad = pad;
    return out;
}

Value PlanBuilder::global_avg_pool(const std::string& name, const Value& in) {
    Value out = buffer(in.c, 1, 1);
    push(OpKind::GlobalAvgPool, name, in).out = out;
    return out;
}

Value PlanBuilder::se(const std::string& name, const Value& in, int reduced) {
    Value out = buffer(in.c, in.h, in.w);
    Op& op = push(OpKind::SE, name, in);
    op.out = out;
    op.se_reduced = reduced;
    return out;
}

Value PlanBuilder::add(const std::string& name, const Value& a, const Value& b, Act act) {
    Value out = buffer(a.c, a.h, a.w);
    Op& op = push(OpKind::Add, name, a);
    op.in2 = b;
    op.out = out;
    op.act = act;
    return out;
}

Value PlanBuilder::linear(const std::string& name, const Value& in, int out_features, Act act) {
    Value out = buffer(out_features, 1, 1);
    Op& op = push(OpKind::Linear, name, in);
    op.out = out;
    op.bias = true;
    op.act = act;
    return out;
}

}  // namespace detail

Plan build_plan(const Space& space, const Arch& arch, int batch, int res) {
    validate_arch(space, arch);
    if (batch < 1 || batch > 4096) throw Error(ErrorKind::InvalidArgument, "batch must be 1..4096");
    Plan p;
    p.batch = batch;
    p.res = res ? res : arch.res;
    if (p.res < 8 || p.res > 4096) throw Error(ErrorKind::InvalidArgument, "resolution must be 8..4096");
    // About 6 ops and buffers per block plus stem and head: reserve once.
    const size_t guess = 6 * static_cast<size_t>(arch.depth()) + 24;
    p.ops.reserve(guess);
    p.buffers.reserve(guess);
    p.segments.reserve(static_cast<size_t>(arch.depth()) + 8);
    detail::PlanBuilder b(p);
    p.input = b.buffer(3, p.res, p.res);
    switch (space.family) {
        case Family::ResNet: detail::build_resnet(space, arch, b, p.input); break;
        case Family::MobileNetV3: detail::build_mobilenetv3(space, arch, b, p.input); break;
        case Family::DenseNet: detail::build_densenet(space, arch, b, p.input); break;
    }
    p.output = p.ops.back().out;
    return p;
}

namespace {

bool same_value(const Value& a, const Value& b) {
    return a.buf == b.buf && a.c_off == b.c_off && a.c == b.c && a.h == b.h && a.w == b.w;
}

}  // namespace

Plan extract_segment(const Plan& plan, int segment) {
    if (segment < 0 || segment >= static_cast<int>(plan.segments.size()))
        throw Error(ErrorKind::InvalidArgument, "extract_segment: segment " + std::to_string(segment) +
                                                    " out of range (the plan has " +
                                                    std::to_string(plan.segments.size()) + ")");
    const Segment& seg = plan.segments[static_cast<size_t>(segment)];
    // A read is from outside when no earlier op of the segment wrote an overlapping slice
    // of its buffer (a dense layer writes its own slice of the buffer it reads a prefix of).
    std::vector<Value> written, outside;
    auto note_read = [&](const Value& v) {
        for (const Value& w : written)
            if (w.buf == v.buf && w.c_off < v.c_off + v.c && v.c_off < w.c_off + w.c) return;
        for (const Value& o : outside)
            if (same_value(o, v)) return;
        outside.push_back(v);
    };
    for (int i = seg.first_op; i < seg.end_op; ++i) {
        const Op& op = plan.ops[static_cast<size_t>(i)];
        note_read(op.in);
        if (op.kind == OpKind::Add) note_read(op.in2);
        written.push_back(op.out);
    }
    if (outside.size() != 1)
        throw Error(ErrorKind::InvalidArgument, "extract_segment: segment '" + seg.key + "' reads " +
                                                    std::to_string(outside.size()) +
                                                    " values from outside; a standalone plan needs exactly one");
    Plan p;
    p.batch = plan.batch;
    p.res = plan.res;
    std::vector<int> remap(plan.buffers.size(), -1);
    auto map = [&](Value v) {
        int& to = remap[static_cast<size_t>(v.buf)];
        if (to < 0) {
            to = static_cast<int>(p.buffers.size());
            p.buffers.push_back(plan.buffers[static_cast<size_t>(v.buf)]);
        }
        v.buf = to;
        return v;
    };
    p.input = map(outside[0]);
    for (int i = seg.first_op; i < seg.end_op; ++i) {
        Op op = plan.ops[static_cast<size_t>(i)];
        op.segment = 0;
        op.in = map(op.in);
        if (op.kind == OpKind::Add) op.in2 = map(op.in2);
        op.out = map(op.out);
        p.ops.push_back(std::move(op));
    }
    p.output = p.ops.back().out;
    Segment s = seg;
    s.first_op = 0;
    s.end_op = static_cast<int>(p.ops.size());
    p.segments.push_back(s);
    return p;
}

}  // namespace esm
