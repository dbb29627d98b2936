#pragma once
// Boost.JSON keeps the last of two equal keys in an object. A body with `email` twice means
// different things to different readers (a proxy or a WAF may check the first, we would act on
// the last), so we refuse it, as form bodies refuse a repeated parameter.

#include <optional>
#include <string>
#include <string_view>

namespace provisiond::http {

/// The first key that appears twice in one object of the JSON text (at any depth); nullopt when
/// there is none. The text must already be known to parse (malformed JSON → nullopt).
std::optional<std::string> find_duplicate_key(std::string_view json, std::size_t max_depth);

} // namespace provisiond::http
