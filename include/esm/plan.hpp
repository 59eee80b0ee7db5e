// The backend-neutral network plan (STYLE: one source of truth): a family builder turns
// an architecture into ops with shapes. Params, MACs, the executors, the lookup table
// and the parameter dump all read this; nothing here computes tensors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "esm/arch.hpp"
#include "esm/space.hpp"

namespace esm {

enum class OpKind {
    Conv,           // in (B,Cin,H,W) -> out (B,Cout,Ho,Wo); optional bias, BN, act
    BnAct,          // per-channel BN then act (DenseNet pre-activation); in.c == out.c
    Pool,           // max or avg, window k, stride, pad (avg divides by the full window)
    GlobalAvgPool,  // (B,C,H,W) -> (B,C,1,1)
    SE,             // squeeze-excite: out = in * hsigmoid(W2 relu(W1 gap(in) + b1) + b2)
    Add,            // out = act(in + in2)
    Linear,         // (B,F,1,1) -> (B,O,1,1), bias, act
};
enum class PoolKind { Max, Avg };
const char* op_kind_name(OpKind k);

// A view of channels [c_off, c_off + c) of buffer `buf` (shape (B, buffers[buf].c, h, w)).
// Only DenseNet unit buffers are viewed partially: each dense layer reads a channel
// prefix and writes its own slice, which is concatenation without copying.
struct Value {
    int buf = -1;
    int c_off = 0;
    int c = 0;
    int h = 0;
    int w = 0;
};

struct BufferInfo {
    int c = 0, h = 0, w = 0;  // per-sample shape; the batch is Plan::batch
};

struct Op {
    OpKind kind = OpKind::Conv;
    std::string name;  // unique, dotted, e.g. "u1.b0.expand"
    int segment = -1;  // index into Plan::segments
    Value in, in2, out;
    int k = 1, stride = 1, pad = 0, groups = 1;  // Conv, Pool
    bool bias = false;  // Conv, Linear: own bias
    bool bn = false;    // Conv: followed by BN (foldable into the conv)
    Act act = Act::None;  // Conv, BnAct, Add, Linear: applied last
    PoolKind pool = PoolKind::Max;
    int se_reduced = 0;  // SE: squeeze width r

    int64_t params() const;            // SPEC §2.4
    int64_t macs(int batch) const;     // SPEC §2.4
    std::string describe() const;      // one line: kind, shapes, attributes
};

// A group of consecutive ops the lookup table profiles as one unit: the stem, one
// block (or dense layer), a transition, the head.
struct Segment {
    std::string kind;  // "stem" | "block" | "transition" | "head"
    int unit = -1, block = -1;
    std::string key;   // identical keys = identical computation at identical input shape
    int first_op = 0, end_op = 0;  // ops [first_op, end_op)
};

struct Plan {
    int batch = 1, res = 224;
    std::vector<BufferInfo> buffers;
    std::vector<Op> ops;
    std::vector<Segment> segments;
    Value input, output;  // input (B,3,R,R); output (B,classes,1,1) (a segment plan: see extract_segment)

    int64_t params() const;
    int64_t macs() const;
    // Buffers are single-writer except DenseNet unit buffers, written slice by slice.
    // Ops are in execution order; each op reads only values written by earlier ops.
};

// Builds the plan of `arch` in `space` at batch `batch`; res 0 = the arch's resolution.
// Throws esm::Error when the network does not fit (e.g. a resolution that shrinks to 0).
Plan build_plan(const Space& space, const Arch& arch, int batch = 1, int res = 0);

// A standalone plan of plan.segments[segment] (what the lookup table profiles): only that
// segment's ops at their real shapes, its buffers renumbered (real shapes kept, so a
// DenseNet layer still reads a channel prefix of its full unit buffer with the same
// strides), input = the one value the segment reads from outside (for a dense layer the
// unit buffer's channel prefix; not necessarily 3 channels), output = its last write, one
// segment. batch and res are the parent's. Throws esm::Error for a bad index, or when the
// segment reads more than one outside value (no builder makes such a segment).
Plan extract_segment(const Plan& plan, int segment);

}  // namespace esm
