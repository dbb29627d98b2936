#pragma once
// POST /api/agentic/provisioning/client_registration: registers (or re-fetches) a client now
// and lists named checks, so a partner can diagnose its setup in one call (docs/CIMD.md).

#include "cimd/client_registrar.hpp"
#include "http/message.hpp"

#include <boost/json/object.hpp>

namespace provisiond::cimd {

http::Response handle_client_registration(ClientRegistrar& registrar, const http::Request& request);

/// The JSON of a report, as the endpoint and `provisiond clients check` print it.
boost::json::object report_json(std::string_view client_id, const RegistrationReport& report);

} // namespace provisiond::cimd
