#pragma once
// A webhook event (Standard Webhooks): a JSON body {"type", "timestamp", "data"} and a stable id
// (`webhook-id`, the same on every retry), written to the database in the transaction of the
// change it reports — never an event for a rolled-back change, never a change without its event.

#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace provisiond::webhooks {

/// Every event type, as sent in "type" and accepted by `webhooks add --events`.
inline constexpr std::array<std::string_view, 8> event_types = {
    "account.created", "project.created",    "credentials.rotated", "resource.removed",
    "grant.revoked",   "partner.registered", "partner.blocked",     "user.password_set",
};

bool is_event_type(std::string_view type);

struct WebhookEvent {
    std::string id;   ///< "msg_" + random: the webhook-id header
    std::string type; ///< one of event_types
    std::string body; ///< the exact bytes sent and signed
    std::int64_t created_at = 0;
};

/// The event `type` with `data`, happening at `now`.
WebhookEvent make_event(std::string_view type, boost::json::object data, std::int64_t now);

/// grant.revoked: a partner's tokens for one user stopped working (`family_id` empty when every
/// family of the pair went, as on a disconnect).
WebhookEvent grant_revoked(std::string_view client_id, std::string_view user_id,
                           std::string_view family_id, std::string_view reason, std::int64_t now);

/// Why a grant was revoked (grant.revoked's data.reason).
namespace revoke_reason {
inline constexpr std::string_view disconnect = "disconnect"; ///< the user disconnected the app
inline constexpr std::string_view replay = "replay";         ///< a used code came back
inline constexpr std::string_view family_reuse =
    "family_reuse"; ///< a rotated refresh token came back
inline constexpr std::string_view client_disabled =
    "client_disabled"; ///< the operator disabled (or deleted) the partner
inline constexpr std::string_view user_disabled =
    "user_disabled"; ///< the operator disabled the person (`provisiond users disable`)
} // namespace revoke_reason

} // namespace provisiond::webhooks
