#include "core/iso8601.hpp"

#include <ctime>
#include <string>

namespace provisiond {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) {
        return false;
    }
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

} // namespace

std::optional<std::int64_t> parse_iso8601(std::string_view s) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, month) ||
        s[7] != '-' || !digits(s, 8, 2, day)) {
        return std::nullopt;
    }
    std::size_t pos = 10;
    int offset_seconds = 0;
    if (pos < s.size()) {
        if ((s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') || !digits(s, pos + 1, 2, hour) ||
            pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, minute)) {
            return std::nullopt;
        }
        pos += 6;
        if (pos < s.size() && s[pos] == ':') {
            if (!digits(s, pos + 1, 2, second)) {
                return std::nullopt;
            }
            pos += 3;
            if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
                ++pos;
                std::size_t start = pos;
                while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
                    ++pos;
                }
                if (pos == start) {
                    return std::nullopt;
                }
            }
        }
        if (pos < s.size()) {
            if (s[pos] == 'Z' || s[pos] == 'z') {
                ++pos;
            } else if (s[pos] == '+' || s[pos] == '-') {
                int oh = 0, om = 0;
                if (!digits(s, pos + 1, 2, oh)) {
                    return std::nullopt;
                }
                std::size_t next = pos + 3;
                if (next < s.size() && s[next] == ':') {
                    ++next;
                }
                if (!digits(s, next, 2, om)) {
                    return std::nullopt;
                }
                offset_seconds = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
                pos = next + 2;
            }
        }
        if (pos != s.size()) {
            return std::nullopt;
        }
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
        return std::nullopt;
    }
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return static_cast<std::int64_t>(timegm(&tm)) - offset_seconds;
}

std::string format_iso8601(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

} // namespace provisiond
