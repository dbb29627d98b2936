#pragma once
// Standard Webhooks signatures (https://www.standardwebhooks.com): secrets are "whsec_" + base64
// of random bytes; `webhook-signature: v1,<base64 HMAC-SHA256(secret bytes, "id.timestamp.body")>`.

#include <optional>
#include <string>
#include <string_view>

namespace provisiond::webhooks {

/// A new secret: "whsec_" + base64 of 32 random bytes.
std::string new_secret();

/// The key bytes of a "whsec_…" secret; nullopt when it is not one (or holds under 16 bytes).
std::optional<std::string> secret_key(std::string_view secret);

/// The webhook-signature header value for one message.
std::string sign(std::string_view key_bytes, std::string_view id, std::int64_t timestamp,
                 std::string_view body);

} // namespace provisiond::webhooks
