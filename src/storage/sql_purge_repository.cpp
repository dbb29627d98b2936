#include "storage/sql_repositories.hpp"

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
    case Purgeable::access_tokens:
        return {"DELETE FROM access_tokens WHERE token_hash IN (SELECT token_hash FROM "
                "access_tokens WHERE expires_at < $1 LIMIT $2)"};
    case Purgeable::refresh_tokens:
        return {"DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM "
                "refresh_tokens WHERE expires_at < $1 LIMIT $2)"};
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

class SqlPurgeRepository final : public maintenance::PurgeRepository {
public:
    explicit SqlPurgeRepository(Connection& c) : c_(c) {}

    Result<std::int64_t> purge(maintenance::Purgeable kind, std::int64_t cutoff,
                               std::int64_t limit) override {
        return execute(c_, purge_sql(kind).sql, {cutoff, limit});
    }

private:
    Connection& c_;
};

} // namespace

std::unique_ptr<maintenance::PurgeRepository> make_sql_purge_repository(Connection& c) {
    return std::make_unique<SqlPurgeRepository>(c);
}

} // namespace provisiond::storage
