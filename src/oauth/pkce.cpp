#include "oauth/pkce.hpp"

#include "crypto/crypto.hpp"

namespace provisiond::oauth {
namespace {

bool is_alnum(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

} // namespace

bool is_valid_code_challenge(std::string_view challenge) {
    if (challenge.size() < 43 || challenge.size() > 128) {
        return false;
    }
    for (char c : challenge) {
        if (!is_alnum(c) && c != '-' && c != '_') {
            return false;
        }
    }
    return true;
}

bool is_valid_code_verifier(std::string_view verifier) {
    if (verifier.size() < 43 || verifier.size() > 128) {
        return false;
    }
    for (char c : verifier) {
        if (!is_alnum(c) && c != '-' && c != '.' && c != '_' && c != '~') {
            return false;
        }
    }
    return true;
}

bool verify_s256(std::string_view verifier, std::string_view challenge) {
    std::string computed = crypto::base64url_encode(crypto::sha256_raw(verifier));
    return crypto::constant_time_equal(computed, challenge);
}

} // namespace provisiond::oauth
