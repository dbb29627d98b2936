#pragma once

#include "http/error_envelope.hpp"

namespace provisiond::http {

inline constexpr std::string_view supported_api_version = "0.1d";

/// The `API-Version: 0.1d` gate of the provisioning endpoints: nullopt when it passes, else the
/// flat 400 `invalid_api_version` answer.
std::optional<Response> check_api_version(const Request& request);

} // namespace provisiond::http
