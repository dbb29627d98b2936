#include "webhooks/event.hpp"

#include "core/iso8601.hpp"
#include "crypto/crypto.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace provisiond::webhooks {

bool is_event_type(std::string_view type) {
    return std::find(event_types.begin(), event_types.end(), type) != event_types.end();
}

WebhookEvent make_event(std::string_view type, boost::json::object data, std::int64_t now) {
    boost::json::object body;
    body["type"] = type;
    body["timestamp"] = format_iso8601(now);
    body["data"] = std::move(data);
    return {"msg_" + crypto::random_base62(27), std::string(type), boost::json::serialize(body),
            now};
}

WebhookEvent grant_revoked(std::string_view client_id, std::string_view user_id,
                           std::string_view family_id, std::string_view reason, std::int64_t now) {
    boost::json::object data{{"client_id", client_id}, {"user_id", user_id}, {"reason", reason}};
    if (!family_id.empty()) {
        data["family_id"] = family_id;
    }
    return make_event("grant.revoked", std::move(data), now);
}

} // namespace provisiond::webhooks
