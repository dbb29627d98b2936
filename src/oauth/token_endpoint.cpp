#include "oauth/token_endpoint.hpp"

#include "core/unicode.hpp"
#include "http/body.hpp"
#include "http/error_envelope.hpp"

#include <boost/json.hpp>

namespace provisiond::oauth {
namespace {

http::Response oauth_error(const Error& error) {
    // PostHog answers a partner's rate limit on this endpoint with the typed envelope.
    if (error.code == ErrorCode::rate_limited) {
        auto r = http::error_response(http::Envelope::typed, error);
        r.set_header("Cache-Control", "no-store");
        return r;
    }
    return http::error_response(http::Envelope::oauth, error);
}

/// Reads an optional string parameter; a wrong type is invalid_request.
Result<std::optional<std::string>> param(const boost::json::object& body, std::string_view key) {
    return http::string_field(body, key);
}

http::Response success(const IssuedTokens& issued) {
    boost::json::object out{{"token_type", "bearer"},
                            {"access_token", issued.access_token},
                            {"refresh_token", issued.refresh_token},
                            {"expires_in", issued.expires_in}};
    if (issued.account) {
        boost::json::array teams;
        for (const auto& t : issued.account->available_teams) {
            teams.push_back(boost::json::object{{"id", t.id},
                                                {"name", t.name},
                                                {"organization_id", t.organization_id},
                                                {"organization_name", t.organization_name}});
        }
        out["account"] = boost::json::object{{"id", issued.account->organization_id},
                                             {"payment_credentials", "orchestrator"},
                                             {"available_teams", std::move(teams)}};
    }
    auto r = http::json_response(200, boost::json::serialize(out));
    r.set_header("Cache-Control", "no-store");
    r.set_header("Pragma", "no-cache");
    return r;
}

} // namespace

http::Response handle_token(TokenService& service, const http::Request& request) {
    auto body = http::parse_body(request);
    if (!body) {
        return oauth_error(body.error());
    }
    auto grant_type = param(*body, "grant_type");
    if (!grant_type) {
        return oauth_error(grant_type.error());
    }
    if (!*grant_type || (*grant_type)->empty()) {
        return oauth_error(
            make_error(ErrorCode::invalid_request,
                       "grant_type is required: authorization_code or refresh_token"));
    }
    // A client_secret from a public client (Nango sends a placeholder) is ignored: PKCE is the
    // proof.
    auto client_id = param(*body, "client_id");
    if (!client_id) {
        return oauth_error(client_id.error());
    }
    if (**grant_type == "authorization_code") {
        CodeExchange exchange;
        exchange.client_id = *client_id;
        for (auto [key, slot] : {std::pair{"code", &exchange.code},
                                 std::pair{"code_verifier", &exchange.code_verifier},
                                 std::pair{"redirect_uri", &exchange.redirect_uri}}) {
            auto value = param(*body, key);
            if (!value) {
                return oauth_error(value.error());
            }
            *slot = *value;
        }
        auto issued = service.exchange_code(exchange);
        return issued ? success(*issued) : oauth_error(issued.error());
    }
    if (**grant_type == "refresh_token") {
        RefreshRequest refresh;
        refresh.client_id = *client_id;
        auto token = param(*body, "refresh_token");
        if (!token) {
            return oauth_error(token.error());
        }
        refresh.refresh_token = *token;
        auto issued = service.refresh(refresh);
        return issued ? success(*issued) : oauth_error(issued.error());
    }
    std::string shown = truncate_utf8(**grant_type, 64);
    return oauth_error(make_error(ErrorCode::unsupported_grant_type,
                                  "Unsupported grant_type: " + shown +
                                      "; use authorization_code or refresh_token"));
}

} // namespace provisiond::oauth
