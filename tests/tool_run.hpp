// Test helper: runs one of the built tools through the shell and captures its exit
// status, stdout and stderr separately. Tests only.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

struct ToolResult {
    int status = -1;  // exit status, or -1 when it did not exit normally
    std::string out, err;
};

inline std::string tool_path(const std::string& name) { return std::string(ESM_BINARY_DIR) + "/" + name; }

inline std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// `args` is appended to the tool path as shell text (quote it yourself).
inline ToolResult run_tool(const std::string& name, const std::string& args, const std::string& stdin_text = "") {
    static int counter = 0;
    const std::string base = std::string(ESM_BINARY_DIR) + "/tool_run_" + std::to_string(::getpid()) + "_" +
                             std::to_string(counter++);
    std::string cmd = tool_path(name) + " " + args + " > " + base + ".out 2> " + base + ".err";
    if (!stdin_text.empty()) {
        std::ofstream(base + ".in", std::ios::binary) << stdin_text;
        cmd += " < " + base + ".in";
    } else {
        cmd += " < /dev/null";
    }
    ToolResult r;
    int raw = std::system(cmd.c_str());
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(base + ".out");
    r.err = slurp(base + ".err");
    std::remove((base + ".out").c_str());
    std::remove((base + ".err").c_str());
    std::remove((base + ".in").c_str());
    return r;
}
