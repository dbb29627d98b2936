#include "provisioning/resources_endpoint.hpp"

#include "core/unicode.hpp"
#include "http/api_version.hpp"
#include "http/body.hpp"
#include "http/error_envelope.hpp"
#include "provisioning/label_prefix.hpp"

#include <boost/json.hpp>

namespace provisiond::provisioning {
namespace {

constexpr std::size_t max_project_name_length = 200;
constexpr std::size_t max_external_project_id_length = 200;

http::Response failure(const Error& error, const std::string& id) {
    return http::error_response(http::Envelope::status, error, id);
}

http::Response complete(const ResourceCredentials& c) {
    boost::json::object access{{"api_key", c.api_key}, {"host", c.host}};
    if (c.personal_api_key) {
        access["personal_api_key"] = *c.personal_api_key;
    }
    boost::json::object out{
        {"status", "complete"},
        {"id", std::to_string(c.project_id)},
        {"service_id", c.service_id},
        {"complete", boost::json::object{{"access_configuration", std::move(access)}}}};
    auto r = http::json_response(200, boost::json::serialize(out));
    r.set_header("Cache-Control", "no-store");
    return r;
}

bool has_control(std::string_view text) {
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
            return true;
        }
    }
    return false;
}

/// service_id, project_id and configuration.project_name of a create.
Result<CreateResource> read_create(const boost::json::object& body) {
    CreateResource out;
    ASSIGN_OR_RETURN(auto service, http::string_field(body, "service_id"));
    if (service) {
        if (!is_known_service(*service)) {
            std::string shown = truncate_utf8(*service, 64);
            return make_error(ErrorCode::unknown_service, "Unknown service_id: " + shown);
        }
        out.service_id = *service;
    }
    if (auto it = body.find("project_id"); it != body.end() && !it->value().is_null()) {
        if (it->value().is_int64() || it->value().is_uint64()) {
            out.project_id = boost::json::serialize(it->value());
        } else if (it->value().is_string() && !it->value().as_string().empty()) {
            out.project_id = std::string(it->value().as_string());
        } else {
            return make_error(ErrorCode::invalid_request, "project_id must be a non-empty string");
        }
        if (out.project_id->size() > max_external_project_id_length ||
            has_control(*out.project_id)) {
            return make_error(
                ErrorCode::invalid_request,
                "project_id must be at most 200 characters without control characters");
        }
    }
    auto configuration = http::object_field(body, "configuration");
    auto name = http::string_field(configuration, "project_name");
    if (!name) {
        return make_error(ErrorCode::invalid_request,
                          "configuration.project_name must be a string");
    }
    if (*name && !(*name)->empty()) {
        if ((*name)->size() > max_project_name_length || has_control(**name)) {
            return make_error(ErrorCode::invalid_request,
                              "configuration.project_name must be at most 200 characters without "
                              "control characters");
        }
        if (auto cleaned = clean_display_text(**name, max_project_name_length); !cleaned.empty()) {
            out.project_name = cleaned;
        }
    }
    return out;
}

} // namespace

Result<oauth::BearerContext> ResourcesEndpoint::authorize(const http::Request& request,
                                                          std::optional<http::Response>& refused) {
    auto caller =
        oauth::authenticate_bearer(uow_, clock_, request.header("authorization").value_or(""));
    if (!caller) {
        refused = failure(caller.error(), "");
        if (caller.error().code == ErrorCode::unauthorized) {
            refused->set_header("WWW-Authenticate", "Bearer");
        }
        return caller.error();
    }
    if (auto bad_version = http::check_api_version(request)) {
        refused = *bad_version;
        return make_error(ErrorCode::invalid_api_version, "");
    }
    return caller;
}

http::Response ResourcesEndpoint::create(const http::Request& request) {
    std::optional<http::Response> refused;
    auto caller = authorize(request, refused);
    if (!caller) {
        return *refused;
    }
    auto body = http::parse_body(request);
    if (!body) {
        return failure(body.error(), "");
    }
    if (auto charged = service_.charge_create(*caller); !charged) {
        auto e = charged.error();
        e.message = "Rate limit exceeded for this partner. Try again later.";
        return failure(e, "");
    }
    auto prefix = parse_label_prefix(body->if_contains("label_prefix"));
    if (!prefix) {
        return failure(prefix.error(), "");
    }
    auto parsed = read_create(*body);
    if (!parsed) {
        return failure(parsed.error(), "");
    }
    parsed->label_prefix = *prefix;
    auto created = service_.create(*caller, *parsed);
    if (!created) {
        return failure(created.error(), "");
    }
    return complete(*created);
}

http::Response ResourcesEndpoint::get(const http::Request& request) {
    std::optional<http::Response> refused;
    auto caller = authorize(request, refused);
    if (!caller) {
        return *refused;
    }
    const std::string& id = request.path_params.at(0);
    auto found = service_.get(*caller, id);
    return found ? complete(*found) : failure(found.error(), id);
}

http::Response ResourcesEndpoint::rotate(const http::Request& request) {
    std::optional<http::Response> refused;
    auto caller = authorize(request, refused);
    if (!caller) {
        return *refused;
    }
    const std::string& id = request.path_params.at(0);
    auto body = http::parse_body(request);
    if (!body) {
        return failure(body.error(), id);
    }
    auto prefix = parse_label_prefix(body->if_contains("label_prefix"));
    if (!prefix) {
        return failure(prefix.error(), id);
    }
    auto rotated = service_.rotate(*caller, id, *prefix);
    return rotated ? complete(*rotated) : failure(rotated.error(), id);
}

http::Response ResourcesEndpoint::remove(const http::Request& request) {
    std::optional<http::Response> refused;
    auto caller = authorize(request, refused);
    if (!caller) {
        return *refused;
    }
    const std::string& id = request.path_params.at(0);
    auto removed = service_.remove(*caller, id);
    if (!removed) {
        return failure(removed.error(), id);
    }
    boost::json::object out{{"status", "removed"}, {"id", std::to_string(*removed)}};
    return http::json_response(200, boost::json::serialize(out));
}

} // namespace provisiond::provisioning
