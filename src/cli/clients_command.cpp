#include "cli/clients_command.hpp"

#include "app/app.hpp"
#include "cli/settings.hpp"
#include "core/strings.hpp"
#include "oauth/scopes.hpp"
#include "ratelimit/partner_rate_limiter.hpp"
#include "storage/migrations.hpp"
#include "storage/sql_repositories.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <ctime>
#include <iostream>

namespace provisiond::cli {
namespace {

using oauth::OAuthClient;

boost::json::object client_json(const OAuthClient& c, const PartnerLimits& defaults) {
    boost::json::array uris;
    for (const auto& u : c.redirect_uris) {
        uris.emplace_back(u);
    }
    boost::json::array scopes;
    for (const auto& s : c.scopes) {
        scopes.emplace_back(s);
    }
    boost::json::object limits;
    for (auto e : {ratelimit::Endpoint::account_requests, ratelimit::Endpoint::token_exchanges,
                   ratelimit::Endpoint::resource_creates}) {
        auto it = c.rate_limits.find(std::string(ratelimit::to_string(e)));
        std::int64_t value = it != c.rate_limits.end() ? it->second
                             : e == ratelimit::Endpoint::account_requests ? defaults.account_requests
                             : e == ratelimit::Endpoint::token_exchanges ? defaults.token_exchanges
                                                                         : defaults.resource_creates;
        limits[ratelimit::to_string(e)] = value == ratelimit::PartnerRateLimiter::unlimited
                                              ? boost::json::value("unlimited")
                                              : boost::json::value(value);
    }
    return {{"client_id", c.client_id},     {"name", c.name},
            {"kind", c.kind},               {"redirect_uris", uris},
            {"scopes", scopes},             {"is_active", c.is_active},
            {"rate_limits_per_hour", limits}, {"created_at", c.created_at}};
}

/// Opens the database, applies migrations, and runs `work` in one write transaction.
int with_repositories(const Config& config, const std::function<int(storage::Repositories&)>& work) {
    auto db = app::open_database(config, 1);
    if (!db) {
        std::cerr << "error: cannot open the database " << config.database << ": " << db.error().debug << "\n";
        return 1;
    }
    if (auto migrated = storage::migrate(**db); !migrated) {
        std::cerr << "error: database migration failed: " << migrated.error().debug << "\n";
        return 1;
    }
    storage::SqlUnitOfWork uow(**db);
    int code = 0;
    auto done = uow.run(storage::TransactionMode::write, [&](storage::Repositories& r) -> Result<void> {
        code = work(r);
        return {};
    });
    if (!done) {
        std::cerr << "error: " << done.error().message << " (" << done.error().debug << ")\n";
        return 1;
    }
    return code;
}

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

} // namespace

std::string check_client_id(std::string_view id) {
    if (id.empty() || id.size() > 255) {
        return "--client-id must be 1 to 255 characters";
    }
    for (unsigned char c : id) {
        if (c <= 0x20 || c >= 0x7f) {
            return "--client-id must be printable ASCII without spaces";
        }
    }
    return "";
}

std::string check_redirect_uri(std::string_view uri) {
    auto parsed = boost::urls::parse_absolute_uri(uri);
    if (!parsed) {
        return "redirect URI `" + std::string(uri) + "` is not an absolute URI";
    }
    std::string scheme(parsed->scheme());
    if (parsed->has_userinfo()) {
        return "redirect URI `" + std::string(uri) + "` must not contain user information";
    }
    std::string host(parsed->host());
    bool loopback = host == "localhost" || host == "127.0.0.1" || host == "[::1]";
    if (scheme == "https" && !host.empty()) {
        return "";
    }
    if (scheme == "http" && loopback) {
        return "";
    }
    if (scheme == "http") {
        return "redirect URI `" + std::string(uri) + "` must use https (http is allowed only for loopback)";
    }
    return "redirect URI `" + std::string(uri) + "` must be an https URL";
}

void add_clients_command(CLI::App& app, Config& config, ClientsOptions& o, int& exit_code) {
    auto* clients = app.add_subcommand("clients", "Register and manage partner (OAuth) clients");
    clients->require_subcommand(1);

    auto* add = clients->add_subcommand("add", "Register a public partner client (PKCE only, no secret)");
    add_settings(*add, config, SettingScope::storage);
    add->add_option("--client-id", o.client_id, "The client id partners send (e.g. an opaque id)")->required();
    add->add_option("--name", o.name, "The partner's name, shown to users and used in organization names")->required();
    add->add_option("--redirect-uri", o.redirect_uris, "A redirect URI for consent (repeat for several)")->required();
    add->add_option("--scopes", o.scopes,
                    "Space-separated scope ceiling. Default: " + join(oauth::scope_catalog(), " "));
    add->callback([&] {
        if (auto problem = check_client_id(o.client_id); !problem.empty()) {
            std::cerr << "error: " << problem << "\n";
            exit_code = 2;
            return;
        }
        if (o.name.empty() || o.name.size() > 100) {
            std::cerr << "error: --name must be 1 to 100 characters\n";
            exit_code = 2;
            return;
        }
        for (const auto& uri : o.redirect_uris) {
            if (auto problem = check_redirect_uri(uri); !problem.empty()) {
                std::cerr << "error: " << problem << "\n";
                exit_code = 2;
                return;
            }
        }
        std::vector<std::string> scopes = o.scopes.empty() ? oauth::scope_catalog() : split_spaces(o.scopes);
        for (const auto& s : scopes) {
            if (!oauth::is_known_scope(s)) {
                std::cerr << "error: unknown scope `" << s << "`; known scopes: " << join(oauth::scope_catalog(), " ") << "\n";
                exit_code = 2;
                return;
            }
        }
        exit_code = with_repositories(config, [&](storage::Repositories& r) {
            OAuthClient c;
            c.client_id = o.client_id;
            c.name = o.name;
            c.redirect_uris = o.redirect_uris;
            c.scopes = sorted_unique(scopes);
            c.created_at = c.updated_at = now();
            auto inserted = r.clients().insert(c);
            if (!inserted) {
                std::cerr << "error: "
                          << (inserted.error().code == ErrorCode::conflict ? "a client with this id already exists"
                                                                           : inserted.error().debug)
                          << "\n";
                return 1;
            }
            std::cout << "registered client " << c.client_id << " (" << c.name << ")\n";
            return 0;
        });
    });

    auto* list = clients->add_subcommand("list", "List registered clients");
    add_settings(*list, config, SettingScope::storage);
    list->add_flag("--json", o.json, "Print JSON");
    list->callback([&] {
        exit_code = with_repositories(config, [&](storage::Repositories& r) {
            auto all = r.clients().list();
            if (!all) {
                std::cerr << "error: " << all.error().debug << "\n";
                return 1;
            }
            if (o.json) {
                boost::json::array out;
                for (const auto& c : *all) {
                    out.push_back(client_json(c, config.partner_limits));
                }
                std::cout << boost::json::serialize(out) << "\n";
                return 0;
            }
            for (const auto& c : *all) {
                std::cout << c.client_id << "\t" << c.name << "\t" << (c.is_active ? "active" : "disabled")
                          << "\t" << c.kind << "\n";
            }
            if (all->empty()) {
                std::cout << "no clients registered; add one with `provisiond clients add`\n";
            }
            return 0;
        });
    });

    auto* show = clients->add_subcommand("show", "Show one client");
    add_settings(*show, config, SettingScope::storage);
    show->add_option("client_id", o.client_id, "The client id")->required();
    show->add_flag("--json", o.json, "Print JSON");
    show->callback([&] {
        exit_code = with_repositories(config, [&](storage::Repositories& r) {
            auto found = r.clients().find(o.client_id);
            if (!found || !*found) {
                std::cerr << "error: no client " << o.client_id << "\n";
                return 1;
            }
            auto json = client_json(**found, config.partner_limits);
            if (o.json) {
                std::cout << boost::json::serialize(json) << "\n";
            } else {
                for (const auto& [k, v] : json) {
                    std::cout << k << ": " << boost::json::serialize(v) << "\n";
                }
            }
            return 0;
        });
    });

    for (bool enable : {false, true}) {
        auto* toggle = clients->add_subcommand(enable ? "enable" : "disable",
                                               enable ? "Re-enable a client"
                                                      : "Disable a client: its requests and tokens stop working");
        add_settings(*toggle, config, SettingScope::storage);
        toggle->add_option("client_id", o.client_id, "The client id")->required();
        toggle->callback([&, enable] {
            exit_code = with_repositories(config, [&](storage::Repositories& r) {
                auto changed = r.clients().set_active(o.client_id, enable, now());
                if (!changed || !*changed) {
                    std::cerr << "error: no client " << o.client_id << "\n";
                    return 1;
                }
                std::cout << (enable ? "enabled " : "disabled ") << o.client_id << "\n";
                return 0;
            });
        });
    }

    auto* limit = clients->add_subcommand("set-limit", "Override one of a client's hourly rate limits");
    add_settings(*limit, config, SettingScope::storage);
    limit->add_option("client_id", o.client_id, "The client id")->required();
    limit->add_option("endpoint", o.endpoint, "account_requests, token_exchanges or resource_creates")->required();
    limit->add_option("limit", o.limit, "Calls per hour, `unlimited`, or `default` to drop the override")->required();
    limit->callback([&] {
        if (!ratelimit::parse_endpoint(o.endpoint)) {
            std::cerr << "error: endpoint must be account_requests, token_exchanges or resource_creates\n";
            exit_code = 2;
            return;
        }
        std::optional<std::int64_t> value;
        if (o.limit == "unlimited") {
            value = ratelimit::PartnerRateLimiter::unlimited;
        } else if (o.limit != "default") {
            value = parse_positive_integer(o.limit);
            if (!value) {
                std::cerr << "error: limit must be a whole number, `unlimited` or `default`\n";
                exit_code = 2;
                return;
            }
        }
        exit_code = with_repositories(config, [&](storage::Repositories& r) {
            auto changed = r.clients().set_rate_limit(o.client_id, o.endpoint, value, now());
            if (!changed || !*changed) {
                std::cerr << "error: no client " << o.client_id << "\n";
                return 1;
            }
            std::cout << o.client_id << " " << o.endpoint << " = " << o.limit << "\n";
            return 0;
        });
    });
}

} // namespace provisiond::cli
