#pragma once
// Validates a fetched client metadata document (docs/CIMD.md "Validating the document").

#include "cimd/client_id_url.hpp"
#include "core/error.hpp"

#include <optional>
#include <string>
#include <vector>

namespace provisiond::cimd {

/// What provisiond keeps from a valid document.
struct ClientMetadata {
    std::string client_id;
    std::string client_name;
    std::vector<std::string> redirect_uris;
    std::optional<std::string> logo_uri;
    std::vector<std::string> scopes; ///< the ceiling, sorted
    std::optional<std::string> verification_token;
    std::vector<std::string> notes; ///< what was dropped or defaulted, for the registration checks
};

/// Fails with registration_failed and a message naming the member and the problem.
Result<ClientMetadata> validate_document(const ClientIdUrl& url, std::string_view body);

/// The document as stored for operators: verification tokens masked (phvt_...abcd), since
/// only a token's hash may be kept.
std::string redact_document(std::string_view body);

/// The rule for one redirect URI: "" when acceptable, else why not. Shared with the operator CLI.
std::string redirect_uri_problem(std::string_view uri);

} // namespace provisiond::cimd
