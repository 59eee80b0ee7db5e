// Elementwise kernels: bias + activation epilogue of GEMM convs, the unfoldable
// BN + activation of DenseNet pre-activation, and the residual add. Not the conv itself.
#include "kernels.hpp"

namespace esm::cpu {

namespace {

template <Act A>
void bias_act_t(const TensorView& x, const float* bias, int threads) {
    const int n = x.n * x.c;
    const int64_t p = x.plane();
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(n) * p)) schedule(static)
    for (int i = 0; i < n; ++i) {
        float* v = x.channel(i / x.c, i % x.c);
        const float b = bias[i % x.c];
        for (int64_t j = 0; j < p; ++j) v[j] = act<A>(v[j] + b);
    }
}

template <Act A>
void scale_shift_t(const TensorView& in, const TensorView& out, const float* scale, const float* shift, int threads) {
    const int n = in.n * in.c;
    const int64_t p = in.plane();
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(n) * p)) schedule(static)
    for (int i = 0; i < n; ++i) {
        const int b = i / in.c, c = i % in.c;
        const float* x = in.channel(b, c);
        float* y = out.channel(b, c);
        const float s = scale[c], t = shift[c];
        for (int64_t j = 0; j < p; ++j) y[j] = act<A>(x[j] * s + t);
    }
}

template <Act A>
void add_t(const TensorView& a, const TensorView& b, const TensorView& out, int threads) {
    const int n = a.n * a.c;
    const int64_t p = a.plane();
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(int64_t(n) * p)) schedule(static)
    for (int i = 0; i < n; ++i) {
        const int s = i / a.c, c = i % a.c;
        const float* x = a.channel(s, c);
        const float* y = b.channel(s, c);
        float* z = out.channel(s, c);
        for (int64_t j = 0; j < p; ++j) z[j] = act<A>(x[j] + y[j]);
    }
}

}  // namespace

#define ESM_ACT_DISPATCH(a, call)                      \
    switch (a) {                                       \
        case Act::None: call(Act::None); break;        \
        case Act::ReLU: call(Act::ReLU); break;        \
        case Act::HSwish: call(Act::HSwish); break;    \
        case Act::HSigmoid: call(Act::HSigmoid); break; \
    }

void bias_act(const TensorView& x, const float* bias, Act a, int threads) {
#define ESM_CALL(A) bias_act_t<A>(x, bias, threads)
    ESM_ACT_DISPATCH(a, ESM_CALL)
#undef ESM_CALL
}

void scale_shift_act(const TensorView& in, const TensorView& out, const float* scale, const float* shift, Act a,
                     int threads) {
#define ESM_CALL(A) scale_shift_t<A>(in, out, scale, shift, threads)
    ESM_ACT_DISPATCH(a, ESM_CALL)
#undef ESM_CALL
}

void add_act(const TensorView& a, const TensorView& b, const TensorView& out, Act act, int threads) {
#define ESM_CALL(A) add_t<A>(a, b, out, threads)
    ESM_ACT_DISPATCH(act, ESM_CALL)
#undef ESM_CALL
}

}  // namespace esm::cpu
