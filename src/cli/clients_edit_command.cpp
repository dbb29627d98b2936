#include "cli/clients_edit_command.hpp"

#include "cli/client_revocation.hpp"
#include "cli/settings.hpp"
#include "cli/table.hpp"
#include "cli/with_repositories.hpp"
#include "core/strings.hpp"
#include "core/unicode.hpp"
#include "ratelimit/partner_rate_limiter.hpp"

#include <algorithm>
#include <ctime>
#include <iostream>

namespace provisiond::cli {
namespace {

std::int64_t now() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

/// One of the --limit-… flags of `clients edit`.
struct LimitFlag {
    ratelimit::Endpoint endpoint;
    std::string* text;
    CLI::Option* option = nullptr;
    std::optional<std::int64_t> value; ///< parsed: nullopt is `default`
};

std::string limit_text(const std::optional<std::int64_t>& value) {
    if (!value) {
        return "the server's default";
    }
    return *value == ratelimit::PartnerRateLimiter::unlimited
               ? "unlimited"
               : std::to_string(*value) + " per hour";
}

} // namespace

void add_clients_edit_command(CLI::App& clients, Config& config, ClientsOptions& o,
                              int& exit_code) {
    auto* edit = clients.add_subcommand(
        "edit",
        "Change an operator-registered client; what is not given stays as it is. A metadata-"
        "document client's name, redirect URIs and scopes come from its document, so only its "
        "--limit-… flags can be changed here");
    add_settings(*edit, config, SettingScope::storage);
    edit->add_option("client_id", o.client_id, "The client id (see `provisiond clients list`)")
        ->required();
    auto* name = edit->add_option(
        "--name", o.name, "The new name, shown to people on the consent page and in emails");
    auto* uris = edit->add_option("--redirect-uri", o.redirect_uris,
                                  "Replaces every redirect URI (repeat for several)")
                     ->allow_extra_args(false);
    auto* scopes = add_scope_option(
        *edit, o.scopes,
        "Replaces the scope ceiling (repeat, or separate with spaces); grants already given keep "
        "their scopes, new ones get at most these");
    std::vector<LimitFlag> limits{
        {ratelimit::Endpoint::account_requests, &o.limit_account_requests, nullptr, {}},
        {ratelimit::Endpoint::token_exchanges, &o.limit_token_exchanges, nullptr, {}},
        {ratelimit::Endpoint::resource_creates, &o.limit_resource_creates, nullptr, {}}};
    for (auto& limit : limits) {
        std::string endpoint(ratelimit::to_string(limit.endpoint));
        std::string flag = "--limit-" + endpoint;
        std::replace(flag.begin(), flag.end(), '_', '-');
        limit.option = edit->add_option(flag, *limit.text,
                                        "This client's " + endpoint +
                                            " per hour: a number, `unlimited`, or `default` for "
                                            "the server's --" +
                                            flag.substr(2) + " (as `clients set-limit`)");
    }
    edit->callback([&, name, uris, scopes, limits]() mutable {
        bool document_fields = name->count() + uris->count() + scopes->count() > 0;
        bool any_limit = std::any_of(limits.begin(), limits.end(),
                                     [](const LimitFlag& l) { return l.option->count() > 0; });
        auto refuse = [&](const std::string& problem) {
            std::cerr << "error: " << problem << "\n";
            exit_code = 2;
        };
        if (!document_fields && !any_limit) {
            return refuse("nothing to change: give --name, --redirect-uri, --scope or a --limit-… "
                          "flag (see `provisiond clients edit --help`)");
        }
        if (name->count()) {
            if (auto problem = check_client_name(o.name); !problem.empty()) {
                return refuse(problem);
            }
        }
        for (const auto& uri : o.redirect_uris) {
            if (auto problem = check_redirect_uri(uri); !problem.empty()) {
                return refuse(problem);
            }
        }
        std::vector<std::string> ceiling = scope_list(o.scopes);
        if (scopes->count()) {
            if (auto problem = check_scopes(ceiling); !problem.empty()) {
                return refuse(problem);
            }
        }
        for (auto& limit : limits) {
            if (!limit.option->count()) {
                continue;
            }
            if (auto problem = parse_hourly_limit(*limit.text, limit.value); !problem.empty()) {
                return refuse(limit.option->get_name() + " " + problem);
            }
        }
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto found = r.clients().find(o.client_id);
            if (!found) {
                return report_failure(found.error());
            }
            if (!*found || (*found)->deleted_at) {
                return report_unknown_client(r, o.client_id);
            }
            oauth::OAuthClient client = **found;
            if (client.kind == "cimd" && document_fields) {
                std::cerr << "error: " << client.client_id
                          << " is a metadata-document client: its name, redirect URIs and scopes "
                             "come from the document at that URL. Change the document (it is "
                             "fetched again when its cache time runs out); only the --limit-… "
                             "flags apply here\n";
                return 2;
            }
            std::vector<std::string> lines;
            if (name->count()) {
                client.name = clean_display_text(o.name, 100); // as `clients add` stores it
                lines.push_back("name: " + client.name);
            }
            if (uris->count()) {
                client.redirect_uris.clear();
                for (const auto& uri : o.redirect_uris) {
                    if (std::find(client.redirect_uris.begin(), client.redirect_uris.end(), uri) ==
                        client.redirect_uris.end()) {
                        client.redirect_uris.push_back(uri);
                    }
                }
                lines.push_back("redirect URIs: " + join(client.redirect_uris, ", "));
            }
            if (scopes->count()) {
                client.scopes = ceiling;
                lines.push_back("scope ceiling: " + join(ceiling, " ") +
                                " (grants already given keep their scopes)");
            }
            client.updated_at = now();
            if (document_fields) {
                auto updated = r.clients().update_registered(client);
                if (!updated) {
                    return report_failure(updated.error());
                }
            }
            for (const auto& limit : limits) {
                if (!limit.option->count()) {
                    continue;
                }
                std::string endpoint(ratelimit::to_string(limit.endpoint));
                auto set = r.clients().set_rate_limit(client.client_id, endpoint, limit.value,
                                                      client.updated_at);
                if (!set) {
                    return report_failure(set.error());
                }
                lines.push_back(endpoint + ": " + limit_text(limit.value));
            }
            std::cout << "updated " << client.client_id << "\n";
            for (const auto& line : lines) {
                std::cout << "  " << line << "\n";
            }
            return 0;
        });
    });
}

void add_clients_delete_command(CLI::App& clients, Config& config, ClientsOptions& o,
                                int& exit_code) {
    auto* remove = clients.add_subcommand(
        "delete",
        "Delete a client for good: revoke everything it holds (its token families with their "
        "tokens, codes not exchanged yet, consents waiting for approval, unused deep links, the "
        "personal API keys it had created), disable it, and keep its id as a tombstone that "
        "never authenticates again. To pause a partner instead: `clients disable`");
    add_settings(*remove, config, SettingScope::storage);
    remove->add_option("client_id", o.client_id, "The client id (see `provisiond clients list`)")
        ->required();
    remove->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto removed = delete_client(r, o.client_id, now());
            if (!removed) {
                return report_failure(removed.error());
            }
            if (!*removed) {
                return report_unknown_client(r, o.client_id);
            }
            const ClientRemoval& n = **removed;
            std::cout << "deleted " << o.client_id << "\n"
                      << "  revoked " << count_of(n.families, "token family", "token families")
                      << " of " << count_of(n.users, "user", "users") << "\n"
                      << "  expired " << count_of(n.codes, "unused code", "unused codes") << "\n"
                      << "  withdrew "
                      << count_of(n.consents, "pending consent", "pending consents") << "\n"
                      << "  spent " << count_of(n.deep_links, "deep link", "deep links") << "\n"
                      << "  revoked " << count_of(n.keys, "personal API key", "personal API keys")
                      << "\n"
                      << "The id " << o.client_id
                      << " stays taken: nothing authenticates as it again.\n";
            return 0;
        });
    });
}

} // namespace provisiond::cli
