// Oracle implementations (lib/reference.hpp): the definition of what each plan op
// computes, written for obviousness. Not optimised and not used by any executor.
#include "reference.hpp"

#include <algorithm>
#include <cmath>

namespace esm::ref {

double act(Act a, double x) {
    switch (a) {
        case Act::None: return x;
        case Act::ReLU: return x > 0 ? x : 0;
        case Act::HSwish: return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
        case Act::HSigmoid: return std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
    }
    return x;
}

static double bn(const OpWeights& w, int c, double x) {
    return (x - w.bn_mean[c]) / std::sqrt(double(w.bn_var[c]) + kBnEps) * w.bn_gamma[c] + w.bn_beta[c];
}

static void conv(const Op& op, const OpWeights& w, const TensorView& in, const TensorView& out) {
    const int cin_g = in.c / op.groups, cout_g = out.c / op.groups, k = op.k;
    for (int b = 0; b < out.n; ++b)
        for (int co = 0; co < out.c; ++co) {
            const int g = co / cout_g;
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox) {
                    double s = 0;
                    for (int ci = 0; ci < cin_g; ++ci) {
                        const float* x = in.channel(b, g * cin_g + ci);
                        for (int ky = 0; ky < k; ++ky) {
                            const int iy = oy * op.stride - op.pad + ky;
                            if (iy < 0 || iy >= in.h) continue;
                            for (int kx = 0; kx < k; ++kx) {
                                const int ix = ox * op.stride - op.pad + kx;
                                if (ix < 0 || ix >= in.w) continue;
                                s += double(x[iy * in.w + ix]) * w.weight[((size_t(co) * cin_g + ci) * k + ky) * k + kx];
                            }
                        }
                    }
                    if (op.bias) s += w.bias[co];
                    if (op.bn) s = bn(w, co, s);
                    out.channel(b, co)[oy * out.w + ox] = static_cast<float>(act(op.act, s));
                }
        }
}

static void pool(const Op& op, const TensorView& in, const TensorView& out) {
    for (int b = 0; b < out.n; ++b)
        for (int c = 0; c < out.c; ++c)
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox) {
                    double m = -INFINITY, s = 0;
                    for (int ky = 0; ky < op.k; ++ky)
                        for (int kx = 0; kx < op.k; ++kx) {
                            const int iy = oy * op.stride - op.pad + ky, ix = ox * op.stride - op.pad + kx;
                            if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                            const double v = in.channel(b, c)[iy * in.w + ix];
                            m = std::max(m, v);
                            s += v;
                        }
                    out.channel(b, c)[oy * out.w + ox] =
                        static_cast<float>(op.pool == PoolKind::Max ? m : s / (op.k * op.k));
                }
}

static double mean_plane(const TensorView& t, int b, int c) {
    double s = 0;
    for (int64_t i = 0; i < t.plane(); ++i) s += t.channel(b, c)[i];
    return s / double(t.plane());
}

static void se(const Op& op, const OpWeights& w, const TensorView& in, const TensorView& out) {
    const int C = in.c, R = op.se_reduced;
    for (int b = 0; b < in.n; ++b) {
        std::vector<double> s(C), z(R);
        for (int c = 0; c < C; ++c) s[c] = mean_plane(in, b, c);
        for (int r = 0; r < R; ++r) {
            double a = w.se_b1[r];
            for (int c = 0; c < C; ++c) a += double(w.se_w1[size_t(r) * C + c]) * s[c];
            z[r] = act(Act::ReLU, a);
        }
        for (int c = 0; c < C; ++c) {
            double a = w.se_b2[c];
            for (int r = 0; r < R; ++r) a += double(w.se_w2[size_t(c) * R + r]) * z[r];
            const double e = act(Act::HSigmoid, a);
            for (int64_t i = 0; i < in.plane(); ++i)
                out.channel(b, c)[i] = static_cast<float>(in.channel(b, c)[i] * e);
        }
    }
}

void run_op(const Op& op, const OpWeights& w, const TensorView& in, const TensorView& in2, const TensorView& out) {
    switch (op.kind) {
        case OpKind::Conv: conv(op, w, in, out); break;
        case OpKind::Pool: pool(op, in, out); break;
        case OpKind::SE: se(op, w, in, out); break;
        case OpKind::BnAct:
            for (int b = 0; b < in.n; ++b)
                for (int c = 0; c < in.c; ++c)
                    for (int64_t i = 0; i < in.plane(); ++i)
                        out.channel(b, c)[i] = static_cast<float>(act(op.act, bn(w, c, in.channel(b, c)[i])));
            break;
        case OpKind::GlobalAvgPool:
            for (int b = 0; b < in.n; ++b)
                for (int c = 0; c < in.c; ++c) out.channel(b, c)[0] = static_cast<float>(mean_plane(in, b, c));
            break;
        case OpKind::Add:
            for (int b = 0; b < in.n; ++b)
                for (int c = 0; c < in.c; ++c)
                    for (int64_t i = 0; i < in.plane(); ++i)
                        out.channel(b, c)[i] = static_cast<float>(
                            act(op.act, double(in.channel(b, c)[i]) + double(in2.channel(b, c)[i])));
            break;
        case OpKind::Linear:
            for (int b = 0; b < in.n; ++b)
                for (int o = 0; o < out.c; ++o) {
                    double s = op.bias ? w.bias[o] : 0.0;
                    for (int f = 0; f < in.c; ++f) s += double(w.weight[size_t(o) * in.c + f]) * in.channel(b, f)[0];
                    out.channel(b, o)[0] = static_cast<float>(act(op.act, s));
                }
            break;
    }
}

std::vector<float> forward(const Plan& plan, const Weights& w, const std::vector<float>& input) {
    std::vector<std::vector<float>> bufs(plan.buffers.size());
    for (size_t i = 0; i < bufs.size(); ++i) {
        const BufferInfo& b = plan.buffers[i];
        bufs[i].assign(size_t(plan.batch) * b.c * b.h * b.w, NAN);
    }
    auto view = [&](const Value& v) {
        const BufferInfo& b = plan.buffers[v.buf];
        const int64_t plane = int64_t(b.h) * b.w;
        return TensorView{bufs[v.buf].data() + v.c_off * plane, plan.batch, v.c, v.h, v.w, b.c * plane};
    };
    std::copy(input.begin(), input.end(), bufs[plan.input.buf].begin());
    for (size_t i = 0; i < plan.ops.size(); ++i) {
        const Op& op = plan.ops[i];
        run_op(op, w.ops[i], view(op.in), op.kind == OpKind::Add ? view(op.in2) : TensorView{}, view(op.out));
    }
    const TensorView o = view(plan.output);
    std::vector<float> out(size_t(o.size()));
    for (int b = 0; b < o.n; ++b)
        for (int c = 0; c < o.c; ++c)
            std::copy(o.channel(b, c), o.channel(b, c) + o.plane(), out.begin() + (int64_t(b) * o.c + c) * o.plane());
    return out;
}

}  // namespace esm::ref
