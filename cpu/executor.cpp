// The CPU executor: folds BN into convs and packs weights at create, lays the plan's
// buffers into one reused arena (liveness over ops), and runs the ops with the kernels
// of cpu/*.cpp. Threads: one model, OpenMP: our kernels and our GEMM split run in our own
// OpenMP regions with `threads`; OpenBLAS is set to 1 thread, so nothing nests.

#include <algorithm>
#include <cmath>

#include "blas.hpp"
#include "arena.hpp"
#include "backends.hpp"
#include "esm/common.hpp"
#include "kernels.hpp"

namespace esm::cpu {

namespace {

struct FloatBuf {  // 64-byte aligned, owned
    float* p = nullptr;
    int64_t n = 0;
    FloatBuf() = default;
    explicit FloatBuf(int64_t count) : p(Tensor::alloc_floats(count)), n(count) {}
    FloatBuf(const FloatBuf&) = delete;
    FloatBuf& operator=(const FloatBuf&) = delete;
    FloatBuf(FloatBuf&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr, o.n = 0; }
    FloatBuf& operator=(FloatBuf&& o) noexcept {
        std::swap(p, o.p);
        std::swap(n, o.n);
        return *this;
    }
    ~FloatBuf() { std::free(p); }
};

// Whether two views share any memory.
bool overlap(const TensorView& x, const TensorView& y) {
    const float* x_end = x.channel(x.n - 1, x.c - 1) + x.plane();
    const float* y_end = y.channel(y.n - 1, y.c - 1) + y.plane();
    return x.data < y_end && y.data < x_end;
}

FloatBuf copy_of(const std::vector<float>& v) {
    FloatBuf b(static_cast<int64_t>(v.size()));
    std::copy(v.begin(), v.end(), b.p);
    return b;
}

enum class Impl { Gemm, Direct, Depthwise, ExpandDw, BnAct, MaxPool, AvgPool, Gap, SE, Add, Linear };

struct Step {
    Impl impl;
    const Op* op;
    TensorView in, in2, out;
    ConvShape conv;
    // packed: conv (Cout, K) + bias; BnAct scale/shift; SE fc1/fc2; ExpandDw: w, bias the
    // 1x1 conv's, w2, b2 the depthwise conv's
    FloatBuf w, bias, w2, b2;
    // ExpandDw: the 1x1 conv's output (its arena slot is never written) and the depthwise
    // conv's shape, see fuse_expand_depthwise
    TensorView mid;
    ConvShape conv2;
    // Gemm: a BnAct fused in front (its scale/shift moved here; pre.scale null: none), see
    // fuse_bn_act_into_gemm
    FloatBuf pre_scale, pre_shift;
    Prologue pre{nullptr, nullptr, Act::None};
    // Gemm: the residual of an Add fused behind it (data null: none), see fuse_residual_add
    TensorView res;
};

class CpuExecutor final : public Executor {
public:
    CpuExecutor(const Plan& plan, const Weights& weights, const ExecutorOptions& o) : plan_(plan), threads_(o.threads) {
        layout();
        for (size_t i = 0; i < plan_.ops.size(); ++i) steps_.push_back(pack(plan_.ops[i], weights.ops[i]));
        fuse_bn_act_into_gemm();
        fuse_expand_depthwise();
        fuse_residual_add();
        int64_t scratch = 0;
        for (const auto& s : steps_) {
            if (s.impl == Impl::Gemm) scratch = std::max(scratch, conv_scratch_floats(s.in, s.out, s.conv, threads_));
            if (s.impl == Impl::Depthwise)
                scratch = std::max(scratch, depthwise_scratch_floats(s.out, s.conv, threads_));
            if (s.impl == Impl::ExpandDw)
                scratch = std::max(scratch, expand_depthwise_scratch_floats(s.mid, s.out, s.in.c, s.conv2, threads_));
            if (s.impl == Impl::Direct) scratch = std::max(scratch, direct_conv_scratch_floats(s.in, s.conv));
            if (s.impl == Impl::SE) scratch = std::max(scratch, int64_t(plan_.batch) * (s.in.c + s.op->se_reduced));
        }
        scratch_ = FloatBuf(scratch);
        // Touch every page once so the first timed run does not pay for page faults.
        std::fill(arena_.p, arena_.p + arena_.n, 0.0f);
        std::fill(scratch_.p, scratch_.p + scratch_.n, 0.0f);
        std::fill(input_.p, input_.p + input_.n, 0.0f);
    }

    void run() override {
        blas::set_threads(1);
        const int t = threads_;
        for (auto& s : steps_) {
            switch (s.impl) {
                case Impl::Gemm:
                    conv_gemm(s.in, s.out, s.w.p, s.bias.p, s.conv, scratch_.p, t, s.pre.scale ? &s.pre : nullptr,
                              s.res.data ? &s.res : nullptr);
                    break;
                case Impl::Direct: direct_conv(s.in, s.out, s.w.p, s.bias.p, s.conv, scratch_.p, t); break;
                case Impl::Depthwise: conv_depthwise(s.in, s.out, s.w.p, s.bias.p, s.conv, scratch_.p, t); break;
                case Impl::ExpandDw:
                    expand_depthwise(s.in, s.mid, s.out, s.w.p, s.bias.p, s.conv.act, s.pre.scale ? &s.pre : nullptr,
                                     s.w2.p, s.b2.p, s.conv2, scratch_.p, t);
                    break;
                case Impl::BnAct: scale_shift_act(s.in, s.out, s.w.p, s.bias.p, s.op->act, t); break;
                case Impl::MaxPool: max_pool(s.in, s.out, s.op->k, s.op->stride, s.op->pad, t); break;
                case Impl::AvgPool: avg_pool(s.in, s.out, s.op->k, s.op->stride, s.op->pad, t); break;
                case Impl::Gap: global_avg_pool(s.in, s.out, t); break;
                case Impl::SE:
                    squeeze_excite(s.in, s.out, s.w.p, s.bias.p, s.w2.p, s.b2.p, s.op->se_reduced, scratch_.p, t);
                    break;
                case Impl::Add: add_act(s.in, s.in2, s.out, s.op->act, t); break;
                case Impl::Linear: linear(s.in, s.out, s.w.p, s.bias.p, s.op->act, t); break;
            }
        }
    }

    TensorView input() override { return view(plan_.input); }
    TensorView output() override { return view(plan_.output); }
    size_t activation_bytes() const override { return size_t(arena_.n + scratch_.n) * sizeof(float); }
    size_t unshared_activation_bytes() const override { return size_t(layout_.unshared) * sizeof(float); }
    size_t weight_bytes() const override {
        size_t n = 0;
        for (const auto& s : steps_) n += size_t(s.w.n + s.bias.n + s.w2.n + s.b2.n);
        return n * sizeof(float);
    }
    Backend backend() const override { return Backend::Cpu; }
    int threads() const override { return threads_; }

private:
    // Every buffer but the input (kept apart so run() can be repeated) in one reused arena
    // (lib/arena: liveness over ops, greedy largest first; the CUDA executor's layout too).
    void layout() {
        // The input of an expansion that may run fused with its depthwise conv lives through
        // the depthwise op (fuse_expand_depthwise reads it while writing the conv's output),
        // that of a conv that may run fused with its residual add through the add.
        std::vector<std::pair<int, int>> keep;
        const std::vector<int> readers = reader_counts();
        for (size_t i = 0; i + 1 < plan_.ops.size(); ++i)
            if (expansion_pair(plan_.ops[i], plan_.ops[i + 1], readers) ||
                residual_pair(plan_.ops[i], plan_.ops[i + 1], readers))
                keep.push_back({plan_.ops[i].in.buf, int(i) + 1});
        layout_ = layout_arena(plan_, 16, keep);
        arena_ = FloatBuf(layout_.total);
        const BufferInfo& ib = plan_.buffers[plan_.input.buf];
        input_ = FloatBuf(int64_t(plan_.batch) * ib.c * ib.h * ib.w);
    }

    TensorView view(const Value& v) const {
        const BufferInfo& b = plan_.buffers[v.buf];
        float* base = v.buf == plan_.input.buf ? input_.p : arena_.p + layout_.offset[v.buf];
        const int64_t plane = int64_t(b.h) * b.w;
        return TensorView{base + v.c_off * plane, plan_.batch, v.c, v.h, v.w, b.c * plane};
    }

    Step pack(const Op& op, const OpWeights& w) {
        Step s;
        s.op = &op;
        s.in = view(op.in);
        s.out = view(op.out);
        if (op.kind == OpKind::Add) s.in2 = view(op.in2);
        switch (op.kind) {
            case OpKind::Conv: {
                if (op.groups < 1 || op.in.c % op.groups || op.out.c % op.groups)
                    throw Error(ErrorKind::InvalidArgument, op.name + ": channels not divisible by groups");
                s.conv = ConvShape{op.k, op.stride, op.pad, op.groups, op.act};
                s.impl = (op.groups == op.in.c && op.groups == op.out.c && op.groups > 1) ? Impl::Depthwise
                                                                                         : Impl::Gemm;
                std::vector<float> wf, bf;
                fold_conv_bn(op, w, &wf, &bf);
                s.w = copy_of(wf);
                s.bias = copy_of(bf);
                if (s.impl == Impl::Gemm && direct_conv_suits(s.in, s.out, s.conv)) {
                    s.impl = Impl::Direct;
                    FloatBuf packed(direct_conv_packed_floats(op.out.c, op.in.c, op.k));
                    direct_conv_pack(s.w.p, op.out.c, op.in.c, op.k, packed.p);
                    s.w = std::move(packed);
                } else if (s.impl == Impl::Gemm && conv_packed(s.conv)) {
                    const int kdim = op.in.c * op.k * op.k;
                    FloatBuf packed(packed_gemm_a_floats(op.out.c, kdim));
                    packed_gemm_pack_a(s.w.p, op.out.c, kdim, packed.p);
                    s.w = std::move(packed);
                }
                break;
            }
            case OpKind::BnAct:
                s.impl = Impl::BnAct;
                {
                    std::vector<float> scale, shift;
                    bn_scale_shift(op, w, &scale, &shift);
                    s.w = copy_of(scale);
                    s.bias = copy_of(shift);
                }
                break;
            case OpKind::Pool: s.impl = op.pool == PoolKind::Max ? Impl::MaxPool : Impl::AvgPool; break;
            case OpKind::GlobalAvgPool: s.impl = Impl::Gap; break;
            case OpKind::SE:
                s.impl = Impl::SE;
                s.w = copy_of(w.se_w1);
                s.bias = copy_of(w.se_b1);
                s.w2 = copy_of(w.se_w2);
                s.b2 = copy_of(w.se_b2);
                break;
            case OpKind::Add: s.impl = Impl::Add; break;
            case OpKind::Linear:
                if (op.in.h != 1 || op.in.w != 1)
                    throw Error(ErrorKind::InvalidArgument, op.name + ": linear input must be (B, F, 1, 1)");
                s.impl = Impl::Linear;
                s.w = copy_of(w.weight);
                s.bias = op.bias ? copy_of(w.bias) : FloatBuf(op.out.c);
                if (!op.bias) std::fill(s.bias.p, s.bias.p + op.out.c, 0.0f);
                break;
        }
        return s;
    }

    // How many ops read each plan buffer.
    std::vector<int> reader_counts() const {
        std::vector<int> readers(plan_.buffers.size(), 0);
        for (const Op& op : plan_.ops) {
            ++readers[size_t(op.in.buf)];
            if (op.kind == OpKind::Add) ++readers[size_t(op.in2.buf)];
        }
        return readers;
    }

    // The plan's side of an ExpandDw pair: g a 1x1 stride-1 ungrouped conv whose output,
    // large enough to be worth it, only d reads, a depthwise conv. layout() keeps g's input
    // alive for every such pair; fuse_expand_depthwise adds what only the steps tell.
    bool expansion_pair(const Op& g, const Op& d, const std::vector<int>& readers) const {
        const TensorView mid{nullptr, plan_.batch, g.out.c, g.out.h, g.out.w, int64_t(g.out.c) * g.out.h * g.out.w};
        return g.kind == OpKind::Conv && g.k == 1 && g.stride == 1 && g.groups == 1 && d.kind == OpKind::Conv &&
               d.groups == d.in.c && d.groups == d.out.c && d.groups > 1 && d.in.buf == g.out.buf &&
               readers[size_t(g.out.buf)] == 1 && expand_depthwise_worth(mid);
    }

    // The plan's side of a residual pair: c a conv without activation whose output only a,
    // an Add, reads. layout() keeps c's input alive through a for every such pair;
    // fuse_residual_add adds what only the steps tell.
    bool residual_pair(const Op& c, const Op& a, const std::vector<int>& readers) const {
        return c.kind == OpKind::Conv && c.groups == 1 && c.act == Act::None && a.kind == OpKind::Add &&
               (a.in.buf == c.out.buf || a.in2.buf == c.out.buf) && readers[size_t(c.out.buf)] == 1 &&
               c.out.buf != plan_.output.buf;
    }

    // Whether b reads exactly a's output and is its only reader (not the plan's output).
    bool sole_reader(const Step& a, const Step& b, const std::vector<int>& readers) const {
        return b.op->in.buf == a.op->out.buf && b.in.data == a.out.data && b.in.c == a.out.c &&
               readers[size_t(a.op->out.buf)] == 1 && a.op->out.buf != plan_.output.buf;
    }

    // A 1x1 stride-1 conv on packed_gemm.
    static bool packed_1x1(const Step& s) {
        return s.impl == Impl::Gemm && conv_packed(s.conv) && s.conv.k == 1 && s.conv.stride == 1 &&
               s.conv.pad == 0;
    }

    // A BnAct whose output only the next op reads, a 1x1 stride-1 conv on packed_gemm,
    // becomes that conv's prologue (applied while packing its input: one pass over the
    // DenseNet unit's growing buffer less per layer). The conv then reads the BnAct's
    // input, so the arena must not have put the conv's output over it.
    void fuse_bn_act_into_gemm() {
        const std::vector<int> readers = reader_counts();
        std::vector<Step> kept;
        for (size_t i = 0; i < steps_.size(); ++i) {
            Step& bn = steps_[i];
            if (i + 1 < steps_.size() && bn.impl == Impl::BnAct) {
                Step& c = steps_[i + 1];
                if (packed_1x1(c) && sole_reader(bn, c, readers) && !overlap(bn.in, c.out)) {
                    c.in = bn.in;
                    c.pre_scale = std::move(bn.w);
                    c.pre_shift = std::move(bn.bias);
                    c.pre = Prologue{c.pre_scale.p, c.pre_shift.p, bn.op->act};
                    continue;  // the BnAct step is dropped
                }
            }
            kept.push_back(std::move(bn));
        }
        steps_ = std::move(kept);
    }

    // A 1x1 stride-1 conv on packed_gemm whose large output only the next op, a depthwise
    // conv, reads: one ExpandDw step (cpu/fused.cpp) that never writes that output. It reads
    // the conv's input while writing the depthwise output, so the two must not share memory
    // (layout() keeps the input alive through the depthwise op for every such pair).
    void fuse_expand_depthwise() {
        const std::vector<int> readers = reader_counts();
        std::vector<Step> kept;
        for (size_t i = 0; i < steps_.size(); ++i) {
            Step& g = steps_[i];
            if (i + 1 < steps_.size() && packed_1x1(g)) {
                Step& d = steps_[i + 1];
                if (d.impl == Impl::Depthwise && expansion_pair(*g.op, *d.op, readers) && sole_reader(g, d, readers) &&
                    g.out.contiguous() && !overlap(g.in, d.out)) {
                    g.impl = Impl::ExpandDw;
                    g.mid = g.out;
                    g.out = d.out;
                    g.conv2 = d.conv;
                    g.w2 = std::move(d.w);
                    g.b2 = std::move(d.bias);
                    kept.push_back(std::move(g));
                    ++i;  // the depthwise step is dropped
                    continue;
                }
            }
            kept.push_back(std::move(g));
        }
        steps_ = std::move(kept);
    }

    // A conv on packed_gemm whose output only the next op, an Add, reads: the conv adds the
    // Add's other input (the block's shortcut) in its epilogue, applies the Add's activation
    // and writes the Add's output; the Add step and one pass over two full tensors and a
    // write of one are gone. Bit-identical: the conv's output was act None, stored as is.
    // The conv reads its input while writing the Add's output (layout() keeps it alive).
    void fuse_residual_add() {
        const std::vector<int> readers = reader_counts();
        std::vector<Step> kept;
        for (size_t i = 0; i < steps_.size(); ++i) {
            Step& c = steps_[i];
            if (i + 1 < steps_.size() && c.impl == Impl::Gemm && conv_packed(c.conv)) {
                Step& a = steps_[i + 1];
                if (a.impl == Impl::Add && residual_pair(*c.op, *a.op, readers)) {
                    const bool first = a.op->in.buf == c.op->out.buf;
                    const TensorView& mine = first ? a.in : a.in2;
                    const TensorView& other = first ? a.in2 : a.in;
                    if (mine.data == c.out.data && mine.c == c.out.c && other.c == c.out.c && other.h == c.out.h &&
                        other.w == c.out.w && !overlap(c.in, a.out)) {
                        c.out = a.out;
                        c.res = other;
                        c.conv.act = a.op->act;
                        kept.push_back(std::move(c));
                        ++i;  // the Add step is dropped
                        continue;
                    }
                }
            }
            kept.push_back(std::move(c));
        }
        steps_ = std::move(kept);
    }

    Plan plan_;
    int threads_;
    std::vector<Step> steps_;
    ArenaLayout layout_;
    FloatBuf arena_, input_, scratch_;
};

}  // namespace

std::unique_ptr<Executor> make_executor(const Plan& plan, const Weights& weights, const ExecutorOptions& options) {
    return std::make_unique<CpuExecutor>(plan, weights, options);
}

}  // namespace esm::cpu
