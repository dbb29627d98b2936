#pragma once
// The closed vocabulary of failures. Domain code returns these; only http/error_envelope.cpp
// turns them into bytes, choosing the envelope (typed, status, OAuth, flat) by route family.

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace provisiond {

/// Every failure a request can end in. Enumerators mirror the wire codes where one exists.
enum class ErrorCode {
    invalid_request,
    unauthorized,
    forbidden,
    not_found,
    expired,
    invalid_grant,
    invalid_scope,
    unsupported_grant_type,
    rate_limited,
    invalid_label_prefix,
    invalid_resource_id,
    unknown_service,
    no_team,
    team_not_found,
    project_id_conflict,
    account_creation_failed,
    credential_rotation_failed,
    remove_failed,
    registration_failed,
    invalid_path,           ///< deep_links: not a relative in-app path (400)
    deep_links_not_enabled, ///< deep_links: the operator has not granted the capability (403) ///<
                            ///< a CIMD document could not be fetched or is invalid (400)
    invalid_api_version,
    payload_too_large,      ///< body over the configured limit (413)
    unsupported_media_type, ///< body in a media type we do not parse (415)
    route_not_found,        ///< no route for the path (404)
    method_not_allowed,     ///< route exists, method does not (405)
    conflict,               ///< storage: a uniqueness constraint fired
    unavailable,            ///< storage or another dependency is not answering (503)
    internal,               ///< a broken invariant; shown as a generic server error (500)
};

/// The wire spelling of a code (`invalid_grant`, `rate_limited`, …).
std::string_view wire_name(ErrorCode code);

/// A failure: `message` is safe to show to the caller; `debug` is for the log only.
struct Error {
    ErrorCode code = ErrorCode::internal;
    std::string message;
    std::string debug;
    std::int64_t retry_after_seconds = 0; ///< for rate_limited: seconds until the window ends
};

inline Error make_error(ErrorCode code, std::string message, std::string debug = {}) {
    return Error{code, std::move(message), std::move(debug), 0};
}

/// Called by result<T, Error>::value() when it holds an error; we treat that as a bug.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

template <class T> using Result = boost::system::result<T, Error>;

} // namespace provisiond

/// Propagates the error of an expression yielding a Result; the value, if any, is discarded.
#define RETURN_IF_ERROR(expr)                                                                      \
    do {                                                                                           \
        if (auto result_ = (expr); !result_) {                                                     \
            return result_.error();                                                                \
        }                                                                                          \
    } while (0)

/// Evaluates an expression yielding a Result<T>: on error, returns the error; otherwise moves
/// the value into `lhs`, a new variable (`auto user`) or an existing one (`code`).
///     ASSIGN_OR_RETURN(auto token, grants.find_refresh_token(hash));
#define ASSIGN_OR_RETURN(lhs, expr)                                                                \
    PROVISIOND_ASSIGN_OR_RETURN_(PROVISIOND_CONCAT_(assigned_, __LINE__), lhs, expr)
#define PROVISIOND_ASSIGN_OR_RETURN_(result, lhs, expr)                                            \
    auto result = (expr);                                                                          \
    if (!result) {                                                                                 \
        return result.error();                                                                     \
    }                                                                                              \
    lhs = std::move(*result)
#define PROVISIOND_CONCAT_(a, b) PROVISIOND_CONCAT_INNER_(a, b)
#define PROVISIOND_CONCAT_INNER_(a, b) a##b
