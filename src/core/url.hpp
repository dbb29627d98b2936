#pragma once
// Parsing absolute URLs with Boost.URL, plus one check Boost.URL 1.81 misses: it accepts
// "http://127.0.0.1.evil.example/x" as host 127.0.0.1 with the path ".evil.example/x", which RFC
// 3986 forbids (after an authority the path is empty or starts with '/'). Every URL provisiond
// reads from outside goes through here, so no rule is ever checked against the wrong host.

#include <boost/url/url_view.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace provisiond {

std::optional<boost::urls::url_view> parse_absolute_url(std::string_view text);

/// `uri` with the parameters appended to its query, every key and value percent-encoded except
/// RFC 3986 unreserved characters (so '+' arrives as '+', not as a space). `uri` has no fragment.
std::string append_query(std::string_view uri,
                         const std::vector<std::pair<std::string, std::string>>& params);

} // namespace provisiond
