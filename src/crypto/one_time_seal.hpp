#pragma once
// A secret shown once, across a redirect, without ever resting in the clear. The page that
// creates a key answers with a redirect (POST-redirect-GET, so a reload creates nothing), and
// the key must still reach the next page view, exactly once. So it is sealed under a fresh random
// key: the box goes to the database, the key to the browser (a short-lived cookie). Neither
// alone reveals it, and the first view deletes the box.

#include <optional>
#include <string>
#include <string_view>

namespace provisiond::crypto {

struct Sealed {
    std::string key; ///< 43 base64url characters (32 random bytes): for the browser
    std::string box; ///< standard base64 of nonce ‖ XSalsa20-Poly1305 ciphertext: for storage
};

/// Seals `secret` under a fresh key (libsodium's crypto_secretbox).
Sealed seal_once(std::string_view secret);

/// A fresh random key (43 base64url characters).
std::string new_seal_key();

/// Seals `secret` under a key from new_seal_key() (a standing key: the webhook signing secrets
/// under the secrets key file); nullopt when the key is malformed.
std::optional<std::string> seal_with(std::string_view secret, std::string_view key);

/// Opens a box with its key; nullopt when either is malformed or they do not belong together.
std::optional<std::string> open_sealed(std::string_view box, std::string_view key);

} // namespace provisiond::crypto
