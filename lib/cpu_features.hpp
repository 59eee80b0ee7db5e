// Internal: run-time checks for the instruction sets of libesm's own vector kernels (the
// build targets baseline x86-64; the fused MLP, the conv GEMM and the depthwise conv pick
// AVX-512 or AVX2+FMA at run time). False on other architectures. Not public API.
//
// The environment variable ESM_CPU_ISA caps what they pick (like oneDNN's
// ONEDNN_MAX_CPU_ISA): `avx2` rules out the AVX-512 kernels, `baseline` AVX2 as well, so the
// fallbacks can be tested and compared on one machine; any other value caps nothing. The
// loader's target_clones choice for the simple loops (kernels.hpp) follows the CPU only.
#pragma once

#include <cstdlib>
#include <cstring>

namespace esm {

namespace detail {
// 2: AVX-512 allowed, 1: up to AVX2, 0: neither; read once.
inline int cpu_isa_cap() {
    static const int cap = [] {
        const char* v = std::getenv("ESM_CPU_ISA");
        if (v && !std::strcmp(v, "avx2")) return 1;
        if (v && !std::strcmp(v, "baseline")) return 0;
        return 2;
    }();
    return cap;
}
}  // namespace detail

inline bool cpu_has_avx512() {
#if defined(__GNUC__) && defined(__x86_64__)
    static const bool has =
        detail::cpu_isa_cap() >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    return has;
#else
    return false;
#endif
}

inline bool cpu_has_avx2_fma() {
#if defined(__GNUC__) && defined(__x86_64__)
    static const bool has =
        detail::cpu_isa_cap() >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
#else
    return false;
#endif
}

// What ESM_CPU_ISA holds libesm's kernels to where that is below what this CPU has ("avx2"
// or "baseline"), else nullptr. A dataset header records it (`cpu_isa`): timings taken under
// the cap are of other kernels, not to be mixed with the CPU's own in one file or table.
inline const char* cpu_isa_capped() {
#if defined(__GNUC__) && defined(__x86_64__)
    const int best = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")  ? 2
                     : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1
                                                                                         : 0;
    const int cap = detail::cpu_isa_cap();
    return cap >= best ? nullptr : cap == 1 ? "avx2" : "baseline";
#else
    return nullptr;
#endif
}

}  // namespace esm
