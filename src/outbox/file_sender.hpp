#pragma once
// Delivers outbox messages as one RFC 5322 `.eml` file each: the embedded default, so that an
// operator (or a test) can read what would have been mailed. smtp_sender.hpp sends them instead.

#include "outbox/sender.hpp"

#include <string>

namespace provisiond::outbox {

class FileSender final : public Sender {
public:
    FileSender(std::string directory, std::string from)
        : directory_(std::move(directory)), from_(std::move(from)) {}
    /// Writes `<dir>/<created>-<id>.eml` atomically and durably (a temporary file of its own,
    /// fsynced, then renamed; the directory fsynced).
    Result<void> deliver(const Email& email) override;

private:
    std::string directory_;
    std::string from_;
};

} // namespace provisiond::outbox
