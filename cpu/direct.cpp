// Direct convolution for stride-1 k x k convs with few output channels (DenseNet's
// 128 -> 32 conv): im2col + SGEMM would move ~k*k times the input through memory for only
// 32 multiply-adds per element. Here a zero-padded copy of the input is swept with register
// tiles of 4 output channels x 16 columns. Not for wide convs (GEMM wins there).
#include <cstring>

#include "kernels.hpp"

namespace esm::cpu {

namespace {

typedef float v8 __attribute__((vector_size(32)));


constexpr int kCo = 4, kOx = 16;

// Padded plane geometry: rows H + 2p, row width W + 2p + kOx (zeros on the right so full
// 16-column tiles never read past a row).
struct Pad {
    int hp, wp;
};
Pad pad_dims(const TensorView& in, const ConvShape& s) { return {in.h + 2 * s.pad, in.w + 2 * s.pad + kOx}; }

template <Act A>
ESM_TARGET_CLONES void tile_rows(const float* xp, Pad pd, int cin, int k,
                                                                            const float* wp, const float* bias,
                                                                            float* const* out_rows, int oy, int wo) {
    // wp: packed (cin, k, k, kCo) weights of these kCo output channels.
    const int64_t plane = int64_t(pd.hp) * pd.wp;
    for (int ox0 = 0; ox0 < wo; ox0 += kOx) {
        v8 acc[kCo][2];
        for (int j = 0; j < kCo; ++j) acc[j][0] = acc[j][1] = v8{} + bias[j];
        for (int ci = 0; ci < cin; ++ci)
            for (int ky = 0; ky < k; ++ky) {
                const float* row = xp + ci * plane + int64_t(oy + ky) * pd.wp + ox0;
                const float* w = wp + ((int64_t(ci) * k + ky) * k) * kCo;
                for (int kx = 0; kx < k; ++kx, w += kCo) {
                    v8 x0, x1;  // unaligned loads (memcpy: no ABI-visible vector calls)
                    std::memcpy(&x0, row + kx, sizeof x0);
                    std::memcpy(&x1, row + kx + 8, sizeof x1);
                    for (int j = 0; j < kCo; ++j) {
                        acc[j][0] += w[j] * x0;
                        acc[j][1] += w[j] * x1;
                    }
                }
            }
        const int n = std::min(kOx, wo - ox0);
        for (int j = 0; j < kCo; ++j) {
            if (!out_rows[j]) continue;
            float tmp[kOx];
            std::memcpy(tmp, &acc[j][0], 32);
            std::memcpy(tmp + 8, &acc[j][1], 32);
            float* o = out_rows[j] + int64_t(oy) * wo + ox0;
            for (int i = 0; i < n; ++i) o[i] = act<A>(tmp[i]);
        }
    }
}

}  // namespace

bool direct_conv_suits(const TensorView& in, const TensorView& out, const ConvShape& s) {
    return s.groups == 1 && s.stride == 1 && s.k >= 3 && s.k <= 15 && out.c <= 32 && in.c >= 16 &&
           out.h == in.h && out.w == in.w;
}

int64_t direct_conv_scratch_floats(const TensorView& in, const ConvShape& s) {
    const Pad pd = pad_dims(in, s);
    return int64_t(in.c) * pd.hp * pd.wp;
}

int64_t direct_conv_packed_floats(int cout, int cin, int k) { return int64_t((cout + kCo - 1) / kCo) * cin * k * k * kCo; }

void direct_conv_pack(const float* w, int cout, int cin, int k, float* packed) {
    for (int cb = 0; cb < (cout + kCo - 1) / kCo; ++cb)
        for (int ci = 0; ci < cin; ++ci)
            for (int t = 0; t < k * k; ++t)
                for (int j = 0; j < kCo; ++j) {
                    const int co = cb * kCo + j;
                    packed[((int64_t(cb) * cin + ci) * k * k + t) * kCo + j] =
                        co < cout ? w[(int64_t(co) * cin + ci) * k * k + t] : 0.0f;
                }
}

void direct_conv(const TensorView& in, const TensorView& out, const float* packed, const float* bias,
                 const ConvShape& s, float* scratch, int threads) {
    const Pad pd = pad_dims(in, s);
    const int64_t plane = int64_t(pd.hp) * pd.wp;
    const int blocks = (out.c + kCo - 1) / kCo, k = s.k;
    for (int b = 0; b < in.n; ++b) {
        std::fill(scratch, scratch + in.c * plane, 0.0f);
#pragma omp parallel for num_threads(threads) if (threads > 1 && parallel_worth(in.c * in.plane())) schedule(static)
        for (int c = 0; c < in.c; ++c)
            for (int y = 0; y < in.h; ++y)
                std::memcpy(scratch + c * plane + int64_t(y + s.pad) * pd.wp + s.pad, in.channel(b, c) + int64_t(y) * in.w,
                            sizeof(float) * size_t(in.w));
        const int jobs = blocks * out.h;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
        for (int job = 0; job < jobs; ++job) {
            const int cb = job / out.h, oy = job % out.h;
            float* rows[kCo];
            float bs[kCo];
            for (int j = 0; j < kCo; ++j) {
                const int co = cb * kCo + j;
                rows[j] = co < out.c ? out.channel(b, co) : nullptr;
                bs[j] = co < out.c ? bias[co] : 0.0f;
            }
            const float* wp = packed + int64_t(cb) * in.c * k * k * kCo;
            switch (s.act) {
                case Act::None: tile_rows<Act::None>(scratch, pd, in.c, k, wp, bs, rows, oy, out.w); break;
                case Act::ReLU: tile_rows<Act::ReLU>(scratch, pd, in.c, k, wp, bs, rows, oy, out.w); break;
                case Act::HSwish: tile_rows<Act::HSwish>(scratch, pd, in.c, k, wp, bs, rows, oy, out.w); break;
                case Act::HSigmoid: tile_rows<Act::HSigmoid>(scratch, pd, in.c, k, wp, bs, rows, oy, out.w); break;
            }
        }
    }
}

}  // namespace esm::cpu
