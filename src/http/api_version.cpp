#include "http/api_version.hpp"

namespace provisiond::http {

std::optional<Response> check_api_version(const Request& request) {
    auto version = request.header("api-version");
    if (version && *version == supported_api_version) {
        return std::nullopt;
    }
    return error_response(
        Envelope::flat, make_error(ErrorCode::invalid_api_version, "Supported API-Versions: 0.1d"));
}

} // namespace provisiond::http
