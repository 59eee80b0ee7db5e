// Tests of the external runner: the output contract, argument passing, exit status,
// timeouts and stderr in messages, using small shell commands as runners.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "esm/common.hpp"
#include "esm/runner.hpp"

using namespace esm;

TEST(Runner, OutputContract) {
    EXPECT_DOUBLE_EQ(parse_runner_output("12.5\n"), 12.5);
    EXPECT_DOUBLE_EQ(parse_runner_output("warming up\nrun 1 done\n3.25 ms\n\n"), 3.25);
    EXPECT_DOUBLE_EQ(parse_runner_output("  7e-1ms"), 0.7);
    const char* bad[][2] = {
        {"", "printed nothing"},
        {"\n \n", "printed nothing"},
        {"12.5 s\n", "'12.5 s' is not a positive latency"},
        {"-3\n", "'-3' is not a positive latency"},
        {"0\n", "'0' is not a positive latency"},
        {"nan\n", "'nan' is not"},
        {"inf\n", "'inf' is not"},
        {"1e999\n", "'1e999' is not"},
        {"12,5\n", "'12,5' is not"},
        {"latency: 12\n", "'latency: 12' is not"},
        {"12 13\n", "'12 13' is not"},
        {"ms\n", "'ms' is not"},
        {"1e-10\n", "'1e-10' is outside 1e-9 .. 1e12 ms"},  // what a dataset could not hold
        {"2e12 ms\n", "'2e12 ms' is outside"},
        {"0x10\n", "'0x10' is not"},  // strtod would read 16
        {"0x1p3 ms\n", "'0x1p3 ms' is not"},
        {"infinity\n", "'infinity' is not"},
    };
    for (auto& b : bad) {
        try {
            parse_runner_output(b[0]);
            ADD_FAILURE() << "accepted '" << b[0] << "'";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(b[1]), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(parse_runner_output(std::string(2 << 20, '1')), Error);
    EXPECT_THROW(parse_runner_output(std::string("1\0002", 3)), Error);
}

TEST(Runner, PassesArchAndSpaceFileAndReadsLatency) {
    // $1 is the arch, $2 the space file, stdin the arch again: the runner echoes a latency
    // that depends on all three, so each must have arrived.
    ExternalRunner r({"read line; [ \"$line\" = \"$1\" ] && [ \"$2\" = /tmp/x.space ] && echo ${#1}.5", "/tmp/x.space", 10});
    EXPECT_DOUBLE_EQ(r.measure("resnet:k3e50/k3e50/k3e50/k3e50"), 30.5);
}

TEST(Runner, FailuresAreClearErrors) {
    struct Case {
        const char* cmd;
        const char* message;
    } cases[] = {
        {"echo boom >&2; exit 3", "exit status 3; stderr: boom"},
        {"echo nonsense", "'nonsense' is not a positive latency"},
        {"echo 'model not found' >&2; echo 'latency: 12'", "'latency: 12' is not a positive latency in ms (expected e.g. "
                                                           "'12.34' or '12.34 ms'); stderr: model not found"},
        {"kill -9 $$", "killed by signal 9"},
        {"ulimit -c 0; kill -SEGV $$", "killed by signal 11"},  // passed on by the guard, which dumps no core
        {"/nonexistent/runner", "exit status 127"},
        // The end of stderr, where the error is, after megabytes of log (the first 2 MiB
        // were kept once, and their tail shown); control bytes shown as '?'.
        {"head -c 3000000 /dev/zero | tr '\\0' x >&2; echo 'REAL ERROR: device offline' >&2; exit 2",
         "exit status 2; stderr: ...xxxxxxxx"},
        {"head -c 3000000 /dev/zero | tr '\\0' x >&2; echo 'REAL ERROR: device offline' >&2; exit 2",
         "REAL ERROR: device offline"},
        {"printf 'step 1\\rstep 2 \\033[31mfailed' >&2; exit 1", "stderr: step 1?step 2 ?[31mfailed"},
        // A timeout says what the runner said too.
        {"echo 'waiting for device' >&2; sleep 30", "timed out after 0.5 s; stderr: waiting for device"},
    };
    for (const auto& c : cases) {
        // A short limit for the timeout case only: the others must not race it on a busy machine.
        ExternalRunner r({c.cmd, "", std::strstr(c.cmd, "sleep 30") ? 0.5 : 20.0});
        try {
            r.measure("a:b");
            ADD_FAILURE() << c.cmd;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("on a:b"), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(ExternalRunner({"", "", 1}), Error);
    try {  // a multi-line command goes in a script: the dataset's header holds it on one line
        ExternalRunner({"echo 1\necho 2", "", 1});
        ADD_FAILURE() << "accepted a newline";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("holds a newline or tab; put a multi-line command in a script"),
                  std::string::npos)
            << e.what();
    }
}

// Progress output of any length before the latency line (only the last 64 KiB are kept).
TEST(Runner, LongProgressOutputBeforeTheLatency) {
    ExternalRunner r({"head -c 1500000 /dev/zero | tr '\\0' p; echo; echo 12.5", "", 10});
    EXPECT_DOUBLE_EQ(r.measure("x:y"), 12.5);
}

// An architecture longer than a pipe holds (64 KiB: a custom space of 16 units of 64 blocks
// with long labels) reaches stdin whole, with its newline: one write cut it at 65536 bytes,
// silently. A command that never reads its stdin, or closes it, is not waited for.
TEST(Runner, ALongArchitectureReachesStdinWhole) {
    const std::string arch = "big:" + std::string(100000, '1');
    ExternalRunner reads({"c=$(cat; echo x); [ \"$c\" = \"$(printf '%s\\nx' \"$1\")\" ] && echo ${#c}", "", 20});
    EXPECT_DOUBLE_EQ(reads.measure(arch), 100006);  // the text, its newline, "x"
    ExternalRunner slow({"sleep 1; head -c 70000 >/dev/null; echo 3", "", 20});  // reads part, late
    EXPECT_DOUBLE_EQ(slow.measure(arch), 3);
    for (const char* cmd : {"echo 4", "exec 0<&-; echo 4"}) {
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_DOUBLE_EQ(ExternalRunner({cmd, "", 20}).measure(arch), 4) << cmd;
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2)) << cmd;
    }
}

#ifdef __linux__
// An architecture over what one command-line argument may hold (128 KiB on Linux): the command
// cannot start, and the error says why instead of a bare "exit status 127".
TEST(Runner, AnArchitectureTooLongForACommandLineSaysSo) {
    try {
        ExternalRunner({"echo 5", "", 20}).measure("big:" + std::string(200000, '1'));
        ADD_FAILURE() << "measured";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("exit status 127; stderr: esm-runner: cannot start /bin/sh: argument list "
                                             "too long"),
                  std::string::npos)
            << std::string(e.what()).substr(0, 300);
    }
}
#endif

// A last line longer than the kept tail of stdout (64 KiB) is refused: its tail alone read as
// "12.5" where the whole line, 'latency:<spaces>12.5', is not a latency.
TEST(Runner, ALastLineLongerThanTheKeptTailIsRefused) {
    try {
        ExternalRunner({"printf latency:; head -c 140000 /dev/zero | tr '\\0' ' '; echo 12.5", "", 20}).measure("a:b");
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("last line is over 64 KiB"), std::string::npos) << e.what();
    }
    // A long line before the latency line is progress output, as ever.
    ExternalRunner ok({"printf latency:; head -c 140000 /dev/zero | tr '\\0' ' '; echo; echo 12.5", "", 20});
    EXPECT_DOUBLE_EQ(ok.measure("a:b"), 12.5);
}

// Its own session and process group (their id = its guard's pid, sh's parent, not this
// process), no controlling
// terminal (tty 0), so a prompt fails at once where it stopped the background runner (SIGTTIN)
// until the timeout.
TEST(Runner, RunsInItsOwnSession) {
    ExternalRunner r({"set -- $(cut -d' ' -f4- /proc/$$/stat); [ \"$2\" = \"$PPID\" ] && [ \"$3\" = \"$PPID\" ] && "
                      "[ \"$4\" = 0 ] && [ \"$PPID\" != " + std::to_string(getpid()) + " ] && echo 1.5",
                      "", 10});
    EXPECT_DOUBLE_EQ(r.measure("x:y"), 1.5);
}

// A runner started while another runs does not inherit the other's pipes (they would keep
// that one's stdin from its end of file): what it runs holds as many descriptors either way.
// (ls counts its own: the shell's own table moves while dash runs a command substitution.)
TEST(Runner, ConcurrentRunnersDoNotInheritEachOthersPipes) {
    ExternalRunner count({"ls /proc/self/fd | wc -l", "", 10});
    const double alone = count.measure("x:y");
    std::thread other([] { ExternalRunner({"sleep 1; echo 1", "", 10}).measure("x:y"); });
    usleep(300000);
    const double beside = count.measure("x:y");
    other.join();
    EXPECT_EQ(beside, alone);
}

// Nor does the guard (a fork of this process that never execs) hold this process's
// close-on-exec descriptors while its command runs: a pipe of the caller's closed meanwhile
// reaches its end of file at once. (It held them all: another runner's stdin then never
// reached its end of file, its stdout cost it the 2 s grace.)
TEST(Runner, TheGuardHoldsNoneOfTheCallersDescriptors) {
    const std::string mark = std::string(ESM_BINARY_DIR) + "/runner_guard_fds_started";
    std::remove(mark.c_str());
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    std::thread other([&] { ExternalRunner({"touch " + mark + "; sleep 3; echo 1", "", 20}).measure("x:y"); });
    for (int i = 0; i < 1000 && access(mark.c_str(), F_OK) != 0; ++i) usleep(10000);  // the command runs
    close(p[1]);
    pollfd f{p[0], POLLIN, 0};
    const auto t0 = std::chrono::steady_clock::now();
    poll(&f, 1, 10000);
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    other.join();
    close(p[0]);
    std::remove(mark.c_str());
    EXPECT_LT(waited, 1.0) << "a closed pipe reached its end of file only when the runner ended";
}

// A runner that prints its latency and exits, leaving a process behind that holds its
// output open: the number counts after a 2 s grace (not a timeout), and what it left is
// killed; a forwarder that passes the number on late within the grace is waited for.
TEST(Runner, LateForwardedOutputIsWaitedFor) {
    ExternalRunner r({"(sleep 0.5; echo 4.5) & exit 0", "", 10});  // like a tee that flushes late
    EXPECT_DOUBLE_EQ(r.measure("x:y"), 4.5);
}

TEST(Runner, ExitedCommandCountsEvenWithABackgroundProcess) {
    const std::string pid_file = std::string(ESM_BINARY_DIR) + "/runner_bg_pid";
    std::remove(pid_file.c_str());
    ExternalRunner r({"sleep 30 & echo $! > " + pid_file + "; echo 2.5", "", 10});
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_DOUBLE_EQ(r.measure("x:y"), 2.5);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 6.0);  // 2 s grace, not 10
    pid_t bg = 0;
    std::ifstream(pid_file) >> bg;
    ASSERT_GT(bg, 0);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {  // killed (a zombie until its new parent reaps it)
        std::ifstream stat("/proc/" + std::to_string(bg) + "/stat");
        std::string line;
        std::getline(stat, line);
        gone = line.empty() || line.find(") Z ") != std::string::npos;
        if (!gone) usleep(20000);
    }
    EXPECT_TRUE(gone) << "the background sleep " << bg << " still runs";
    if (!gone) kill(bg, SIGKILL);
}

// A runner that closes its stderr and then works for a while: waiting for it costs no CPU
// (poll is not asked about the closed pipe, which it would report at once, every time).
TEST(Runner, WaitingOnAHalfClosedRunnerIsIdle) {
    ExternalRunner r({"exec 2>&-; sleep 0.6; echo 1.5", "", 10});
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    EXPECT_DOUBLE_EQ(r.measure("x:y"), 1.5);
    getrusage(RUSAGE_SELF, &after);
    auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
    const double cpu = secs(after.ru_utime) - secs(before.ru_utime) + secs(after.ru_stime) - secs(before.ru_stime);
    EXPECT_LT(cpu, 0.2) << "spent " << cpu << " s of CPU waiting 0.6 s";
}

// On a timeout the group gets SIGTERM first: a runner's trap cleans up (temporary files, a
// remote run), then SIGKILL follows. Also for a script started the documented way,
// `./measure.sh "$1" "$2"`, whose `sh -c` exits at once on the SIGTERM while the script's
// trap still runs (the grace once ended with sh, and the trap was killed half-way).
TEST(Runner, TimeoutLetsTheRunnerCleanUp) {
    const std::string dir = std::string(ESM_BINARY_DIR);
    const std::string mark = dir + "/runner_cleaned", script = dir + "/runner_trap.sh";
    std::ofstream(script) << "#!/bin/sh\ntrap 'sleep 0.3; echo cleaned > " << mark << "; exit 1' TERM\nsleep 30 & wait\n";
    chmod(script.c_str(), 0755);
    for (const std::string& cmd : {"trap 'sleep 0.3; echo cleaned > " + mark + "; exit 1' TERM; sleep 30 & wait",
                                  script + " \"$1\" \"$2\""}) {
        std::remove(mark.c_str());
        ExternalRunner r({cmd, "", 1.0});
        EXPECT_THROW(r.measure("x:y"), Error);
        std::ifstream in(mark);
        std::string word;
        in >> word;
        EXPECT_EQ(word, "cleaned") << cmd;
    }
}

// A timeout that comes before the child has exec'd the shell (a tiny --runner-timeout, a
// loaded machine) ends the child: the caller's SIGTERM handler, inherited by the fork, is
// not run in it (esm-build's printed "stopped; ... rerun the same command" and ran
// kill_running_runners from the child's copy of the table).
namespace {
int g_handler_fd = -1;
extern "C" void mark_handler(int) {
    if (::write(g_handler_fd, "x", 1) < 0) {}
}
}  // namespace

TEST(Runner, EarlyTimeoutDoesNotRunTheCallersHandlerInTheChild) {
    const std::string mark = std::string(ESM_BINARY_DIR) + "/runner_handler_ran";
    g_handler_fd = ::open(mark.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    ASSERT_GE(g_handler_fd, 0);
    struct sigaction sa{}, old{};
    sa.sa_handler = mark_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old);
    for (int i = 0; i < 10; ++i) EXPECT_THROW(ExternalRunner({"sleep 5", "", 1e-6}).measure("x:y"), Error);
    sigaction(SIGTERM, &old, nullptr);
    ::close(g_handler_fd);
    // Nor does such a timeout cost the 2 s grace: its SIGTERM, sent before the guard started
    // the command, does not start it (it never reached the command, which ran to the SIGKILL).
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) EXPECT_THROW(ExternalRunner({"sleep 5", "", 1e-6}).measure("x:y"), Error);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
    struct stat st{};
    ASSERT_EQ(::stat(mark.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 0) << "the handler ran in " << st.st_size << " of 10 children";
    std::remove(mark.c_str());
}

// What a command sends its own process group (`kill 0`, as docs/runner.md says a script may)
// reaches the guard too: the guard neither ends by it (the command, which traps or ignores
// it, succeeded: "killed by signal 15" was reported) nor runs this process's handler of it in
// its copy of this process.
namespace {
char g_usr2_mark[4096];
extern "C" void mark_usr2(int) {  // by its path: the guard holds no descriptor of this process's
    const int fd = ::open(g_usr2_mark, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0 && ::write(fd, "x", 1) < 0) {}
    if (fd >= 0) ::close(fd);
}
}  // namespace

TEST(Runner, WhatTheCommandSendsItsGroupDoesNotEndTheGuard) {
    for (const char* cmd : {"trap '' TERM; kill 0; echo 5", "trap '' HUP; kill -HUP 0; echo 5",
                            "trap 'echo trapped >&2' INT; kill -INT 0; echo 5", "trap '' QUIT; kill -QUIT 0; echo 5"}) {
        try {
            EXPECT_DOUBLE_EQ(ExternalRunner({cmd, "", 10}).measure("x:y"), 5.0) << cmd;
        } catch (const Error& e) {
            ADD_FAILURE() << cmd << ": " << e.what();
        }
    }
    const std::string mark = std::string(ESM_BINARY_DIR) + "/runner_usr2_handler_ran";
    ASSERT_LT(mark.size(), sizeof g_usr2_mark);
    std::strcpy(g_usr2_mark, mark.c_str());
    std::ofstream(mark).flush();  // empty
    struct sigaction sa{}, old{};
    sa.sa_handler = mark_usr2;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, &old);
    double v = 0;
    EXPECT_NO_THROW(v = ExternalRunner({"trap '' USR2; kill -USR2 0; echo 5", "", 10}).measure("x:y"));
    sigaction(SIGUSR2, &old, nullptr);
    EXPECT_DOUBLE_EQ(v, 5.0);
    struct stat st{};
    ASSERT_EQ(::stat(mark.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 0) << "this process's SIGUSR2 handler ran in the guard";
    std::remove(mark.c_str());
}

// The guard (a copy of one thread of this process) starts the command without running this
// process's atfork handlers: they are written for a process with its threads (OpenBLAS's
// waits for its server threads), and fork is not async-signal-safe. Nor does the command
// lose an ignored SIGUSR1 (the guard's parent-death signal): it stays ignored, as across exec.
namespace {
std::atomic<pid_t> g_atfork_watch{0};
char g_atfork_mark[4096];
extern "C" void mark_atfork_elsewhere() {  // by its path: the guard's memory is its own
    const pid_t watched = g_atfork_watch.load();
    if (watched == 0 || getpid() == watched) return;
    const int fd = ::open(g_atfork_mark, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0 && ::write(fd, "x", 1) < 0) {}
    if (fd >= 0) ::close(fd);
}
}  // namespace

TEST(Runner, TheGuardRunsNoAtforkHandlerAndKeepsAnIgnoredSigusr1) {
    static const bool registered = pthread_atfork(mark_atfork_elsewhere, nullptr, nullptr) == 0;
    ASSERT_TRUE(registered);
    const std::string mark = std::string(ESM_BINARY_DIR) + "/runner_atfork_elsewhere";
    ASSERT_LT(mark.size(), sizeof g_atfork_mark);
    std::strcpy(g_atfork_mark, mark.c_str());
    std::remove(mark.c_str());
    g_atfork_watch = getpid();
    double v = 0;
    EXPECT_NO_THROW(v = ExternalRunner({"echo 1", "", 10}).measure("x:y"));
    g_atfork_watch = 0;
    EXPECT_DOUBLE_EQ(v, 1.0);
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer's vfork interceptor calls fork (it cannot run instrumented code in a
    // vfork child): under TSan the guard runs the atfork handlers, as designed by TSan.
    std::remove(mark.c_str());
#else
    EXPECT_NE(::access(mark.c_str(), F_OK), 0) << "an atfork handler of this process ran in the guard";
    std::remove(mark.c_str());
#endif

    struct sigaction ign{}, old{};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGUSR1, &ign, &old);
    try {
        EXPECT_DOUBLE_EQ(ExternalRunner({"kill -USR1 $$; echo 2", "", 10}).measure("x:y"), 2.0);
    } catch (const Error& e) {
        ADD_FAILURE() << "a SIGUSR1 this process ignores ended the command: " << e.what();
    }
    sigaction(SIGUSR1, &old, nullptr);
}

// 64 runner commands at once are what one process tracks for kill_running_runners: a 65th
// is an error (it ran untracked, out of reach of a stop signal).
TEST(Runner, SixtyFifthRunnerAtOnceIsAnError) {
    // Each runner marks that it started (its slot was taken before the fork), then waits for
    // "go": the 65th is tried while all 64 surely hold theirs, however loaded the machine.
    const std::string dir = std::string(ESM_BINARY_DIR) + "/runner_slots";
    std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
    const std::string cmd = "touch " + dir + "/started.$$; while [ ! -e " + dir + "/go ]; do sleep 0.05; done; echo 1";
    std::atomic<int> failed{0};
    std::vector<std::thread> busy;
    for (int i = 0; i < 64; ++i)
        busy.emplace_back([&] {
            try {
                ExternalRunner({cmd, "", 60}).measure("x:y");
            } catch (const Error&) {
                ++failed;
            }
        });
    auto started = [&] {
        int n = 0;
        for (const auto& entry : std::filesystem::directory_iterator(dir))
            n += entry.path().filename().string().rfind("started.", 0) == 0;
        return n;
    };
    for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         started() < 64 && std::chrono::steady_clock::now() < until;)
        usleep(50000);
    const int all = started();
    EXPECT_EQ(all, 64);
    if (all == 64) {
        try {
            ExternalRunner({"echo 1", "", 20}).measure("x:y");
            ADD_FAILURE() << "a 65th runner at once ran";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("64 runner commands run at once already"), std::string::npos)
                << e.what();
        }
    }
    std::ofstream(dir + "/go") << "";  // before any return: the threads must be joined
    for (auto& t : busy) t.join();
    EXPECT_EQ(failed, 0);
}

// A caller that ignores SIGCHLD (SIG_IGN, SA_NOCLDWAIT) cannot wait for a command's exit:
// every call read as "timed out" after the whole timeout. It is told at once.
TEST(Runner, ACallerIgnoringSigchldIsToldAtOnce) {
    for (const bool nocldwait : {false, true}) {
        struct sigaction sa{}, old{};
        sa.sa_handler = nocldwait ? SIG_DFL : SIG_IGN;
        sa.sa_flags = nocldwait ? SA_NOCLDWAIT : 0;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGCHLD, &sa, &old);
        const auto t0 = std::chrono::steady_clock::now();
        try {
            ExternalRunner({"echo 1", "", 3}).measure("x:y");
            ADD_FAILURE() << "measured with SIGCHLD ignored";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("ignores SIGCHLD"), std::string::npos) << e.what();
        }
        sigaction(SIGCHLD, &old, nullptr);
        EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
    }
    EXPECT_DOUBLE_EQ(ExternalRunner({"echo 1", "", 10}).measure("x:y"), 1.0);  // restored: measures
}

// A caller with its standard descriptors closed (a daemon): the pipes get numbers 0-2, and the
// command still reads the architecture on its stdin and its output is read (the command's
// stdin was closed, so `read` failed).
TEST(Runner, ACallerWithoutStdioStillFeedsAndReadsTheCommand) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        for (int fd = 0; fd < 3; ++fd) ::close(fd);
        int ok = 1;
        try {
            ok = ExternalRunner({"read a && [ \"$a\" = x:y ] && echo 2", "", 20}).measure("x:y") == 2.0 ? 0 : 2;
        } catch (...) {
            ok = 3;
        }
        _exit(ok);
    }
    int st = 0;
    waitpid(child, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
}

TEST(Runner, TimeoutKillsTheWholeGroup) {
    ExternalRunner r({"sleep 30 & sleep 30; echo 1", "", 0.3});
    const auto t0 = std::chrono::steady_clock::now();
    try {
        r.measure("x:y");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

#ifdef __linux__
// A caller killed with SIGKILL cannot stop its command itself; the kernel's parent-death
// signal to the command's guard does (docs/runner.md): the command is gone at once, where it
// would otherwise run its 30 s beside a rerun, and so is what it started itself (a script's
// `adb shell`, here a background sleep), which outlived the caller before the guard.
TEST(Runner, CommandDiesWithACallerKilledBySigkill) {
    const std::string pidfile = std::filesystem::temp_directory_path() /
                                ("esm_runner_orphan_" + std::to_string(::getpid()) + ".pid");
    for (const std::string& cmd : {"echo $$ > " + pidfile + "; exec sleep 30",
                                   "sleep 30 & echo $! > " + pidfile + "; wait",
                                   "sh -c 'sleep 30; echo 1' & echo $! > " + pidfile + "; wait"}) {
        std::remove(pidfile.c_str());
        const pid_t caller = fork();
        ASSERT_GE(caller, 0);
        if (caller == 0) {
            try {
                ExternalRunner({cmd, "", 60}).measure("x:y");
            } catch (...) {
            }
            _exit(0);
        }
        auto command_pid = [&] {
            std::ifstream f(pidfile);
            int pid = 0;
            return f >> pid ? pid : 0;
        };
        const auto t0 = std::chrono::steady_clock::now();
        while (!command_pid() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const int pid = command_pid();
        kill(caller, SIGKILL);
        int st = 0;
        waitpid(caller, &st, 0);
        ASSERT_GT(pid, 0) << "the runner command never started: " << cmd;
        auto running = [&] {  // a process that exists and is not a zombie (nobody may reap it here)
            std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
            std::string stat;
            if (!std::getline(f, stat)) return false;
            const size_t paren = stat.rfind(')');
            return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
        };
        const auto t1 = std::chrono::steady_clock::now();
        while (running() && std::chrono::steady_clock::now() - t1 < std::chrono::seconds(5))
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        EXPECT_FALSE(running()) << "process " << pid << " of a runner whose caller was killed still runs: " << cmd;
        if (running()) kill(pid, SIGKILL);
    }
    std::remove(pidfile.c_str());
}
#endif
