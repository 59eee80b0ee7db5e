// Internal: the setup libesm's hand-vectorised x86 kernels share (lib/mlp_fused.cpp,
// cpu/simd.hpp and the cpu/ kernels). They are compiled for their ISA function by function
// (the build targets baseline x86-64) and only called after the run-time checks of
// lib/cpu_features.hpp. Defines ESM_X86_SIMD where the compiler can build them.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define ESM_X86_SIMD 1
#define ESM_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define ESM_AVX2 __attribute__((target("avx2,fma")))
#if !defined(__clang__)
// GCC 12 flags the self-initialised placeholder inside its own _mm512_undefined_ps (used by
// _mm512_max_ps, _mm512_reduce_add_ps, ...) as uninitialised: a false positive.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace esm {

// The first n (clamped to 0..16) lanes of a 16-lane mask.
inline __mmask16 lanes(int n) {
    return static_cast<__mmask16>(n >= 16 ? 0xFFFF : n <= 0 ? 0 : (1u << n) - 1);
}

}  // namespace esm
#endif
