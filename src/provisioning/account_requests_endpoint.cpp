#include "provisioning/account_requests_endpoint.hpp"

#include "core/unicode.hpp"
#include "http/api_version.hpp"
#include "http/body.hpp"

#include <boost/json.hpp>

namespace provisiond::provisioning {
namespace {

constexpr std::size_t max_name_length = 150;
constexpr std::size_t max_organization_name_length = 128;

/// Reads the body into an AccountRequest; a field of the wrong type is invalid_request.
Result<AccountRequest> read_request(const boost::json::object& body, const http::Request& raw) {
    AccountRequest out;
    ASSIGN_OR_RETURN(out.id, http::string_field(body, "id"));
    ASSIGN_OR_RETURN(out.email, http::string_field(body, "email"));
    ASSIGN_OR_RETURN(auto name, http::string_field(body, "name"));
    if (name.value_or("").size() > max_name_length) {
        return make_error(ErrorCode::invalid_request, "name must be at most 150 characters");
    }
    // Display text reaches emails and pages: one line, no invisible characters.
    out.name = clean_display_text(name.value_or(""), max_name_length);
    ASSIGN_OR_RETURN(out.client_id, http::string_field(body, "client_id"));
    if (!out.client_id) {
        out.client_id = http::query_param(raw, "client_id"); // PostHog also reads ?client_id=…
    }
    ASSIGN_OR_RETURN(out.scopes, http::string_list_field(body, "scopes"));
    ASSIGN_OR_RETURN(out.expires_at, http::string_field(body, "expires_at"));
    ASSIGN_OR_RETURN(out.code_challenge, http::string_field(body, "code_challenge"));
    ASSIGN_OR_RETURN(out.code_challenge_method, http::string_field(body, "code_challenge_method"));

    boost::json::object configuration = http::object_field(body, "configuration");
    auto region = http::string_field(configuration, "region");
    if (!region) {
        return make_error(ErrorCode::invalid_request, "configuration.region must be a string");
    }
    if (*region) {
        std::string upper = **region;
        for (auto& c : upper) {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        if (upper != "US" && upper != "EU") {
            return make_error(ErrorCode::invalid_request, "configuration.region must be US or EU");
        }
        out.region = upper;
    }
    auto organization = http::string_field(configuration, "organization_name");
    if (!organization) {
        return make_error(ErrorCode::invalid_request,
                          "configuration.organization_name must be a string");
    }
    if (*organization && !(*organization)->empty()) {
        if ((*organization)->size() > max_organization_name_length) {
            return make_error(ErrorCode::invalid_request,
                              "configuration.organization_name must be at most 128 characters");
        }
        if (auto cleaned = clean_display_text(**organization, max_organization_name_length);
            !cleaned.empty()) {
            out.organization_name = cleaned;
        }
    }
    return out;
}

} // namespace

http::Response handle_account_requests(AccountRequestService& service,
                                       const http::Request& request) {
    if (auto refused = http::check_api_version(request)) {
        return *refused;
    }
    auto body = http::parse_body(request);
    if (!body) {
        return http::error_response(http::Envelope::typed, body.error());
    }
    // Echo the partner's id in every answer once we can read it.
    std::optional<std::string> id;
    if (auto it = body->find("id"); it != body->end() && it->value().is_string()) {
        id = std::string(it->value().as_string());
    }
    auto parsed = read_request(*body, request);
    if (!parsed) {
        return http::error_response(http::Envelope::typed, parsed.error(), id);
    }
    parsed->remote_address = request.remote_address;
    auto answer = service.handle(*parsed);
    if (!answer) {
        // Authentication and throttling failures carry no id (PostHog's shape).
        bool anonymous = answer.error().code == ErrorCode::unauthorized ||
                         answer.error().code == ErrorCode::rate_limited;
        return http::error_response(http::Envelope::typed, answer.error(),
                                    anonymous ? std::nullopt : id);
    }
    if (answer->kind == AccountRequestAnswer::Kind::registering) {
        // A new metadata-document client: registration runs in the background (no id, as PostHog).
        boost::json::object registering{{"type", "registering"},
                                        {"retry_after", answer->retry_after_seconds}};
        auto response = http::json_response(202, boost::json::serialize(registering));
        response.set_header("Retry-After", std::to_string(answer->retry_after_seconds));
        response.set_header("Cache-Control", "no-store");
        return response;
    }
    boost::json::object out;
    out["id"] = id.value_or("");
    if (answer->kind == AccountRequestAnswer::Kind::oauth) {
        out["type"] = "oauth";
        out["oauth"] = boost::json::object{{"code", answer->code}};
    } else {
        out["type"] = "requires_auth";
        out["requires_auth"] = boost::json::object{{"url", answer->url}};
    }
    auto response = http::json_response(200, boost::json::serialize(out));
    response.set_header("Cache-Control", "no-store");
    return response;
}

} // namespace provisiond::provisioning
