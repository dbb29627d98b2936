#include "webhooks/signature.hpp"

#include "crypto/crypto.hpp"

namespace provisiond::webhooks {

namespace {
constexpr std::string_view prefix = "whsec_";
} // namespace

std::string new_secret() {
    return std::string(prefix) + crypto::base64_encode(crypto::random_bytes(32));
}

std::optional<std::string> secret_key(std::string_view secret) {
    if (!secret.starts_with(prefix)) {
        return std::nullopt;
    }
    auto key = crypto::base64_decode(secret.substr(prefix.size()));
    if (!key || key->size() < 16 || key->size() > 64) {
        return std::nullopt;
    }
    return key;
}

std::string sign(std::string_view key_bytes, std::string_view id, std::int64_t timestamp,
                 std::string_view body) {
    std::string content;
    content.reserve(id.size() + body.size() + 24);
    content.append(id);
    content.push_back('.');
    content.append(std::to_string(timestamp));
    content.push_back('.');
    content.append(body);
    return "v1," + crypto::base64_encode(crypto::hmac_sha256(key_bytes, content));
}

} // namespace provisiond::webhooks
