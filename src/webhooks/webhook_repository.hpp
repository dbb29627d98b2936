#pragma once
// What webhooks need from storage (implemented in storage/sql_webhook_repository.cpp).
//
// An event is written once (`enqueue`, in the transaction of its change). The worker then fans it
// out to the endpoints that exist and want it (one delivery row per endpoint), and delivers each
// row until its endpoint answers 2xx, with backoff. The endpoint of the --webhook-url setting has
// the id "settings" and lives in the settings, not in this table.

#include "core/error.hpp"
#include "webhooks/event.hpp"

#include <optional>
#include <vector>

namespace provisiond::webhooks {

inline constexpr std::string_view settings_endpoint_id = "settings";

struct Endpoint {
    std::string id; ///< "ep_…"
    std::string url;
    std::string secret_box;          ///< the signing secret sealed under the secrets key file
    std::vector<std::string> events; ///< empty: every event
    std::int64_t created_at = 0;
};

/// One event on its way to one endpoint.
struct Delivery {
    WebhookEvent event;
    std::string endpoint_id;
    std::int64_t attempts = 0;
};

class WebhookRepository {
public:
    virtual ~WebhookRepository() = default;
    virtual Result<void> enqueue(const WebhookEvent& event) = 0;
    /// Events not yet fanned out, oldest first.
    virtual Result<std::vector<WebhookEvent>> unfanned(std::int64_t limit) = 0;
    /// Records one delivery per endpoint (due now) and marks the event fanned out.
    virtual Result<void> fan_out(std::string_view event_id,
                                 const std::vector<std::string>& endpoint_ids,
                                 std::int64_t now) = 0;
    /// Claims undelivered deliveries whose next attempt is due, oldest first: their next attempt
    /// moves to `claimed_until`, so no other process sends them meanwhile (at least once).
    virtual Result<std::vector<Delivery>> claim_due(std::int64_t now, std::int64_t limit,
                                                    std::int64_t claimed_until) = 0;
    /// Gives a claimed delivery back unattempted, due at `next_attempt_at`.
    virtual Result<void> release(std::string_view event_id, std::string_view endpoint_id,
                                 std::int64_t next_attempt_at) = 0;
    virtual Result<void> mark_delivered(std::string_view event_id, std::string_view endpoint_id,
                                        std::int64_t now) = 0;
    virtual Result<void> mark_failed(std::string_view event_id, std::string_view endpoint_id,
                                     std::string_view error, std::int64_t next_attempt_at) = 0;
    /// Undelivered deliveries per endpoint id.
    virtual Result<std::vector<std::pair<std::string, std::int64_t>>> pending_counts() = 0;

    virtual Result<void> insert_endpoint(const Endpoint& endpoint) = 0;
    virtual Result<std::vector<Endpoint>> endpoints() = 0;
    /// Removes the endpoint and what was still waiting for it; false when there is none.
    virtual Result<bool> remove_endpoint(std::string_view id) = 0;
    virtual Result<bool> replace_secret(std::string_view id, std::string_view secret_box) = 0;
};

} // namespace provisiond::webhooks
