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

} // namespace provisiond::crypto
