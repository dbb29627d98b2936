#pragma once
// Small helpers shared by the page handlers: form fields, query parameters, safe redirect
// targets and URL encoding.

#include "http/message.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>

namespace provisiond::web {

/// A form field as a string ("" when missing or not a string).
std::string form_field(const boost::json::object& form, std::string_view key);

/// True for a relative in-app path: one leading '/', no "//", no '\', no control characters.
bool is_safe_path(std::string_view path);

/// `next` when it is a safe path, else "/dashboard".
std::string safe_next(std::string_view next);

std::string url_encode(std::string_view text);

} // namespace provisiond::web
