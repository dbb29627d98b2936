#include "storage/sql_repositories.hpp"

#include <set>
#include <string>
#include <vector>

namespace provisiond::storage {
namespace {

/// One batch: the keys of at most `limit` rows past the cutoff, then those rows. Portable SQL
/// (a row-value IN for composite keys works on SQLite and PostgreSQL alike).
struct PurgeSql {
    const char* sql;
};

PurgeSql purge_sql(maintenance::Purgeable kind) {
    using maintenance::Purgeable;
    switch (kind) {
    case Purgeable::authorization_codes:
        return {"DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash FROM "
                "authorization_codes WHERE expires_at < $1 LIMIT $2)"};
    // The token kinds return each deleted row's family: the candidates for purge_families.
    case Purgeable::access_tokens:
        return {"DELETE FROM access_tokens WHERE token_hash IN (SELECT token_hash FROM "
                "access_tokens WHERE expires_at < $1 LIMIT $2) RETURNING family_id"};
    case Purgeable::refresh_tokens:
        return {"DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM "
                "refresh_tokens WHERE expires_at < $1 LIMIT $2) RETURNING family_id"};
    case Purgeable::pending_consents:
        return {"DELETE FROM pending_consents WHERE state_hash IN (SELECT state_hash FROM "
                "pending_consents WHERE expires_at < $1 LIMIT $2)"};
    case Purgeable::authorization_requests:
        return {"DELETE FROM authorization_requests WHERE state_hash IN (SELECT state_hash FROM "
                "authorization_requests WHERE expires_at < $1 LIMIT $2)"};
    case Purgeable::sessions:
        return {"DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE "
                "expires_at < $1 LIMIT $2)"};
    case Purgeable::deep_links:
        return {"DELETE FROM deep_links WHERE token_hash IN (SELECT token_hash FROM deep_links "
                "WHERE expires_at < $1 LIMIT $2)"};
    case Purgeable::reveals:
        return {"DELETE FROM reveals WHERE key_hash IN (SELECT key_hash FROM reveals WHERE "
                "expires_at < $1 LIMIT $2)"};
    case Purgeable::password_links:
        return {"DELETE FROM password_set_tokens WHERE token_hash IN (SELECT token_hash FROM "
                "password_set_tokens WHERE expires_at < $1 LIMIT $2)"};
    case Purgeable::rate_limit_windows:
        return {"DELETE FROM rate_limit_counters WHERE (bucket, window_start) IN (SELECT bucket, "
                "window_start FROM rate_limit_counters WHERE window_start < $1 LIMIT $2)"};
    case Purgeable::delivered_emails:
        return {"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NOT "
                "NULL AND delivered_at < $1 LIMIT $2)"};
    case Purgeable::delivered_webhooks:
        return {"DELETE FROM webhook_deliveries WHERE (event_id, endpoint_id) IN (SELECT "
                "event_id, endpoint_id FROM webhook_deliveries WHERE delivered_at IS NOT NULL AND "
                "delivered_at < $1 LIMIT $2)"};
    case Purgeable::webhook_events:
        // Every copy delivered and purged, or none was ever wanted (no endpoint): the event goes.
        return {"DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events WHERE "
                "fanned_out = 1 AND created_at < $1 AND id NOT IN (SELECT event_id FROM "
                "webhook_deliveries) LIMIT $2)"};
    case Purgeable::audit_events:
        return {"DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE "
                "created_at < $1 AND logged_at IS NOT NULL LIMIT $2)"};
    }
    return {""};
}

bool is_token_kind(maintenance::Purgeable kind) {
    return kind == maintenance::Purgeable::access_tokens ||
           kind == maintenance::Purgeable::refresh_tokens;
}

/// Families are deleted this many ids per statement; a shorter list is padded with its first id,
/// so that there is one statement text (prepared once) whatever the batch.
constexpr std::size_t families_per_statement = 32;

std::string delete_families_sql() {
    std::string sql = "DELETE FROM token_families WHERE id IN (";
    for (std::size_t i = 1; i <= families_per_statement; ++i) {
        sql += (i > 1 ? ", $" : "$") + std::to_string(i);
    }
    // No token of the family is left, of either kind (the other kind may still hold one).
    sql += ") AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = token_families.id)"
           " AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = "
           "token_families.id)";
    return sql;
}

class SqlPurgeRepository final : public maintenance::PurgeRepository {
public:
    explicit SqlPurgeRepository(Connection& c) : c_(c) {}

    Result<maintenance::Purged> purge(maintenance::Purgeable kind, std::int64_t cutoff,
                                      std::int64_t limit) override {
        if (!is_token_kind(kind)) {
            ASSIGN_OR_RETURN(auto n, execute(c_, purge_sql(kind).sql, {cutoff, limit}));
            return maintenance::Purged{n, 0};
        }
        ASSIGN_OR_RETURN(auto rows, query(c_, purge_sql(kind).sql, {cutoff, limit}));
        std::set<std::string> families;
        for (const auto& row : rows) {
            families.insert(row.text(0));
        }
        ASSIGN_OR_RETURN(auto emptied, purge_families(families));
        return maintenance::Purged{static_cast<std::int64_t>(rows.size()), emptied};
    }

private:
    /// Deletes those of `candidates` that no token refers to any more; how many.
    Result<std::int64_t> purge_families(const std::set<std::string>& candidates) {
        static const std::string sql = delete_families_sql();
        std::int64_t deleted = 0;
        std::vector<Value> ids;
        ids.reserve(families_per_statement);
        auto flush = [&]() -> Result<void> {
            Value first = ids.front();
            ids.resize(families_per_statement, first);
            ASSIGN_OR_RETURN(auto n, c_.execute(sql, ids));
            deleted += n;
            ids.clear();
            return {};
        };
        for (const auto& id : candidates) {
            ids.emplace_back(id);
            if (ids.size() == families_per_statement) {
                RETURN_IF_ERROR(flush());
            }
        }
        if (!ids.empty()) {
            RETURN_IF_ERROR(flush());
        }
        return deleted;
    }

    Connection& c_;
};

} // namespace

std::unique_ptr<maintenance::PurgeRepository> make_sql_purge_repository(Connection& c) {
    return std::make_unique<SqlPurgeRepository>(c);
}

} // namespace provisiond::storage
