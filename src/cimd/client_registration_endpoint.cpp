#include "cimd/client_registration_endpoint.hpp"

#include "http/api_version.hpp"
#include "http/body.hpp"
#include "http/error_envelope.hpp"

#include <boost/json.hpp>

namespace provisiond::cimd {

boost::json::object report_json(std::string_view client_id, const RegistrationReport& report) {
    boost::json::array checks;
    for (const auto& c : report.checks) {
        checks.push_back(boost::json::object{{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
    }
    boost::json::object out{{"client_id", client_id}, {"registered", report.registered}};
    if (report.registered && report.client) {
        const auto& c = *report.client;
        boost::json::array uris(c.redirect_uris.begin(), c.redirect_uris.end());
        boost::json::array scopes(c.scopes.begin(), c.scopes.end());
        out["client_type"] = "public";
        out["token_endpoint_auth_method"] = "none";
        out["client_name"] = c.name;
        out["redirect_uris"] = std::move(uris);
        out["logo_uri"] =
            c.logo_uri ? boost::json::value(*c.logo_uri) : boost::json::value(nullptr);
        out["scopes"] = std::move(scopes);
        out["verified"] = c.verified();
        out["organization_id"] = c.organization_id ? boost::json::value(*c.organization_id)
                                                   : boost::json::value(nullptr);
        out["provisioning"] =
            boost::json::object{{"active", c.is_active},
                                {"can_create_accounts", c.can_create_accounts},
                                {"can_provision_resources", c.can_provision_resources}};
    }
    out["checks"] = std::move(checks);
    return out;
}

http::Response handle_client_registration(ClientRegistrar& registrar,
                                          const http::Request& request) {
    // API-Version is optional here (a diagnostic should work in one curl), but checked if sent.
    if (request.header("api-version")) {
        if (auto refused = http::check_api_version(request)) {
            return *refused;
        }
    }
    auto body = http::parse_body(request);
    if (!body) {
        return http::error_response(http::Envelope::typed, body.error());
    }
    auto client_id = http::string_field(*body, "client_id");
    if (!client_id) {
        return http::error_response(http::Envelope::typed, client_id.error());
    }
    if (!*client_id || (*client_id)->empty()) {
        return http::error_response(
            http::Envelope::typed, make_error(ErrorCode::invalid_request, "client_id is required"));
    }
    auto report = registrar.register_now(**client_id, request.remote_address);
    if (!report) {
        return http::error_response(http::Envelope::typed, report.error());
    }
    boost::json::object out = report_json(**client_id, *report);
    if (!report->registered) {
        out["type"] = "error";
        out["error"] =
            boost::json::object{{"code", "registration_failed"}, {"message", report->failure}};
        auto response = http::json_response(400, boost::json::serialize(out));
        response.error_code = "registration_failed";
        return response;
    }
    auto response = http::json_response(200, boost::json::serialize(out));
    response.set_header("Cache-Control", "no-store");
    return response;
}

} // namespace provisiond::cimd
