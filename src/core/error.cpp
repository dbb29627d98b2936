#include "core/error.hpp"

#include <stdexcept>

namespace provisiond {

std::string_view wire_name(ErrorCode code) {
    switch (code) {
    case ErrorCode::invalid_request:
        return "invalid_request";
    case ErrorCode::unauthorized:
        return "unauthorized";
    case ErrorCode::forbidden:
        return "forbidden";
    case ErrorCode::not_found:
        return "not_found";
    case ErrorCode::expired:
        return "expired";
    case ErrorCode::invalid_grant:
        return "invalid_grant";
    case ErrorCode::invalid_scope:
        return "invalid_scope";
    case ErrorCode::unsupported_grant_type:
        return "unsupported_grant_type";
    case ErrorCode::rate_limited:
        return "rate_limited";
    case ErrorCode::invalid_label_prefix:
        return "invalid_label_prefix";
    case ErrorCode::invalid_resource_id:
        return "invalid_resource_id";
    case ErrorCode::unknown_service:
        return "unknown_service";
    case ErrorCode::no_team:
        return "no_team";
    case ErrorCode::team_not_found:
        return "team_not_found";
    case ErrorCode::project_id_conflict:
        return "project_id_conflict";
    case ErrorCode::account_creation_failed:
        return "account_creation_failed";
    case ErrorCode::credential_rotation_failed:
        return "credential_rotation_failed";
    case ErrorCode::remove_failed:
        return "remove_failed";
    case ErrorCode::registration_failed:
        return "registration_failed";
    case ErrorCode::invalid_path:
        return "invalid_path";
    case ErrorCode::deep_links_not_enabled:
        return "deep_links_not_enabled";
    case ErrorCode::invalid_api_version:
        return "invalid_api_version";
    case ErrorCode::payload_too_large:
        return "invalid_request";
    case ErrorCode::unsupported_media_type:
        return "invalid_request";
    case ErrorCode::route_not_found:
        return "not_found";
    case ErrorCode::method_not_allowed:
        return "method_not_allowed";
    case ErrorCode::conflict:
        return "conflict";
    case ErrorCode::unavailable:
        return "service_unavailable";
    case ErrorCode::internal:
        return "server_error";
    }
    return "server_error";
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
    throw std::logic_error("unchecked error result: " + std::string(wire_name(error.code)) + ": " +
                           error.message + " " + error.debug);
}

} // namespace provisiond
