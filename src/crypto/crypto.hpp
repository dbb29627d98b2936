#pragma once
// Small, audited primitives over OpenSSL: hashing, randomness, encodings, constant-time compare.

#include <optional>
#include <string>
#include <string_view>

namespace provisiond::crypto {

/// Lowercase hex SHA-256 of `data`: the only form in which secrets are stored.
std::string sha256_hex(std::string_view data);

/// Raw 32-byte SHA-256 digest.
std::string sha256_raw(std::string_view data);

/// `n` bytes from the OpenSSL CSPRNG. Aborts if the CSPRNG fails (never degrade to weak
/// randomness).
std::string random_bytes(std::size_t n);

/// Base64url without padding (RFC 4648 §5).
std::string base64url_encode(std::string_view bytes);

/// Standard base64 (OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock); decode yields nullopt when
/// the text is not valid base64.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

/// 32 random bytes as 43 base64url characters: codes, consent states, link tokens.
std::string random_urlsafe_token();

/// `length` characters drawn uniformly from [0-9A-Za-z] (rejection sampling, no modulo bias).
std::string random_base62(std::size_t length);

/// A random (version 4) UUID in canonical lowercase form.
std::string random_uuid();

/// Compares two byte strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

/// HMAC-SHA256 of `data` under `key`: the 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

} // namespace provisiond::crypto
