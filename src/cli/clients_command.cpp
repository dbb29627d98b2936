#include "cli/clients_command.hpp"

#include "app/app.hpp"
#include "audit/audit_event.hpp"
#include "cimd/client_registrar.hpp"
#include "cimd/client_registration_endpoint.hpp"
#include "cli/client_revocation.hpp"
#include "cli/clients_edit_command.hpp"
#include "cli/settings.hpp"
#include "cli/table.hpp"
#include "cli/with_repositories.hpp"
#include "core/iso8601.hpp"
#include "core/strings.hpp"
#include "core/unicode.hpp"
#include "oauth/scopes.hpp"
#include "ratelimit/partner_rate_limiter.hpp"
#include "storage/migrations.hpp"
#include "storage/sql_repositories.hpp"
#include "webhooks/event.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
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
        std::int64_t value =
            it != c.rate_limits.end()                    ? it->second
            : e == ratelimit::Endpoint::account_requests ? defaults.account_requests
            : e == ratelimit::Endpoint::token_exchanges  ? defaults.token_exchanges
                                                         : defaults.resource_creates;
        limits[ratelimit::to_string(e)] = value == ratelimit::PartnerRateLimiter::unlimited
                                              ? boost::json::value("unlimited")
                                              : boost::json::value(value);
    }
    boost::json::object out{
        {"client_id", c.client_id},
        {"name", c.name},
        {"kind", c.kind},
        {"redirect_uris", uris},
        {"scopes", scopes},
        {"is_active", c.is_active},
        {"capabilities", boost::json::object{{"create_accounts", c.can_create_accounts},
                                             {"provision_resources", c.can_provision_resources},
                                             {"deep_links", c.can_issue_deep_links}}},
        {"rate_limits_per_hour", limits},
        {"created_at", format_iso8601(c.created_at)},
        {"updated_at", format_iso8601(c.updated_at)},
        {"verified", c.verified()}};
    if (c.deleted_at) {
        out["deleted_at"] = format_iso8601(*c.deleted_at);
    }
    if (c.kind == "cimd") {
        out["logo_uri"] = c.logo_uri ? boost::json::value(*c.logo_uri) : nullptr;
        out["organization_id"] =
            c.organization_id ? boost::json::value(*c.organization_id) : nullptr;
    }
    return out;
}

/// A metadata-document client's fetch state: the document, its freshness, the last result.
boost::json::object document_json(const cimd::DocumentRecord& d, std::int64_t now) {
    boost::json::value document = nullptr;
    if (d.document) {
        boost::system::error_code ec;
        document = boost::json::parse(*d.document, ec);
        if (ec) {
            document = *d.document;
        }
    }
    return {{"state", d.state},
            {"fresh", d.fresh_until > now},
            {"fresh_until", time_json(d.fresh_until)},
            {"fetched_at", time_json(d.fetched_at)},
            {"last_attempt_at", time_json(d.last_attempt_at)},
            {"last_result",
             d.last_error ? boost::json::value(*d.last_error) : boost::json::value("ok")},
            {"document", document}};
}

std::int64_t now() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

/// Turns one of a client's switches (a capability, or the operator's "verified" mark) on or off
/// and prints what it did; the exit code. `state` must be "on" or "off".
int set_switch(const Config& config, const std::string& client_id, const std::string& name,
               const std::string& state) {
    if (state != "on" && state != "off") {
        std::cerr << "error: state must be on or off\n";
        return 2;
    }
    return with_repositories(config, [&](Repositories& r) {
        auto changed = r.clients().set_capability(client_id, name, state == "on", now());
        if (!changed) {
            return report_failure(changed.error());
        }
        if (!*changed) {
            return report_unknown_client(r, client_id);
        }
        // Withdrawn deep links stay withdrawn: turning the capability on again later must not
        // revive a link handed out before.
        if (name == "deep_links" && state != "on" &&
            !r.browser().retire_deep_links_of_client(client_id, now())) {
            return 1;
        }
        std::cout << client_id << " " << name << " " << state << "\n";
        return 0;
    });
}

/// A blocklist entry: an https client URL (exactly), or a host name (it and its subdomains).
std::string check_block_entry(std::string_view entry, std::string& kind) {
    if (cimd::looks_like_document_url(entry)) {
        kind = "url";
        auto url = cimd::parse_client_id_url(entry);
        return url ? "" : url.error().message;
    }
    kind = "domain";
    if (entry.empty() || entry.size() > 253 || entry.front() == '.' || entry.back() == '.') {
        return "a domain must be a host name such as partner.example";
    }
    for (unsigned char c : entry) {
        if (!(std::isalnum(c) || c == '-' || c == '.')) {
            return "a domain must be a host name such as partner.example (letters, digits, - and "
                   ".)";
        }
    }
    return "";
}

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
    // One rule for operator-registered and self-registered clients.
    return cimd::redirect_uri_problem(uri);
}

std::string check_client_name(std::string_view name) {
    if (name.empty() || name.size() > 100) {
        return "--name must be 1 to 100 characters";
    }
    return "";
}

CLI::Option* add_scope_option(CLI::App& command, std::vector<std::string>& scopes,
                              const std::string& help) {
    // One value per --scope, so that a positional client id after it is not taken for a scope.
    return command.add_option("--scope,--scopes", scopes, help)->allow_extra_args(false);
}

std::vector<std::string> scope_list(const std::vector<std::string>& values) {
    std::vector<std::string> scopes;
    for (const auto& value : values) {
        for (auto& scope : split_spaces(value)) {
            scopes.push_back(std::move(scope));
        }
    }
    return sorted_unique(std::move(scopes));
}

std::string check_scopes(const std::vector<std::string>& scopes) {
    if (scopes.empty()) {
        return "give at least one scope; known scopes: " + join(oauth::scope_catalog(), " ");
    }
    for (const auto& s : scopes) {
        if (!oauth::is_known_scope(s)) {
            return "unknown scope `" + s + "`; known scopes: " + join(oauth::scope_catalog(), " ");
        }
    }
    return "";
}

std::string parse_hourly_limit(std::string_view text, std::optional<std::int64_t>& value) {
    if (text == "unlimited") {
        value = ratelimit::PartnerRateLimiter::unlimited;
    } else if (text == "default") {
        value.reset();
    } else if (auto number = parse_positive_integer(text)) {
        value = *number;
    } else {
        return "must be a whole number of calls per hour, `unlimited` or `default` (not `" +
               std::string(text) + "`)";
    }
    return "";
}

int report_unknown_client(Repositories& r, const std::string& client_id) {
    auto found = r.clients().find(client_id);
    if (found && *found && (*found)->deleted_at) {
        std::cerr << "error: client " << client_id << " was deleted on "
                  << format_iso8601(*(*found)->deleted_at)
                  << "; a deleted client stays deleted (register a new one with `provisiond "
                     "clients add`)\n";
    } else {
        std::cerr << "error: no client " << client_id << " (see `provisiond clients list`)\n";
    }
    return 1;
}

void add_clients_command(CLI::App& app, Config& config, ClientsOptions& o, int& exit_code) {
    auto* clients = app.add_subcommand("clients", "Register and manage partner (OAuth) clients");
    clients->require_subcommand(1);

    auto* add =
        clients->add_subcommand("add", "Register a public partner client (PKCE only, no secret)");
    add_settings(*add, config, SettingScope::storage);
    add->add_option("--client-id", o.client_id, "The client id partners send (e.g. an opaque id)")
        ->required();
    add->add_option("--name", o.name,
                    "The partner's name, shown to users and used in organization names")
        ->required();
    add->add_option("--redirect-uri", o.redirect_uris,
                    "A redirect URI for consent (repeat for several)")
        ->required();
    add_scope_option(*add, o.scopes,
                     "The scope ceiling: the most any grant to this client may hold (repeat, or "
                     "separate with spaces). Default: " +
                         join(oauth::scope_catalog(), " "));
    add->callback([&] {
        if (auto problem = check_client_id(o.client_id); !problem.empty()) {
            std::cerr << "error: " << problem << "\n";
            exit_code = 2;
            return;
        }
        if (auto problem = check_client_name(o.name); !problem.empty()) {
            std::cerr << "error: " << problem << "\n";
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
        std::vector<std::string> scopes =
            o.scopes.empty() ? oauth::scope_catalog() : scope_list(o.scopes);
        if (auto problem = check_scopes(scopes); !problem.empty()) {
            std::cerr << "error: " << problem << "\n";
            exit_code = 2;
            return;
        }
        exit_code = with_repositories(config, [&](Repositories& r) {
            OAuthClient c;
            c.client_id = o.client_id;
            c.name = clean_display_text(o.name, 100); // shown on consent pages and in emails
            c.redirect_uris = o.redirect_uris;
            c.scopes = sorted_unique(scopes);
            c.created_at = c.updated_at = now();
            // Looked up first: after a failed insert, PostgreSQL refuses further statements in
            // the transaction, and the message names what the id belongs to.
            auto existing = r.clients().find(c.client_id);
            if (!existing) {
                return report_failure(existing.error());
            }
            auto inserted = *existing ? Result<void>(make_error(ErrorCode::conflict, "conflict"))
                                      : r.clients().insert(c);
            if (!inserted) {
                if (inserted.error().code != ErrorCode::conflict) {
                    return report_failure(inserted.error());
                }
                if (*existing && (*existing)->deleted_at) {
                    std::cerr << "error: the id " << c.client_id
                              << " belonged to a client deleted on "
                              << format_iso8601(*(*existing)->deleted_at)
                              << "; ids are never reused (its revoked grants still name it). "
                                 "Choose another --client-id\n";
                } else {
                    std::cerr << "error: a client with the id " << c.client_id
                              << " already exists (see `provisiond clients show " << c.client_id
                              << "`; `provisiond clients edit` changes it)\n";
                }
                return 1;
            }
            if (auto audited = r.audit().record(
                    audit::make_audit("partner.registered", {"operator", "", c.client_id, ""},
                                      {{"name", c.name}, {"kind", c.kind}}, now()));
                !audited) {
                return report_failure(audited.error());
            }
            auto announced = r.webhooks().enqueue(webhooks::make_event(
                "partner.registered",
                {{"partner", {{"client_id", c.client_id}, {"name", c.name}, {"kind", c.kind}}},
                 {"registered_by", "operator"}},
                now()));
            if (!announced) {
                return report_failure(announced.error());
            }
            std::cout << "registered client " << c.client_id << " (" << c.name << ")\n";
            return 0;
        });
    });

    auto* list = clients->add_subcommand(
        "list", "List clients (deleted ones are left out): a table, or JSON with --json");
    add_settings(*list, config, SettingScope::storage);
    list->add_flag("--json", o.json, json_flag_help);
    list->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto all = r.clients().list();
            if (!all) {
                return report_failure(all.error());
            }
            if (o.json) {
                boost::json::array out;
                for (const auto& c : *all) {
                    auto json = client_json(c, config.partner_limits);
                    if (c.kind == "cimd") {
                        if (auto d = r.documents().find(c.client_id); d && *d) {
                            json["cimd"] = document_json(**d, now());
                        }
                    }
                    out.push_back(std::move(json));
                }
                print_json(std::cout, out);
                return 0;
            }
            if (all->empty()) {
                std::cout << "no clients registered; add one with `provisiond clients add`\n";
                return 0;
            }
            Table table({"CLIENT_ID", "NAME", "KIND", "STATUS", "VERIFIED", "CREATED"});
            for (const auto& c : *all) {
                table.add_row({c.client_id, c.name, c.kind, c.is_active ? "active" : "disabled",
                               c.verified() ? "verified" : "unverified", time_cell(c.created_at)});
            }
            table.print(std::cout);
            return 0;
        });
    });

    auto* show = clients->add_subcommand(
        "show", "Show one client (also a deleted one, with when it was deleted); a metadata-"
                "document client with its document, its freshness and the last fetch result");
    add_settings(*show, config, SettingScope::storage);
    show->add_option("client_id", o.client_id, "The client id")->required();
    show->add_flag("--json", o.json, json_flag_help);
    show->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto found = r.clients().find(o.client_id);
            if (!found) {
                return report_failure(found.error());
            }
            if (!*found) {
                return report_unknown_client(r, o.client_id);
            }
            auto json = client_json(**found, config.partner_limits);
            if ((*found)->kind == "cimd") {
                if (auto d = r.documents().find(o.client_id); d && *d) {
                    json["cimd"] = document_json(**d, now());
                }
            }
            if (o.json) {
                print_json(std::cout, json);
            } else {
                print_record(std::cout, json);
            }
            return 0;
        });
    });

    for (bool enable : {false, true}) {
        auto* toggle = clients->add_subcommand(
            enable ? "enable" : "disable",
            enable ? "Re-enable a client"
                   : "Disable a client: its requests and tokens stop working");
        add_settings(*toggle, config, SettingScope::storage);
        toggle->add_option("client_id", o.client_id, "The client id")->required();
        toggle->callback([&, enable] {
            exit_code = with_repositories(config, [&](Repositories& r) {
                Result<bool> changed = false;
                if (enable) {
                    changed = r.clients().set_active(o.client_id, true, now());
                } else if (auto disabled = disable_client(r, o.client_id, now()); disabled) {
                    changed = disabled->has_value();
                } else {
                    changed = disabled.error();
                }
                if (!changed) {
                    return report_failure(changed.error());
                }
                if (!*changed) {
                    return report_unknown_client(r, o.client_id);
                }
                std::cout << (enable ? "enabled " : "disabled ") << o.client_id << "\n";
                return 0;
            });
        });
    }

    auto* limit =
        clients->add_subcommand("set-limit", "Override one of a client's hourly rate limits");
    add_settings(*limit, config, SettingScope::storage);
    limit->add_option("client_id", o.client_id, "The client id")->required();
    limit
        ->add_option("endpoint", o.endpoint,
                     "account_requests, token_exchanges or resource_creates")
        ->required();
    limit
        ->add_option("limit", o.limit,
                     "Calls per hour, `unlimited`, or `default` to drop the override")
        ->required();
    limit->callback([&] {
        if (!ratelimit::parse_endpoint(o.endpoint)) {
            std::cerr << "error: endpoint must be account_requests, token_exchanges or "
                         "resource_creates\n";
            exit_code = 2;
            return;
        }
        std::optional<std::int64_t> value;
        if (auto problem = parse_hourly_limit(o.limit, value); !problem.empty()) {
            std::cerr << "error: limit " << problem << "\n";
            exit_code = 2;
            return;
        }
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto changed = r.clients().set_rate_limit(o.client_id, o.endpoint, value, now());
            if (!changed) {
                return report_failure(changed.error());
            }
            if (!*changed) {
                return report_unknown_client(r, o.client_id);
            }
            std::cout << o.client_id << " " << o.endpoint << " = " << o.limit << "\n";
            return 0;
        });
    });

    auto* capability = clients->add_subcommand(
        "set-capability",
        "Turn a client's capability on or off: create_accounts, provision_resources, deep_links "
        "(deep links log people in: off by default)");
    add_settings(*capability, config, SettingScope::storage);
    capability->add_option("client_id", o.client_id, "The client id")->required();
    capability
        ->add_option("capability", o.endpoint, "create_accounts, provision_resources or deep_links")
        ->required();
    capability->add_option("state", o.limit, "on or off")->required();
    capability->callback([&] {
        if (o.endpoint != "create_accounts" && o.endpoint != "provision_resources" &&
            o.endpoint != "deep_links") {
            std::cerr
                << "error: capability must be create_accounts, provision_resources or deep_links\n";
            exit_code = 2;
            return;
        }
        exit_code = set_switch(config, o.client_id, o.endpoint, o.limit);
    });

    auto* vouch = clients->add_subcommand(
        "set-verified", "Vouch for a client (on) or withdraw it (off): the consent page shows "
                        "\"Verified partner\" for a client the operator vouched for");
    add_settings(*vouch, config, SettingScope::storage);
    vouch->add_option("client_id", o.client_id, "The client id")->required();
    vouch->add_option("state", o.limit, "on or off")->required();
    vouch->callback([&] { exit_code = set_switch(config, o.client_id, "verified", o.limit); });

    auto* check = clients->add_subcommand(
        "check",
        "Fetch and validate a client metadata document now, without registering it; prints the "
        "checks as JSON (exit 0 when the document is good)");
    add_cimd_settings(*check, config);
    check->add_option("url", o.client_id, "The client id: the document's https URL")->required();
    check->callback([&] {
        auto settings = app::fetch_settings(config);
        if (!settings) {
            std::cerr << "error: " << settings.error().message << "\n";
            exit_code = 2;
            return;
        }
        cimd::CurlDocumentFetcher fetcher(*settings);
        auto report = cimd::inspect_document(fetcher, o.client_id);
        std::cout << boost::json::serialize(cimd::report_json(o.client_id, report)) << "\n";
        exit_code = report.registered ? 0 : 1;
    });

    auto* block = clients->add_subcommand(
        "block",
        "Refuse a metadata-document client URL, or every client URL on a host and its subdomains; "
        "matching registered clients are disabled too");
    add_settings(*block, config, SettingScope::storage);
    block
        ->add_option("entry", o.client_id,
                     "An https client URL, or a host name such as partner.example")
        ->required();
    block->add_option("--reason", o.reason, "Why (shown by `clients blocked`)");
    block->callback([&] {
        std::string kind;
        if (auto problem = check_block_entry(o.client_id, kind); !problem.empty()) {
            std::cerr << "error: " << problem << "\n";
            exit_code = 2;
            return;
        }
        std::string entry = o.client_id;
        if (kind == "domain") {
            std::transform(entry.begin(), entry.end(), entry.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        }
        exit_code = with_repositories(config, [&](Repositories& r) {
            if (auto added = r.documents().add_block({entry, kind, o.reason, now()}); !added) {
                return report_failure(added.error());
            }
            std::cout << "blocked " << kind << " " << entry << "\n";
            auto all = r.clients().list();
            if (!all) {
                return report_failure(all.error());
            }
            boost::json::array disabled;
            for (const auto& c : *all) {
                auto url = cimd::parse_client_id_url(c.client_id);
                if (c.kind != "cimd" || !url || !c.is_active) {
                    continue;
                }
                auto match = r.documents().find_block(url->url, url->host);
                if (match && *match && (*match)->entry == entry) {
                    if (auto disabled = disable_client(r, c.client_id, now()); !disabled) {
                        return report_failure(disabled.error());
                    }
                    disabled.push_back(boost::json::value(c.client_id));
                    std::cout << "disabled " << c.client_id << "\n";
                }
            }
            if (auto audited =
                    r.audit().record(audit::make_audit("partner.blocked", {"operator", "", "", ""},
                                                       {{"entry", entry},
                                                        {"kind", kind},
                                                        {"reason", o.reason},
                                                        {"disabled_clients", disabled}},
                                                       now()));
                !audited) {
                return report_failure(audited.error());
            }
            auto announced = r.webhooks().enqueue(
                webhooks::make_event("partner.blocked",
                                     {{"entry", entry},
                                      {"kind", kind},
                                      {"reason", o.reason},
                                      {"disabled_clients", std::move(disabled)}},
                                     now()));
            return announced ? 0 : report_failure(announced.error());
        });
    });

    auto* unblock =
        clients->add_subcommand("unblock", "Lift a block (clients it disabled stay disabled: "
                                           "`clients enable` them)");
    add_settings(*unblock, config, SettingScope::storage);
    unblock->add_option("entry", o.client_id, "The blocked URL or host name")->required();
    unblock->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto removed = r.documents().remove_block(o.client_id);
            if (!removed || !*removed) {
                std::cerr << "error: " << o.client_id
                          << " is not blocked (see `provisiond clients blocked`)\n";
                return 1;
            }
            std::cout << "unblocked " << o.client_id << "\n";
            return 0;
        });
    });

    auto* blocked =
        clients->add_subcommand("blocked", "List the blocklist: a table, or JSON with --json");
    add_settings(*blocked, config, SettingScope::storage);
    blocked->add_flag("--json", o.json, json_flag_help);
    blocked->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto all = r.documents().list_blocks();
            if (!all) {
                return report_failure(all.error());
            }
            if (o.json) {
                boost::json::array out;
                for (const auto& b : *all) {
                    out.push_back({{"entry", b.entry},
                                   {"kind", b.kind},
                                   {"reason", b.reason},
                                   {"created_at", format_iso8601(b.created_at)}});
                }
                print_json(std::cout, out);
                return 0;
            }
            if (all->empty()) {
                std::cout << "nothing is blocked; `provisiond clients block URL|DOMAIN` blocks\n";
                return 0;
            }
            Table table({"ENTRY", "KIND", "REASON", "CREATED"});
            for (const auto& b : *all) {
                table.add_row({b.entry, b.kind, b.reason, time_cell(b.created_at)});
            }
            table.print(std::cout);
            return 0;
        });
    });

    add_clients_edit_command(*clients, config, o, exit_code);
    add_clients_delete_command(*clients, config, o, exit_code);
}

} // namespace provisiond::cli
