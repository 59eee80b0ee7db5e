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

// The command that runs a built tool; $ESM_TOOL_WRAPPER (e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu"
// for a cross build tested under emulation) is put in front when set.
inline std::string tool_path(const std::string& name) {
    const char* wrapper = std::getenv("ESM_TOOL_WRAPPER");
    return (wrapper && *wrapper ? std::string(wrapper) + " " : std::string()) + ESM_BINARY_DIR + "/" + name;
}

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

// Starts a tool in the background (stdout and stderr to /dev/null) for kill tests; the
// returned pid is the tool's own (the shell execs it), so SIGKILL reaches the tool.
inline pid_t spawn_tool(const std::string& name, const std::string& args) {
    const std::string cmd = "exec " + tool_path(name) + " " + args + " > /dev/null 2>&1";
    const pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    return pid;
}

// waitpid's raw status of a spawned tool.
inline int wait_status(pid_t pid) {
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}
