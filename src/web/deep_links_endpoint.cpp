#include "web/deep_links_endpoint.hpp"

#include "core/iso8601.hpp"
#include "crypto/crypto.hpp"
#include "http/api_version.hpp"
#include "http/body.hpp"
#include "http/error_envelope.hpp"
#include "oauth/bearer.hpp"
#include "web/browser_repository.hpp"
#include "web/form.hpp"

#include <boost/json.hpp>

namespace provisiond::web {

http::Response handle_deep_links(UnitOfWork& uow, const Clock& clock, const Config& config,
                                 const http::Request& request) {
    auto caller =
        oauth::authenticate_bearer(uow, clock, request.header("authorization").value_or(""));
    if (!caller) {
        auto r = http::error_response(http::Envelope::typed, caller.error());
        if (caller.error().code == ErrorCode::unauthorized) {
            r.set_header("WWW-Authenticate", "Bearer");
        }
        return r;
    }
    if (auto refused = http::check_api_version(request)) {
        return *refused;
    }
    if (!caller->client.can_issue_deep_links) {
        return http::error_response(
            http::Envelope::typed,
            make_error(ErrorCode::deep_links_not_enabled,
                       "Deep links are not enabled for this partner; the operator grants them with "
                       "`provisiond clients set-capability <client_id> deep_links on`"));
    }
    auto body = http::parse_body(request);
    if (!body) {
        return http::error_response(http::Envelope::typed, body.error());
    }
    auto purpose = http::string_field(*body, "purpose");
    auto path = http::string_field(*body, "path");
    if (!purpose || !path) {
        return http::error_response(
            http::Envelope::typed,
            make_error(ErrorCode::invalid_request, "purpose and path must be strings"));
    }
    std::string chosen_purpose = purpose->value_or("dashboard");
    if (chosen_purpose.empty() || chosen_purpose.size() > 64) {
        return http::error_response(
            http::Envelope::typed,
            make_error(ErrorCode::invalid_request, "purpose must be 1 to 64 characters"));
    }
    if (*path && !web::is_safe_path(**path)) {
        return http::error_response(
            http::Envelope::typed,
            make_error(ErrorCode::invalid_path,
                       "path must be a relative in-app path beginning with a single '/'"));
    }
    std::string token = crypto::random_urlsafe_token();
    std::int64_t now = clock.now();
    std::optional<std::int64_t> project;
    if (!caller->family.project_ids.empty()) {
        project = caller->family.project_ids.front();
    }
    auto stored = uow.run(TransactionMode::write, [&](Repositories& r) {
        return r.browser().insert_deep_link({crypto::sha256_hex(token), caller->family.user_id,
                                             caller->client.client_id, project, chosen_purpose,
                                             *path, now, now + deep_link_lifetime_seconds});
    });
    if (!stored) {
        return http::error_response(http::Envelope::typed, stored.error());
    }
    boost::json::object out{{"purpose", chosen_purpose},
                            {"url", config.public_url + "/agentic/login?token=" + token},
                            {"expires_at", format_iso8601(now + deep_link_lifetime_seconds)}};
    auto r = http::json_response(200, boost::json::serialize(out));
    r.set_header("Cache-Control", "no-store");
    return r;
}

} // namespace provisiond::web
