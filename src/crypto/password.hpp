#pragma once
// Password hashing with libsodium's Argon2id (interactive limits): the only KDF in provisiond.

#include <optional>
#include <string>
#include <string_view>

namespace provisiond::crypto {

/// An Argon2id encoded string (`$argon2id$v=19$…`), or nullopt when memory could not be had.
std::optional<std::string> hash_password(std::string_view password);

/// True when `password` matches `encoded`; false for a mismatch or a malformed hash.
bool verify_password(std::string_view encoded, std::string_view password);

/// A hash with hash_password's parameters of a password nobody knows (32 random bytes, thrown
/// away): a login for an account without a password verifies against it, so it takes as long
/// as one with. A constant, not hashed at start, which would take Argon2id's 64 MiB once and
/// leave every process's peak memory there.
std::string_view decoy_password_hash();

/// True when `encoded` was made with the parameters hash_password uses now.
bool has_current_parameters(std::string_view encoded);

} // namespace provisiond::crypto
