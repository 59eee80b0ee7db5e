// The external runner: a user command that measures one architecture on any runtime
// (TensorRT, TFLite over adb, ...) and prints its latency in ms. See docs/runner.md.
// Not a shell for arbitrary work: one run, one number, a timeout, a clear error.
#pragma once
#include <string>

namespace esm {

struct RunnerOptions {
    std::string command;     // run as: sh -c COMMAND esm-runner ARCH SPACE_FILE
    std::string space_file;  // path passed as $2 (the space description)
    double timeout_s = 600;  // per architecture
};

class ExternalRunner {
public:
    explicit ExternalRunner(RunnerOptions opt);
    // Runs the command for one architecture (also written to its stdin) and returns the
    // latency in ms; throws esm::Error naming the command, the exit status or signal,
    // and the tail of its stderr when it fails, times out or prints no valid latency.
    // Threads may measure at once (64 runner commands at most in one process: the 65th
    // is an error, as kill_running_runners could not reach it). A process that ignores
    // SIGCHLD (SIG_IGN, SA_NOCLDWAIT) cannot wait for a command: an error at once.
    double measure(const std::string& arch_text) const;
    const RunnerOptions& options() const { return opt_; }

private:
    RunnerOptions opt_;
};

// SIGKILLs the process group of every runner command running now. A runner runs in its
// own session and process group (so that a timeout kills all it started, and a prompt finds
// no terminal), out of reach of the terminal's Ctrl-C: a tool calls this from its SIGINT /
// SIGTERM handler so that no measurement goes on after it is gone. Async-signal-safe.
void kill_running_runners();

// The runner's output contract: the last non-empty line of stdout is one positive decimal
// number (not hex, inf or nan), optionally followed by "ms". Throws esm::Error quoting the offending line.
double parse_runner_output(const std::string& stdout_text);

}  // namespace esm
