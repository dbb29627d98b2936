#include "outbox/file_sender.hpp"

#include "core/durable_file.hpp"
#include "crypto/crypto.hpp"
#include "outbox/message_format.hpp"

#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace provisiond::outbox {
namespace {

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
    // Durable before the rename: once the outbox row says delivered, the message is on the disk.
    if (auto wrote = write_new_file_durably(temp_path.string(), format_message(from_, email), 0644);
        !wrote) {
        return make_error(ErrorCode::unavailable, "cannot write the outbox file",
                          wrote.error().debug);
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
