// What the benchmarks share: where they find ../shared/data (never copied into the
// project): argv[1], $ESM_DATA (a file or its folder), or shared/data beside the repository;
// and the line saying which kernels ran (libesm's own ISA, OpenBLAS's core).
#pragma once
#include <cblas.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cpu_features.hpp"

// Which kernels a figure comes from: libesm's own (the MLP, the conv GEMM, depthwise: the
// widest ISA allowed, ESM_CPU_ISA caps it) and OpenBLAS's (the rest, and PyTorch's GEMMs in
// the comparisons). OpenBLAS 0.3.21 falls back to a generic SSE kernel on CPUs it does not
// know (Prescott on the Sapphire Rapids VMs): OpenBLAS and PyTorch then run far below what
// the CPU can do, and ratios against them favour libesm; said, not hidden.
inline void print_kernels() {
    const char* isa = esm::cpu_has_avx512() ? "AVX-512" : esm::cpu_has_avx2_fma() ? "AVX2+FMA" : "baseline x86-64";
    const char* cap = std::getenv("ESM_CPU_ISA");
    const char* core = openblas_get_corename();
    std::printf("kernels: libesm's own %s%s%s%s; OpenBLAS core %s\n", isa, cap ? " (ESM_CPU_ISA=" : "", cap ? cap : "",
                cap ? ")" : "", core ? core : "?");
    bool generic = false;
    for (const char* g : {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai", "Coppermine",
                          "Northwood", "Banias", "generic"})
        generic = generic || (core && !std::strcmp(core, g));
#if defined(__GNUC__) && defined(__x86_64__)
    if (generic && __builtin_cpu_supports("avx2"))
        std::printf("note: OpenBLAS does not know this CPU and runs its generic %s kernel: its figures (and PyTorch's) "
                    "are below what the CPU can do, so ratios against them favour libesm; OPENBLAS_CORETYPE=SkylakeX or "
                    "Haswell compares against a tuned one\n",
                    core);
#endif
}

inline bool bench_exists(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
}

inline std::string find_bench_data(int argc, char** argv, const std::string& file = "ofa_mbv3_help.csv") {
    for (int i = 1; i < argc; ++i)
        if (argv[i][0] != '-') return argv[i];
    if (const char* e = std::getenv("ESM_DATA")) {
        const std::string p = e;
        return bench_exists(p + "/" + file) ? p + "/" + file : p;
    }
    const std::string src = __FILE__;  // <repo>/bench/bench_data.hpp
    const size_t cut = src.rfind("/bench/");
    const std::string repo = cut == std::string::npos ? "." : src.substr(0, cut);
    for (const std::string& p : {repo + "/../shared/data/" + file, "../shared/data/" + file, repo + "/../../shared/data/" + file})
        if (bench_exists(p)) return p;
    return repo + "/../shared/data/" + file;
}
