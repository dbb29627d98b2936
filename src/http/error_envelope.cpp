#include "http/error_envelope.hpp"

#include <boost/json.hpp>

namespace provisiond::http {

unsigned status_of(ErrorCode code) {
    switch (code) {
    case ErrorCode::invalid_request:
    case ErrorCode::expired:
    case ErrorCode::invalid_grant:
    case ErrorCode::invalid_scope:
    case ErrorCode::unsupported_grant_type:
    case ErrorCode::invalid_label_prefix:
    case ErrorCode::invalid_resource_id:
    case ErrorCode::unknown_service:
    case ErrorCode::no_team:
    case ErrorCode::invalid_api_version:
    case ErrorCode::registration_failed:
    case ErrorCode::invalid_path:
        return 400;
    case ErrorCode::unauthorized:
        return 401;
    case ErrorCode::forbidden:
    case ErrorCode::deep_links_not_enabled:
        return 403;
    case ErrorCode::not_found:
    case ErrorCode::team_not_found:
    case ErrorCode::route_not_found:
        return 404;
    case ErrorCode::method_not_allowed:
        return 405;
    case ErrorCode::project_id_conflict:
    case ErrorCode::conflict:
        return 409;
    case ErrorCode::payload_too_large:
        return 413;
    case ErrorCode::unsupported_media_type:
        return 415;
    case ErrorCode::rate_limited:
        return 429;
    case ErrorCode::account_creation_failed:
    case ErrorCode::credential_rotation_failed:
    case ErrorCode::remove_failed:
    case ErrorCode::internal:
        return 500;
    case ErrorCode::unavailable:
        return 503;
    }
    return 500;
}

Response error_response(Envelope envelope, const Error& error,
                        const std::optional<std::string>& id) {
    unsigned status = status_of(error.code);
    std::string code(wire_name(error.code));
    std::string message = error.message;
    if (error.code == ErrorCode::internal || error.code == ErrorCode::conflict) {
        // Never show internals; the request id in the log line leads to the detail.
        code = "server_error";
        message = "Internal server error";
        status = 500;
    } else if (error.code == ErrorCode::unavailable) {
        message = "The service is temporarily unavailable; retry shortly";
    }

    boost::json::object body;
    boost::json::object inner{{"code", code}, {"message", message}};
    switch (envelope) {
    case Envelope::typed:
        if (id) {
            body["id"] = *id;
        }
        body["type"] = "error";
        body["error"] = std::move(inner);
        break;
    case Envelope::status:
        body["status"] = "error";
        body["id"] = id.value_or("");
        body["error"] = std::move(inner);
        break;
    case Envelope::oauth:
        // RFC 6749 has no 401 invalid_request; PostHog answers a missing PKCE verifier so,
        // and clients match on it.
        if (error.code == ErrorCode::unauthorized) {
            code = "invalid_request";
        }
        body["error"] = code;
        body["error_description"] = message;
        break;
    case Envelope::flat:
        body["error"] = std::move(inner);
        break;
    }
    Response r = json_response(status, boost::json::serialize(body));
    r.error_code = code;
    if (status >= 500) {
        r.debug = error.debug.empty() ? error.message : error.debug;
    }
    if (error.code == ErrorCode::rate_limited && error.retry_after_seconds > 0) {
        r.set_header("Retry-After", std::to_string(error.retry_after_seconds));
    } else if (error.code == ErrorCode::unavailable) {
        // A 503 is a promise that retrying helps: say when (RFC 9110 §10.2.3).
        r.set_header("Retry-After", std::to_string(error.retry_after_seconds > 0
                                                       ? error.retry_after_seconds
                                                       : unavailable_retry_after_seconds));
    }
    if (envelope == Envelope::oauth) {
        r.set_header("Cache-Control", "no-store");
        r.set_header("Pragma", "no-cache");
    }
    return r;
}

} // namespace provisiond::http
