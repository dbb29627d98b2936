#include "outbox/file_sender.hpp"

#include "crypto/crypto.hpp"
#include "outbox/message_format.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace provisiond::outbox {
namespace {

Result<void> cannot_write(const std::string& what) {
    return make_error(ErrorCode::unavailable, "cannot write the outbox file",
                      what + ": " + std::strerror(errno));
}

/// Writes `bytes` to a new file at `path` and fsyncs it: once the outbox row says delivered,
/// the message is on the disk, not only in the page cache.
Result<void> write_durably(const std::string& path, const std::string& bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return cannot_write(path);
    }
    std::size_t written = 0;
    while (written < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            auto failed = cannot_write(path);
            ::close(fd);
            return failed;
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        auto failed = cannot_write(path);
        ::close(fd);
        return failed;
    }
    ::close(fd);
    return {};
}

/// Makes a rename in `directory` durable.
void sync_directory(const std::string& directory) {
    int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd); // best effort: the message itself is already on the disk
        ::close(fd);
    }
}

} // namespace

Result<void> FileSender::deliver(const Email& email) {
    std::error_code ec;
    std::filesystem::create_directories(directory_, ec);
    if (ec) {
        return make_error(ErrorCode::unavailable, "outbox directory unavailable",
                          directory_ + ": " + ec.message());
    }
    std::string name = std::to_string(email.created_at) + "-" + email.id + ".eml";
    auto final_path = std::filesystem::path(directory_) / name;
    // A name of its own per attempt: two processes may deliver the same message at once (after
    // a claim lapsed), and neither may write into the other's file. The rename keeps one whole.
    auto temp_path =
        std::filesystem::path(directory_) / ("." + name + "." + crypto::random_base62(12) + ".tmp");
    if (auto wrote = write_durably(temp_path.string(), format_message(from_, email)); !wrote) {
        std::filesystem::remove(temp_path, ec);
        return wrote;
    }
    std::filesystem::rename(temp_path, final_path, ec);
    if (ec) {
        std::string why = ec.message();
        std::filesystem::remove(temp_path, ec);
        return make_error(ErrorCode::unavailable, "cannot write the outbox file", why);
    }
    sync_directory(directory_);
    return {};
}

} // namespace provisiond::outbox
