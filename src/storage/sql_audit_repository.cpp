#include "storage/sql_repositories.hpp"

namespace provisiond::storage {
namespace {

Value optional_value(const std::string& text) {
    return text.empty() ? optional_text(std::nullopt) : Value(text);
}

constexpr const char* columns =
    "SELECT id, created_at, kind, actor, user_id, client_id, remote, detail FROM audit_events ";

audit::AuditEvent event_from(const Row& r) {
    return {r.text(0),
            r.integer(1),
            r.text(2),
            {r.text(3), r.optional_text(4).value_or(""), r.optional_text(5).value_or(""),
             r.optional_text(6).value_or("")},
            r.text(7)};
}

class SqlAuditRepository final : public audit::AuditRepository {
public:
    explicit SqlAuditRepository(Connection& c) : c_(c) {}

    Result<void> record(const audit::AuditEvent& e) override {
        RETURN_IF_ERROR(execute(
            c_,
            "INSERT INTO audit_events (id, created_at, kind, actor, user_id, "
            "client_id, remote, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            {e.id, e.created_at, e.kind, e.subject.actor, optional_value(e.subject.user_id),
             optional_value(e.subject.client_id), optional_value(e.subject.remote), e.detail}));
        return {};
    }

    Result<std::vector<audit::AuditEvent>> list(const audit::AuditFilter& f) override {
        // Only the filters that are set: `($2 = '' OR client_id = $2)` kept the planner on the
        // time index and read the whole --since range for a client or user that rarely occurs.
        std::string sql = std::string(columns) + "WHERE created_at >= $1";
        std::vector<Value> params{f.since};
        auto filter = [&](std::string_view column, const std::string& value) {
            if (value.empty()) {
                return;
            }
            params.emplace_back(value);
            sql += " AND ";
            sql += column;
            sql += " = $";
            sql += std::to_string(params.size());
        };
        filter("client_id", f.client_id);
        filter("user_id", f.user_id);
        params.emplace_back(f.limit);
        sql += " ORDER BY created_at DESC, id LIMIT $";
        sql += std::to_string(params.size());
        return events(c_.query(sql, params));
    }

    Result<std::vector<audit::AuditEvent>> unlogged(std::int64_t limit) override {
        auto rows = query(
            c_, std::string(columns) + "WHERE logged_at IS NULL ORDER BY created_at, id LIMIT $1",
            {limit});
        return events(rows);
    }

    Result<void> mark_logged(const std::vector<std::string>& ids, std::int64_t now) override {
        for (const auto& id : ids) {
            RETURN_IF_ERROR(
                execute(c_, "UPDATE audit_events SET logged_at = $1 WHERE id = $2", {now, id}));
        }
        return {};
    }

private:
    static Result<std::vector<audit::AuditEvent>> events(const Result<std::vector<Row>>& rows) {
        if (!rows) {
            return rows.error();
        }
        std::vector<audit::AuditEvent> out;
        for (const auto& r : *rows) {
            out.push_back(event_from(r));
        }
        return out;
    }

    Connection& c_;
};

} // namespace

std::unique_ptr<audit::AuditRepository> make_sql_audit_repository(Connection& c) {
    return std::make_unique<SqlAuditRepository>(c);
}

} // namespace provisiond::storage
