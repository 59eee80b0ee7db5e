// External runner: fork/exec of `sh -c COMMAND esm-runner ARCH SPACE_FILE` with the
// architecture on stdin, stdout/stderr captured, a timeout that kills the whole process
// group. Parsing of its output is strict (parse_runner_output).
#include "esm/runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "decimal.hpp"
#include "esm/common.hpp"

namespace esm {

double parse_runner_output(const std::string& text) {
    if (text.size() > (1u << 20)) throw Error(ErrorKind::Format, "runner printed over 1 MiB; expected one latency line");
    // Last non-empty line.
    size_t end = text.size();
    while (end > 0 && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
    if (end == 0) throw Error(ErrorKind::Format, "runner printed nothing on stdout; expected a latency in ms");
    size_t start = text.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    std::string line = text.substr(start, end - start);
    size_t a = line.find_first_not_of(" \t\r");
    line = line.substr(a);
    std::string shown = line.substr(0, 80);
    for (char& c : shown)
        if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
    if (line.find('\0') != std::string::npos)
        throw Error(ErrorKind::Format, "runner output line '" + shown + "' holds a NUL byte");
    std::string number = line;
    if (number.size() >= 2 && number.compare(number.size() - 2, 2, "ms") == 0) {
        number.resize(number.size() - 2);
        while (!number.empty() && (number.back() == ' ' || number.back() == '\t')) number.pop_back();
    }
    char* stop = nullptr;
    errno = 0;
    // A decimal number only: strtod alone would also take hex ("0x10" as 16), inf and nan.
    const bool decimal = detail::decimal_chars(number);
    double v = decimal ? detail::strtod_c(number.c_str(), &stop) : NAN;
    if (!decimal || *stop != '\0' || errno || !std::isfinite(v) || !(v > 0))
        throw Error(ErrorKind::Format, "runner output line '" + shown +
                                           "' is not a positive latency in ms (expected e.g. '12.34' or '12.34 ms')");
    if (!latency_in_range(v))  // what a dataset holds (a unit mistake: seconds? ns?)
        throw Error(ErrorKind::Format, "runner output line '" + shown + "' is outside " + kLatencyRangeText);
    return v;
}

ExternalRunner::ExternalRunner(RunnerOptions opt) : opt_(std::move(opt)) {
    if (opt_.command.empty()) throw Error(ErrorKind::InvalidArgument, "runner command is empty");
    if (opt_.command.find_first_of("\n\r\t") != std::string::npos)  // one line of the dataset's header
        throw Error(ErrorKind::InvalidArgument, "runner command holds a newline or tab; put a multi-line command in a "
                                                "script and give --runner 'path/to/script \"$1\" \"$2\"'");
    if (!(opt_.timeout_s > 0)) throw Error(ErrorKind::InvalidArgument, "runner timeout must be positive");
}

namespace {

// The process groups of the runner commands running now (0: a free slot), for
// kill_running_runners; lock-free, as a signal handler reads them.
constexpr int kSlots = 64;
static_assert(std::atomic<pid_t>::is_always_lock_free, "read from a signal handler");
std::atomic<pid_t> g_running[kSlots];

// A slot is taken (-1: reserved) before the fork, so that a 65th runner at once is an error
// instead of one that kill_running_runners cannot reach; it holds the pid after the fork.
struct RunningSlot {
    int slot = -1;
    RunningSlot() {
        for (int i = 0; i < kSlots && slot < 0; ++i) {
            pid_t free = 0;
            if (g_running[i].compare_exchange_strong(free, -1)) slot = i;
        }
        if (slot < 0)
            throw Error(ErrorKind::InvalidArgument, "runner: " + std::to_string(kSlots) +
                                                        " runner commands run at once already (the most one process tracks)");
    }
    RunningSlot(const RunningSlot&) = delete;
    RunningSlot& operator=(const RunningSlot&) = delete;
    void set(pid_t pid) { g_running[slot].store(pid); }
    ~RunningSlot() { release(); }
    void release() {  // as soon as the group is reaped: its id may be reused after
        if (slot >= 0) g_running[slot].store(0);
        slot = -1;
    }
};

#ifdef __linux__
// The guard process's parent-death signal (see measure): it kills the guard's whole process
// group when the caller that forked it is gone; a stray one while the caller lives is ignored.
pid_t g_guard_caller = 0;  // in the guard's own copy of memory
extern "C" void guard_caller_died(int) {
    if (getppid() != g_guard_caller) kill(0, SIGKILL);
}
#endif

// Closes every descriptor of the guard (async-signal-safe). The guard never execs, so it
// would hold the caller's close-on-exec descriptors for as long as the command runs: another
// runner's pipes (its stdin never reaching its end of file, its output its EOF), the caller's
// own pipes and sockets. It needs none while it waits.
void close_every_descriptor() {
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, 0u, ~0u, 0u) == 0) return;
#endif
    rlimit lim{};
    const rlim_t n = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
                         ? std::min<rlim_t>(lim.rlim_cur, rlim_t{1} << 20)
                         : rlim_t{1} << 16;
    for (rlim_t fd = 0; fd < n; ++fd) close(static_cast<int>(fd));
}

// What the guard's child needs to become the command (`sh -c`).
struct CommandExec {
    const char* command;
    const char* arch;
    const char* space_file;
    const int* pipes;        // in[0], in[1], out[0], out[1], err[0], err[1]
    const sigset_t* mask;    // the caller's
    bool usr1_ignored;       // by the caller: kept, as across exec
};

// Starts the command for the guard, by vfork: fork would run the atfork handlers of every
// library in the caller (OpenBLAS's waits for its server threads) in the guard, a copy of
// one thread of a caller that may have many, where they may wait for threads or locks that
// are not there (fork is not async-signal-safe); it would also copy the caller's page tables
// a second time. The child only sets its signals and descriptors up and execs, as
// posix_spawn's does; the guard waits meanwhile.
pid_t start_command(const CommandExec& c) {
    const pid_t pid = vfork();
    if (pid != 0) return pid;
    // Every handler back to the default before the caller's mask is: one of the caller's (or
    // the guard's) must not run in this child, which shares the guard's memory until its exec.
    for (int sig = 1; sig < NSIG; ++sig) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, nullptr, &sa) != 0) continue;
        if ((sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL)) signal(sig, SIG_DFL);
    }
#ifdef __linux__
    if (c.usr1_ignored) signal(SIGUSR1, SIG_IGN);  // as across exec; the guard's handler replaced it
#endif
    pthread_sigmask(SIG_SETMASK, c.mask, nullptr);
    dup2(c.pipes[0], 0);
    dup2(c.pipes[3], 1);
    dup2(c.pipes[5], 2);
    for (int i = 0; i < 6; ++i) close(c.pipes[i]);
    execl("/bin/sh", "sh", "-c", c.command, "esm-runner", c.arch, c.space_file, static_cast<char*>(nullptr));
    // The command never ran: its stderr (the pipe, fd 2 now) says why, or the caller's message
    // would be a bare "exit status 127". Async-signal-safe: write and fixed texts only.
    const int e = errno;
    auto say = [](const char* s) {
        size_t n = 0;
        while (s[n]) ++n;
        (void)!write(2, s, n);
    };
    say("esm-runner: cannot start /bin/sh: ");
    if (e == E2BIG) {
        say("argument list too long (the architecture text, the space file's path and the command must fit one "
            "command line: 128 KiB per argument on Linux)\n");
    } else {
        char num[16];
        int i = static_cast<int>(sizeof num) - 1;
        num[i] = '\0';
        unsigned v = e < 0 ? 0u : static_cast<unsigned>(e);
        do num[--i] = static_cast<char>('0' + v % 10); while ((v /= 10) && i > 0);
        say("exec failed, errno ");
        say(num + i);
        say("\n");
    }
    _exit(127);
}

// Ends the guard by `sig` (the command's own end, or a timeout's SIGTERM that came before
// the command started), without a core file of its own; async-signal-safe.
[[noreturn]] void end_guard_by(int sig) {
#ifdef __linux__
    prctl(PR_SET_DUMPABLE, 0);
#endif
    signal(sig, SIG_DFL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
    kill(getpid(), sig);
    _exit(128 + sig);  // a signal whose default is to be ignored
}

void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// The last n bytes of a stream's tail, trailing space cut, control bytes (a progress bar's
// \r, colour escapes) shown as '?' so they cannot garble the terminal.
std::string tail(const std::string& s, size_t n) {
    std::string t = s.size() > n ? "..." + s.substr(s.size() - n) : s;
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    for (char& c : t)
        if (c != '\n' && std::iscntrl(static_cast<unsigned char>(c))) c = '?';
    return t;
}

// Appends to a kept tail of at most `cap` bytes (the last ones: a runner's error comes at
// the end of its output, its latency on the last line); `cut` tells that bytes were dropped.
void append_tail(std::string& dst, const char* data, size_t n, size_t cap, bool& cut) {
    dst.append(data, n);
    if (dst.size() > 2 * cap) {
        dst.erase(0, dst.size() - cap);
        cut = true;
    }
}

// write() with a SIGPIPE it raises (a command that closed its stdin) blocked for this thread
// only (no process-wide handler swap) and taken off the thread's pending set before it is
// unblocked; errno as write left it.
ssize_t write_without_sigpipe(int fd, const char* data, size_t n) {
    sigset_t pipe_set, pipe_old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &pipe_old);
    const ssize_t w = write(fd, data, n);
    const int e = errno;
    if (w < 0 && e == EPIPE) {
        const timespec now{0, 0};
        sigtimedwait(&pipe_set, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &pipe_old, nullptr);
    errno = e;
    return w;
}

}  // namespace

void kill_running_runners() {
    // A slot reserved (-1) is a runner being forked by another thread: its pid comes within
    // microseconds, so the scan is repeated while one is reserved, 200 ms at most (a signal
    // handled on another thread would otherwise miss the child, left running in its session).
    for (int round = 0; round < 200; ++round) {
        bool reserved = false;
        for (auto& p : g_running) {
            const pid_t pid = p.load();
            if (pid > 0) {
                // The guard first: one that has not reached setsid() yet is not in the group,
                // and could start the command between the two calls.
                kill(pid, SIGKILL);
                kill(-pid, SIGKILL);  // its session's process group: the command and its processes
            }
            reserved = reserved || pid == -1;
        }
        if (!reserved) return;
        const timespec ms{0, 1000000};
        nanosleep(&ms, nullptr);  // async-signal-safe
    }
}

double ExternalRunner::measure(const std::string& arch) const {
    {  // the exit of the command's guard must be waitable, or every call reads as a timeout
        struct sigaction chld;
        if (sigaction(SIGCHLD, nullptr, &chld) == 0 &&
            ((!(chld.sa_flags & SA_SIGINFO) && chld.sa_handler == SIG_IGN) || (chld.sa_flags & SA_NOCLDWAIT)))
            throw Error(ErrorKind::InvalidArgument,
                        "runner: this process ignores SIGCHLD (SIG_IGN or SA_NOCLDWAIT), so a runner command's exit "
                        "cannot be waited for; restore SIGCHLD's default action before measuring");
    }
    RunningSlot running;  // first: a full table is an error before anything is opened
    // Close-on-exec: a runner started meanwhile from another thread must not hold this one's
    // pipes open (it would keep this stdin from its end of file). dup2 clears the flag on 0-2.
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    auto close_fd = [](int& fd) {
        if (fd >= 0) close(fd);
        fd = -1;
    };
    auto close_all = [&] {
        for (int* fd : {&in[0], &in[1], &out[0], &out[1], &err[0], &err[1]}) close_fd(*fd);
    };
    // A pipe end numbered 0-2 (a caller that closed its stdin, a daemon) is moved up: the
    // command's dup2 onto 0-2 would do nothing for it, and the closes after would take it away.
    auto above_stdio = [](int& fd) {
        if (fd > 2) return true;
        const int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (moved < 0) return false;
        close(fd);
        fd = moved;
        return true;
    };
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) ||
        !(above_stdio(in[0]) && above_stdio(in[1]) && above_stdio(out[0]) && above_stdio(out[1]) &&
          above_stdio(err[0]) && above_stdio(err[1]))) {
        const int e = errno;
        close_all();
        throw Error(ErrorKind::Io, std::string("runner: pipe failed: ") + std::strerror(e));
    }
    // The stop signals wait until the child is registered for kill_running_runners: one
    // arriving between fork and registration would otherwise miss it.
    sigset_t stops, old_mask;
    sigemptyset(&stops);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stops, sig);
    pthread_sigmask(SIG_BLOCK, &stops, &old_mask);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        const int e = errno;
        pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
        close_all();
        throw Error(ErrorKind::Io, std::string("runner: fork failed: ") + std::strerror(e));
    }
    if (pid == 0) {
        // This child is the command's guard: the leader of a session of its own, so a timeout
        // kills every process the command starts too, and without a controlling terminal, so a
        // prompt (ssh, sudo) fails at once instead of stopping the runner in the background
        // until the timeout. It starts the command (`sh -c`) as its own child, waits for it and
        // exits as it did. Only async-signal-safe calls from here on (the caller may have threads).
        // Every signal is blocked in the guard but its parent-death signal (below): what the
        // command sends its group (`kill 0` in a script that traps or ignores it, a timeout's
        // SIGTERM that its trap outlives) reaches the guard too, which would end by it (a
        // failure reported for a command that succeeded, a core file of a copy of the caller)
        // or run the caller's handler in its copy of the caller. The command gets the caller's
        // mask back before its exec; the guard unblocks the signal it passes on.
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, nullptr);
        setsid();
#ifdef __linux__
        // A SIGKILL of the caller (kill -9, the out-of-memory killer) cannot be caught to stop
        // the command: the kernel sends the guard its parent-death signal then, and the guard
        // kills its process group, so whatever the command started (a script's `adb shell`, a
        // pipeline's processes) ends with it, not only `sh`.
        g_guard_caller = parent;
        struct sigaction died, callers;
        std::memset(&died, 0, sizeof died);
        died.sa_handler = guard_caller_died;
        sigemptyset(&died.sa_mask);
        const bool usr1_ignored = sigaction(SIGUSR1, &died, &callers) == 0 && !(callers.sa_flags & SA_SIGINFO) &&
                                  callers.sa_handler == SIG_IGN;
        prctl(PR_SET_PDEATHSIG, SIGUSR1);
        if (getppid() != parent) _exit(127);  // the caller died before the prctl
#else
        (void)parent;
        const bool usr1_ignored = false;  // (not changed here)
#endif
        // The caller's handlers never run in the guard (every signal is blocked there; the
        // one it ends by is set to its default first: end_guard_by) nor in the command (reset
        // before its exec: start_command), so a timeout's SIGTERM cannot run esm-build's (a
        // "stopped" message on its stderr, kill_running_runners from a copy of the table). A
        // timeout's SIGTERM that came before the command started (a tiny --runner-timeout, a
        // loaded machine) waits, blocked, in the guard: it never reached the command, which
        // ran on to the SIGKILL 2 s later. The command does not start then.
        sigset_t pending;
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGTERM) == 1) end_guard_by(SIGTERM);
        const int pipes[6] = {in[0], in[1], out[0], out[1], err[0], err[1]};
        const pid_t command = start_command(
            {opt_.command.c_str(), arch.c_str(), opt_.space_file.c_str(), pipes, &old_mask, usr1_ignored});
        if (command < 0) _exit(127);
        // A SIGTERM that came between the check above and the vfork reached only the guard (the
        // group had no command yet): it is passed on. One that came after the vfork reached the
        // command too, microseconds into its start, before any trap of its own: one more
        // SIGTERM changes nothing there.
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGTERM) == 1) kill(command, SIGTERM);
        close_every_descriptor();
#ifdef __linux__
        sigset_t guard_mask = all;
        sigdelset(&guard_mask, SIGUSR1);
        pthread_sigmask(SIG_SETMASK, &guard_mask, nullptr);
#endif
        int status = 0;
        pid_t r;
        while ((r = waitpid(command, &status, 0)) < 0 && errno == EINTR) {
        }
        if (r != command) _exit(127);
        if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
        end_guard_by(WTERMSIG(status));  // killed by a signal: the guard ends by the same one
    }
    running.set(pid);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    std::string so, se;  // the tails of its stdout and stderr
    bool so_cut = false, se_cut = false;  // whether their first bytes were dropped
    bool open_out = true, open_err = true, timed_out = false;
    // Kills the command (on a timeout the command; else whatever it left behind: ESRCH),
    // closes the pipes and reaps it; the slot is released before the reap, so that a stop
    // signal after it cannot kill(pid) a recycled id.
    auto end_command = [&](int* status) {
        kill(pid, SIGKILL);  // the guard first, as in kill_running_runners
        kill(-pid, SIGKILL);
        close_all();
        running.release();
        while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
        }
    };
    // From here on whatever leaves this function, an exception too, ends the command and
    // reaps it (it would run on untracked).
    try {
        close_fd(in[0]);
        close_fd(out[1]);
        close_fd(err[1]);
        // The architecture on stdin, all of it: what a pipe holds (64 KiB) now, the rest as the
        // command reads it (a long architecture was cut there, silently, without its newline),
        // so the command's output is read meanwhile. A runner that has closed its stdin must
        // not kill us with SIGPIPE (write_without_sigpipe); one that never reads it is not
        // waited for: the pipe is closed with the command's end.
        const std::string feed = arch + "\n";
        size_t fed = 0;
        set_nonblock(in[1]);
        auto feed_more = [&] {
            while (in[1] >= 0 && fed < feed.size()) {
                const ssize_t w = write_without_sigpipe(in[1], feed.data() + fed, feed.size() - fed);
                if (w > 0) {
                    fed += static_cast<size_t>(w);
                } else if (w < 0 && errno == EINTR) {
                    continue;
                } else if (w < 0 && errno == EAGAIN) {
                    return;
                } else {
                    break;  // EPIPE: the command does not read it
                }
            }
            close_fd(in[1]);
        };
        feed_more();

        set_nonblock(out[0]);
        set_nonblock(err[0]);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(opt_.timeout_s);
        char buf[4096];
        auto read_ready = [&](const pollfd* fds) {
            for (int i = 0; i < 2; ++i) {
                bool& open = i == 0 ? open_out : open_err;
                if (!open || (fds && !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))) continue;
                for (int reads = 0; reads < 256; ++reads) {  // what is there now (non-blocking, bounded)
                    const ssize_t r = read(i == 0 ? out[0] : err[0], buf, sizeof buf);
                    if (r > 0) {
                        append_tail(i == 0 ? so : se, buf, static_cast<size_t>(r), 64u << 10, i == 0 ? so_cut : se_cut);
                        if (fds) break;  // one read per wake-up while it runs
                        continue;
                    }
                    if (r == 0 || (errno != EAGAIN && errno != EINTR)) open = false;
                    break;
                }
            }
        };
        // Whether the command has exited, without reaping it (WNOWAIT): until it is reaped its
        // process group's id cannot be reused, so killing the group cannot hit another process.
        auto exited = [&] {
            siginfo_t info{};
            return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
        };
        using Clock = std::chrono::steady_clock;
        Clock::time_point exited_at{};
        bool has_exited = false;
        while (open_out || open_err) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) {
                timed_out = !has_exited;
                break;
            }
            // A pipe at its end is left out (-1): poll would report it at once, every time.
            pollfd fds[3] = {{open_out ? out[0] : -1, POLLIN, 0}, {open_err ? err[0] : -1, POLLIN, 0}, {in[1], POLLOUT, 0}};
            const int n = poll(fds, 3, static_cast<int>(std::min<long long>(left.count(), 200)));
            if (n < 0 && errno != EINTR) break;
            if (n > 0) read_ready(fds);
            if (n > 0 && fds[2].revents) feed_more();
            // The command has exited but something it started still holds its output open: a
            // forwarder (tee, a logger) gets 2 s to pass on what it holds; a process left in the
            // background is what holds it after that, and the latency has come.
            if ((open_out || open_err) && !has_exited && exited()) {
                has_exited = true;
                exited_at = Clock::now();
            }
            if (has_exited && Clock::now() - exited_at > std::chrono::seconds(2)) break;
        }
        read_ready(nullptr);  // what is in the pipes now, however the loop ended
        // The command may have closed its output and still run: it gets the rest of its time.
        while (!timed_out && !exited()) {
            if (Clock::now() >= deadline) {
                timed_out = true;
                break;
            }
            pollfd feed_fd = {in[1], POLLOUT, 0};  // (-1 once fed: a 10 ms sleep)
            if (poll(&feed_fd, 1, 10) > 0) feed_more();
        }
        if (timed_out) {  // SIGTERM first: the runner may clean up (temporary files, a remote run)
            kill(-pid, SIGTERM);
            kill(pid, SIGTERM);
            // The grace lasts until whatever holds the command's output has gone, not only `sh`:
            // dash does not exec the script of `--runner './measure.sh "$1"'`, and exits on the
            // SIGTERM while the script still runs its trap. 2 s at most.
            for (const auto until = Clock::now() + std::chrono::seconds(2); Clock::now() < until;) {
                if (!open_out && !open_err && exited()) break;
                pollfd fds[2] = {{open_out ? out[0] : -1, POLLIN, 0}, {open_err ? err[0] : -1, POLLIN, 0}};
                if (poll(fds, 2, 20) > 0) read_ready(fds);
            }
            read_ready(nullptr);  // what the grace's last moments wrote (a trap's message)
        }
    } catch (...) {
        end_command(nullptr);
        throw;
    }
    int status = 0;
    end_command(&status);
    const std::string who = "runner '" + opt_.command + "' on " + arch;
    if (timed_out) {
        char secs[32];
        std::snprintf(secs, sizeof secs, "%g", opt_.timeout_s);
        throw Error(ErrorKind::Io, who + ": timed out after " + secs + " s" +
                                       (se.empty() ? "" : "; stderr: " + tail(se, 300)));
    }
    if (WIFSIGNALED(status))
        throw Error(ErrorKind::Io, who + ": killed by signal " + std::to_string(WTERMSIG(status)) +
                                       (se.empty() ? "" : "; stderr: " + tail(se, 300)));
    if (WEXITSTATUS(status) != 0)
        throw Error(ErrorKind::Io, who + ": exit status " + std::to_string(WEXITSTATUS(status)) +
                                       (se.empty() ? "" : "; stderr: " + tail(se, 300)));
    const std::string stderr_tail = se.empty() ? "" : "; stderr: " + tail(se, 300);
    if (so_cut) {  // the last line must be whole: its tail alone could read as a number
        size_t end = so.size();
        while (end > 0 && std::isspace(static_cast<unsigned char>(so[end - 1]))) --end;
        if (end > 0 && so.rfind('\n', end - 1) == std::string::npos)
            throw Error(ErrorKind::Format, who + ": runner output's last line is over 64 KiB (the most kept of a "
                                                 "stream); expected one latency line" + stderr_tail);
    }
    try {
        return parse_runner_output(so);
    } catch (const Error& e) {  // what the runner said on stderr explains a wrong last line too
        throw Error(ErrorKind::Format, who + ": " + e.what() + (se.empty() ? "" : "; stderr: " + tail(se, 300)));
    }
}

}  // namespace esm
