// Internal: what the AVX-512 kernels (packed_gemm.cpp, depthwise.cpp) share. They are
// compiled for AVX-512 function by function (the build targets baseline x86-64) and only
// called after cpu_has_avx512() (lib/cpu_features.hpp). Defines ESM_X86_AVX512 where the
// compiler can build them.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "esm/space.hpp"

#define ESM_X86_AVX512 1
#define ESM_AVX512 __attribute__((target("avx512f,avx2,fma")))
#if !defined(__clang__)
// GCC 12 flags the self-initialised placeholder inside its own _mm512_undefined_ps.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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

// The first n (0..16) lanes.
inline __mmask16 lanes(int n) {
    return static_cast<__mmask16>(n >= 16 ? 0xFFFF : n <= 0 ? 0 : (1u << n) - 1);
}

}  // namespace esm::cpu
#endif
