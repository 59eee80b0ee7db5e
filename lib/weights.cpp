// Deterministic, backend-neutral parameter generation for a plan (esm/weights.hpp).
// Not an executor: no folding, no packing, no layout other than the framework one.
#include "esm/weights.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "esm/common.hpp"
#include "esm/rng.hpp"

namespace esm {

namespace {

uint64_t hash_name(uint64_t seed, const std::string& s) {
    uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    return h;
}

// Uniform with the given standard deviation (cheaper than normals for 10^8 values).
void fill_uniform_std(Rng& r, std::vector<float>& v, size_t n, double std) {
    const double a = std * std::sqrt(3.0);
    v.resize(n);
    for (auto& x : v) x = static_cast<float>((2.0 * r.uniform() - 1.0) * a);
}

void fill_range(Rng& r, std::vector<float>& v, size_t n, double lo, double hi) {
    v.resize(n);
    for (auto& x : v) x = static_cast<float>(lo + (hi - lo) * r.uniform());
}

void fill_bn(Rng& r, OpWeights& w, int c) {
    fill_range(r, w.bn_gamma, c, 0.5, 1.0);
    fill_range(r, w.bn_beta, c, -0.1, 0.1);
    fill_range(r, w.bn_mean, c, -0.1, 0.1);
    fill_range(r, w.bn_var, c, 0.5, 1.5);
}

}  // namespace

OpWeights make_op_weights(const Op& op, uint64_t seed) {
    OpWeights w;
    Rng r(hash_name(seed, op.name + "/" + std::to_string(op.in.c) + "/" + std::to_string(op.out.c)));
    switch (op.kind) {
        case OpKind::Conv: {
            const int cin_g = op.in.c / op.groups;
            const double fan_in = double(cin_g) * op.k * op.k;
            fill_uniform_std(r, w.weight, size_t(op.out.c) * cin_g * op.k * op.k, std::sqrt(2.0 / fan_in));
            if (op.bias) fill_range(r, w.bias, op.out.c, -0.1, 0.1);
            if (op.bn) fill_bn(r, w, op.out.c);
            break;
        }
        case OpKind::BnAct: fill_bn(r, w, op.in.c); break;
        case OpKind::SE: {
            const int c = op.in.c, rr = op.se_reduced;
            fill_uniform_std(r, w.se_w1, size_t(rr) * c, std::sqrt(2.0 / c));
            fill_range(r, w.se_b1, rr, -0.1, 0.1);
            fill_uniform_std(r, w.se_w2, size_t(c) * rr, std::sqrt(1.0 / rr));
            fill_range(r, w.se_b2, c, -0.1, 0.1);
            break;
        }
        case OpKind::Linear:
            fill_uniform_std(r, w.weight, size_t(op.out.c) * op.in.c, std::sqrt(1.0 / op.in.c));
            if (op.bias) fill_range(r, w.bias, op.out.c, -0.1, 0.1);
            break;
        default: break;
    }
    return w;
}

void fold_conv_bn(const Op& op, const OpWeights& w, std::vector<float>* weight, std::vector<float>* bias) {
    *weight = w.weight;
    bias->assign(static_cast<size_t>(op.out.c), 0.f);
    const int64_t kdim = int64_t(op.in.c / op.groups) * op.k * op.k;
    for (int co = 0; co < op.out.c; ++co) {
        double scale = 1.0, shift = op.bias ? w.bias[co] : 0.0;
        if (op.bn) {
            const double inv = w.bn_gamma[co] / std::sqrt(double(w.bn_var[co]) + kBnEps);
            shift = (shift - w.bn_mean[co]) * inv + w.bn_beta[co];
            scale = inv;
        }
        for (int64_t j = 0; j < kdim; ++j) (*weight)[co * kdim + j] = float((*weight)[co * kdim + j] * scale);
        (*bias)[co] = float(shift);
    }
}

void bn_scale_shift(const Op& op, const OpWeights& w, std::vector<float>* scale, std::vector<float>* shift) {
    scale->assign(static_cast<size_t>(op.in.c), 0.f);
    shift->assign(static_cast<size_t>(op.in.c), 0.f);
    for (int c = 0; c < op.in.c; ++c) {
        const double inv = w.bn_gamma[c] / std::sqrt(double(w.bn_var[c]) + kBnEps);
        (*scale)[c] = float(inv);
        (*shift)[c] = float(w.bn_beta[c] - w.bn_mean[c] * inv);
    }
}

Weights make_weights(const Plan& plan, uint64_t seed) {
    // A custom space's widths, each within its range, can ask for hundreds of GB: refused
    // before filling them, where the out-of-memory killer would end the process (or the
    // machine swap for hours) part way. Only what cannot fit at all: the weights alone
    // beyond this machine's memory.
    const double bytes = 4.0 * static_cast<double>(plan.params());
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && bytes > static_cast<double>(pages) * static_cast<double>(page)) {
        char msg[160];
        std::snprintf(msg, sizeof msg, "weights: the network's %lld parameters take %.3g GB, more than this machine's %.3g GB of memory",
                      static_cast<long long>(plan.params()), bytes / 1e9,
                      static_cast<double>(pages) * static_cast<double>(page) / 1e9);
        throw Error(ErrorKind::InvalidArgument, msg);
    }
    Weights w;
    w.ops.reserve(plan.ops.size());
    for (const auto& op : plan.ops) w.ops.push_back(make_op_weights(op, seed));
    return w;
}

std::vector<NamedParam> list_params(const Plan& plan, const Weights& w) {
    std::vector<NamedParam> out;
    for (size_t i = 0; i < plan.ops.size(); ++i) {
        const Op& op = plan.ops[i];
        const OpWeights& ow = w.ops[i];
        const std::string& n = op.name;
        auto add = [&](const std::string& suffix, std::vector<int> shape, const std::vector<float>& v) {
            if (!v.empty()) out.push_back({n + suffix, std::move(shape), &v});
        };
        switch (op.kind) {
            case OpKind::Conv:
                add(".weight", {op.out.c, op.in.c / op.groups, op.k, op.k}, ow.weight);
                add(".bias", {op.out.c}, ow.bias);
                break;
            case OpKind::Linear:
                add(".weight", {op.out.c, op.in.c}, ow.weight);
                add(".bias", {op.out.c}, ow.bias);
                break;
            case OpKind::SE:
                add(".fc1.weight", {op.se_reduced, op.in.c, 1, 1}, ow.se_w1);
                add(".fc1.bias", {op.se_reduced}, ow.se_b1);
                add(".fc2.weight", {op.in.c, op.se_reduced, 1, 1}, ow.se_w2);
                add(".fc2.bias", {op.in.c}, ow.se_b2);
                break;
            default: break;
        }
        const int c = static_cast<int>(ow.bn_gamma.size());
        add(".bn.weight", {c}, ow.bn_gamma);
        add(".bn.bias", {c}, ow.bn_beta);
        add(".bn.running_mean", {c}, ow.bn_mean);
        add(".bn.running_var", {c}, ow.bn_var);
    }
    return out;
}

std::vector<float> make_input(const Plan& plan, uint64_t seed) {
    Rng r(hash_name(seed, "input"));
    std::vector<float> x(size_t(plan.batch) * 3 * plan.res * plan.res);
    for (auto& v : x) v = static_cast<float>(2.0 * r.uniform() - 1.0);
    return x;
}

}  // namespace esm
