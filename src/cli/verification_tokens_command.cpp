#include "cli/verification_tokens_command.hpp"

#include "cli/settings.hpp"
#include "cli/table.hpp"
#include "cli/with_repositories.hpp"
#include "core/iso8601.hpp"
#include "crypto/crypto.hpp"
#include "oauth/token_formats.hpp"

#include <boost/json.hpp>

#include <ctime>
#include <iostream>

namespace provisiond::cli {
namespace {

constexpr std::string_view prefix = "phvt_";

std::int64_t now() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

boost::json::object token_json(const cimd::VerificationToken& t) {
    return {
        {"id", t.id},
        {"organization_id", t.organization_id},
        {"token", t.hint},
        {"bound_client_id", t.bound_client_id ? boost::json::value(*t.bound_client_id) : nullptr},
        {"created_at", format_iso8601(t.created_at)},
        {"revoked_at", time_json(t.revoked_at)},
        {"last_used_at", time_json(t.last_used_at)}};
}

} // namespace

void add_verification_tokens_command(CLI::App& app, Config& config, VerificationTokenOptions& o,
                                     int& exit_code) {
    auto* tokens = app.add_subcommand(
        "verification-tokens",
        "Tokens that link a metadata-document client to an organization: a partner puts one in its "
        "document (com.posthog.verification_token) and its account-request limit rises from 10 to "
        "100 per hour");
    tokens->require_subcommand(1);

    auto* create =
        tokens->add_subcommand("create", "Create a token for an organization; it is printed once");
    add_settings(*create, config, SettingScope::storage);
    create->add_option("--organization", o.organization_id, "The organization's id")->required();
    create->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto org = r.accounts().find_organization(o.organization_id);
            if (!org || !*org) {
                std::cerr << "error: no organization " << o.organization_id
                          << " (see `provisiond organizations list`)\n";
                return 1;
            }
            std::string value = oauth::mint_prefixed_secret(prefix);
            cimd::VerificationToken token;
            token.id = crypto::random_uuid();
            token.organization_id = o.organization_id;
            token.token_hash = crypto::sha256_hex(value);
            token.hint = oauth::mask_secret(value, prefix);
            token.created_at = now();
            if (auto inserted = r.verification_tokens().insert(token); !inserted) {
                return report_failure(inserted.error());
            }
            boost::json::object out{
                {"id", token.id}, {"organization_id", token.organization_id}, {"token", value}};
            std::cout << boost::json::serialize(out) << "\n";
            std::cerr << "The token is shown only this once; only its hash is stored. Put it in "
                         "the partner's "
                         "metadata document as com.posthog.verification_token.\n";
            return 0;
        });
    });

    auto* list = tokens->add_subcommand(
        "list", "List tokens (masked), newest first: a table, or JSON with --json");
    add_settings(*list, config, SettingScope::storage);
    list->add_option("--organization", o.organization_id, "Only this organization's tokens");
    list->add_flag("--json", o.json, json_flag_help);
    list->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            std::optional<std::string> org;
            if (!o.organization_id.empty()) {
                org = o.organization_id;
            }
            auto all = r.verification_tokens().list(org);
            if (!all) {
                return report_failure(all.error());
            }
            if (o.json) {
                boost::json::array out;
                for (const auto& t : *all) {
                    out.push_back(token_json(t));
                }
                print_json(std::cout, out);
                return 0;
            }
            if (all->empty()) {
                std::cout << "no verification tokens; `provisiond verification-tokens create "
                             "--organization ORG_ID` makes one\n";
                return 0;
            }
            Table table(
                {"ID", "ORGANIZATION", "TOKEN", "BOUND_CLIENT", "CREATED", "REVOKED", "LAST_USED"});
            for (const auto& t : *all) {
                table.add_row({t.id, t.organization_id, t.hint, t.bound_client_id.value_or("-"),
                               time_cell(t.created_at), time_cell(t.revoked_at),
                               time_cell(t.last_used_at)});
            }
            table.print(std::cout);
            return 0;
        });
    });

    auto* revoke = tokens->add_subcommand(
        "revoke",
        "Revoke a token: clients it verified become unverified at their next document refresh");
    add_settings(*revoke, config, SettingScope::storage);
    revoke->add_option("id", o.token_id, "The token's id (from `list`)")->required();
    revoke->callback([&] {
        exit_code = with_repositories(config, [&](Repositories& r) {
            auto revoked = r.verification_tokens().revoke(o.token_id, now());
            if (!revoked || !*revoked) {
                std::cerr << "error: no live token " << o.token_id
                          << " (see `provisiond verification-tokens list`)\n";
                return 1;
            }
            std::cout << boost::json::serialize(
                             boost::json::object{{"id", o.token_id}, {"revoked", true}})
                      << "\n";
            return 0;
        });
    });
}

} // namespace provisiond::cli
