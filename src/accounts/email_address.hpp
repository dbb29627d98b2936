#pragma once
// One canonical identity for an email address. Every place an address enters (account requests,
// the login and "send a new link" forms) parses it here; the `key` is what every lookup and
// uniqueness constraint uses (the `email_normalized` columns), so one mailbox is one account
// whatever Unicode form, case or domain spelling (IDN or punycode) it arrives in.

#include "core/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace provisiond::accounts {

/// The longest address accepted, in bytes (RFC 5321's path limit less the angle brackets); it
/// holds for both the display form and the key.
constexpr std::size_t max_email_length = 254;

struct EmailAddress {
    /// For display and delivery: trimmed of ASCII spaces, NFC-normalized, otherwise as sent.
    std::string display;
    /// The identity: the local part NFKC-normalized and case-folded (libunistring), '@', the
    /// domain as IDNA2008 with UTS #46 mapping (libidn2) in lower-case ASCII (A-labels), e.g.
    /// "josé@xn--bcher-kva.example" for "JOSÉ@Bücher.example".
    std::string key;
};

/// Parses an address as a partner or a person typed it. Refused with ErrorCode::invalid_request
/// and a message naming the problem:
///  * any C0/C1 control character or DEL anywhere (checked before trimming: "\r\nx@y.z" is
///    refused, not trimmed), invalid UTF-8, any invisible character (core/unicode.hpp
///    is_invisible: format, zero-width, bidi, tag, default-ignorable);
///  * a space or other white space inside (ASCII spaces at the ends are trimmed);
///  * not exactly one '@', an empty local part or domain, no dot in the domain, an empty domain
///    label, any of <>",\ (also as compatibility forms, e.g. fullwidth), over 254 bytes;
///  * a domain libidn2 refuses ("email domain is not a valid domain name").
Result<EmailAddress> parse_email(std::string_view raw);

} // namespace provisiond::accounts
