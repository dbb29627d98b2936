#pragma once
// What background maintenance needs from storage: remove one batch of rows that nothing needs
// any more (implemented in storage/sql_purge_repository.cpp).

#include "core/error.hpp"

#include <array>
#include <cstdint>
#include <string_view>

namespace provisiond::maintenance {

/// Each kind of row that outlives its use, and the column that says when.
enum class Purgeable {
    authorization_codes,    ///< expires_at
    access_tokens,          ///< expires_at
    refresh_tokens,         ///< expires_at (+ the grace window, in the cutoff)
    pending_consents,       ///< expires_at
    authorization_requests, ///< expires_at
    sessions,               ///< expires_at
    deep_links,             ///< expires_at
    reveals,                ///< expires_at
    password_links,         ///< expires_at
    rate_limit_windows,     ///< window_start
    delivered_emails,       ///< delivered_at
    delivered_webhooks,     ///< delivered_at
    webhook_events,         ///< created_at, once fanned out and no delivery is left
    audit_events,           ///< created_at, after --audit-retention-days (once logged)
};

inline constexpr std::array<Purgeable, 14> all_purgeables = {
    Purgeable::authorization_codes,
    Purgeable::access_tokens,
    Purgeable::refresh_tokens,
    Purgeable::pending_consents,
    Purgeable::authorization_requests,
    Purgeable::sessions,
    Purgeable::deep_links,
    Purgeable::reveals,
    Purgeable::password_links,
    Purgeable::rate_limit_windows,
    Purgeable::delivered_emails,
    Purgeable::delivered_webhooks,
    Purgeable::webhook_events,
    Purgeable::audit_events,
};

/// The table's name, for metrics and logs.
std::string_view table_of(Purgeable kind);

/// The table of token families: a family goes with its last token (PurgeRepository::purge).
inline constexpr std::string_view token_families_table = "token_families";

/// What one batch removed.
struct Purged {
    std::int64_t rows = 0;     ///< rows of the kind purged
    std::int64_t families = 0; ///< token families left with no token by them (token kinds only)
};

class PurgeRepository {
public:
    virtual ~PurgeRepository() = default;
    /// Deletes at most `limit` rows of `kind` whose time column is before `cutoff`. For access
    /// and refresh tokens it then deletes every token family those rows belonged to that has no
    /// token left: a family is one authorization, and once none of its tokens can be presented
    /// (or is even stored) it grants nothing; without this, families would pile up forever.
    virtual Result<Purged> purge(Purgeable kind, std::int64_t cutoff, std::int64_t limit) = 0;
};

} // namespace provisiond::maintenance
