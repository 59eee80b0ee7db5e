// Append-only text files whose every line is on disk when append() returns (internal):
// the latency dataset files (lib/dataset.cpp) and the loop's plans.csv (lib/loop.cpp).
// Opening an existing file cuts a torn last line (a run killed mid-write); an append that
// fails (a full disk) cuts its own partial text, so the file always ends at a complete line.
#pragma once
#include <string>

namespace esm {

class DurableLog {
public:
    // Opens or creates `path`, takes its writer's lock (a second writer, in this process or
    // another, is refused; where the file system has no locks, none is taken), then
    // prepare(preamble). durable = false skips the fsync (for replayed numbers that cost
    // nothing to redo). Throws esm::Error.
    DurableLog(const std::string& path, const std::string& preamble, bool durable = true);
    // Opens and locks only, changing nothing: the caller reads and checks the file first
    // (holding the lock), then calls prepare() or replace(). (A tag: a string literal as
    // the preamble above would otherwise convert to bool and pick this one.)
    struct LockOnly {};
    DurableLog(const std::string& path, LockOnly, bool durable);
    // Cuts a torn last line (with a tail of NUL bytes a power loss can leave: they are not
    // '\n') and writes `preamble` when the file is empty.
    void prepare(const std::string& preamble);
    // Replaces the whole content by `text` (a header that held no row).
    void replace(const std::string& text);
    ~DurableLog();
    DurableLog(const DurableLog&) = delete;
    DurableLog& operator=(const DurableLog&) = delete;

    void append(const std::string& text);     // write all of it, then fsync; throws esm::Error
    // Cuts the file back to its first `size` bytes (a caller's record found incomplete), then
    // fsync. Throws esm::Error.
    void truncate_to(long long size);
    bool cut_torn_line() const { return cut_; }  // whether prepare() cut a torn last line

private:
    [[noreturn]] void fail_append(int err, long long keep);
    std::string path_;
    int fd_ = -1;
    bool durable_ = true, cut_ = false;
};

}  // namespace esm
