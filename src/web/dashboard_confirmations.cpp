// The dashboard's confirmation pages: before a key, a verification token or a partner's access is
// revoked, a page says what exactly goes and what stops working, with the button that does it
// and Cancel. The POST handlers are in dashboard_pages.cpp.
#include "cimd/cimd_repository.hpp"
#include "http/body.hpp"
#include "web/browser_repository.hpp"
#include "web/dashboard_pages.hpp"
#include "web/form.hpp"
#include "web/form_post.hpp"
#include "web/organization_admin.hpp"
#include "web/page.hpp"

namespace provisiond::web {

http::Response DashboardPages::confirm_page(const Visitor& visitor, const Confirmation& c) {
    PageData data;
    data.set("title", c.heading);
    data.set("signed_in_email", visitor.user->email);
    data.set("csrf", visitor.csrf);
    data.set("heading", c.heading);
    data.set("consequence", c.consequence);
    data.set("action", c.action);
    data.set("button", c.button);
    PageData facts{PageData::type::list};
    for (const auto& [name, value] : c.facts) {
        PageData item;
        item.set("name", name);
        item.set("value", value);
        item.set("code", name == "Key" || name == "Token" || name == "Identity");
        facts.push_back(item);
    }
    data.set("facts", facts);
    PageData fields{PageData::type::list};
    for (const auto& [name, value] : c.fields) {
        PageData item;
        item.set("name", name);
        item.set("value", value);
        fields.push_back(item);
    }
    data.set("fields", fields);
    auto response = c_.pages.render("confirm", data);
    c_.sessions.finish(response, visitor);
    return response;
}

http::Response DashboardPages::confirm_revoke_key(const http::Request& request) {
    auto got = signed_in_visitor(c_, request);
    if (auto* response = std::get_if<http::Response>(&got)) {
        return *response;
    }
    const auto& visitor = std::get<Visitor>(got);
    std::string id = http::query_param(request, "id").value_or("");
    std::optional<KeyView> key;
    auto read = c_.uow.run(TransactionMode::read, [&](Repositories& r) {
        auto keys = r.browser().live_keys_of_user(visitor.user->id);
        if (!keys) {
            return Result<void>(keys.error());
        }
        for (const auto& k : *keys) {
            if (k.id == id) {
                key = k;
            }
        }
        return Result<void>();
    });
    if (!read) {
        return c_.pages.storage_trouble(read.error());
    }
    if (!key) {
        return c_.pages.message(404, "This key is not active",
                                "It was revoked already, or it is not one of your keys.",
                                "/dashboard", "Back to the dashboard");
    }
    return confirm_page(
        visitor,
        {"Revoke the key “" + key->label + "”?",
         {{"Label", key->label}, {"Key", key->mask}, {"Project", std::to_string(key->project_id)}},
         "Programs that use this key stop working at once. This cannot be undone: to "
         "call the API again, create a new key.",
         "/dashboard/keys/revoke",
         {{"id", key->id}},
         "Revoke key"});
}

http::Response DashboardPages::confirm_disconnect_app(const http::Request& request) {
    auto got = signed_in_visitor(c_, request);
    if (auto* response = std::get_if<http::Response>(&got)) {
        return *response;
    }
    const auto& visitor = std::get<Visitor>(got);
    std::string client_id = http::query_param(request, "client_id").value_or("");
    std::optional<ConnectedApp> app;
    auto read = c_.uow.run(TransactionMode::read, [&](Repositories& r) {
        auto apps = r.browser().connected_apps(visitor.user->id);
        if (!apps) {
            return Result<void>(apps.error());
        }
        for (const auto& a : *apps) {
            if (a.client_id == client_id) {
                app = a;
            }
        }
        return Result<void>();
    });
    if (!read) {
        return c_.pages.storage_trouble(read.error());
    }
    if (!app) {
        return c_.pages.message(404, "This app is not connected",
                                "It was disconnected already, or it never had access to your "
                                "account.",
                                "/dashboard", "Back to the dashboard");
    }
    return confirm_page(visitor,
                        {"Disconnect " + app->name + "?",
                         {{"App", app->name}, {"Identity", app->client_id}},
                         app->name + " loses access to your account: the tokens it holds stop "
                                     "working at once. It can ask for access again later, and "
                                     "you decide then.",
                         "/dashboard/apps/disconnect",
                         {{"client_id", app->client_id}},
                         "Disconnect " + app->name});
}

http::Response DashboardPages::confirm_revoke_verification_token(const http::Request& request) {
    auto got = signed_in_visitor(c_, request);
    if (auto* response = std::get_if<http::Response>(&got)) {
        return *response;
    }
    const auto& visitor = std::get<Visitor>(got);
    std::string id = http::query_param(request, "id").value_or("");
    std::optional<cimd::VerificationToken> token;
    auto read = c_.uow.run(TransactionMode::read, [&](Repositories& r) -> Result<void> {
        ASSIGN_OR_RETURN(auto found, r.verification_tokens().find(id));
        if (!found || found->revoked_at) {
            return {};
        }
        ASSIGN_OR_RETURN(auto admin, is_admin_of(r, visitor.user->id, found->organization_id));
        if (admin) {
            token = *found;
        }
        return {};
    });
    if (!read) {
        return c_.pages.storage_trouble(read.error());
    }
    if (!token) {
        return c_.pages.message(404, "This token is not active",
                                "It was revoked already, or it belongs to an organization you "
                                "do not administer.",
                                "/dashboard", "Back to the dashboard");
    }
    return confirm_page(
        visitor,
        {"Revoke the verification token " + token->hint + "?",
         {{"Token", token->hint}, {"Linked app", token->bound_client_id.value_or("not used yet")}},
         "A partner app whose metadata document carries this token is no longer linked "
         "to your organization. This cannot be undone.",
         "/dashboard/verification-tokens/revoke",
         {{"id", token->id}},
         "Revoke token"});
}

} // namespace provisiond::web
