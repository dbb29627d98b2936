#include "storage/sql_repositories.hpp"

namespace provisiond::storage {
namespace {

std::vector<std::string> split_events(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto comma = text.find(',', start);
        auto end = comma == std::string::npos ? text.size() : comma;
        if (end > start) {
            out.push_back(text.substr(start, end - start));
        }
        start = end + 1;
    }
    return out;
}

std::string join_events(const std::vector<std::string>& events) {
    std::string out;
    for (const auto& e : events) {
        out += (out.empty() ? "" : ",") + e;
    }
    return out;
}

class SqlWebhookRepository final : public webhooks::WebhookRepository {
public:
    explicit SqlWebhookRepository(Connection& c) : c_(c) {}

    Result<void> enqueue(const webhooks::WebhookEvent& e) override {
        RETURN_IF_ERROR(execute(
            c_, "INSERT INTO webhook_events (id, type, body, created_at) VALUES ($1, $2, $3, $4)",
            {e.id, e.type, e.body, e.created_at}));
        return {};
    }

    Result<std::vector<webhooks::WebhookEvent>> unfanned(std::int64_t limit) override {
        ASSIGN_OR_RETURN(auto rows,
                         query(c_,
                               "SELECT id, type, body, created_at FROM webhook_events WHERE "
                               "fanned_out = 0 ORDER BY created_at, id LIMIT $1",
                               {limit}));
        std::vector<webhooks::WebhookEvent> out;
        for (const auto& r : rows) {
            out.push_back({r.text(0), r.text(1), r.text(2), r.integer(3)});
        }
        return out;
    }

    Result<void> fan_out(std::string_view event_id, const std::vector<std::string>& endpoint_ids,
                         std::int64_t now) override {
        for (const auto& endpoint : endpoint_ids) {
            RETURN_IF_ERROR(execute(c_,
                                    "INSERT INTO webhook_deliveries (event_id, endpoint_id, "
                                    "next_attempt_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                    {std::string(event_id), endpoint, now}));
        }
        RETURN_IF_ERROR(execute(c_, "UPDATE webhook_events SET fanned_out = 1 WHERE id = $1",
                                {std::string(event_id)}));
        return {};
    }

    Result<std::vector<webhooks::Delivery>> claim_due(std::int64_t now, std::int64_t limit,
                                                      std::int64_t claimed_until) override {
        ASSIGN_OR_RETURN(
            auto rows, query(c_,
                             "SELECT e.id, e.type, e.body, e.created_at, d.endpoint_id, d.attempts "
                             "FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id "
                             "WHERE d.delivered_at IS NULL AND d.next_attempt_at <= $1 "
                             "ORDER BY d.next_attempt_at, e.created_at, e.id LIMIT $2",
                             {now, limit}));
        std::vector<webhooks::Delivery> out;
        for (const auto& r : rows) {
            out.push_back(
                {{r.text(0), r.text(1), r.text(2), r.integer(3)}, r.text(4), r.integer(5)});
            RETURN_IF_ERROR(execute(c_,
                                    "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE "
                                    "event_id = $2 AND endpoint_id = $3",
                                    {claimed_until, out.back().event.id, out.back().endpoint_id}));
        }
        return out;
    }

    Result<void> release(std::string_view event_id, std::string_view endpoint_id,
                         std::int64_t next_attempt_at) override {
        RETURN_IF_ERROR(
            execute(c_,
                    "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE "
                    "event_id = $2 AND endpoint_id = $3 AND delivered_at IS NULL",
                    {next_attempt_at, std::string(event_id), std::string(endpoint_id)}));
        return {};
    }

    Result<void> mark_delivered(std::string_view event_id, std::string_view endpoint_id,
                                std::int64_t now) override {
        RETURN_IF_ERROR(execute(c_,
                                "UPDATE webhook_deliveries SET delivered_at = $1, attempts = "
                                "attempts + 1, last_error = NULL WHERE event_id = $2 AND "
                                "endpoint_id = $3",
                                {now, std::string(event_id), std::string(endpoint_id)}));
        return {};
    }

    Result<void> mark_failed(std::string_view event_id, std::string_view endpoint_id,
                             std::string_view error, std::int64_t next_attempt_at) override {
        RETURN_IF_ERROR(execute(c_,
                                "UPDATE webhook_deliveries SET attempts = attempts + 1, "
                                "last_error = $1, next_attempt_at = $2 WHERE event_id = $3 AND "
                                "endpoint_id = $4",
                                {std::string(error), next_attempt_at, std::string(event_id),
                                 std::string(endpoint_id)}));
        return {};
    }

    Result<std::vector<std::pair<std::string, std::int64_t>>> pending_counts() override {
        ASSIGN_OR_RETURN(auto rows,
                         query(c_,
                               "SELECT endpoint_id, COUNT(*) FROM webhook_deliveries WHERE "
                               "delivered_at IS NULL GROUP BY endpoint_id ORDER BY endpoint_id",
                               {}));
        std::vector<std::pair<std::string, std::int64_t>> out;
        for (const auto& r : rows) {
            out.emplace_back(r.text(0), r.integer(1));
        }
        return out;
    }

    Result<void> insert_endpoint(const webhooks::Endpoint& e) override {
        RETURN_IF_ERROR(execute(c_,
                                "INSERT INTO webhook_endpoints (id, url, secret_box, events, "
                                "created_at) VALUES ($1, $2, $3, $4, $5)",
                                {e.id, e.url, e.secret_box, join_events(e.events), e.created_at}));
        return {};
    }

    Result<std::vector<webhooks::Endpoint>> endpoints() override {
        ASSIGN_OR_RETURN(
            auto rows,
            query(c_,
                  "SELECT id, url, secret_box, events, created_at FROM webhook_endpoints "
                  "ORDER BY created_at, id",
                  {}));
        std::vector<webhooks::Endpoint> out;
        for (const auto& r : rows) {
            out.push_back({r.text(0), r.text(1), r.text(2), split_events(r.text(3)), r.integer(4)});
        }
        return out;
    }

    Result<bool> remove_endpoint(std::string_view id) override {
        RETURN_IF_ERROR(execute(
            c_, "DELETE FROM webhook_deliveries WHERE endpoint_id = $1 AND delivered_at IS NULL",
            {std::string(id)}));
        ASSIGN_OR_RETURN(
            auto n, execute(c_, "DELETE FROM webhook_endpoints WHERE id = $1", {std::string(id)}));
        return n > 0;
    }

    Result<bool> replace_secret(std::string_view id, std::string_view secret_box) override {
        ASSIGN_OR_RETURN(auto n,
                         execute(c_, "UPDATE webhook_endpoints SET secret_box = $1 WHERE id = $2",
                                 {std::string(secret_box), std::string(id)}));
        return n > 0;
    }

private:
    Connection& c_;
};

} // namespace

std::unique_ptr<webhooks::WebhookRepository> make_sql_webhook_repository(Connection& c) {
    return std::make_unique<SqlWebhookRepository>(c);
}

} // namespace provisiond::storage
