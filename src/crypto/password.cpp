#include "crypto/password.hpp"

#include <sodium.h>

namespace provisiond::crypto {

std::optional<std::string> hash_password(std::string_view password) {
    if (sodium_init() < 0) {
        return std::nullopt;
    }
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(
            out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return std::nullopt;
    }
    return std::string(out);
}

namespace {

/// `encoded` as the NUL-terminated string libsodium reads, or nullopt when it cannot be one of
/// its hashes (too long) or libsodium cannot start.
std::optional<std::string> sodium_hash_string(std::string_view encoded) {
    if (sodium_init() < 0 || encoded.size() >= crypto_pwhash_STRBYTES) {
        return std::nullopt;
    }
    return std::string(encoded);
}

} // namespace

bool verify_password(std::string_view encoded, std::string_view password) {
    auto terminated = sodium_hash_string(encoded);
    return terminated &&
           crypto_pwhash_str_verify(terminated->c_str(), password.data(), password.size()) == 0;
}

std::string_view decoy_password_hash() {
    return "$argon2id$v=19$m=65536,t=2,p=1$o2FKpQx/9MMbsZ+GDkmr1Q$"
           "yRY9GyEeHlVn348p+NPS3v/EJFXshWnfYk5Lxn6CUEs";
}

bool has_current_parameters(std::string_view encoded) {
    auto terminated = sodium_hash_string(encoded);
    return terminated &&
           crypto_pwhash_str_needs_rehash(terminated->c_str(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                          crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
}

} // namespace provisiond::crypto
