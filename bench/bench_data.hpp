// Where the benchmarks find ../shared/data (never copied into the project): argv[1],
// $ESM_DATA (a file or its folder), or shared/data beside the repository.
#pragma once
#include <sys/stat.h>

#include <cstdlib>
#include <string>

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
