#include "oauth/token_formats.hpp"

#include "crypto/crypto.hpp"

namespace provisiond::oauth {

std::string mint_prefixed_secret(std::string_view prefix) {
    constexpr std::size_t body_length = 43;
    return std::string(prefix) + crypto::random_base62(body_length);
}

std::string mask_secret(std::string_view secret, std::string_view prefix) {
    constexpr std::size_t visible = 4;
    std::string tail = secret.size() > visible ? std::string(secret.substr(secret.size() - visible))
                                               : std::string();
    return std::string(prefix) + "..." + tail;
}

} // namespace provisiond::oauth
