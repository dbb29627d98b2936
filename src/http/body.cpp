#include "http/body.hpp"

#include "core/strings.hpp"
#include "core/unicode.hpp"
#include "http/json_duplicate_keys.hpp"

#include <boost/json.hpp>
#include <boost/url/parse_query.hpp>

namespace provisiond::http {
namespace {

Error bad(std::string message) {
    return make_error(ErrorCode::invalid_request, std::move(message));
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

/// The media type without parameters, lower-cased: "application/json; charset=UTF-8" →
/// "application/json".
std::string media_type(std::string_view content_type) {
    auto semicolon = content_type.find(';');
    std::string_view type = content_type.substr(0, semicolon);
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) {
        type.remove_suffix(1);
    }
    while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) {
        type.remove_prefix(1);
    }
    return lower(type);
}

/// One refusal for a key given twice, in a form or a JSON object (RFC 6749 §3.2 for forms).
std::string repeated_key(const std::string& key) {
    return "Parameter " + truncate_utf8(key, 100) + " appears more than once";
}

Result<boost::json::object> parse_json(std::string_view text) {
    boost::json::parse_options options;
    options.max_depth = max_json_depth;
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(text, ec, {}, options);
    if (ec) {
        if (ec == boost::json::error::too_deep) {
            return bad("JSON body is nested too deeply");
        }
        if (ec == boost::json::error::syntax || ec == boost::json::error::extra_data ||
            ec == boost::json::error::incomplete) {
            if (!is_valid_utf8(text)) {
                return bad("Request body is not valid UTF-8");
            }
        }
        return bad("Request body is not valid JSON: " + ec.message());
    }
    if (!value.is_object()) {
        return bad("Request body must be a JSON object");
    }
    if (auto key = find_duplicate_key(text, max_json_depth)) {
        return bad(repeated_key(*key));
    }
    return std::move(value.as_object());
}

} // namespace

Result<boost::json::object> parse_form(std::string_view text) {
    boost::json::object out;
    auto params = boost::urls::parse_query(text);
    if (!params) {
        return bad("Request body is not valid form encoding");
    }
    for (auto param : *params) {
        // application/x-www-form-urlencoded: percent-decoding, with '+' meaning a space.
        boost::urls::encoding_opts form_encoding;
        form_encoding.space_as_plus = true;
        std::string key = param.key.decode(form_encoding);
        std::string value = param.has_value ? param.value.decode(form_encoding) : std::string();
        if (!is_valid_utf8(key) || !is_valid_utf8(value)) {
            return bad("Request body is not valid UTF-8");
        }
        if (out.contains(key)) {
            // RFC 6749 §3.2: a parameter must not appear more than once.
            return bad(repeated_key(key));
        }
        out[key] = value;
    }
    return out;
}

std::optional<std::string> query_param(const Request& request, std::string_view key) {
    if (request.query.empty()) {
        return std::nullopt;
    }
    auto params = boost::urls::parse_query(request.query);
    if (!params) {
        return std::nullopt;
    }
    boost::urls::encoding_opts options;
    options.space_as_plus = true;
    for (auto p : *params) {
        if (p.key.decode(options) == key) {
            return p.has_value ? p.value.decode(options) : std::string();
        }
    }
    return std::nullopt;
}

Result<boost::json::object> parse_body(const Request& request) {
    std::string_view body = request.body;
    auto content_type = request.header("content-type");
    std::string type = content_type ? media_type(*content_type) : "";
    bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
    if (type.empty()) {
        if (blank) {
            return boost::json::object{};
        }
        // No declared type: JSON when it looks like JSON, else a form.
        return body.find_first_not_of(" \t\r\n") != std::string_view::npos &&
                       body[body.find_first_not_of(" \t\r\n")] == '{'
                   ? parse_json(body)
                   : parse_form(body);
    }
    if (type == "application/json" || (type.size() > 5 && type.ends_with("+json"))) {
        if (blank) {
            return boost::json::object{};
        }
        return parse_json(body);
    }
    if (type == "application/x-www-form-urlencoded") {
        // `curl -d '{…}'` declares a form by default; a body that is plainly a JSON object is
        // read as JSON rather than rejected (a form cannot start with '{').
        auto first = body.find_first_not_of(" \t\r\n");
        if (first != std::string_view::npos && body[first] == '{') {
            return parse_json(body);
        }
        return parse_form(body);
    }
    return make_error(ErrorCode::unsupported_media_type,
                      "Unsupported Content-Type " + type +
                          ": send application/json or application/x-www-form-urlencoded");
}

Result<std::optional<std::string>> string_field(const boost::json::object& body,
                                                std::string_view key) {
    auto it = body.find(key);
    if (it == body.end() || it->value().is_null()) {
        return std::optional<std::string>{};
    }
    if (!it->value().is_string()) {
        return bad(std::string(key) + " must be a string");
    }
    return std::optional<std::string>{std::string(it->value().as_string())};
}

Result<std::optional<std::vector<std::string>>> string_list_field(const boost::json::object& body,
                                                                  std::string_view key) {
    auto it = body.find(key);
    if (it == body.end() || it->value().is_null()) {
        return std::optional<std::vector<std::string>>{};
    }
    std::vector<std::string> out;
    if (it->value().is_string()) {
        // Form bodies carry lists space-separated, as OAuth's scope parameter does.
        out = split_spaces(std::string_view(it->value().as_string()));
        return std::optional<std::vector<std::string>>{out};
    }
    if (!it->value().is_array()) {
        return bad(std::string(key) + " must be a list of strings");
    }
    for (const auto& v : it->value().as_array()) {
        if (!v.is_string()) {
            return bad(std::string(key) + " must be a list of strings");
        }
        out.emplace_back(v.as_string());
    }
    return std::optional<std::vector<std::string>>{out};
}

boost::json::object object_field(const boost::json::object& body, std::string_view key) {
    auto it = body.find(key);
    if (it == body.end() || !it->value().is_object()) {
        return {};
    }
    return it->value().as_object();
}

} // namespace provisiond::http
