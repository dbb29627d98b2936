#include "outbox/file_sender.hpp"

#include "outbox/message_format.hpp"

#include <filesystem>
#include <fstream>

namespace provisiond::outbox {

Result<void> FileSender::deliver(const Email& email) {
    std::error_code ec;
    std::filesystem::create_directories(directory_, ec);
    if (ec) {
        return make_error(ErrorCode::unavailable, "outbox directory unavailable",
                          directory_ + ": " + ec.message());
    }
    std::string name = std::to_string(email.created_at) + "-" + email.id + ".eml";
    auto final_path = std::filesystem::path(directory_) / name;
    auto temp_path = std::filesystem::path(directory_) / ("." + name + ".tmp");
    {
        std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
        out << format_message(from_, email);
        out.flush();
        if (!out) {
            return make_error(ErrorCode::unavailable, "cannot write the outbox file",
                              temp_path.string());
        }
    }
    std::filesystem::rename(temp_path, final_path, ec);
    if (ec) {
        return make_error(ErrorCode::unavailable, "cannot write the outbox file", ec.message());
    }
    return {};
}

} // namespace provisiond::outbox
