#include "core/strings.hpp"
#include "storage/sql_repositories.hpp"

namespace provisiond::storage {
namespace {

class SqlOutboxRepository final : public outbox::OutboxRepository {
public:
    explicit SqlOutboxRepository(Connection& c) : c_(c) {}

    Result<void> enqueue(const outbox::Email& e) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "INSERT INTO outbox (id, kind, user_id, recipient, subject, "
                    "body_text, body_html, created_at, attempts, next_attempt_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    {e.id, e.kind, optional_text(e.user_id), e.recipient, e.subject, e.body_text,
                     e.body_html, e.created_at, e.attempts, e.next_attempt_at}));
        return {};
    }

    Result<outbox::OutboxBacklog> backlog() override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(c_, "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE delivered_at IS NULL",
                  {}));
        return outbox::OutboxBacklog{rows.front().integer(0), rows.front().optional_integer(1)};
    }

    Result<std::vector<outbox::Email>> claim_due(std::int64_t now, std::int64_t limit,
                                                 std::int64_t claimed_until) override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(
                c_,
                "SELECT id, kind, user_id, recipient, subject, body_text, body_html, "
                "created_at, attempts, next_attempt_at FROM outbox WHERE delivered_at IS NULL AND "
                "next_attempt_at <= $1 ORDER BY next_attempt_at, created_at LIMIT $2",
                {now, limit}));
        std::vector<outbox::Email> out;
        for (const auto& r : rows) {
            out.push_back(outbox::Email{r.text(0), r.text(1), r.optional_text(2), r.text(3),
                                        r.text(4), r.text(5), r.text(6), r.integer(7), r.integer(8),
                                        r.integer(9)});
            RETURN_IF_ERROR(execute(c_, "UPDATE outbox SET next_attempt_at = $1 WHERE id = $2",
                                    {claimed_until, out.back().id}));
        }
        return out;
    }

    Result<void> mark_delivered(std::string_view id, std::int64_t now) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "UPDATE outbox SET delivered_at = $1, body_text = '', body_html = '', "
                    "attempts = attempts + 1, last_error = NULL WHERE id = $2",
                    {now, std::string(id)}));
        return {};
    }

    Result<void> mark_failed(std::string_view id, std::string_view error,
                             std::int64_t next_attempt_at) override {
        RETURN_IF_ERROR(execute(c_,
                                "UPDATE outbox SET attempts = attempts + 1, last_error = $1, "
                                "next_attempt_at = $2 WHERE id = $3",
                                {std::string(error), next_attempt_at, std::string(id)}));
        return {};
    }

private:
    Connection& c_;
};

} // namespace

std::unique_ptr<outbox::OutboxRepository> make_sql_outbox_repository(Connection& c) {
    return std::make_unique<SqlOutboxRepository>(c);
}

} // namespace provisiond::storage
