#pragma once

#include "cimd/client_registrar.hpp"
#include "http/router.hpp"
#include "oauth/token_service.hpp"
#include "provisioning/account_requests.hpp"
#include "provisioning/resources_endpoint.hpp"

namespace provisiond::app {

struct Endpoints {
    provisioning::AccountRequestService& account_requests;
    oauth::TokenService& tokens;
    provisioning::ResourcesEndpoint& resources;
    cimd::ClientRegistrar& registrar;
    storage::UnitOfWork& uow;
};

/// Every route of the public API, under /api/agentic/… with the /api/provisioning/… aliases.
void register_routes(http::Router& router, Endpoints endpoints);

} // namespace provisiond::app
