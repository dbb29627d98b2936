#include "web/consent_pages.hpp"

#include "audit/audit_event.hpp"
#include "audit/audit_repository.hpp"
#include "cimd/cimd_repository.hpp"
#include "core/url.hpp"
#include "crypto/crypto.hpp"
#include "http/body.hpp"
#include "oauth/authorization_codes.hpp"
#include "oauth/client_repository.hpp"
#include "oauth/grant_repository.hpp"
#include "oauth/scopes.hpp"
#include "web/browser_repository.hpp"
#include "web/form.hpp"
#include "web/form_post.hpp"
#include "web/page.hpp"
#include "web/pending_authorization.hpp"

#include <boost/url/parse.hpp>

#include <cctype>

namespace provisiond::web {
namespace {

http::Response expired_page(const Pages& pages) {
    return pages.message(400, "This authorization request has expired",
                         "It was already answered, or it is too old. Go back to the app you came "
                         "from and start again.");
}

std::string host_of(std::string_view url) {
    auto parsed = parse_absolute_url(url);
    if (!parsed || parsed->encoded_host().empty()) {
        return std::string(url);
    }
    std::string host(parsed->encoded_host());
    if (parsed->has_port()) {
        host += ":" + std::string(parsed->port());
    }
    return host;
}

std::string origin_of(std::string_view url) {
    auto parsed = parse_absolute_url(url);
    if (!parsed) {
        return "";
    }
    return std::string(parsed->scheme()) + "://" + host_of(url);
}

/// The redirect URI with the answer's parameters added (keeping any query it already has).
std::string answer_url(const PendingAuthorization& pending,
                       const std::vector<std::pair<std::string, std::string>>& params,
                       const std::string& issuer) {
    auto all = params;
    if (pending.echoed_state) {
        all.emplace_back("state", *pending.echoed_state);
    }
    if (pending.kind == PendingAuthorization::Kind::standard) {
        all.emplace_back("iss", issuer); // RFC 9207
    }
    return append_query(pending.redirect_uri, all);
}

} // namespace

http::Response ConsentPages::show_consent(const http::Request& request) {
    auto visitor = c_.sessions.identify(request);
    if (!visitor) {
        return c_.pages.storage_trouble(visitor.error());
    }
    std::string state = http::query_param(request, "state").value_or("");
    std::optional<PendingAuthorization> pending;
    std::vector<ProjectView> projects;
    std::int64_t now = c_.clock.now();
    auto read = c_.uow.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto found, find_pending_authorization(r, state, now));
        pending = found;
        if (pending && visitor->user) {
            ASSIGN_OR_RETURN(auto mine, r.browser().projects_of_user(visitor->user->id));
            projects = mine;
        }
        return {};
    });
    if (!read) {
        return c_.pages.storage_trouble(read.error());
    }
    if (!pending) {
        return expired_page(c_.pages);
    }
    if (!pending->client.is_active) {
        return c_.pages.message(403, "This app is no longer available",
                                "The partner app was deactivated. Nothing was shared.");
    }
    if (!visitor->user) {
        return redirect("/login?next=" + url_encode(consent_path(state)));
    }
    if (pending->expected_user_id && *pending->expected_user_id != visitor->user->id) {
        return redirect("/agentic/account-mismatch?state=" + url_encode(state));
    }
    if (projects.empty()) {
        return c_.pages.message(409, "You have no project yet",
                                "Ask an administrator of your organization to add you to one.");
    }
    PageData data;
    data.set("title", "Connect " + pending->client.name);
    data.set("signed_in_email", visitor->user->email);
    data.set("csrf", visitor->csrf);
    data.set("state", state);
    data.set("partner_name", pending->client.name);
    data.set("client_id_encoded", url_encode(pending->client.client_id));
    data.set("client_host", host_of(pending->client.client_id));
    data.set("redirect_host", host_of(pending->redirect_uri));
    data.set("verified", pending->client.verified());
    data.set("email", visitor->user->email);
    PageData scopes{PageData::type::list};
    for (const auto& s : pending->scopes) {
        PageData item;
        item.set("name", s);
        item.set("label", oauth::describe_scope(s));
        scopes.push_back(item);
    }
    data.set("scopes", scopes);
    PageData list{PageData::type::list};
    for (const auto& p : projects) {
        PageData item;
        item.set("id", std::to_string(p.project.id));
        item.set("name", p.project.name);
        item.set("organization", p.organization_name);
        list.push_back(item);
    }
    data.set("projects", list);
    data.set("several_projects", projects.size() > 1);
    auto response = c_.pages.render("consent", data, {200, {origin_of(pending->redirect_uri)}});
    c_.sessions.finish(response, *visitor);
    return response;
}

http::Response ConsentPages::decide(const http::Request& request) {
    auto post = accept_form(c_, request);
    if (auto* refused = std::get_if<http::Response>(&post)) {
        return *refused;
    }
    const Visitor* visitor = &std::get<FormPost>(post).visitor;
    const boost::json::object* form = &std::get<FormPost>(post).fields;
    std::string state = form_field(*form, "state");
    if (!visitor->user) {
        return redirect("/login?next=" + url_encode(consent_path(state)));
    }
    std::string decision = form_field(*form, "decision");
    std::string project_text = form_field(*form, "project_id");
    std::int64_t now = c_.clock.now();
    std::optional<PendingAuthorization> pending;
    std::string location;
    enum class Outcome { done, expired, mismatch, bad_project, inactive } outcome = Outcome::done;
    auto done = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto found, find_pending_authorization(r, state, now));
        pending = found;
        if (!pending) {
            outcome = Outcome::expired;
            return {};
        }
        if (pending->expected_user_id && *pending->expected_user_id != visitor->user->id) {
            outcome = Outcome::mismatch;
            return {};
        }
        if (!pending->client.is_active) {
            outcome = Outcome::inactive;
            return forget_pending_authorization(r, *pending);
        }
        audit::AuditSubject subject{"user", visitor->user->id, pending->client.client_id,
                                    request.remote_address};
        if (decision != "approve") {
            RETURN_IF_ERROR(forget_pending_authorization(r, *pending));
            RETURN_IF_ERROR(
                r.audit().record(audit::make_audit("consent.denied", subject, {}, now)));
            location = answer_url(*pending, {{"error", "access_denied"}}, c_.config.public_url);
            return {};
        }
        ASSIGN_OR_RETURN(auto projects, r.browser().projects_of_user(visitor->user->id));
        const ProjectView* chosen = nullptr;
        for (const auto& p : projects) {
            if (std::to_string(p.project.id) == project_text) {
                chosen = &p;
            }
        }
        if (!chosen) {
            outcome = Outcome::bad_project;
            return {};
        }
        ASSIGN_OR_RETURN(auto minted,
                         oauth::mint_code(r.grants(),
                                          {pending->client.client_id, visitor->user->id,
                                           chosen->project.organization_id, chosen->project.id,
                                           pending->scopes, pending->code_challenge,
                                           pending->bind_redirect_uri
                                               ? std::optional<std::string>(pending->redirect_uri)
                                               : std::nullopt},
                                          now, c_.config.lifetimes.code_seconds));
        RETURN_IF_ERROR(forget_pending_authorization(r, *pending));
        RETURN_IF_ERROR(r.audit().record(audit::make_audit(
            "consent.approved", subject, {{"project_id", chosen->project.id}}, now)));
        location = answer_url(*pending, {{"code", minted.code}}, c_.config.public_url);
        return {};
    });
    if (!done) {
        return c_.pages.storage_trouble(done.error());
    }
    switch (outcome) {
    case Outcome::expired:
        return expired_page(c_.pages);
    case Outcome::mismatch:
        return redirect("/agentic/account-mismatch?state=" + url_encode(state));
    case Outcome::bad_project:
        return c_.pages.message(400, "Choose one of your projects",
                                "Go back and pick a project from the list.");
    case Outcome::inactive:
        return c_.pages.message(403, "This app is no longer available",
                                "The partner app was deactivated. Nothing was shared.");
    case Outcome::done:
        break;
    }
    auto response = redirect(location);
    // The answer goes to the partner's origin: allow it as a form target of this navigation.
    response.headers.clear();
    response.set_header("Location", location);
    add_page_headers(response, {origin_of(pending->redirect_uri)});
    return response;
}

http::Response ConsentPages::show_mismatch(const http::Request& request) {
    auto visitor = c_.sessions.identify(request);
    if (!visitor) {
        return c_.pages.storage_trouble(visitor.error());
    }
    std::string state = http::query_param(request, "state").value_or("");
    std::optional<PendingAuthorization> pending;
    (void)c_.uow.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        auto found = find_pending_authorization(r, state, c_.clock.now());
        if (found) {
            pending = *found;
        }
        return {};
    });
    if (!pending || !pending->expected_email) {
        return expired_page(c_.pages);
    }
    if (!visitor->user || visitor->user->id == pending->expected_user_id) {
        return redirect(consent_path(state));
    }
    PageData data;
    data.set("title", "Account mismatch");
    data.set("signed_in_email", visitor->user->email);
    data.set("csrf", visitor->csrf);
    data.set("partner_name", pending->client.name);
    data.set("expected_email", *pending->expected_email);
    data.set("current_email", visitor->user->email);
    data.set("next", consent_path(state));
    auto response = c_.pages.render("mismatch", data);
    c_.sessions.finish(response, *visitor);
    return response;
}

http::Response ConsentPages::logo(const http::Request& request) {
    // A monogram drawn by us: no request ever reaches the partner's servers from the user's
    // browser (no tracking, no swap after review).
    std::string client_id = http::query_param(request, "client_id").value_or("");
    std::string name;
    std::optional<cimd::ClientLogo> image;
    (void)c_.uow.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        auto found = r.clients().find(client_id);
        if (found && *found) {
            name = (*found)->name;
            auto logo = r.documents().find_logo(client_id);
            if (logo && *logo && (*found)->logo_uri == (*logo)->source_uri) {
                image = **logo;
            }
        }
        return {};
    });
    if (image) {
        // The partner's image as we fetched it: only raster types, served from our origin.
        if (auto bytes = crypto::base64_decode(image->data_base64)) {
            http::Response r;
            r.content_type = image->content_type;
            r.body = std::move(*bytes);
            r.set_header("Cache-Control", "public, max-age=3600");
            r.set_header("Content-Security-Policy", "default-src 'none'; sandbox");
            return r;
        }
    }
    char initial = '?';
    for (char ch : name) {
        if (std::isalnum(static_cast<unsigned char>(ch))) {
            initial = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            break;
        }
    }
    unsigned hue = 0;
    for (char ch : client_id) {
        hue = hue * 31 + static_cast<unsigned char>(ch);
    }
    http::Response r;
    r.content_type = "image/svg+xml";
    r.body = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"56\" height=\"56\" viewBox=\"0 0 "
             "56 56\">"
             "<rect width=\"56\" height=\"56\" rx=\"12\" fill=\"hsl(" +
             std::to_string(hue % 360) +
             ",55%,45%)\"/><text x=\"28\" y=\"37\" font-family=\"system-ui,sans-serif\" "
             "font-size=\"26\" "
             "font-weight=\"700\" text-anchor=\"middle\" fill=\"#fff\">" +
             std::string(1, initial) + "</text></svg>";
    r.set_header("Cache-Control", "public, max-age=3600");
    r.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
    return r;
}

} // namespace provisiond::web
