#include "core/durable_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <unistd.h>

namespace provisiond {
namespace {

Error failed(const char* step, const std::string& path) {
    return make_error(ErrorCode::unavailable, "cannot write " + path,
                      std::string(step) + " " + path + ": " + std::strerror(errno));
}

/// Writes all of `bytes` to `fd`, again after a signal interrupted a write.
bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

} // namespace

Result<void> write_new_file_durably(const std::string& path, std::string_view bytes,
                                    unsigned mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        return failed("create", path);
    }
    std::optional<Error> error;
    if (!write_all(fd, bytes)) {
        error = failed("write", path);
    } else if (::fsync(fd) != 0) {
        error = failed("fsync", path);
    }
    ::close(fd);
    if (error) {
        ::unlink(path.c_str()); // ours: O_EXCL created it
        return *error;
    }
    return {};
}

} // namespace provisiond
