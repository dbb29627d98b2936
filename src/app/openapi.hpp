#pragma once
// The OpenAPI 3.1 contract of the partner API and the OAuth endpoints, kept in docs/openapi.json
// and embedded at build time (tools/embed_file.cmake); served at GET /api/agentic/openapi.json.

#include <string_view>

namespace provisiond::app {

std::string_view openapi_document();

} // namespace provisiond::app
