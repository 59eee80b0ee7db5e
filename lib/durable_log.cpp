// Durable append-only text files (lib/durable_log.hpp).
#include "durable_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "esm/common.hpp"
#include "sealed_file.hpp"

namespace esm {

DurableLog::DurableLog(const std::string& path, const std::string& preamble, bool durable)
    : DurableLog(path, LockOnly{}, durable) {
    prepare(preamble);  // on a throw the destructor closes fd_ (the delegated-to one finished)
}

DurableLog::DurableLog(const std::string& path, LockOnly, bool durable) : path_(path), durable_(durable) {
    struct stat st{};
    const bool created = ::stat(path.c_str(), &st) != 0;  // (through a link: whether its target exists)
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(ErrorKind::Io, "cannot open '" + path + "': " + std::strerror(errno));
    // One writer at a time: two runs appending to one file would plan and measure everything
    // twice. The lock goes with the file descriptor (and with the process, if it is killed).
    // A file system without locks (ENOLCK, ENOSYS: NFS without its lock daemon, Lustre)
    // writes without one, as before there were locks.
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        ::close(fd_);
        throw Error(ErrorKind::Io, "'" + path + "' is being written by another process (or another writer in this "
                                                "one) right now");
    }
    if (created && durable_)  // the new file's name is on disk too (in its target's directory, through a link)
        detail::sync_parent_directory(detail::resolved_path(path));
}

void DurableLog::prepare(const std::string& preamble) {
    const off_t size = ::lseek(fd_, 0, SEEK_END);
    off_t keep = size;
    char c = '\n';
    while (keep > 0 && ::pread(fd_, &c, 1, keep - 1) == 1 && c != '\n') --keep;
    if (keep != size) {
        if (::ftruncate(fd_, keep) != 0)
            throw Error(ErrorKind::Io, "'" + path_ + "': cannot cut the torn last line: " + std::strerror(errno));
        ::lseek(fd_, 0, SEEK_END);
        cut_ = true;
    }
    if (keep == 0 && !preamble.empty()) append(preamble);
}

void DurableLog::replace(const std::string& text) {
    if (::ftruncate(fd_, 0) != 0)
        throw Error(ErrorKind::Io, "'" + path_ + "': cannot replace its content: " + std::strerror(errno));
    append(text);
}

void DurableLog::truncate_to(long long size) {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0 || (durable_ && ::fsync(fd_) != 0))
        throw Error(ErrorKind::Io, "'" + path_ + "': cannot cut it back to " + std::to_string(size) + " bytes: " +
                                       std::strerror(errno));
    ::lseek(fd_, 0, SEEK_END);
}

DurableLog::~DurableLog() {
    if (fd_ >= 0) ::close(fd_);
}

void DurableLog::append(const std::string& text) {
    const off_t start = ::lseek(fd_, 0, SEEK_END);
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_append(errno, start);
        done += static_cast<size_t>(n);
    }
    if (durable_ && ::fsync(fd_) != 0) fail_append(errno, start);
}

void DurableLog::fail_append(int err, long long keep) {
    // Leave the file ending at its last complete line (what a resumed run expects).
    if (keep >= 0 && ::ftruncate(fd_, static_cast<off_t>(keep)) == 0) ::lseek(fd_, 0, SEEK_END);
    throw Error(ErrorKind::Io, "cannot append to '" + path_ + "': " + std::strerror(err) +
                                   " (every line already written is intact)");
}

}  // namespace esm
