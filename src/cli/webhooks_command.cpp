#include "cli/webhooks_command.hpp"

#include "cli/settings.hpp"
#include "cli/table.hpp"
#include "cli/with_repositories.hpp"
#include "core/iso8601.hpp"
#include "core/strings.hpp"
#include "crypto/crypto.hpp"
#include "crypto/one_time_seal.hpp"
#include "webhooks/secrets_key.hpp"
#include "webhooks/signature.hpp"

#include <boost/json.hpp>

#include <ctime>
#include <iostream>

namespace provisiond::cli {
namespace {

std::int64_t now() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

std::string all_event_types() {
    std::string out;
    for (auto type : webhooks::event_types) {
        out += (out.empty() ? "" : ", ") + std::string(type);
    }
    return out;
}

/// The event filter of --events; an error message names an unknown type.
std::variant<std::vector<std::string>, std::string> parse_events(const std::string& text) {
    std::vector<std::string> events;
    std::size_t start = 0;
    while (start <= text.size() && !text.empty()) {
        auto comma = text.find(',', start);
        std::string type =
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        while (!type.empty() && type.front() == ' ') {
            type.erase(type.begin());
        }
        while (!type.empty() && type.back() == ' ') {
            type.pop_back();
        }
        if (!webhooks::is_event_type(type)) {
            return "unknown event type \"" + type + "\"; the types are: " + all_event_types();
        }
        events.push_back(type);
        if (comma == std::string::npos) {
            break;
        }
        start = comma + 1;
    }
    return events;
}

/// Seals a new secret under the secrets key file (created on first use); prints nothing.
std::optional<std::pair<std::string, std::string>> new_sealed_secret(const Config& config) {
    auto key = webhooks::load_secrets_key(config.secrets_key_path(), true);
    if (!key) {
        std::cerr << "error: " << key.error().message << "\n";
        return std::nullopt;
    }
    std::string secret = webhooks::new_secret();
    return std::pair{secret, *crypto::seal_with(secret, *key)};
}

boost::json::object endpoint_json(const webhooks::Endpoint& e, std::int64_t pending) {
    boost::json::array events;
    for (const auto& type : e.events) {
        events.push_back(boost::json::value(type));
    }
    return {{"id", e.id},
            {"url", e.url},
            {"events", events.empty() ? boost::json::value("*") : boost::json::value(events)},
            {"created_at", format_iso8601(e.created_at)},
            {"pending", pending}};
}

} // namespace

void add_webhooks_command(CLI::App& app, Config& config, WebhookOptions& o, int& exit_code) {
    auto* hooks = app.add_subcommand(
        "webhooks",
        "Endpoints that receive webhook events (Standard Webhooks: signed, retried until they "
        "answer 2xx). For one endpoint that gets everything, --webhook-url and --webhook-secret "
        "on `serve` are enough");
    hooks->require_subcommand(1);

    auto* add = hooks->add_subcommand(
        "add", "Add an endpoint; its signing secret (whsec_…) is printed once");
    add_settings(*add, config, SettingScope::storage);
    add->add_option("--url", o.url, "Where events are POSTed (http:// or https://)")->required();
    add->add_option("--events", o.events,
                    "Only these event types, comma-separated (default: every event): " +
                        all_event_types());
    add->callback([&] {
        if (o.url.rfind("http://", 0) != 0 && o.url.rfind("https://", 0) != 0) {
            std::cerr << "error: --url must start with http:// or https://\n";
            exit_code = 2;
            return;
        }
        auto events = parse_events(o.events);
        if (auto* problem = std::get_if<std::string>(&events)) {
            std::cerr << "error: " << *problem << "\n";
            exit_code = 2;
            return;
        }
        auto sealed = new_sealed_secret(config);
        if (!sealed) {
            exit_code = 1;
            return;
        }
        webhooks::Endpoint endpoint{"ep_" + crypto::random_base62(22), o.url, sealed->second,
                                    std::get<std::vector<std::string>>(events), now()};
        exit_code = with_repositories(config, [&](Repositories& r) {
            if (auto inserted = r.webhooks().insert_endpoint(endpoint); !inserted) {
                return report_failure(inserted.error());
            }
            auto out = endpoint_json(endpoint, 0);
            out["secret"] = sealed->first;
            std::cout << boost::json::serialize(out) << "\n";
            std::cerr << "The secret is shown only this once: give it to the receiver, which "
                         "verifies every webhook-signature with it. Events from now on are sent "
                         "there.\n";
            return 0;
        });
    });

    auto* list = hooks->add_subcommand(
        "list", "List endpoints with the deliveries still waiting for each: a table, or JSON with "
                "--json");
    add_settings(*list, config, SettingScope::storage);
    list->add_flag("--json", o.json, json_flag_help);
    list->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto all = r.webhooks().endpoints();
            auto pending = r.webhooks().pending_counts();
            if (!all || !pending) {
                return report_failure(all ? pending.error() : all.error());
            }
            auto waiting = [&](const std::string& id) {
                for (const auto& [endpoint, n] : *pending) {
                    if (endpoint == id) {
                        return n;
                    }
                }
                return std::int64_t{0};
            };
            boost::json::array out;
            if (!config.webhooks.url.empty()) {
                webhooks::Endpoint settings{
                    std::string(webhooks::settings_endpoint_id), config.webhooks.url, "", {}, 0};
                auto item = endpoint_json(settings, waiting(settings.id));
                item.erase("created_at");
                out.push_back(item);
            }
            for (const auto& e : *all) {
                out.push_back(endpoint_json(e, waiting(e.id)));
            }
            if (o.json) {
                print_json(std::cout, out);
                return 0;
            }
            if (out.empty()) {
                std::cout << "no webhook endpoints; `provisiond webhooks add --url URL` adds one "
                             "(or `serve --webhook-url`)\n";
                return 0;
            }
            Table table({"ID", "URL", "EVENTS", "PENDING", "CREATED"});
            for (const auto& item : out) {
                const auto& e = item.as_object();
                const auto* created = e.if_contains("created_at");
                const auto& events = e.at("events");
                std::string filter = "*";
                if (events.is_array()) {
                    std::vector<std::string> types;
                    for (const auto& type : events.as_array()) {
                        types.emplace_back(type.as_string());
                    }
                    filter = join(types, ",");
                }
                table.add_row({std::string(e.at("id").as_string()),
                               std::string(e.at("url").as_string()), filter,
                               std::to_string(e.at("pending").as_int64()),
                               created ? std::string(created->as_string()) : "(from settings)"});
            }
            table.print(std::cout);
            return 0;
        });
    });

    auto* remove = hooks->add_subcommand(
        "remove", "Remove an endpoint; what was still waiting for it is dropped");
    add_settings(*remove, config, SettingScope::storage);
    remove->add_option("id", o.id, "The endpoint's id (from `list`)")->required();
    remove->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto removed = r.webhooks().remove_endpoint(o.id);
            if (!removed || !*removed) {
                std::cerr << "error: no endpoint " << o.id << " (see `provisiond webhooks list`)\n";
                return 1;
            }
            std::cout << boost::json::serialize(
                             boost::json::object{{"id", o.id}, {"removed", true}})
                      << "\n";
            return 0;
        });
    });

    auto* rotate = hooks->add_subcommand(
        "rotate-secret",
        "Give an endpoint a new signing secret, printed once; deliveries from now on are signed "
        "with it");
    add_settings(*rotate, config, SettingScope::storage);
    rotate->add_option("id", o.id, "The endpoint's id (from `list`)")->required();
    rotate->callback([&] {
        auto sealed = new_sealed_secret(config);
        if (!sealed) {
            exit_code = 1;
            return;
        }
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto replaced = r.webhooks().replace_secret(o.id, sealed->second);
            if (!replaced || !*replaced) {
                std::cerr << "error: no endpoint " << o.id << " (see `provisiond webhooks list`)\n";
                return 1;
            }
            std::cout << boost::json::serialize(
                             boost::json::object{{"id", o.id}, {"secret", sealed->first}})
                      << "\n";
            std::cerr << "The new secret is shown only this once; the old one no longer signs.\n";
            return 0;
        });
    });
}

} // namespace provisiond::cli
