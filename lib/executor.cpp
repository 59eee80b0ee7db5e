// The backend facade of Executor::create: picks the backend the options ask for.
// Not an executor itself (cpu/executor.cpp, cuda/executor.cpp or cuda/stub.cpp).
#include "esm/executor.hpp"

#include <chrono>

#include "backends.hpp"
#include "cpu_threads.hpp"
#include "esm/common.hpp"
#include "esm/cuda.hpp"

namespace esm {

const char* backend_name(Backend b) { return b == Backend::Cpu ? "cpu" : "cuda"; }

Backend parse_backend(const std::string& s) {
    if (s == "cpu") return Backend::Cpu;
    if (s == "cuda") return Backend::Cuda;
    throw Error(ErrorKind::InvalidArgument, "unknown backend '" + s + "' (expected cpu or cuda)");
}

double Executor::timed_run_ms() {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

namespace {

// Every tensor an executor reads of op i must have the size the op's shape gives: weights
// made for another plan with as many ops (another architecture, another space's widths)
// were folded and packed past their ends (heap corruption) instead of being refused.
void check_op_weights(const Op& op, const OpWeights& w) {
    auto need = [&](const char* what, const std::vector<float>& v, int64_t n) {
        if (int64_t(v.size()) != n)
            throw Error(ErrorKind::InvalidArgument, "weights do not belong to this plan: op '" + op.name + "' " + what +
                                                        " has " + std::to_string(v.size()) + " values, expected " +
                                                        std::to_string(n));
    };
    auto need_bn = [&](int64_t c) {
        need("bn gamma", w.bn_gamma, c);
        need("bn beta", w.bn_beta, c);
        need("bn running mean", w.bn_mean, c);
        need("bn running var", w.bn_var, c);
    };
    switch (op.kind) {
        case OpKind::Conv:
            if (op.groups < 1) return;  // the backend refuses the op itself
            need("weight", w.weight, int64_t(op.out.c) * (op.in.c / op.groups) * op.k * op.k);
            if (op.bias) need("bias", w.bias, op.out.c);
            if (op.bn) need_bn(op.out.c);
            break;
        case OpKind::BnAct: need_bn(op.in.c); break;
        case OpKind::SE:
            need("se fc1 weight", w.se_w1, int64_t(op.se_reduced) * op.in.c);
            need("se fc1 bias", w.se_b1, op.se_reduced);
            need("se fc2 weight", w.se_w2, int64_t(op.in.c) * op.se_reduced);
            need("se fc2 bias", w.se_b2, op.in.c);
            break;
        case OpKind::Linear:
            need("weight", w.weight, int64_t(op.out.c) * op.in.c);
            if (op.bias) need("bias", w.bias, op.out.c);
            break;
        default: break;
    }
}

// The plan's structure as the kernels rely on it: every value inside an existing buffer,
// every op's output shape what its input shape and attributes give. A plan is a public
// struct; one edited by hand (a buffer index past the end, a channel slice past its buffer)
// was read and written out of bounds, though create is documented to validate it.
void check_plan(const Plan& plan) {
    auto bad = [](const std::string& where, const std::string& what) {
        throw Error(ErrorKind::InvalidArgument, "bad plan: " + where + ": " + what);
    };
    if (plan.batch < 1) bad("plan", "batch " + std::to_string(plan.batch) + " < 1");
    if (plan.ops.empty()) bad("plan", "no ops");
    for (size_t i = 0; i < plan.buffers.size(); ++i) {
        const BufferInfo& b = plan.buffers[i];
        if (b.c < 1 || b.h < 1 || b.w < 1) bad("buffer " + std::to_string(i), "empty shape");
    }
    auto value = [&](const std::string& where, const Value& v) {
        if (v.buf < 0 || v.buf >= int(plan.buffers.size()))
            bad(where, "buffer " + std::to_string(v.buf) + " does not exist (the plan has " +
                           std::to_string(plan.buffers.size()) + ")");
        const BufferInfo& b = plan.buffers[size_t(v.buf)];
        if (v.c < 1 || v.c_off < 0 || int64_t(v.c_off) + v.c > b.c || v.h != b.h || v.w != b.w)
            bad(where, "channels [" + std::to_string(v.c_off) + ", " + std::to_string(int64_t(v.c_off) + v.c) + ") of " +
                           std::to_string(v.h) + "x" + std::to_string(v.w) + " outside buffer " +
                           std::to_string(v.buf) + " (" + std::to_string(b.c) + "x" + std::to_string(b.h) + "x" +
                           std::to_string(b.w) + ")");
    };
    value("input", plan.input);
    value("output", plan.output);
    // Each op reads only the input or what an earlier op wrote (plan.hpp): a buffer no op
    // writes has no place in the arena (offset -1), and a view of it lies before the arena.
    std::vector<char> written(plan.buffers.size(), 0);
    written[size_t(plan.input.buf)] = 1;
    auto read = [&](const std::string& where, const Value& v) {
        value(where, v);
        if (!written[size_t(v.buf)])
            bad(where, "buffer " + std::to_string(v.buf) + " is read before any op writes it");
    };
    for (const Op& op : plan.ops) {
        const std::string at = "op '" + op.name + "'";
        read(at + " input", op.in);
        if (op.kind == OpKind::Add) read(at + " second input", op.in2);
        value(at + " output", op.out);
        const auto out_is = [&](int c, int h, int w) {
            if (op.out.c != c || op.out.h != h || op.out.w != w)
                bad(at, "output " + std::to_string(op.out.c) + "x" + std::to_string(op.out.h) + "x" +
                            std::to_string(op.out.w) + ", its input and attributes give " + std::to_string(c) + "x" +
                            std::to_string(h) + "x" + std::to_string(w));
        };
        const auto window = [&](int x) { return (x + 2 * op.pad - op.k) / op.stride + 1; };
        switch (op.kind) {
            case OpKind::Conv:
            case OpKind::Pool:
                if (op.k < 1 || op.stride < 1 || op.pad < 0 || op.pad >= op.k || op.in.h + 2 * op.pad < op.k ||
                    op.in.w + 2 * op.pad < op.k)
                    bad(at, "kernel " + std::to_string(op.k) + ", stride " + std::to_string(op.stride) + ", pad " +
                                std::to_string(op.pad) + " do not fit its input");
                if (op.kind == OpKind::Conv) {
                    if (op.groups < 1 || op.in.c % op.groups || op.out.c % op.groups)
                        bad(at, "channels not divisible by groups");
                    out_is(op.out.c, window(op.in.h), window(op.in.w));
                } else {
                    out_is(op.in.c, window(op.in.h), window(op.in.w));
                }
                break;
            case OpKind::GlobalAvgPool: out_is(op.in.c, 1, 1); break;
            case OpKind::BnAct: out_is(op.in.c, op.in.h, op.in.w); break;
            case OpKind::SE:
                if (op.se_reduced < 1) bad(at, "squeeze width < 1");
                out_is(op.in.c, op.in.h, op.in.w);
                break;
            case OpKind::Add:
                if (op.in2.c != op.in.c || op.in2.h != op.in.h || op.in2.w != op.in.w)
                    bad(at, "inputs of different shapes");
                out_is(op.in.c, op.in.h, op.in.w);
                break;
            case OpKind::Linear:
                if (op.in.h != 1 || op.in.w != 1) bad(at, "linear input must be (B, F, 1, 1)");
                out_is(op.out.c, 1, 1);
                break;
        }
        written[size_t(op.out.buf)] = 1;
    }
    if (!written[size_t(plan.output.buf)])
        bad("output", "buffer " + std::to_string(plan.output.buf) + " is written by no op");
}

// The options and the plan, checked before anything reads the plan's shapes.
void check_request(const Plan& plan, const ExecutorOptions& options) {
    if (options.threads < 1 || options.threads > 1024)
        throw Error(ErrorKind::InvalidArgument, "threads must be 1..1024, got " + std::to_string(options.threads));
    if (options.backend == Backend::Cpu) detail::check_cpu_threads(options.threads);
    check_plan(plan);
}

// After check_request: the weights checked against the plan, then the backend's executor.
std::unique_ptr<Executor> make_checked(const Plan& plan, const Weights& weights, const ExecutorOptions& options) {
    if (weights.ops.size() != plan.ops.size())
        throw Error(ErrorKind::InvalidArgument, "weights do not belong to this plan (op count differs)");
    for (size_t i = 0; i < plan.ops.size(); ++i) check_op_weights(plan.ops[i], weights.ops[i]);
    switch (options.backend) {
        case Backend::Cpu: return cpu::make_executor(plan, weights, options);
        case Backend::Cuda: return cuda::make_executor(plan, weights, options);
    }
    throw Error(ErrorKind::InvalidArgument, "unknown backend");
}

}  // namespace

std::unique_ptr<Executor> Executor::create(const Plan& plan, const Weights& weights, const ExecutorOptions& options) {
    check_request(plan, options);
    return make_checked(plan, weights, options);
}

std::unique_ptr<Executor> Executor::create(const Plan& plan, const ExecutorOptions& options) {
    check_request(plan, options);  // once, and before make_weights reads the ops' shapes
    return make_checked(plan, make_weights(plan, options.seed), options);
}

}  // namespace esm
