#pragma once

#include "core/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace provisiond::outbox {

/// A message waiting in (or delivered from) the outbox.
struct Email {
    std::string id;
    std::string kind;                   ///< "welcome", "password_link", "password_reset"
    std::optional<std::string> user_id; ///< whose set-password link the sender mints
    std::string recipient;
    std::string subject;
    std::string body_text;
    std::string body_html; ///< empty: a plain-text message (queued before HTML existed)
    std::int64_t created_at = 0;
    std::int64_t attempts = 0;
    std::int64_t next_attempt_at = 0;
};

/// What is waiting in the outbox (for metrics).
struct OutboxBacklog {
    std::int64_t waiting = 0;
    std::optional<std::int64_t> oldest_created_at;
};

class OutboxRepository {
public:
    virtual ~OutboxRepository() = default;
    virtual Result<OutboxBacklog> backlog() = 0;
    virtual Result<void> enqueue(const Email& email) = 0;
    /// Claims up to `limit` undelivered messages whose next attempt is due: their next attempt
    /// moves to `claimed_until`, so that no other process sends them meanwhile (a process that
    /// dies while sending leaves them due again then: at least once). Needs a write transaction.
    virtual Result<std::vector<Email>> claim_due(std::int64_t now, std::int64_t limit,
                                                 std::int64_t claimed_until) = 0;
    /// Marks delivered and clears both bodies (they may hold a single-use link).
    virtual Result<void> mark_delivered(std::string_view id, std::int64_t now) = 0;
    virtual Result<void> mark_failed(std::string_view id, std::string_view error,
                                     std::int64_t next_attempt_at) = 0;
};

} // namespace provisiond::outbox
