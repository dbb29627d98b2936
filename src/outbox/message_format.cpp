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

std::string text_part_headers() {
    return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n";
}

/// Appends `text` with CRLF line ends, ending in one.
void append_crlf_lines(std::string& out, std::string_view text) {
    for (char c : text) {
        if (c == '\n') {
            out += "\r\n";
        } else if (c != '\r') {
            out.push_back(c);
        }
    }
    if (out.size() < 2 || out.substr(out.size() - 2) != "\r\n") {
        out += "\r\n";
    }
}

} // namespace

std::string quoted_printable(std::string_view text) {
    // RFC 2045 §6.7: lines of at most 76 characters, soft breaks ("=" at the end) inside long
    // lines, "=" and every non-ASCII byte as =XX, and no space left bare at a line's end.
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    std::size_t column = 0;
    auto put = [&](std::string_view piece) {
        if (column + piece.size() > 75) {
            out += "=\r\n";
            column = 0;
        }
        out += piece;
        column += piece.size();
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '\r') {
            continue;
        }
        if (c == '\n') {
            out += "\r\n";
            column = 0;
            continue;
        }
        bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
        bool literal =
            (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
        if (literal) {
            char one = static_cast<char>(c);
            put(std::string_view(&one, 1));
        } else {
            char escaped[3] = {'=', hex[c >> 4], hex[c & 15]};
            put(std::string_view(escaped, 3));
        }
    }
    if (column > 0) {
        out += "\r\n";
    }
    return out;
}

std::string format_message(const std::string& from, const Email& email) {
    std::string out;
    out += "From: " + header_safe(from) + "\r\n";
    out += "To: " + header_safe(email.recipient) + "\r\n";
    out += "Subject: " + header_safe(email.subject) + "\r\n";
    out += "Date: " + rfc5322_date(email.created_at) + "\r\n";
    out += "Message-ID: <" + email.id + "@provisiond>\r\n";
    out += "MIME-Version: 1.0\r\n";
    out += "X-Provisiond-Kind: " + header_safe(email.kind) + "\r\n";
    if (email.body_html.empty()) {
        out += text_part_headers() + "\r\n";
        append_crlf_lines(out, email.body_text);
        return out;
    }
    // "=_" never occurs in quoted-printable and the id is random: the boundary cannot collide.
    std::string boundary = "=_provisiond_" + email.id;
    out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
    out += "--" + boundary + "\r\n" + text_part_headers() + "\r\n";
    append_crlf_lines(out, email.body_text);
    out += "--" + boundary + "\r\n";
    out += "Content-Type: text/html; charset=utf-8\r\n";
    out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    out += quoted_printable(email.body_html);
    out += "--" + boundary + "--\r\n";
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
