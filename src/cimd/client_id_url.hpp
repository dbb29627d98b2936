#pragma once
// The client_id URL rules of CIMD (draft-02 §3, docs/CIMD.md): pure string checks run before any
// I/O. A client id that starts with https:// is a metadata-document URL and must pass them all.

#include "core/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace provisiond::cimd {

/// A client_id that passed every rule. `url` is the client id exactly as given.
struct ClientIdUrl {
    std::string url;
    std::string host; ///< lower-cased; IPv6 literals without brackets
    std::uint16_t port = 443;
};

/// True when the client id claims to be a metadata-document URL (starts with "https://").
bool looks_like_document_url(std::string_view client_id);

/// Checks every rule; the error (invalid_request) says which one failed.
Result<ClientIdUrl> parse_client_id_url(std::string_view client_id);

} // namespace provisiond::cimd
