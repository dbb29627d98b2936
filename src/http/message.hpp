#pragma once
// The request and response as the rest of provisiond sees them: plain values, no Beast types,
// so that endpoint code compiles fast and can be tested without sockets.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace provisiond::http {

struct Request {
    std::string method;                                       ///< "GET", "POST", …
    std::string path;                                         ///< percent-encoded path, no query
    std::string query;                                        ///< raw query string without '?'
    std::vector<std::pair<std::string, std::string>> headers; ///< names lower-cased
    std::string body;
    std::string remote_address;
    std::string request_id;
    std::vector<std::string> path_params; ///< values of {placeholders}, in order
    std::string route; ///< the matched route's pattern ("/project/{id}"); empty when none matched

    /// The first header with this lower-case name.
    std::optional<std::string_view> header(std::string_view lower_name) const;
};

struct Response {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    /// The wire error code when this is an error response (for the access log only).
    std::string error_code;
    /// What went wrong behind a 5xx, never shown to the caller: the access log carries it.
    std::string debug;
    /// The partner the request was for, when the handler knows it (for the access log only).
    std::string client_id;

    void set_header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
    }
};

/// A JSON response with the given status.
Response json_response(unsigned status, std::string body);

} // namespace provisiond::http
