// Benchmark of the CPU executor's own kernels in isolation (docs/performance.md, "Fourth
// session"): depthwise, the direct conv and packed_gemm on the shapes MobileNetV3 and
// DenseNet give them, one thread, best of many runs, in GFLOP/s and as a share of this
// core's FMA peak measured in the same run (12 independent fused multiply-adds in a loop).
// Prints figures, not pass/fail. Runs on CPUs with AVX-512 (the peak on zmm) or AVX2 + FMA
// (the peak on ymm, the direct conv skipped: its AVX2 clone is another kernel).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cpu_features.hpp"
#include "kernels.hpp"
#include "x86_simd.hpp"

using Clock = std::chrono::steady_clock;
using esm::cpu::ConvShape;

// Best time in seconds of `reps` calls of f.
template <class F>
static double best_s(int reps, F f) {
    double best = 1e300;
    for (int i = 0; i < reps; ++i) {
        const auto t0 = Clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return best;
}

#if defined(ESM_X86_SIMD)
ESM_AVX512 __attribute__((noinline)) static float fma_loop(long n) {
    __m512 a[12];
    for (int j = 0; j < 12; ++j) a[j] = _mm512_set1_ps(0.1f * float(j));
    const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(0.001f);
    for (long i = 0; i < n; ++i)
#pragma GCC unroll 12
        for (int j = 0; j < 12; ++j) a[j] = _mm512_fmadd_ps(a[j], x, y);
    __m512 s = a[0];
    for (int j = 1; j < 12; ++j) s = _mm512_add_ps(s, a[j]);
    return _mm512_reduce_add_ps(s);
}

ESM_AVX2 __attribute__((noinline)) static float fma_loop256(long n) {
    __m256 a[12];
    for (int j = 0; j < 12; ++j) a[j] = _mm256_set1_ps(0.1f * float(j));
    const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(0.001f);
    for (long i = 0; i < n; ++i)
#pragma GCC unroll 12
        for (int j = 0; j < 12; ++j) a[j] = _mm256_fmadd_ps(a[j], x, y);
    __m256 s = a[0];
    for (int j = 1; j < 12; ++j) s = _mm256_add_ps(s, a[j]);
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0] + t[7];
}
#endif

// 12 independent FMAs of the widest vectors the kernels use (16 lanes with AVX-512, else 8).
static double fma_peak_gflops(bool avx512) {
#if defined(ESM_X86_SIMD)
    // The best of many short runs, as the kernels are timed: a few long ones cannot escape
    // the time slices of a shared machine (they read a peak below the kernels' own rates).
    const long n = 100000;
    volatile float sink = 0;
    const double s = best_s(500, [&] { sink = sink + (avx512 ? fma_loop(n) : fma_loop256(n)); });
    return n * 12.0 * (avx512 ? 32.0 : 16.0) / s / 1e9;
#else
    (void)avx512;
    return 0;
#endif
}

static void row(const char* what, double flops, double s, double peak) {
    std::printf("%-34s %9.1f us %7.1f GFLOP/s %5.0f%%\n", what, s * 1e6, flops / s / 1e9, 100.0 * flops / s / 1e9 / peak);
}

int main() {
    const bool avx512 = esm::cpu_has_avx512();
    if (!avx512 && !esm::cpu_has_avx2_fma()) {
        std::printf("bench_kernels: this CPU (or ESM_CPU_ISA) has neither AVX-512 nor AVX2 + FMA: skipped\n");
        return 0;
    }
    const double peak = fma_peak_gflops(avx512);
    std::printf("FMA peak (12 independent %s FMAs): %.1f GFLOP/s, one thread\n", avx512 ? "zmm" : "ymm", peak);
    char name[96];

    std::printf("depthwise (C channels, HxH, k, stride; ReLU)\n");
    struct Dw {
        int c, h, k, s;
    };
    for (Dw d : {Dw{96, 56, 7, 1}, Dw{96, 56, 5, 1}, Dw{96, 56, 3, 1}, Dw{192, 28, 7, 1}, Dw{384, 14, 7, 1},
                 Dw{768, 7, 7, 1}, Dw{96, 112, 7, 2}, Dw{16, 112, 3, 1}, Dw{48, 112, 3, 2}}) {
        const int ho = (d.h + 2 * (d.k / 2) - d.k) / d.s + 1;
        std::vector<float> x(size_t(d.c) * d.h * d.h, 0.5f), y(size_t(d.c) * ho * ho), w(size_t(d.c) * d.k * d.k, 0.01f),
            b(size_t(d.c), 0.1f);
        const esm::TensorView in{x.data(), 1, d.c, d.h, d.h, int64_t(d.c) * d.h * d.h};
        const esm::TensorView out{y.data(), 1, d.c, ho, ho, int64_t(d.c) * ho * ho};
        ConvShape cs;
        cs.k = d.k, cs.stride = d.s, cs.pad = d.k / 2, cs.groups = d.c, cs.act = esm::Act::ReLU;
        std::vector<float> scratch(size_t(esm::cpu::depthwise_scratch_floats(out, cs, 1)));
        const double s = best_s(200, [&] { esm::cpu::conv_depthwise(in, out, w.data(), b.data(), cs, scratch.data(), 1); });
        std::snprintf(name, sizeof name, "  C %d  %dx%d  k%d  s%d", d.c, d.h, d.h, d.k, d.s);
        row(name, 2.0 * d.c * ho * ho * d.k * d.k, s, peak);
    }

    // MACs counted as SPEC 2.4 does (taps over the zero border included); the kernel skips
    // taps that only read the border, so small planes with large kernels can pass the peak.
    if (avx512) std::printf("direct conv (Cin -> Cout, HxH, k, stride; DenseNet's growth conv, MobileNetV3's stem)\n");
    struct Dc {
        int cin, cout, h, k, s;
    };
    for (Dc d : {Dc{128, 32, 56, 5, 1}, Dc{128, 32, 28, 5, 1}, Dc{128, 32, 14, 5, 1}, Dc{128, 32, 7, 5, 1},
                 Dc{128, 32, 56, 3, 1}, Dc{128, 32, 56, 9, 1}, Dc{128, 32, 14, 9, 1}, Dc{128, 32, 7, 9, 1},
                 Dc{128, 32, 3, 9, 1}, Dc{3, 16, 224, 3, 2}}) {
        if (!avx512) break;
        const int ho = (d.h + 2 * (d.k / 2) - d.k) / d.s + 1;
        std::vector<float> x(size_t(d.cin) * d.h * d.h, 0.5f), y(size_t(d.cout) * ho * ho),
            w(size_t(d.cout) * d.cin * d.k * d.k, 0.01f), b(size_t(d.cout), 0.1f);
        const esm::TensorView in{x.data(), 1, d.cin, d.h, d.h, int64_t(d.cin) * d.h * d.h};
        const esm::TensorView out{y.data(), 1, d.cout, ho, ho, int64_t(d.cout) * ho * ho};
        ConvShape cs;
        cs.k = d.k, cs.stride = d.s, cs.pad = d.k / 2;
        std::vector<float> packed(size_t(esm::cpu::direct_conv_packed_floats(d.cout, d.cin, d.k)));
        esm::cpu::direct_conv_pack(w.data(), d.cout, d.cin, d.k, packed.data());
        std::vector<float> scratch(size_t(esm::cpu::direct_conv_scratch_floats(in, cs)));
        const double s = best_s(20, [&] { esm::cpu::direct_conv(in, out, packed.data(), b.data(), cs, scratch.data(), 1); });
        std::snprintf(name, sizeof name, "  %d -> %d  %dx%d  k%d  s%d", d.cin, d.cout, d.h, d.h, d.k, d.s);
        row(name, 2.0 * d.cout * d.cin * ho * ho * d.k * d.k, s, peak);
    }

    std::printf("packed_gemm (M x N x K: output channels x columns x input channels; ReLU)\n");
    struct Gm {
        int m, n, k;
    };
    for (Gm g : {Gm{96, 3136, 16}, Gm{16, 3136, 96}, Gm{192, 784, 32}, Gm{32, 784, 192}, Gm{768, 49, 128},
                 Gm{128, 3136, 128}, Gm{128, 3136, 512}, Gm{128, 784, 1000}, Gm{512, 196, 1024},
                 // ResNet (bottleneck) 1x1 convs: 56x56 expansions with few input channels, a
                 // reduction, a 7x7 expansion, the 7x7 stride-2 shortcut (im2col) of the last unit
                 Gm{256, 3136, 32}, Gm{256, 3136, 64}, Gm{64, 3136, 256}, Gm{2048, 49, 256}, Gm{2048, 49, 1024}}) {
        std::vector<float> a(size_t(g.m) * g.k, 0.01f), bm(size_t(g.k) * g.n, 0.02f), c(size_t(g.m) * g.n),
            bias(size_t(g.m), 0.1f);
        std::vector<float> pa(size_t(esm::cpu::packed_gemm_a_floats(g.m, g.k)));
        std::vector<float> scratch(size_t(esm::cpu::packed_gemm_scratch_floats(g.k, 1)));
        esm::cpu::packed_gemm_pack_a(a.data(), g.m, g.k, pa.data());
        const double s = best_s(200, [&] {
            esm::cpu::packed_gemm(g.m, g.n, g.k, pa.data(), bm.data(), g.n, bias.data(), esm::Act::ReLU, c.data(), g.n,
                                  scratch.data(), 1);
        });
        std::snprintf(name, sizeof name, "  %d x %d x %d", g.m, g.n, g.k);
        row(name, 2.0 * g.m * g.n * g.k, s, peak);
    }
    return 0;
}
