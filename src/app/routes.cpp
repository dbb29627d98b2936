#include "app/routes.hpp"

#include "app/openapi.hpp"
#include "app/probes.hpp"
#include "cimd/client_registration_endpoint.hpp"
#include "http/body.hpp"
#include "oauth/metadata_endpoint.hpp"
#include "oauth/revocation_endpoint.hpp"
#include "oauth/token_endpoint.hpp"
#include "provisioning/account_requests_endpoint.hpp"
#include "provisioning/credential_introspection.hpp"
#include "web/deep_links_endpoint.hpp"
#include "web/page.hpp"

namespace provisiond::app {

using http::Envelope;
using http::Request;
using http::Runs;

namespace {

/// The handler, with the partner the request names (its body's client_id) noted for the access
/// log: "client id where known".
template <class Handler> auto naming_client(Handler handler) {
    return [handler = std::move(handler)](Request& r) {
        http::Response response = handler(r);
        if (response.client_id.empty()) {
            if (auto body = http::parse_body(r)) {
                if (auto id = http::string_field(*body, "client_id"); id && *id) {
                    response.client_id = **id;
                }
            }
        }
        return response;
    };
}

} // namespace

void register_routes(http::Router& router, Endpoints& e) {
    for (std::string prefix : {"/api/agentic/provisioning", "/api/provisioning"}) {
        router.add("POST", prefix + "/account_requests", Envelope::typed,
                   naming_client([&svc = e.account_requests](Request& r) {
                       return provisioning::handle_account_requests(svc, r);
                   }));
        router.add("POST", prefix + "/deep_links", Envelope::typed, [&e](Request& r) {
            return web::handle_deep_links(e.uow, e.clock, e.config, r);
        });
        router.add(
            "POST", prefix + "/client_registration", Envelope::typed,
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
    for (std::string path :
         {"/api/agentic/oauth/token", "/api/provisioning/oauth/token", "/oauth/token"}) {
        router.add("POST", path, Envelope::oauth, naming_client([&svc = e.tokens](Request& r) {
                       return oauth::handle_token(svc, r);
                   }));
    }
    for (std::string path : {"/oauth/revoke", "/api/agentic/oauth/revoke"}) {
        router.add("POST", path, Envelope::oauth,
                   [&e](Request& r) { return oauth::handle_revoke(e.uow, e.clock, r); });
    }
    for (std::string path : {"/oauth/introspect", "/api/agentic/oauth/introspect"}) {
        router.add("POST", path, Envelope::oauth, [&e](Request& r) {
            provisioning::ProvisioningCredentials provisioned; // phx_ and phc_
            return oauth::handle_introspect(e.uow, e.clock, e.config, provisioned, r);
        });
    }
    router.add(
        "GET", "/api/agentic/openapi.json", Envelope::flat,
        [](Request&) {
            auto response = http::json_response(200, std::string(openapi_document()));
            response.set_header("Cache-Control", "public, max-age=300");
            return response;
        },
        Runs::on_io_thread);
    router.add(
        "GET", "/.well-known/oauth-authorization-server", Envelope::oauth,
        [&e](Request&) { return oauth::handle_metadata(e.config); }, Runs::on_io_thread);
    router.add("GET", "/oauth/authorize", Envelope::flat,
               [&e](Request& r) { return e.authorize.handle(r); });

    // Pages (docs/PAGES.md).
    router.add("GET", "/login", Envelope::flat,
               [&e](Request& r) { return e.account_pages.show_login(r); });
    router.add("POST", "/login", Envelope::flat,
               [&e](Request& r) { return e.account_pages.log_in(r); });
    router.add("POST", "/logout", Envelope::flat,
               [&e](Request& r) { return e.account_pages.log_out(r); });
    router.add("GET", "/account/set-password", Envelope::flat,
               [&e](Request& r) { return e.account_pages.show_set_password(r); });
    router.add("POST", "/account/set-password", Envelope::flat,
               [&e](Request& r) { return e.account_pages.set_password(r); });
    router.add("POST", "/account/set-password/resend", Envelope::flat,
               [&e](Request& r) { return e.account_pages.resend_link(r); });
    router.add("GET", "/account/forgot-password", Envelope::flat,
               [&e](Request& r) { return e.password_pages.show_forgot(r); });
    router.add("POST", "/account/forgot-password", Envelope::flat,
               [&e](Request& r) { return e.password_pages.send_reset_link(r); });
    router.add("GET", "/account", Envelope::flat,
               [&e](Request& r) { return e.password_pages.show_account(r); });
    router.add("POST", "/account/password", Envelope::flat,
               [&e](Request& r) { return e.password_pages.change_password(r); });
    router.add("POST", "/account/sign-out-everywhere", Envelope::flat,
               [&e](Request& r) { return e.password_pages.sign_out_everywhere(r); });
    router.add("GET", "/agentic/login", Envelope::flat,
               [&e](Request& r) { return e.account_pages.deep_link_login(r); });
    router.add("GET", "/api/agentic/authorize", Envelope::flat,
               [&e](Request& r) { return e.consent_pages.show_consent(r); });
    router.add("POST", "/api/agentic/authorize", Envelope::flat,
               [&e](Request& r) { return e.consent_pages.decide(r); });
    router.add("GET", "/agentic/account-mismatch", Envelope::flat,
               [&e](Request& r) { return e.consent_pages.show_mismatch(r); });
    router.add("GET", "/clients/logo", Envelope::flat,
               [&e](Request& r) { return e.consent_pages.logo(r); });
    router.add("GET", "/dashboard", Envelope::flat,
               [&e](Request& r) { return e.dashboard.show(r); });
    router.add("GET", "/project/{id}", Envelope::flat,
               [&e](Request& r) { return e.dashboard.show_project(r); });
    router.add("POST", "/dashboard/keys", Envelope::flat,
               [&e](Request& r) { return e.dashboard.create_key(r); });
    router.add("GET", "/dashboard/keys/revoke", Envelope::flat,
               [&e](Request& r) { return e.dashboard.confirm_revoke_key(r); });
    router.add("GET", "/dashboard/apps/disconnect", Envelope::flat,
               [&e](Request& r) { return e.dashboard.confirm_disconnect_app(r); });
    router.add("GET", "/dashboard/verification-tokens/revoke", Envelope::flat,
               [&e](Request& r) { return e.dashboard.confirm_revoke_verification_token(r); });
    router.add("POST", "/dashboard/keys/revoke", Envelope::flat,
               [&e](Request& r) { return e.dashboard.revoke_key(r); });
    router.add("POST", "/dashboard/apps/disconnect", Envelope::flat,
               [&e](Request& r) { return e.dashboard.disconnect_app(r); });
    router.add("POST", "/dashboard/verification-tokens", Envelope::flat,
               [&e](Request& r) { return e.dashboard.create_verification_token(r); });
    router.add("POST", "/dashboard/verification-tokens/revoke", Envelope::flat,
               [&e](Request& r) { return e.dashboard.revoke_verification_token(r); });
    for (std::string name : {"provisiond.css", "brand.css", "brand-logo"}) {
        router.add(
            "GET", "/static/" + name, Envelope::flat,
            [&pages = e.pages, name](Request&) { return pages.static_file(name); },
            Runs::on_io_thread);
    }
    router.add(
        "GET", "/", Envelope::flat, [](Request&) { return web::redirect("/dashboard"); },
        Runs::on_io_thread);

    // A person who follows a bad link gets a page; programs (and every API path) keep JSON.
    // Answered on the I/O thread (Router::Match::runs): nothing here may touch storage.
    router.set_not_found([&pages = e.pages](Request& r) {
        auto under = [&r](std::string_view prefix) {
            return r.path == prefix || r.path.rfind(std::string(prefix) + "/", 0) == 0;
        };
        bool api =
            under("/api") || under("/oauth") || under("/.well-known") || r.path.rfind("/_", 0) == 0;
        auto accept = r.header("accept");
        if (!api && (r.method == "GET" || r.method == "HEAD") && accept &&
            accept->find("text/html") != std::string_view::npos) {
            return pages.not_found();
        }
        return http::route_not_found(r);
    });

    router.add(
        "GET", "/_health", Envelope::flat, [](Request&) { return health_probe(); },
        Runs::on_io_thread);
    router.add("GET", "/_ready", Envelope::flat,
               [&uow = e.uow](Request&) { return ready_probe(uow); });
}

} // namespace provisiond::app
