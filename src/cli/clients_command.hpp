#pragma once
// `provisiond clients …`: the operator's registry of partners ("standard registration").

#include "config/config.hpp"
#include "storage/unit_of_work.hpp"

#include <CLI/CLI.hpp>

#include <optional>

namespace provisiond::cli {

/// What the `clients` subcommands collect from the command line.
struct ClientsOptions {
    std::string client_id;
    std::string name;
    std::vector<std::string> redirect_uris;
    std::vector<std::string> scopes; ///< each value may hold several, space-separated
    std::string endpoint;
    std::string limit;
    std::string reason;
    /// `clients edit`: N, `unlimited` or `default`, per endpoint.
    std::string limit_account_requests;
    std::string limit_token_exchanges;
    std::string limit_resource_creates;
    bool json = false;
};

/// Adds `clients add|list|show|edit|delete|disable|enable|set-limit|set-capability|set-verified|
/// check|block|unblock|blocked` to `app`; each runs against `config`.
void add_clients_command(CLI::App& app, Config& config, ClientsOptions& options, int& exit_code);

/// Validates a redirect URI for a public client (cimd::redirect_uri_problem): https, http on a
/// loopback host, or a reverse-domain app scheme (RFC 8252); "" when valid.
std::string check_redirect_uri(std::string_view uri);

/// Validates an operator-chosen client id: 1–255 printable ASCII characters without spaces.
std::string check_client_id(std::string_view client_id);

/// Validates a client's display name: 1 to 100 characters; "" when valid.
std::string check_client_name(std::string_view name);

/// Adds the repeatable `--scope` (alias `--scopes`) option of `clients add` and `clients edit`.
CLI::Option* add_scope_option(CLI::App& command, std::vector<std::string>& scopes,
                              const std::string& help);

/// The scopes of --scope values (each may hold several, space-separated), sorted and unique.
std::vector<std::string> scope_list(const std::vector<std::string>& values);

/// "" when every scope is known; otherwise a message naming the unknown one and the catalog.
std::string check_scopes(const std::vector<std::string>& scopes);

/// Reads an hourly limit: a whole number, `unlimited` (-1) or `default` (nullopt: the server's
/// default applies). Returns "" or what is wrong with `text`.
std::string parse_hourly_limit(std::string_view text, std::optional<std::int64_t>& value);

/// Says on stderr that `client_id` names no client (or a deleted one: when, and that it stays
/// deleted) and which command lists the clients; returns the exit code 1.
int report_unknown_client(Repositories& r, const std::string& client_id);

} // namespace provisiond::cli
