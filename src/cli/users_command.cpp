#include "cli/users_command.hpp"

#include "accounts/email_address.hpp"
#include "cli/settings.hpp"
#include "cli/table.hpp"
#include "cli/user_access.hpp"
#include "cli/user_reference.hpp"
#include "cli/with_repositories.hpp"
#include "core/iso8601.hpp"
#include "core/strings.hpp"

#include <boost/json.hpp>

#include <ctime>
#include <iostream>

namespace provisiond::cli {
namespace {

using accounts::User;

std::int64_t now() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

/// Runs `work` on the user `reference` names; exit 1 with a message naming it when none.
int with_user(const Config& config, const std::string& reference,
              const std::function<int(Repositories&, const User&)>& work) {
    return with_repositories(config, [&](Repositories& r) {
        auto user = find_user_by_reference(r, reference);
        if (!user) {
            return report_failure(user.error());
        }
        if (!*user) {
            std::cerr << "error: no user " << reference
                      << " (give an id or an email address; see `provisiond users list`)\n";
            return 1;
        }
        return work(r, **user);
    });
}

boost::json::object user_json(const User& u) {
    return {{"id", u.id},
            {"email", u.email},
            {"name", u.name},
            {"first_name", u.first_name},
            {"has_password", u.password_hash.has_value()},
            {"email_verified", u.email_verified},
            {"created_at", format_iso8601(u.created_at)},
            {"disabled_at", time_json(u.disabled_at)}};
}

/// A user with their organizations (and roles), projects and the partners holding grants.
Result<boost::json::object> user_details(Repositories& r, const User& u) {
    ASSIGN_OR_RETURN(auto memberships, r.accounts().memberships_of_user(u.id));
    ASSIGN_OR_RETURN(auto teams, r.accounts().teams_of_user(u.id));
    ASSIGN_OR_RETURN(auto partners, r.browser().connected_apps(u.id));
    auto out = user_json(u);
    boost::json::array organizations;
    for (const auto& m : memberships) {
        organizations.push_back({{"id", m.organization_id},
                                 {"name", m.organization_name},
                                 {"role", m.role},
                                 {"joined_at", format_iso8601(m.created_at)}});
    }
    boost::json::array projects;
    for (const auto& t : teams) {
        projects.push_back({{"id", t.id},
                            {"name", t.name},
                            {"organization_id", t.organization_id},
                            {"organization_name", t.organization_name}});
    }
    boost::json::array grants;
    for (const auto& p : partners) {
        grants.push_back({{"client_id", p.client_id},
                          {"name", p.name},
                          {"grants", p.authorizations},
                          {"since", format_iso8601(p.first_at)}});
    }
    out["organizations"] = std::move(organizations);
    out["projects"] = std::move(projects);
    out["partners"] = std::move(grants);
    return out;
}

} // namespace

void add_users_command(CLI::App& app, Config& config, UsersOptions& o, int& exit_code) {
    auto* users = app.add_subcommand(
        "users", "People with accounts: list and show them, disable or enable their access, send "
                 "them a password-reset email. Name a user by id or by email address");
    users->require_subcommand(1);

    auto* list = users->add_subcommand("list", "List users, oldest first: a table, or JSON with "
                                               "--json");
    add_settings(*list, config, SettingScope::storage);
    list->add_option("--email-contains", o.email_contains,
                     "Only users whose email address contains this (case-insensitive)");
    list->add_flag("--json", o.json, json_flag_help);
    list->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto all = r.accounts().list_users(o.email_contains);
            if (!all) {
                return report_failure(all.error());
            }
            if (o.json) {
                boost::json::array out;
                for (const auto& u : *all) {
                    out.push_back(user_json(u));
                }
                print_json(std::cout, out);
                return 0;
            }
            if (all->empty()) {
                std::cout << (o.email_contains.empty()
                                  ? "no users yet: people get accounts through a partner's "
                                    "account request\n"
                                  : "no user's email address contains \"" + o.email_contains +
                                        "\"\n");
                return 0;
            }
            Table table({"ID", "EMAIL", "NAME", "PASSWORD", "CREATED", "STATUS"});
            for (const auto& u : *all) {
                table.add_row({u.id, u.email, u.name, u.password_hash ? "set" : "not set",
                               time_cell(u.created_at), u.disabled_at ? "disabled" : "active"});
            }
            table.print(std::cout);
            return 0;
        });
    });

    auto* show = users->add_subcommand(
        "show", "Show a user: organizations and roles, projects, the partners holding grants, "
                "whether a password is set, when created and disabled");
    add_settings(*show, config, SettingScope::storage);
    show->add_option("user", o.user, "The user's id or email address")->required();
    show->add_flag("--json", o.json, json_flag_help);
    show->callback([&] {
        exit_code = with_user(config, o.user, [&](Repositories& r, const User& u) {
            auto details = user_details(r, u);
            if (!details) {
                return report_failure(details.error());
            }
            if (o.json) {
                print_json(std::cout, *details);
            } else {
                print_record(std::cout, *details);
            }
            return 0;
        });
    });

    auto* disable = users->add_subcommand(
        "disable",
        "Disable a user: they cannot log in, their browser sessions end, every partner's grant "
        "(token family) is revoked and their set-password links stop working. `users enable` "
        "undoes all but the grants");
    add_settings(*disable, config, SettingScope::storage);
    disable->add_option("user", o.user, "The user's id or email address")->required();
    disable->callback([&] {
        exit_code = with_user(config, o.user, [&](Repositories& r, const User& u) {
            if (u.disabled_at) {
                std::cout << u.email << " is already disabled (since "
                          << format_iso8601(*u.disabled_at) << ")\n";
                return 0;
            }
            auto done = disable_user(r, u, now());
            if (!done) {
                return report_failure(done.error());
            }
            std::cout << "disabled " << u.email << " (" << u.id << ")\n"
                      << "  ended every browser session\n"
                      << "  revoked " << count_of(done->families, "token family", "token families")
                      << " of "
                      << count_of(static_cast<std::int64_t>(done->partners.size()), "partner",
                                  "partners")
                      << (done->partners.empty() ? "" : " (" + join(done->partners, ", ") + ")")
                      << "\n"
                      << "  expired " << count_of(done->codes, "unused code", "unused codes")
                      << "\n"
                      << "They cannot log in until `provisiond users enable " << u.email << "`.\n";
            return 0;
        });
    });

    auto* enable = users->add_subcommand(
        "enable", "Let a disabled user log in again (partners ask for their consent again: the "
                  "grants revoked by `users disable` stay revoked)");
    add_settings(*enable, config, SettingScope::storage);
    enable->add_option("user", o.user, "The user's id or email address")->required();
    enable->callback([&] {
        exit_code = with_user(config, o.user, [&](Repositories& r, const User& u) {
            if (!u.disabled_at) {
                std::cout << u.email << " is not disabled\n";
                return 0;
            }
            auto changed = r.accounts().set_user_disabled(u.id, std::nullopt);
            if (!changed) {
                return report_failure(changed.error());
            }
            std::cout << "enabled " << u.email << " (" << u.id << ")\n"
                      << "They log in with their password (`provisiond users reset-link " << u.email
                      << "` sends them a new one); partners ask for consent again.\n";
            return 0;
        });
    });

    auto* reset = users->add_subcommand(
        "reset-link",
        "Email a user a link to choose a new password (as \"Forgot password?\" does). `serve` "
        "delivers it from this database's outbox and mints the single-use link then, so the link "
        "is never shown here. Give the same --public-url and branding settings as `serve`");
    add_settings(*reset, config, SettingScope::storage);
    add_email_settings(*reset, config);
    reset->add_option("user", o.user, "The user's id or email address")->required();
    reset->callback([&] {
        if (auto problem = config.finalize(); !problem.empty()) {
            std::cerr << "error: " << problem << "\n";
            exit_code = 2;
            return;
        }
        exit_code = with_user(config, o.user, [&](Repositories& r, const User& u) {
            if (u.disabled_at) {
                std::cerr << "error: " << u.email
                          << " is disabled, so a set-password link would not work; `provisiond "
                             "users enable "
                          << u.email << "` first\n";
                return 1;
            }
            if (auto queued = queue_password_reset(r, u, config, now()); !queued) {
                return report_failure(queued.error());
            }
            std::cout << "queued a password_reset email to " << u.email << " (" << u.id << ")\n"
                      << "`provisiond serve` on this database delivers it and mints its link "
                         "then: "
                      << config.public_url << "/account/set-password, valid "
                      << count_of(config.lifetimes.password_link_seconds / 3600, "hour", "hours")
                      << ".\n";
            return 0;
        });
    });
}

} // namespace provisiond::cli
