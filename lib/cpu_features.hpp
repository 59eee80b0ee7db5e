// Internal: run-time checks for the instruction sets of libesm's own vector kernels (the
// build targets baseline x86-64; the fused MLP and the conv GEMM pick AVX-512 or AVX2+FMA
// at run time). False on other architectures. Not public API.
#pragma once

namespace esm {

inline bool cpu_has_avx512() {
#if defined(__GNUC__) && defined(__x86_64__)
    static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    return has;
#else
    return false;
#endif
}

inline bool cpu_has_avx2_fma() {
#if defined(__GNUC__) && defined(__x86_64__)
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
#else
    return false;
#endif
}

}  // namespace esm
