#include "crypto/one_time_seal.hpp"

#include "crypto/crypto.hpp"

#include <sodium.h>

namespace provisiond::crypto {
namespace {

/// Decodes unpadded base64url (what base64url_encode makes); nullopt when malformed.
std::optional<std::string> base64url_decode(std::string_view text) {
    std::string standard(text);
    for (char& c : standard) {
        c = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (standard.size() % 4 != 0) {
        standard.push_back('=');
    }
    return base64_decode(standard);
}

} // namespace

std::optional<std::string> seal_with(std::string_view secret, std::string_view key_text) {
    // Idempotent; secretbox itself needs no initialisation (our randomness is OpenSSL's), so a
    // failure here cannot weaken it and must not throw inside a storage transaction.
    if (sodium_init() < 0) {
        // Nothing to do: see above. (The call only prepares libsodium's own randomness.)
    }
    auto key = base64url_decode(key_text);
    if (!key || key->size() != crypto_secretbox_KEYBYTES) {
        return std::nullopt;
    }
    std::string nonce = random_bytes(crypto_secretbox_NONCEBYTES);
    std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + secret.size(), '\0');
    auto* out = reinterpret_cast<unsigned char*>(box.data());
    std::copy(nonce.begin(), nonce.end(), box.begin());
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES,
                          reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                          reinterpret_cast<const unsigned char*>(nonce.data()),
                          reinterpret_cast<const unsigned char*>(key->data()));
    return base64_encode(box);
}

std::string new_seal_key() {
    return base64url_encode(random_bytes(crypto_secretbox_KEYBYTES));
}

Sealed seal_once(std::string_view secret) {
    std::string key = new_seal_key();
    return {key, *seal_with(secret, key)};
}

std::optional<std::string> open_sealed(std::string_view box_text, std::string_view key_text) {
    auto key = base64url_decode(key_text);
    auto box = base64_decode(box_text);
    if (!key || !box || key->size() != crypto_secretbox_KEYBYTES ||
        box->size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        return std::nullopt;
    }
    std::string plain(box->size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
    const auto* in = reinterpret_cast<const unsigned char*>(box->data());
    if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                   in + crypto_secretbox_NONCEBYTES,
                                   box->size() - crypto_secretbox_NONCEBYTES, in,
                                   reinterpret_cast<const unsigned char*>(key->data())) != 0) {
        return std::nullopt;
    }
    return plain;
}

} // namespace provisiond::crypto
