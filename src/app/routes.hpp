#pragma once

#include "cimd/client_registrar.hpp"
#include "http/router.hpp"
#include "oauth/token_service.hpp"
#include "provisioning/account_requests.hpp"
#include "provisioning/resources_endpoint.hpp"
#include "web/account_pages.hpp"
#include "web/authorize_endpoint.hpp"
#include "web/consent_pages.hpp"
#include "web/dashboard_pages.hpp"
#include "web/password_pages.hpp"

namespace provisiond::app {

struct Endpoints {
    provisioning::AccountRequestService& account_requests;
    oauth::TokenService& tokens;
    provisioning::ResourcesEndpoint& resources;
    cimd::ClientRegistrar& registrar;
    UnitOfWork& uow;
    const Clock& clock;
    const Config& config;
    web::AccountPages& account_pages;
    web::ConsentPages& consent_pages;
    web::DashboardPages& dashboard;
    web::AuthorizeEndpoint& authorize;
    const web::Pages& pages;
    web::PasswordPages& password_pages;
};

/// Every route: the public API under /api/agentic/… with the /api/provisioning/… aliases, the
/// standard OAuth endpoints, and the pages.
/// `endpoints` must outlive the router (the routes capture it).
void register_routes(http::Router& router, Endpoints& endpoints);

} // namespace provisiond::app
