#pragma once
// One outbox message as RFC 5322 text (CRLF line ends, UTF-8): multipart/alternative with an
// 8bit plain-text part first and a quoted-printable HTML part (plain text alone for a message
// without HTML). What both senders hand on, the file sender to a .eml file and the SMTP sender
// to the server.

#include "outbox/email.hpp"

#include <string>

namespace provisiond::outbox {

std::string format_message(const std::string& from, const Email& email);

/// RFC 2045 quoted-printable, CRLF line ends, lines of at most 76 characters.
std::string quoted_printable(std::string_view text);

/// The bare address of "Name <addr>" (or the value itself), for the SMTP envelope.
std::string envelope_address(const std::string& mailbox);

/// The SMTP envelope path of a mailbox: its bare address in angle brackets (RFC 5321 §4.1.2).
std::string envelope_path(const std::string& mailbox);

} // namespace provisiond::outbox
