#include "web/dashboard_pages.hpp"

#include "audit/audit_event.hpp"
#include "audit/audit_repository.hpp"
#include "cimd/cimd_repository.hpp"
#include "core/iso8601.hpp"
#include "core/strings.hpp"
#include "core/unicode.hpp"
#include "crypto/crypto.hpp"
#include "crypto/one_time_seal.hpp"
#include "http/body.hpp"
#include "oauth/scopes.hpp"
#include "oauth/token_formats.hpp"
#include "provisioning/provisioning_repository.hpp"
#include "web/browser_repository.hpp"
#include "web/form.hpp"
#include "web/form_post.hpp"
#include "web/notices.hpp"
#include "web/organization_admin.hpp"
#include "web/page.hpp"
#include "webhooks/event.hpp"
#include "webhooks/webhook_repository.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace provisiond::web {
namespace {

constexpr std::string_view verification_prefix = "phvt_";

} // namespace

std::variant<std::pair<Visitor, boost::json::object>, http::Response>
DashboardPages::form_visitor(const http::Request& request) {
    auto post = accept_form(c_, request);
    if (auto* refused = std::get_if<http::Response>(&post)) {
        return *refused;
    }
    auto& accepted = std::get<FormPost>(post);
    if (!accepted.visitor.user) {
        return redirect("/login?next=%2Fdashboard");
    }
    return std::pair<Visitor, boost::json::object>{std::move(accepted.visitor),
                                                   std::move(accepted.fields)};
}

http::Response DashboardPages::render(const Visitor& visitor, const Shown& shown) {
    const auto& user = *visitor.user;
    std::vector<ProjectView> projects;
    std::vector<KeyView> keys;
    std::vector<ConnectedApp> apps;
    std::map<std::string, std::vector<cimd::VerificationToken>> tokens;
    auto read = c_.uow.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(projects, r.browser().projects_of_user(user.id));
        ASSIGN_OR_RETURN(keys, r.browser().live_keys_of_user(user.id));
        ASSIGN_OR_RETURN(apps, r.browser().connected_apps(user.id));
        for (const auto& view : projects) {
            if ((view.role == "owner" || view.role == "admin") &&
                !tokens.count(view.project.organization_id)) {
                ASSIGN_OR_RETURN(tokens[view.project.organization_id],
                                 r.verification_tokens().list(view.project.organization_id));
            }
        }
        return {};
    });
    if (!read) {
        return c_.pages.storage_trouble(read.error());
    }
    PageData data;
    data.set("title", "Dashboard");
    data.set("main_class", "wide");
    data.set("signed_in_email", user.email);
    data.set("csrf", visitor.csrf);
    if (!shown.notice.empty()) {
        data.set("notice", shown.notice);
    }
    if (shown.created_key) {
        data.set("created_key", *shown.created_key);
    }
    if (shown.created_token) {
        data.set("created_token", *shown.created_token);
    }
    PageData organizations{PageData::type::list};
    PageData all_projects{PageData::type::list};
    for (std::size_t i = 0; i < projects.size();) {
        const std::string org_id = projects[i].project.organization_id;
        PageData org;
        org.set("id", org_id);
        org.set("name", projects[i].organization_name);
        org.set("role", projects[i].role);
        bool admin = projects[i].role == "owner" || projects[i].role == "admin";
        org.set("is_admin", admin);
        PageData list{PageData::type::list};
        for (; i < projects.size() && projects[i].project.organization_id == org_id; ++i) {
            const auto& p = projects[i].project;
            PageData item;
            item.set("id", std::to_string(p.id));
            item.set("name", p.name);
            item.set("api_token", p.api_token);
            item.set("focused", shown.focused_project == p.id);
            list.push_back(item);
            all_projects.push_back(item);
        }
        org.set("projects", list);
        if (admin) {
            PageData token_list{PageData::type::list};
            for (const auto& t : tokens[org_id]) {
                if (t.revoked_at) {
                    continue;
                }
                PageData item;
                item.set("id", t.id);
                item.set("hint", t.hint);
                item.set("bound", t.bound_client_id.value_or("not used yet"));
                item.set("created", format_iso8601(t.created_at));
                token_list.push_back(item);
            }
            org.set("has_tokens", !token_list.is_empty_list());
            org.set("tokens", token_list);
        }
        organizations.push_back(org);
    }
    data.set("organizations", organizations);
    data.set("all_projects", all_projects);
    data.set("several_projects", projects.size() > 1);
    PageData key_list{PageData::type::list};
    for (const auto& k : keys) {
        PageData item;
        item.set("id", k.id);
        item.set("label", k.label);
        item.set("mask", k.mask);
        item.set("project_id", std::to_string(k.project_id));
        key_list.push_back(item);
    }
    data.set("has_keys", !keys.empty());
    data.set("keys", key_list);
    PageData app_list{PageData::type::list};
    for (const auto& a : apps) {
        PageData item;
        item.set("client_id", a.client_id);
        item.set("client_id_param", url_encode(a.client_id));
        item.set("name", a.name);
        app_list.push_back(item);
    }
    data.set("has_apps", !apps.empty());
    data.set("apps", app_list);
    auto response = c_.pages.render("dashboard", data);
    c_.sessions.finish(response, visitor);
    return response;
}

Result<std::string> DashboardPages::seal_for_next_view(Repositories& r, const std::string& user_id,
                                                       std::string kind, std::string_view secret) {
    // Unviewed boxes (the page after the redirect never came) go as new ones arrive.
    RETURN_IF_ERROR(r.browser().purge_expired(c_.clock.now()));
    auto sealed = crypto::seal_once(secret);
    RETURN_IF_ERROR(
        r.browser().insert_reveal({crypto::sha256_hex(sealed.key), user_id, std::move(kind),
                                   sealed.box, c_.clock.now() + reveal_seconds}));
    return sealed.key;
}

Result<std::optional<Reveal>> DashboardPages::take_sealed(Repositories& r,
                                                          const std::string& user_id,
                                                          const std::string& key, Shown& shown) {
    auto reveal = r.browser().take_reveal(crypto::sha256_hex(key), user_id, c_.clock.now());
    if (!reveal || !*reveal) {
        return reveal; // an error; or already shown (a reload), expired, or another user's
    }
    auto secret = crypto::open_sealed((*reveal)->box, key);
    if (secret && (*reveal)->kind == "personal_api_key") {
        shown.created_key = *secret;
    } else if (secret && (*reveal)->kind == "verification_token") {
        shown.created_token = *secret;
    }
    return reveal;
}

http::Response DashboardPages::redirect_revealing(const std::string& key) {
    // POST-redirect-GET: a reload of the page that shows the secret creates nothing.
    auto response = redirect("/dashboard");
    response.set_header("Set-Cookie", c_.sessions.reveal_cookie_header(key));
    return response;
}

http::Response DashboardPages::show(const http::Request& request) {
    auto visitor = c_.sessions.identify(request);
    if (!visitor) {
        return c_.pages.storage_trouble(visitor.error());
    }
    if (!visitor->user) {
        return redirect("/login?next=%2Fdashboard");
    }
    Shown shown;
    shown.notice = notice_for(request);
    std::optional<Reveal> taken;
    // Only a GET shows it: a HEAD would spend the secret on a body nobody reads.
    auto key = request.method == "GET" ? c_.sessions.reveal_key(request) : std::nullopt;
    if (key && !key->empty()) {
        auto took = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
            ASSIGN_OR_RETURN(taken, take_sealed(r, visitor->user->id, *key, shown));
            return {};
        });
        if (!took) {
            return c_.pages.storage_trouble(took.error());
        }
    }
    auto response = render(*visitor, shown);
    if (taken && response.status != 200) {
        // The page failed: put the box back so that the next view still shows the secret.
        (void)c_.uow.run(TransactionMode::write,
                         [&](Repositories& r) { return r.browser().insert_reveal(*taken); });
        return response;
    }
    if (key) {
        response.set_header("Set-Cookie", c_.sessions.reveal_cookie_header(""));
    }
    return response;
}

http::Response DashboardPages::show_project(const http::Request& request) {
    auto visitor = c_.sessions.identify(request);
    if (!visitor) {
        return c_.pages.storage_trouble(visitor.error());
    }
    std::string id = request.path_params.empty() ? "" : request.path_params.front();
    if (!visitor->user) {
        return redirect("/login?next=" + url_encode("/project/" + id));
    }
    Shown shown;
    if (!id.empty() && id.size() < 19 && std::all_of(id.begin(), id.end(), ::isdigit)) {
        shown.focused_project = std::stoll(id);
    }
    return render(*visitor, shown);
}

http::Response DashboardPages::create_key(const http::Request& request) {
    auto got = form_visitor(request);
    if (auto* response = std::get_if<http::Response>(&got)) {
        return *response;
    }
    auto& [visitor, form] = std::get<0>(got);
    // A display string like any other: one line, no invisible characters (core/unicode.hpp).
    std::string typed = form_field(form, "label");
    std::string label = clean_display_text(typed, 41);
    if (label.empty() || decode_utf8(label).size() > 40) {
        return c_.pages.message(400, "Give the key a label",
                                "A short label (at most 40 characters) tells your keys apart.",
                                "/dashboard", "Back to the dashboard");
    }
    std::string project_text = form_field(form, "project_id");
    std::string key = oauth::mint_prefixed_secret(oauth::personal_api_key_prefix);
    std::string reveal;
    bool found = false;
    std::int64_t now = c_.clock.now();
    auto done = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto projects, r.browser().projects_of_user(visitor.user->id));
        for (const auto& p : projects) {
            if (std::to_string(p.project.id) != project_text) {
                continue;
            }
            found = true;
            provisioning::PersonalApiKey record;
            record.id = crypto::random_uuid();
            record.key_hash = crypto::sha256_hex(key);
            record.mask = oauth::mask_secret(key, oauth::personal_api_key_prefix);
            record.label = label;
            record.scopes = oauth::scope_catalog();
            record.user_id = visitor.user->id;
            record.organization_id = p.project.organization_id;
            record.project_id = p.project.id;
            record.created_at = now;
            RETURN_IF_ERROR(r.provisioning().insert_personal_api_key(record));
            RETURN_IF_ERROR(r.audit().record(audit::make_audit(
                "key.created", {"user", visitor.user->id, "", request.remote_address},
                {{"key_id", record.id},
                 {"mask", record.mask},
                 {"project_id", record.project_id},
                 {"via", "dashboard"}},
                now)));
            ASSIGN_OR_RETURN(reveal,
                             seal_for_next_view(r, visitor.user->id, "personal_api_key", key));
            return {};
        }
        return {};
    });
    if (!done) {
        return c_.pages.storage_trouble(done.error());
    }
    if (!found) {
        return c_.pages.message(400, "Choose one of your projects",
                                "Go back and pick a project from the list.", "/dashboard",
                                "Back to the dashboard");
    }
    return redirect_revealing(reveal);
}

http::Response DashboardPages::revoke_key(const http::Request& request) {
    auto got = form_visitor(request);
    if (auto* response = std::get_if<http::Response>(&got)) {
        return *response;
    }
    auto& [visitor, form] = std::get<0>(got);
    auto done = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        std::string id = form_field(form, "id");
        ASSIGN_OR_RETURN(bool revoked,
                         r.browser().revoke_key(id, visitor.user->id, c_.clock.now()));
        if (!revoked) {
            return {}; // not this user's live key: nothing happened, nothing to record
        }
        return r.audit().record(
            audit::make_audit("key.revoked", {"user", visitor.user->id, "", request.remote_address},
                              {{"key_id", id}}, c_.clock.now()));
    });
    return done ? redirect("/dashboard?notice=key_revoked")
                : c_.pages.storage_trouble(done.error());
}

http::Response DashboardPages::disconnect_app(const http::Request& request) {
    auto got = form_visitor(request);
    if (auto* response = std::get_if<http::Response>(&got)) {
        return *response;
    }
    auto& [visitor, form] = std::get<0>(got);
    auto done = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        std::string client_id = form_field(form, "client_id");
        ASSIGN_OR_RETURN(auto n,
                         r.browser().disconnect_app(visitor.user->id, client_id, c_.clock.now()));
        if (n == 0) {
            return {}; // nothing was connected: nothing to report
        }
        RETURN_IF_ERROR(r.audit().record(audit::make_audit(
            "family.revoked", {"user", visitor.user->id, client_id, request.remote_address},
            {{"reason", "disconnect"}, {"families", n}}, c_.clock.now())));
        return r.webhooks().enqueue(webhooks::grant_revoked(
            client_id, visitor.user->id, "", webhooks::revoke_reason::disconnect, c_.clock.now()));
    });
    return done ? redirect("/dashboard?notice=app_disconnected")
                : c_.pages.storage_trouble(done.error());
}

http::Response DashboardPages::create_verification_token(const http::Request& request) {
    auto got = form_visitor(request);
    if (auto* response = std::get_if<http::Response>(&got)) {
        return *response;
    }
    auto& [visitor, form] = std::get<0>(got);
    std::string organization = form_field(form, "organization_id");
    std::string value = oauth::mint_prefixed_secret(verification_prefix);
    bool allowed = false;
    std::string reveal;
    auto done = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(allowed, is_admin_of(r, visitor.user->id, organization));
        if (!allowed) {
            return {};
        }
        cimd::VerificationToken token;
        token.id = crypto::random_uuid();
        token.organization_id = organization;
        token.token_hash = crypto::sha256_hex(value);
        token.hint = oauth::mask_secret(value, verification_prefix);
        token.created_at = c_.clock.now();
        RETURN_IF_ERROR(r.verification_tokens().insert(token));
        ASSIGN_OR_RETURN(reveal,
                         seal_for_next_view(r, visitor.user->id, "verification_token", value));
        return {};
    });
    if (!done) {
        return c_.pages.storage_trouble(done.error());
    }
    if (!allowed) {
        return c_.pages.message(
            403, "Only administrators can do this",
            "Verification tokens are managed by the organization's owners and admins.",
            "/dashboard", "Back to the dashboard");
    }
    return redirect_revealing(reveal);
}

http::Response DashboardPages::revoke_verification_token(const http::Request& request) {
    auto got = form_visitor(request);
    if (auto* response = std::get_if<http::Response>(&got)) {
        return *response;
    }
    auto& [visitor, form] = std::get<0>(got);
    std::string id = form_field(form, "id");
    bool allowed = false;
    auto done = c_.uow.run(TransactionMode::write, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto token, r.verification_tokens().find(id));
        if (token) {
            ASSIGN_OR_RETURN(allowed, is_admin_of(r, visitor.user->id, token->organization_id));
        }
        if (!allowed) {
            return {};
        }
        auto revoked = r.verification_tokens().revoke(id, c_.clock.now());
        return revoked ? Result<void>() : Result<void>(revoked.error());
    });
    if (!done) {
        return c_.pages.storage_trouble(done.error());
    }
    return allowed
               ? redirect("/dashboard?notice=token_revoked")
               : c_.pages.message(
                     403, "Only administrators can do this",
                     "Verification tokens are managed by the organization's owners and admins.");
}

} // namespace provisiond::web
