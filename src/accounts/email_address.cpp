#include "accounts/email_address.hpp"

#include "core/strings.hpp"
#include "core/unicode.hpp"

#include <cstdint>
#include <cstdlib>
#include <idn2.h>
#include <memory>
#include <optional>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>

namespace provisiond::accounts {
namespace {

constexpr std::string_view not_an_address = "email is not a valid email address";
constexpr std::string_view not_a_domain = "email domain is not a valid domain name";

Error refuse(std::string_view message) {
    return make_error(ErrorCode::invalid_request, std::string(message));
}

struct FreeMalloced {
    void operator()(void* p) const { std::free(p); }
};

const std::uint8_t* bytes(std::string_view text) {
    return reinterpret_cast<const std::uint8_t*>(text.data());
}

std::string adopt(std::uint8_t* out, std::size_t length) {
    std::unique_ptr<std::uint8_t, FreeMalloced> owned(out);
    return std::string(reinterpret_cast<const char*>(out), length);
}

std::optional<std::string> normalize(uninorm_t form, std::string_view text) {
    std::size_t length = 0;
    std::uint8_t* out = u8_normalize(form, bytes(text), text.size(), nullptr, &length);
    if (out == nullptr) {
        return std::nullopt;
    }
    return adopt(out, length);
}

std::optional<std::string> casefold_nfkc(std::string_view text) {
    std::size_t length = 0;
    // No language: the identity must not depend on a locale (no Turkish dotless-i rule).
    std::uint8_t* out =
        u8_casefold(bytes(text), text.size(), nullptr, UNINORM_NFKC, nullptr, &length);
    if (out == nullptr) {
        return std::nullopt;
    }
    return adopt(out, length);
}

/// NFKC, then case folding (itself NFKC-normalized) until nothing changes: a compatibility
/// form can fold to a new upper-case letter (U+2122 "™" → "TM"), so one pass is not enough for
/// "™" and "tm" to meet. Two passes settle every known case; four bound the loop.
std::optional<std::string> fold_local_part(std::string_view local) {
    auto current = normalize(UNINORM_NFKC, local);
    for (int pass = 0; current && pass < 4; ++pass) {
        auto folded = casefold_nfkc(*current);
        if (!folded || *folded == *current) {
            return folded;
        }
        current = std::move(folded);
    }
    return current;
}

bool is_forbidden_ascii(char32_t c) {
    return c == '<' || c == '>' || c == '"' || c == '\\' || c == ',';
}

bool is_white_space(char32_t c) {
    return c == ' ' || uc_is_property_white_space(c);
}

/// IDNA2008 lookup with UTS #46 non-transitional mapping; a name that fails only because
/// IDNA2008 disallows one of its characters is retried with transitional processing, as
/// libidn2's documentation recommends for lookups. Lower-case ASCII, or nullopt.
std::optional<std::string> domain_key(const std::string& domain) {
    char* out = nullptr;
    int rc = idn2_to_ascii_8z(domain.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc == IDN2_DISALLOWED) {
        rc = idn2_to_ascii_8z(domain.c_str(), &out, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
    }
    if (rc != IDN2_OK || out == nullptr) {
        return std::nullopt;
    }
    std::unique_ptr<char, FreeMalloced> owned(out);
    std::string ascii(out);
    for (char& c : ascii) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 'A' && u <= 'Z') {
            c = static_cast<char>(u - 'A' + 'a');
        }
        // Without STD3 rules UTS #46 maps compatibility forms such as U+FF20 (fullwidth @) and
        // U+FF1C to ASCII '@' and '<': a host name holds letters, digits, '-' and '.' only.
        bool host_char = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!host_char) {
            return std::nullopt;
        }
    }
    return ascii;
}

/// A dot, and no empty label (".example.com", "example..com", "example.com.").
bool has_domain_shape(std::string_view domain) {
    return domain.find('.') != std::string_view::npos && domain.front() != '.' &&
           domain.back() != '.' && domain.find("..") == std::string_view::npos;
}

} // namespace

Result<EmailAddress> parse_email(std::string_view raw) {
    // Controls first, before any trimming: "\r\nuser@example.com\r\n" is refused, never stored.
    for (unsigned char c : raw) {
        if (c < 0x20 || c == 0x7f) {
            return refuse("email must not contain control characters");
        }
    }
    if (!is_valid_utf8(raw)) {
        return refuse("email must be valid UTF-8");
    }
    std::vector<char32_t> chars = decode_utf8(raw);
    for (char32_t c : chars) {
        if (is_control(c)) { // C1 (U+0080–U+009F)
            return refuse("email must not contain control characters");
        }
    }
    std::size_t begin = 0;
    std::size_t end = chars.size();
    while (begin < end && chars[begin] == ' ') {
        ++begin;
    }
    while (end > begin && chars[end - 1] == ' ') {
        --end;
    }
    if (begin == end) {
        return refuse("email is required");
    }
    std::vector<char32_t> trimmed(chars.begin() + static_cast<std::ptrdiff_t>(begin),
                                  chars.begin() + static_cast<std::ptrdiff_t>(end));
    for (char32_t c : trimmed) {
        if (is_invisible(c)) {
            return refuse("email must not contain invisible characters");
        }
        if (is_white_space(c)) {
            return refuse("email must not contain spaces");
        }
        if (is_forbidden_ascii(c)) {
            return refuse(not_an_address);
        }
    }

    auto display = normalize(UNINORM_NFC, encode_utf8(trimmed));
    if (!display) {
        return refuse(not_an_address);
    }
    if (display->size() > max_email_length) {
        return refuse("email must be at most 254 bytes");
    }
    auto at = display->find('@');
    if (at == std::string::npos || at == 0 || at + 1 == display->size() ||
        display->find('@', at + 1) != std::string::npos) {
        return refuse(not_an_address);
    }

    auto domain = domain_key(display->substr(at + 1));
    if (!domain) {
        return refuse(not_a_domain);
    }
    if (!has_domain_shape(*domain)) {
        return refuse(not_an_address);
    }
    auto local = fold_local_part(std::string_view(*display).substr(0, at));
    if (!local || local->empty() || !is_valid_utf8(*local)) {
        return refuse(not_an_address);
    }
    // Compatibility forms must not smuggle in what the raw text could not carry ("a＠b" folds
    // to "a@b", U+FF1C to '<').
    for (char32_t c : decode_utf8(*local)) {
        if (c == '@' || is_forbidden_ascii(c) || is_white_space(c) || is_control(c) ||
            is_invisible(c)) {
            return refuse(not_an_address);
        }
    }
    EmailAddress parsed;
    parsed.display = std::move(*display);
    parsed.key = *local + "@" + *domain;
    if (parsed.key.size() > max_email_length) {
        return refuse("email must be at most 254 bytes");
    }
    return parsed;
}

} // namespace provisiond::accounts
