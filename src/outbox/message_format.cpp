#include "outbox/message_format.hpp"

#include <cstdio>
#include <ctime>

namespace provisiond::outbox {
namespace {

/// Header values never carry line breaks (no header injection).
std::string header_safe(std::string_view value) {
    std::string out;
    for (char c : value) {
        out.push_back(c == '\r' || c == '\n' ? ' ' : c);
    }
    return out;
}

/// RFC 5322 §3.3 date: "Sun, 22 Nov 2026 17:14:52 +0000".
std::string rfc5322_date(std::int64_t seconds) {
    std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buffer;
}

} // namespace

std::string format_message(const std::string& from, const Email& email) {
    std::string out;
    out += "From: " + header_safe(from) + "\r\n";
    out += "To: " + header_safe(email.recipient) + "\r\n";
    out += "Subject: " + header_safe(email.subject) + "\r\n";
    out += "Date: " + rfc5322_date(email.created_at) + "\r\n";
    out += "Message-ID: <" + email.id + "@provisiond>\r\n";
    out += "MIME-Version: 1.0\r\n";
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    out += "Content-Transfer-Encoding: 8bit\r\n";
    out += "X-Provisiond-Kind: " + header_safe(email.kind) + "\r\n\r\n";
    for (char c : email.body_text) {
        if (c == '\n') {
            out += "\r\n";
        } else {
            out.push_back(c);
        }
    }
    if (out.size() < 2 || out.substr(out.size() - 2) != "\r\n") {
        out += "\r\n";
    }
    return out;
}

std::string envelope_address(const std::string& mailbox) {
    auto open = mailbox.rfind('<');
    auto close = mailbox.rfind('>');
    if (open != std::string::npos && close != std::string::npos && close > open) {
        return mailbox.substr(open + 1, close - open - 1);
    }
    return mailbox;
}

std::string envelope_path(const std::string& mailbox) {
    // Built by appending into one reserved string. `"<" + address + ">"` inserts in front of a
    // temporary, and GCC 12 at -O2/-O3 then reports a possible overlapping memcpy inside
    // char_traits::copy (-Wrestrict, GCC bug 105651) which -Werror turns into a failed build.
    std::string address = envelope_address(mailbox);
    std::string path;
    path.reserve(address.size() + 2);
    path.push_back('<');
    path.append(address);
    path.push_back('>');
    return path;
}

} // namespace provisiond::outbox
