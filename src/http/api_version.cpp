#include "http/api_version.hpp"

#include "core/unicode.hpp"

namespace provisiond::http {

std::optional<Response> check_api_version(const Request& request) {
    auto version = request.header("api-version");
    if (version && *version == supported_api_version) {
        return std::nullopt;
    }
    // PostHog's sentence ends the message, for anyone who matches on it.
    std::string message =
        version ? "API-Version \"" + clean_display_text(*version, 32) +
                      "\" is not supported; send API-Version: 0.1d. Supported API-Versions: 0.1d"
                : "The API-Version header is missing; send API-Version: 0.1d. Supported "
                  "API-Versions: 0.1d";
    return error_response(Envelope::flat, make_error(ErrorCode::invalid_api_version, message));
}

} // namespace provisiond::http
