#include "app/routes.hpp"

#include "cimd/client_registration_endpoint.hpp"
#include "oauth/token_endpoint.hpp"
#include "provisioning/account_requests_endpoint.hpp"

namespace provisiond::app {

using http::Envelope;
using http::Request;

void register_routes(http::Router& router, Endpoints e) {
    for (std::string prefix : {"/api/agentic/provisioning", "/api/provisioning"}) {
        router.add("POST", prefix + "/account_requests", Envelope::typed,
                   [&svc = e.account_requests](Request& r) { return provisioning::handle_account_requests(svc, r); });
        router.add("POST", prefix + "/client_registration", Envelope::typed,
                   [&reg = e.registrar](Request& r) { return cimd::handle_client_registration(reg, r); });
        // Specific resource routes before the general {id} route.
        router.add("POST", prefix + "/resources/{id}/rotate_credentials", Envelope::status,
                   [&ep = e.resources](Request& r) { return ep.rotate(r); });
        router.add("POST", prefix + "/resources/{id}/remove", Envelope::status,
                   [&ep = e.resources](Request& r) { return ep.remove(r); });
        router.add("GET", prefix + "/resources/{id}", Envelope::status,
                   [&ep = e.resources](Request& r) { return ep.get(r); });
        router.add("POST", prefix + "/resources", Envelope::status,
                   [&ep = e.resources](Request& r) { return ep.create(r); });
    }
    for (std::string path : {"/api/agentic/oauth/token", "/api/provisioning/oauth/token", "/oauth/token"}) {
        router.add("POST", path, Envelope::oauth,
                   [&svc = e.tokens](Request& r) { return oauth::handle_token(svc, r); });
    }
    router.add("GET", "/_health", Envelope::flat,
               [](Request&) { return http::json_response(200, R"({"status":"ok"})"); });
    router.add("GET", "/_ready", Envelope::flat, [&uow = e.uow](Request&) {
        return uow.ping() ? http::json_response(200, R"({"status":"ready"})")
                          : http::json_response(503, R"({"status":"unavailable","error":{"code":"storage_unavailable","message":"The database does not answer"}})");
    });
}

} // namespace provisiond::app
