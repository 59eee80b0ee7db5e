// Internal: what the AVX-512 kernels (packed_gemm, depthwise, direct conv, im2col) share
// beyond lib/x86_simd.hpp: the activations on 16 lanes and the strided row copy. Only
// called after cpu_has_avx512() (lib/cpu_features.hpp).
#pragma once

#include "esm/space.hpp"
#include "x86_simd.hpp"

#if defined(ESM_X86_SIMD)
namespace esm::cpu {

// act<A> (kernels.hpp) on 16 lanes, in the scalar version's operation order.
template <Act A>
ESM_AVX512 inline __m512 act512(__m512 x) {
    if constexpr (A == Act::ReLU) return _mm512_max_ps(x, _mm512_setzero_ps());
    if constexpr (A == Act::HSwish || A == Act::HSigmoid) {
        const __m512 r6 = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(x, _mm512_set1_ps(3.0f)), _mm512_setzero_ps()),
                                        _mm512_set1_ps(6.0f));
        const __m512 sixth = _mm512_set1_ps(1.0f / 6.0f);
        // x * relu6(x + 3) * (1/6), relu6(x + 3) * (1/6)
        if constexpr (A == Act::HSwish) return _mm512_mul_ps(_mm512_mul_ps(x, r6), sixth);
        return _mm512_mul_ps(r6, sixth);
    }
    return x;
}

// d[j] = row[S j + first] where that column lies inside [0, w), else 0, for j < n: one row
// of a zero-padded (S = 2: column-deinterleaved) plane or of im2col's columns. Masked
// loads read nothing outside the row (masked-off lanes never fault).
template <int S>
ESM_AVX512 inline void strided_row512(const float* row, int w, int first, int n, float* d) {
    static_assert(S == 1 || S == 2, "stride 1 or 2");
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int j = 0; j < n; j += 16) {
        const int i = S * j + first;  // input column of lane 0
        __m512 v = _mm512_maskz_loadu_ps(lanes(w - i) & ~lanes(-i), row + i);
        if constexpr (S == 2) {
            const __m512 b = _mm512_maskz_loadu_ps(lanes(w - i - 16) & ~lanes(-i - 16), row + i + 16);
            v = _mm512_permutex2var_ps(v, even, b);
        }
        _mm512_mask_storeu_ps(d + j, lanes(n - j), v);
    }
}

}  // namespace esm::cpu
#endif
