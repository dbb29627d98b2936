#pragma once
// Request bodies as JSON objects, whatever their encoding: application/json or
// application/x-www-form-urlencoded (form values become JSON strings).

#include "core/error.hpp"
#include "http/message.hpp"

#include <boost/json/object.hpp>

namespace provisiond::http {

inline constexpr std::size_t max_json_depth = 32;

/// Parses the body. Empty body → empty object. Errors (invalid_request, unsupported_media_type)
/// say exactly what is wrong.
Result<boost::json::object> parse_body(const Request& request);

/// A query-string parameter, percent-decoded ('+' is a space); nullopt when absent or when the
/// query string is malformed.
std::optional<std::string> query_param(const Request& request, std::string_view key);

/// Parses `a=1&b=2` into an object of strings; invalid percent-encoding or UTF-8 → error.
Result<boost::json::object> parse_form(std::string_view text);

/// Typed field access: absent or null → nullopt; present with the wrong type → invalid_request
/// naming the field ("email must be a string").
Result<std::optional<std::string>> string_field(const boost::json::object& body,
                                                std::string_view key);
Result<std::optional<std::vector<std::string>>> string_list_field(const boost::json::object& body,
                                                                  std::string_view key);
/// A nested object; absent, null or not an object → empty object (PostHog's leniency).
boost::json::object object_field(const boost::json::object& body, std::string_view key);

} // namespace provisiond::http
